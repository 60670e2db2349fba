//! `--local`: the bot against an in-process Discord simulator with a demo server.

use crate::config::Config;

/// Runs the local playground until Ctrl-C.
pub async fn run(_config: Config) -> anyhow::Result<()> {
    anyhow::bail!("--local needs the simulator, which this build does not include yet")
}
