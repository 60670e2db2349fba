//! Applying an [`Edit`]: the subcommand's change (in `toggle.rs` or `tune.rs`) made on a
//! copy, compiled, and counted as a new revision only when it is valid.

use super::super::config::AutomodConfig;
use super::super::engine::GuildRules;
use super::{Edit, EditError, toggle, tune};

/// Applies `edit` to `cfg`, checks that the result compiles, and bumps the revision. Returns
/// a one-line summary. On error `cfg` is unchanged.
pub fn apply_edit(cfg: &mut AutomodConfig, edit: &Edit) -> Result<String, EditError> {
    let mut next = cfg.clone();
    let summary = edit_in_place(&mut next, edit)?;
    GuildRules::compile(&next)?;
    next.revision += 1;
    *cfg = next;
    Ok(summary)
}

fn edit_in_place(cfg: &mut AutomodConfig, edit: &Edit) -> Result<String, EditError> {
    match edit {
        Edit::Enable(None) => toggle::enable_automod(cfg),
        Edit::Disable(None) => Ok(toggle::disable_automod(cfg)),
        Edit::Enable(Some(name)) => toggle::switch_rule(cfg, name, true),
        Edit::Disable(Some(name)) => toggle::switch_rule(cfg, name, false),
        Edit::Preset(p) => Ok(toggle::preset(cfg, *p)),
        Edit::Set {
            rule,
            setting,
            value,
        } => tune::set(cfg, rule, setting, value),
        Edit::Add { rule, kind, value } => tune::add(cfg, rule, kind, value.as_deref()),
        Edit::Remove(name) => tune::remove(cfg, name),
    }
}
