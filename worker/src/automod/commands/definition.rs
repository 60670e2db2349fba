//! The `/automod` definition: its subcommands, their options and choices, its permission.
//! The registration digest and the localization catalogs follow from it.

use std::sync::Arc;

use twilight_model::guild::Permissions;

use super::super::engine::RulesCache;
use super::RULE_TYPES;
use super::command::AutomodCommand;
use crate::commands::{CommandDef, OptionDef, OptionKind, SubcommandDef};
use crate::store::Store;

/// The `/automod` definition.
#[must_use]
pub fn definition(store: Arc<dyn Store>, cache: Arc<RulesCache>) -> CommandDef {
    let rule = |required: bool| {
        let o = OptionDef::new("rule", "Rule name (see /automod list)", OptionKind::String)
            .max_length(32);
        if required { o.required() } else { o }
    };
    let mut type_opt = OptionDef::new("type", "Rule type", OptionKind::String).required();
    for &t in RULE_TYPES {
        type_opt = type_opt.choice(t, t);
    }
    CommandDef::new(
        "automod",
        "Automatic moderation: rules, presets, tests",
        AutomodCommand::new(store, cache),
    )
    .subcommand(SubcommandDef::new(
        "list",
        "Show the rules and what they do",
    ))
    .subcommand(SubcommandDef::new("enable", "Turn automod or one rule on").option(rule(false)))
    .subcommand(SubcommandDef::new("disable", "Turn automod or one rule off").option(rule(false)))
    .subcommand(
        SubcommandDef::new(
            "preset",
            "Replace the preset rules with relaxed, standard or strict",
        )
        .option(
            OptionDef::new("name", "Preset", OptionKind::String)
                .required()
                .choice("relaxed", "relaxed")
                .choice("standard", "standard")
                .choice("strict", "strict"),
        ),
    )
    .subcommand(
        SubcommandDef::new(
            "set",
            "Tune a rule (or `all`): a parameter, actions, exemptions",
        )
        .option(rule(true))
        .option(
            OptionDef::new(
                "setting",
                "e.g. count, within_secs, actions, exempt_roles",
                OptionKind::String,
            )
            .required(),
        )
        .option(
            OptionDef::new(
                "value",
                "e.g. 5, 10s, `delete, timeout 10m`, +word",
                OptionKind::String,
            )
            .required(),
        ),
    )
    .subcommand(
        SubcommandDef::new("add", "Add a rule")
            .option(rule(true))
            .option(type_opt)
            .option(OptionDef::new(
                "value",
                "Words, domains or a pattern for list rules",
                OptionKind::String,
            )),
    )
    .subcommand(SubcommandDef::new("remove", "Remove a rule").option(rule(true)))
    .subcommand(
        SubcommandDef::new(
            "test",
            "Show which rules would fire on a text, without acting",
        )
        .option(OptionDef::new("text", "The text to try", OptionKind::String).required()),
    )
    .subcommand(
        SubcommandDef::new(
            "native",
            "Discord's own AutoMod: list its rules, or sync Kyuta's rules into it",
        )
        .option(
            OptionDef::new("action", "list or sync", OptionKind::String)
                .required()
                .choice("list", "list")
                .choice("sync", "sync"),
        )
        .option(
            OptionDef::new(
                "dry_run",
                "With sync: only show what would be created or updated",
                OptionKind::Boolean,
            )
            .named_only(),
        ),
    )
    .permissions(Permissions::MANAGE_GUILD)
    .ephemeral()
    .category("Automod")
}
