//! `/automod list` and `/automod test`: the read-only subcommands, which show the rules and
//! what they would do without changing anything.

use super::super::config::AutomodConfig;
use super::super::engine::{Engine, GuildRules};
use super::AUTOMOD_COLOUR;
use super::format::{action_text, describe_rule, truncate};
use crate::commands::{EmbedBuilder, Reply};

/// The `/automod list` reply.
#[must_use]
pub fn list_reply(cfg: &AutomodConfig) -> Reply {
    let mut e = EmbedBuilder::new()
        .title(format!(
            "Automod is {}",
            if cfg.enabled { "on" } else { "off" }
        ))
        .colour(AUTOMOD_COLOUR);
    if cfg.rules.is_empty() {
        e = e.description(
            "No rules yet. `/automod preset standard` protects the server in one step.",
        );
    } else {
        let mut text = String::new();
        for r in &cfg.rules {
            text.push_str(&format!("**{}** {}\n", r.name, describe_rule(r)));
        }
        e = e.description(truncate(&text, 4000));
    }
    let exempt = format!(
        "bots {}, moderators {}{}{}",
        if cfg.exempt_bots { "exempt" } else { "checked" },
        if cfg.exempt_moderators {
            "exempt"
        } else {
            "checked"
        },
        cfg.exempt_roles
            .iter()
            .map(|x| format!(", <@&{x}>"))
            .collect::<String>(),
        cfg.exempt_channels
            .iter()
            .map(|x| format!(", <#{x}>"))
            .collect::<String>(),
    );
    e = e.field("Exempt everywhere", exempt, false);
    if let Some(c) = cfg.alert_channel {
        e = e.field("Alerts", format!("<#{c}>"), true);
    }
    Reply::embed(e.footer(format!("revision {}", cfg.revision)).build())
}

/// The `/automod test` reply.
pub async fn test_reply(
    engine: &Engine,
    rules: &GuildRules,
    cfg: &AutomodConfig,
    text: &str,
) -> Reply {
    let d = engine.dry_run(rules, text).await;
    let mut lines = Vec::new();
    for v in &d.verdicts {
        let actions: Vec<String> = v.actions.iter().map(action_text).collect();
        lines.push(format!(
            "**{}** would {}: {}",
            v.rule,
            actions.join(", "),
            v.evidence.reason
        ));
    }
    let mut desc = if lines.is_empty() {
        "No rule would fire on this text.".to_owned()
    } else {
        lines.join("\n")
    };
    if !cfg.enabled {
        desc.push_str("\n\nAutomod is off in this server: nothing would happen now.");
    }
    let terms: Vec<String> = d
        .toxicity
        .hits
        .iter()
        .map(|h| format!("{} ({:.2})", h.term, h.weight))
        .collect();
    let category = match (d.toxicity.category, d.toxicity.classes) {
        (Some(c), Some(p)) => format!(" — most likely {} ({:.2})", c.name(), p.get(c)),
        _ => String::new(),
    };
    let tox = format!(
        "{:.2}{category}{}{}",
        d.toxicity.score,
        if terms.is_empty() {
            String::new()
        } else {
            format!(
                "; lexicon {:.2}: {}",
                d.toxicity.lexicon_score,
                terms.join(", ")
            )
        },
        if d.toxicity.targeted {
            "; read as aimed at someone"
        } else {
            ""
        }
    );
    Reply::embed(
        EmbedBuilder::new()
            .title("Automod test (nothing was done)")
            .description(truncate(&desc, 4000))
            .field("Toxicity", truncate(&tox, 1000), false)
            .colour(AUTOMOD_COLOUR)
            .footer(
                "Counting rules (rate, duplicates, raids) need several messages and are not shown.",
            )
            .build(),
    )
    .ephemeral()
}
