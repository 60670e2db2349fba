//! What each fatal gateway close code (4004, 4010–4014) means and what fixes it: the
//! sentence the worker logs, exits with, and shows on `/health`.

/// What a fatal close code means and what fixes it, one sentence for the log and the exit
/// message.
#[must_use]
pub fn explain(code: Option<u16>) -> &'static str {
    match code {
        Some(4004) => {
            "authentication failed: DISCORD_TOKEN is wrong or was reset; copy the current token \
             from the Developer Portal → Bot → Reset Token into the Secret (or DISCORD_TOKEN)"
        }
        Some(4010) => {
            "invalid shard: the shard id is not below the shard total; check KYUTA_SHARD_COUNT, \
             KYUTA_SHARDS_PER_POD and the pod ordinal (the operator sets them)"
        }
        Some(4011) => {
            "sharding required: the bot is in too many guilds for this shard total (2500 per \
             shard); raise KYUTA_SHARD_COUNT (or spec.shards) or leave it on auto"
        }
        Some(4012) => {
            "invalid API version: this build speaks a gateway version Discord no longer \
             serves; upgrade Kyuta"
        }
        Some(4013) => {
            "invalid intents: the worker asked for an intent Discord does not know; this is a \
             bug in this build, report it"
        }
        Some(4014) => {
            "disallowed intents: enable the Message Content and Server Members intents in the \
             Developer Portal → Bot → Privileged Gateway Intents (a bot in 100 or more servers \
             needs Discord's approval for them), or leave them out with \
             KYUTA_PRIVILEGED_INTENTS=auto or none (docs/discord-setup.md)"
        }
        _ => "the gateway does not allow this shard to reconnect",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fatal_code_names_its_cause_and_fix() {
        for (code, words) in [
            (4004, "DISCORD_TOKEN"),
            (4010, "KYUTA_SHARD_COUNT"),
            (4011, "raise KYUTA_SHARD_COUNT"),
            (4012, "upgrade Kyuta"),
            (4013, "report it"),
            (
                4014,
                "enable the Message Content and Server Members intents",
            ),
        ] {
            assert!(
                explain(Some(code)).contains(words),
                "{code}: {}",
                explain(Some(code))
            );
        }
        assert!(explain(None).contains("does not allow"));
    }
}
