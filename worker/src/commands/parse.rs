//! Turning a slash interaction's data or a prefix message into [`Args`], checked against the
//! command's definition. Errors say what is wrong in words a user understands.

use twilight_model::{
    application::interaction::application_command::{CommandDataOption, CommandOptionValue},
    id::Id,
};

use super::{
    args::{ArgValue, Args},
    def::{ChoiceValue, CommandDef, OptionDef, OptionKind},
};
use crate::input::{Mention, parse_id};

/// Why arguments were refused. The `Display` text is shown to the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArgError {
    /// A required option was not given.
    #[error("missing `{option}` ({expected}). Usage: `{usage}`")]
    Missing {
        /// The option.
        option: String,
        /// What it expects.
        expected: &'static str,
        /// Usage line.
        usage: String,
    },
    /// A value did not parse or is out of range.
    #[error("`{option}` must be {expected}: `{value}` is not")]
    Invalid {
        /// The option.
        option: String,
        /// What it expects.
        expected: String,
        /// What was given (shortened).
        value: String,
    },
    /// The value is not one of the fixed choices.
    #[error("`{option}` must be one of {choices}: `{value}` is not")]
    NotAChoice {
        /// The option.
        option: String,
        /// The allowed values.
        choices: String,
        /// What was given (shortened).
        value: String,
    },
    /// The command needs a subcommand.
    #[error("choose one of: {expected}. Usage: `{usage}`")]
    MissingSubcommand {
        /// The subcommand names.
        expected: String,
        /// Usage lines.
        usage: String,
    },
    /// The subcommand does not exist.
    #[error("`{given}` is not a subcommand; choose one of: {expected}")]
    UnknownSubcommand {
        /// What was given.
        given: String,
        /// The subcommand names.
        expected: String,
    },
    /// More was given than the command takes.
    #[error("unexpected `{extra}`. Usage: `{usage}`")]
    TooMany {
        /// The leftover text (shortened).
        extra: String,
        /// Usage line.
        usage: String,
    },
    /// A quote was opened and never closed.
    #[error("a quote was opened and never closed")]
    UnclosedQuote,
    /// An option the command does not have (slash data out of date).
    #[error("this command has no option `{0}`; the command list may be out of date")]
    UnknownOption(String),
}

/// Shortens user input for error messages and neutralises backticks.
fn shorten(s: &str) -> String {
    let clean: String = s.chars().map(|c| if c == '`' { '\'' } else { c }).collect();
    if clean.chars().count() > 64 {
        let mut out: String = clean.chars().take(61).collect();
        out.push('…');
        out
    } else {
        clean
    }
}

/// Splits `content` into `(command name, rest)` when it starts with `prefix` (ASCII letters of
/// the prefix match either case). The name is lowercased.
#[must_use]
pub fn split_prefix<'a>(content: &'a str, prefix: &str) -> Option<(String, &'a str)> {
    let content = content.trim_start();
    let head = content.get(..prefix.len())?;
    if !head.eq_ignore_ascii_case(prefix) {
        return None;
    }
    let after = content[prefix.len()..].trim_start();
    let end = after.find(char::is_whitespace).unwrap_or(after.len());
    let name = &after[..end];
    if name.is_empty() {
        return None;
    }
    Some((name.to_lowercase(), &after[end..]))
}

/// Takes one word (or one `"quoted phrase"`) from the start of `s`.
fn next_token(s: &str) -> Result<Option<(String, &str)>, ArgError> {
    let s = s.trim_start();
    if s.is_empty() {
        return Ok(None);
    }
    if let Some(inner) = s.strip_prefix('"') {
        let close = inner.find('"').ok_or(ArgError::UnclosedQuote)?;
        return Ok(Some((inner[..close].to_owned(), &inner[close + 1..])));
    }
    let end = s.find(char::is_whitespace).unwrap_or(s.len());
    Ok(Some((s[..end].to_owned(), &s[end..])))
}

/// A user id from a prefix word: a user mention (`<@1>`, `<@!1>`, any id but 0) or a bare
/// snowflake-sized number.
#[must_use]
pub fn user_id(word: &str) -> Option<u64> {
    parse_id(word, &[Mention::User])
}

/// Parses one prefix word as `option`'s kind and checks its constraints.
fn parse_word(option: &OptionDef, word: &str) -> Result<ArgValue, ArgError> {
    let invalid = || ArgError::Invalid {
        option: option.name.clone(),
        expected: option.kind.describe().to_owned(),
        value: shorten(word),
    };
    let value = match option.kind {
        OptionKind::String => ArgValue::String(word.to_owned()),
        // A word that starts with a digit is meant as a duration: kept, so the command says
        // precisely what is wrong with it (`5y`: "`y` is not a unit"); any other word is not
        // a duration, and an optional duration is skipped for it.
        OptionKind::Duration if word.starts_with(|c: char| c.is_ascii_digit()) => {
            ArgValue::String(word.to_owned())
        }
        OptionKind::Duration => return Err(invalid()),
        OptionKind::Integer => ArgValue::Integer(word.parse().map_err(|_| invalid())?),
        OptionKind::Boolean => {
            ArgValue::Boolean(crate::input::parse_bool(word).ok_or_else(invalid)?)
        }
        OptionKind::User => ArgValue::User(Id::new(user_id(word).ok_or_else(invalid)?)),
        OptionKind::Channel => ArgValue::Channel(Id::new(
            parse_id(word, &[Mention::Channel]).ok_or_else(invalid)?,
        )),
        OptionKind::Role => ArgValue::Role(Id::new(
            parse_id(word, &[Mention::Role]).ok_or_else(invalid)?,
        )),
    };
    check_value(option, value, true)
}

/// Checks choices, integer range and text length. Prefix input may name a choice by its name.
fn check_value(option: &OptionDef, value: ArgValue, lenient: bool) -> Result<ArgValue, ArgError> {
    if !option.choices.is_empty() {
        let found = option.choices.iter().find(|c| match (&c.value, &value) {
            (ChoiceValue::String(a), ArgValue::String(b)) => {
                a == b || (lenient && (a.eq_ignore_ascii_case(b) || c.name.eq_ignore_ascii_case(b)))
            }
            (ChoiceValue::Integer(a), ArgValue::Integer(b)) => a == b,
            (ChoiceValue::Integer(_), ArgValue::String(b)) => {
                lenient && c.name.eq_ignore_ascii_case(b)
            }
            _ => false,
        });
        return match found {
            Some(c) => Ok(match &c.value {
                ChoiceValue::String(s) => ArgValue::String(s.clone()),
                ChoiceValue::Integer(i) => ArgValue::Integer(*i),
            }),
            None => Err(ArgError::NotAChoice {
                option: option.name.clone(),
                choices: option
                    .choices
                    .iter()
                    .map(|c| format!("`{}`", c.name))
                    .collect::<Vec<_>>()
                    .join(", "),
                value: shorten(&display_value(&value)),
            }),
        };
    }
    match &value {
        ArgValue::Integer(i) => {
            let below = option.min.is_some_and(|m| *i < m);
            let above = option.max.is_some_and(|m| *i > m);
            if below || above {
                let expected = match (option.min, option.max) {
                    (Some(a), Some(b)) => format!("between {a} and {b}"),
                    (Some(a), None) => format!("at least {a}"),
                    (None, Some(b)) => format!("at most {b}"),
                    (None, None) => unreachable!(),
                };
                return Err(ArgError::Invalid {
                    option: option.name.clone(),
                    expected,
                    value: i.to_string(),
                });
            }
        }
        ArgValue::String(s) => {
            if let Some(max) = option.max_length
                && s.chars().count() > usize::from(max)
            {
                return Err(ArgError::Invalid {
                    option: option.name.clone(),
                    expected: format!("at most {max} characters"),
                    value: shorten(s),
                });
            }
            if s.is_empty() {
                return Err(ArgError::Invalid {
                    option: option.name.clone(),
                    expected: option.kind.describe().to_owned(),
                    value: String::new(),
                });
            }
        }
        _ => {}
    }
    Ok(value)
}

fn display_value(v: &ArgValue) -> String {
    match v {
        ArgValue::String(s) => s.clone(),
        ArgValue::Integer(i) => i.to_string(),
        ArgValue::Boolean(b) => b.to_string(),
        ArgValue::User(u) => u.to_string(),
        ArgValue::Channel(c) => c.to_string(),
        ArgValue::Role(r) => r.to_string(),
    }
}

/// Takes one `name:value` word from the start of `s` when `name` is one of `options` (as on
/// Discord's slash input, `contains:"free nitro"` quotes a value with spaces). Anything else —
/// a word without a colon, a name the command does not have, an empty value — is `None`, so
/// text such as a reason reading `spam: links` stays text.
fn next_named<'o, 's>(
    options: &'o [OptionDef],
    s: &'s str,
) -> Result<Option<(&'o OptionDef, String, &'s str)>, ArgError> {
    let s = s.trim_start();
    let word_end = s.find(char::is_whitespace).unwrap_or(s.len());
    let Some((name, _)) = s[..word_end].split_once(':') else {
        return Ok(None);
    };
    let Some(option) = options.iter().find(|o| o.name.eq_ignore_ascii_case(name)) else {
        return Ok(None);
    };
    let after = &s[name.len() + 1..];
    let (value, remainder) = if let Some(inner) = after.strip_prefix('"') {
        let close = inner.find('"').ok_or(ArgError::UnclosedQuote)?;
        (inner[..close].to_owned(), &inner[close + 1..])
    } else {
        let end = after.find(char::is_whitespace).unwrap_or(after.len());
        (after[..end].to_owned(), &after[end..])
    };
    if value.is_empty() {
        return Ok(None);
    }
    Ok(Some((option, value, remainder)))
}

/// Sets every `name:value` word at the start of `rest` ([`next_named`]) and returns what
/// follows them. A value that does not fit its option is an error: it was named.
fn take_named<'s>(
    options: &[OptionDef],
    args: &mut Args,
    mut rest: &'s str,
) -> Result<&'s str, ArgError> {
    while let Some((option, value, remainder)) = next_named(options, rest)? {
        let parsed = parse_word(option, &value)?;
        args.set(option.name.clone(), parsed);
        rest = remainder;
    }
    Ok(rest)
}

/// Maps the words after a prefix command's name onto its options, in order.
///
/// User/channel/role mentions and raw ids are accepted; `"quoted phrases"` are one word; the
/// last option, when it is text, takes the rest of the line. An optional option whose word does
/// not fit is skipped in favour of the next option (the last option taken by position is the
/// last one that is not named-only). Any option may also be named, as in the
/// slash form (`k!purge 50 bots:yes contains:"free nitro"`): named words come before the
/// text that takes the rest of the line.
pub fn parse_prefix_args(def: &CommandDef, rest: &str) -> Result<Args, ArgError> {
    let mut args = Args::new();
    let (options, usage, rest) = if def.subcommands.is_empty() {
        (&def.options, def.usage().join(" | "), rest)
    } else {
        let names = || {
            def.subcommands
                .iter()
                .map(|s| format!("`{}`", s.name))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let default = def
            .default_subcommand
            .as_deref()
            .and_then(|d| def.find_subcommand(d));
        let (sub, remainder) = match (next_token(rest)?, default) {
            (Some((word, remainder)), _) if def.find_subcommand(&word).is_some() => {
                (def.find_subcommand(&word).expect("found"), remainder)
            }
            // `k!case 12`: the default subcommand takes every word.
            (_, Some(default)) => (default, rest),
            (None, None) => {
                return Err(ArgError::MissingSubcommand {
                    expected: names(),
                    usage: def.usage().join(" | "),
                });
            }
            (Some((word, _)), None) => {
                return Err(ArgError::UnknownSubcommand {
                    given: shorten(&word),
                    expected: names(),
                });
            }
        };
        args.set_subcommand(sub.name.clone());
        let usage = def
            .usage()
            .into_iter()
            .find(|u| u.split(' ').nth(1) == Some(sub.name.as_str()))
            .unwrap_or_default();
        (&sub.options, usage, remainder)
    };

    let mut rest = rest;
    let mut skipped: Option<ArgError> = None;
    for (i, option) in options.iter().enumerate() {
        rest = take_named(options, &mut args, rest)?;
        if option.named_only || args.get(&option.name).is_some() {
            continue;
        }
        // The last option taken by position (named-only ones after it do not count).
        let last = options[i + 1..].iter().all(|o| o.named_only);
        if rest.trim().is_empty() {
            if option.required {
                return Err(ArgError::Missing {
                    option: option.name.clone(),
                    expected: option.kind.describe(),
                    usage,
                });
            }
            continue;
        }
        if last && option.kind == OptionKind::String {
            let text = rest.trim();
            let text = text
                .strip_prefix('"')
                .and_then(|t| t.strip_suffix('"'))
                .filter(|t| !t.contains('"'))
                .unwrap_or(text);
            let value = check_value(option, ArgValue::String(text.to_owned()), true)?;
            args.set(option.name.clone(), value);
            rest = "";
            break;
        }
        let Some((word, remainder)) = next_token(rest)? else {
            continue;
        };
        match parse_word(option, &word) {
            Ok(ArgValue::String(mut text)) if option.kind == OptionKind::Duration => {
                // `1h 30m spam`: a duration may span words; take each next word that still
                // reads as part of it.
                let mut remainder = remainder;
                while crate::duration::parse_duration(&text).is_ok()
                    && let Some((next, after)) = next_token(remainder)?
                {
                    let joined = format!("{text} {next}");
                    if crate::duration::parse_duration(&joined).is_err() {
                        break;
                    }
                    text = joined;
                    remainder = after;
                }
                args.set(option.name.clone(), ArgValue::String(text));
                rest = remainder;
                skipped = None;
            }
            Ok(value) => {
                args.set(option.name.clone(), value);
                rest = remainder;
                skipped = None;
            }
            Err(e) if !option.required => {
                skipped.get_or_insert(e);
            }
            Err(e) => return Err(e),
        }
    }
    rest = take_named(options, &mut args, rest)?;
    let extra = rest.trim();
    if !extra.is_empty() {
        return Err(skipped.unwrap_or(ArgError::TooMany {
            extra: shorten(extra),
            usage,
        }));
    }
    Ok(args)
}

/// Checks a slash command's options against its definition.
pub fn parse_slash_args(def: &CommandDef, options: &[CommandDataOption]) -> Result<Args, ArgError> {
    let mut args = Args::new();
    let (defs, options, usage) = if def.subcommands.is_empty() {
        (&def.options, options, def.usage().join(" | "))
    } else {
        let names = || {
            def.subcommands
                .iter()
                .map(|s| format!("`{}`", s.name))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let Some(first) = options.first() else {
            return Err(ArgError::MissingSubcommand {
                expected: names(),
                usage: def.usage().join(" | "),
            });
        };
        let CommandOptionValue::SubCommand(inner) = &first.value else {
            return Err(ArgError::MissingSubcommand {
                expected: names(),
                usage: def.usage().join(" | "),
            });
        };
        let sub = def
            .find_subcommand(&first.name)
            .ok_or_else(|| ArgError::UnknownSubcommand {
                given: shorten(&first.name),
                expected: names(),
            })?;
        args.set_subcommand(sub.name.clone());
        (&sub.options, inner.as_slice(), def.usage().join(" | "))
    };
    for given in options {
        let option = defs
            .iter()
            .find(|o| o.name == given.name)
            .ok_or_else(|| ArgError::UnknownOption(shorten(&given.name)))?;
        let mismatch = || ArgError::Invalid {
            option: option.name.clone(),
            expected: option.kind.describe().to_owned(),
            value: shorten(&format!("{:?}", given.value.kind())),
        };
        let value = match (&given.value, option.kind) {
            (CommandOptionValue::String(s), OptionKind::String | OptionKind::Duration) => {
                ArgValue::String(s.trim().to_owned())
            }
            (CommandOptionValue::Integer(i), OptionKind::Integer) => ArgValue::Integer(*i),
            (CommandOptionValue::Boolean(b), OptionKind::Boolean) => ArgValue::Boolean(*b),
            (CommandOptionValue::User(u), OptionKind::User) => ArgValue::User(*u),
            (CommandOptionValue::Channel(c), OptionKind::Channel) => ArgValue::Channel(*c),
            (CommandOptionValue::Role(r), OptionKind::Role) => ArgValue::Role(*r),
            _ => return Err(mismatch()),
        };
        let value = check_value(option, value, false)?;
        args.set(option.name.clone(), value);
    }
    if let Some(missing) = defs
        .iter()
        .find(|o| o.required && args.get(&o.name).is_none())
    {
        return Err(ArgError::Missing {
            option: missing.name.clone(),
            expected: missing.kind.describe(),
            usage,
        });
    }
    Ok(args)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::{
        CommandContext, CommandError, CommandHandler, Reply, def::SubcommandDef,
    };

    struct Nop;
    #[async_trait::async_trait]
    impl CommandHandler for Nop {
        async fn run(&self, _: &CommandContext, _: &Args) -> Result<Reply, CommandError> {
            Ok(Reply::text("ok"))
        }
    }

    fn ban() -> CommandDef {
        CommandDef::new("ban", "Ban a member", Nop)
            .option(OptionDef::new("user", "who", OptionKind::User).required())
            .option(OptionDef::new("days", "delete days", OptionKind::Integer).range(0, 7))
            .option(OptionDef::new("reason", "why", OptionKind::String))
    }

    #[test]
    fn prefix_split() {
        assert_eq!(split_prefix("k!ping", "k!"), Some(("ping".into(), "")));
        assert_eq!(
            split_prefix("  K!Ping  x y", "k!"),
            Some(("ping".into(), "  x y"))
        );
        assert_eq!(split_prefix("k! help", "k!"), Some(("help".into(), "")));
        assert_eq!(split_prefix("k!", "k!"), None);
        assert_eq!(split_prefix("hello k!ping", "k!"), None);
        assert_eq!(split_prefix("é", "k!"), None);
        assert_eq!(split_prefix("éé!ping", "é"), Some(("é!ping".into(), "")));
    }

    #[test]
    fn mentions_and_rest_of_line() {
        let a = parse_prefix_args(&ban(), " <@!123> 3 spamming   links  ").unwrap();
        assert_eq!(a.user("user"), Some(Id::new(123)));
        assert_eq!(a.integer("days"), Some(3));
        assert_eq!(a.string("reason"), Some("spamming   links"));
        // optional integer skipped: the reason follows the user directly
        let a = parse_prefix_args(&ban(), "<@123> being rude").unwrap();
        assert_eq!(a.integer("days"), None);
        assert_eq!(a.string("reason"), Some("being rude"));
        let a = parse_prefix_args(&ban(), "222213938194939904").unwrap();
        assert_eq!(a.user("user"), Some(Id::new(222_213_938_194_939_904)));
        assert_eq!(a.string("reason"), None);
        // A bare number is an id only when it is snowflake-sized.
        let e = parse_prefix_args(&ban(), "5 spam").unwrap_err();
        assert!(
            matches!(e, ArgError::Invalid { ref option, .. } if option == "user"),
            "{e}"
        );
    }

    #[test]
    fn options_can_be_named_as_in_the_slash_form() {
        let def = CommandDef::new("purge", "d", Nop)
            .option(
                OptionDef::new("count", "n", OptionKind::Integer)
                    .required()
                    .range(1, 1000),
            )
            .option(OptionDef::new("user", "u", OptionKind::User))
            .option(OptionDef::new("bots", "b", OptionKind::Boolean).named_only())
            .option(OptionDef::new("contains", "c", OptionKind::String).named_only())
            .option(OptionDef::new("reason", "r", OptionKind::String));
        let a =
            parse_prefix_args(&def, "50 bots:yes contains:\"free nitro\" raid cleanup").unwrap();
        assert_eq!(a.integer("count"), Some(50));
        assert_eq!(a.boolean("bots"), Some(true));
        assert_eq!(a.string("contains"), Some("free nitro"));
        assert_eq!(a.user("user"), None);
        assert_eq!(a.string("reason"), Some("raid cleanup"));
        // Named first, positional after; any order of named words.
        let a = parse_prefix_args(&def, "Contains:x count:5 <@123>").unwrap();
        assert_eq!(a.integer("count"), Some(5));
        assert_eq!(a.string("contains"), Some("x"));
        assert_eq!(a.user("user"), Some(Id::new(123)));
        // A named value is checked like any other.
        let e = parse_prefix_args(&def, "count:5000").unwrap_err();
        assert_eq!(
            e.to_string(),
            "`count` must be between 1 and 1000: `5000` is not"
        );
        let e = parse_prefix_args(&def, "5 bots:maybe").unwrap_err();
        assert!(
            matches!(e, ArgError::Invalid { ref option, .. } if option == "bots"),
            "{e}"
        );
        // Words that only look named stay text: unknown names, empty values, inside the reason.
        let a = parse_prefix_args(&def, "5 spam: links reason:x").unwrap();
        assert_eq!(a.string("contains"), None);
        assert_eq!(a.string("reason"), Some("spam: links reason:x"));
        let a = parse_prefix_args(&def, "5 note:hello").unwrap();
        assert_eq!(a.string("reason"), Some("note:hello"));
        // Named-only options are never taken by position.
        let a = parse_prefix_args(&def, "5 cleaning up").unwrap();
        assert_eq!(a.string("contains"), None);
        assert_eq!(a.string("reason"), Some("cleaning up"));
        assert_eq!(
            def.usage(),
            ["purge <count> [user] [bots:…] [contains:…] [reason]"]
        );
        // Text followed only by named-only options takes the rest of the line.
        let mb = CommandDef::new("massban", "d", Nop)
            .option(OptionDef::new("users", "u", OptionKind::String).required())
            .option(OptionDef::new("dry_run", "d", OptionKind::Boolean).named_only());
        let a = parse_prefix_args(&mb, "dry_run:yes 1 2 3 raid").unwrap();
        assert_eq!(a.string("users"), Some("1 2 3 raid"));
        assert_eq!(a.boolean("dry_run"), Some(true));
        assert_eq!(
            parse_prefix_args(&def, "5 contains:\"open").unwrap_err(),
            ArgError::UnclosedQuote
        );
    }

    #[test]
    fn a_default_subcommand_takes_the_words_that_name_none() {
        let def = CommandDef::new("case", "d", Nop)
            .subcommand(
                SubcommandDef::new("show", "s")
                    .option(OptionDef::new("number", "n", OptionKind::Integer).required()),
            )
            .subcommand(
                SubcommandDef::new("hide", "h")
                    .option(OptionDef::new("number", "n", OptionKind::Integer).required()),
            )
            .default_subcommand("show");
        let a = parse_prefix_args(&def, "12").unwrap();
        assert_eq!(
            (a.subcommand(), a.integer("number")),
            (Some("show"), Some(12))
        );
        let a = parse_prefix_args(&def, "hide 3").unwrap();
        assert_eq!(
            (a.subcommand(), a.integer("number")),
            (Some("hide"), Some(3))
        );
        let e = parse_prefix_args(&def, "").unwrap_err();
        assert!(
            matches!(e, ArgError::Missing { ref option, .. } if option == "number"),
            "{e}"
        );
    }

    #[test]
    fn a_duration_spans_words_and_must_be_a_duration() {
        let def = CommandDef::new("timeout", "t", Nop)
            .option(OptionDef::new("user", "u", OptionKind::User).required())
            .option(OptionDef::new("duration", "d", OptionKind::Duration))
            .option(OptionDef::new("reason", "r", OptionKind::String));
        let a = parse_prefix_args(&def, "<@123> 1h 30m spam").unwrap();
        assert_eq!(a.string("duration"), Some("1h 30m"));
        assert_eq!(a.string("reason"), Some("spam"));
        assert_eq!(
            crate::duration::parse_duration(a.string("duration").unwrap()),
            Ok(std::time::Duration::from_secs(90 * 60))
        );
        let a = parse_prefix_args(&def, "<@123> 2mo 1w").unwrap();
        assert_eq!(
            crate::duration::parse_duration(a.string("duration").unwrap()),
            Ok(std::time::Duration::from_secs((60 + 7) * 24 * 3600))
        );
        // Not a duration: the optional duration is skipped and the words are the reason.
        let a = parse_prefix_args(&def, "<@123> spam 30m").unwrap();
        assert_eq!(a.string("duration"), None);
        assert_eq!(a.string("reason"), Some("spam 30m"));
        // `1h 1h` stops at the repeat: the second is part of the reason.
        let a = parse_prefix_args(&def, "<@123> 1h 1h").unwrap();
        assert_eq!(a.string("duration"), Some("1h"));
        assert_eq!(a.string("reason"), Some("1h"));
    }

    #[test]
    fn prefix_errors_say_what_is_wrong() {
        let e = parse_prefix_args(&ban(), "").unwrap_err();
        assert!(
            matches!(e, ArgError::Missing { ref option, .. } if option == "user"),
            "{e}"
        );
        assert!(e.to_string().contains("ban <user> [days] [reason]"), "{e}");
        let e = parse_prefix_args(&ban(), "bob").unwrap_err();
        assert!(
            e.to_string()
                .contains("`user` must be a user mention or id"),
            "{e}"
        );
        let e = parse_prefix_args(&ban(), "<@&5>").unwrap_err();
        assert!(matches!(e, ArgError::Invalid { .. }), "{e}");
        let e = parse_prefix_args(&ban(), "<@1> 9").unwrap();
        // 9 is out of range for days, so it is skipped and becomes the reason
        assert_eq!(e.string("reason"), Some("9"));
        let strict = CommandDef::new("purge", "d", Nop).option(
            OptionDef::new("count", "n", OptionKind::Integer)
                .required()
                .range(1, 100),
        );
        let e = parse_prefix_args(&strict, "500").unwrap_err();
        assert_eq!(
            e.to_string(),
            "`count` must be between 1 and 100: `500` is not"
        );
        let e = parse_prefix_args(&strict, "5 6").unwrap_err();
        assert!(matches!(e, ArgError::TooMany { .. }), "{e}");
        let e = parse_prefix_args(&strict, "\"5").unwrap_err();
        assert_eq!(e, ArgError::UnclosedQuote);
    }

    #[test]
    fn quoted_words_and_choices() {
        let def = CommandDef::new("tag", "d", Nop)
            .option(
                OptionDef::new("mode", "m", OptionKind::String)
                    .required()
                    .choice("Strict", "strict")
                    .choice("Relaxed", "relaxed"),
            )
            .option(OptionDef::new("name", "n", OptionKind::String).required())
            .option(OptionDef::new("on", "b", OptionKind::Boolean).required());
        let a = parse_prefix_args(&def, "STRICT \"two words\" yes").unwrap();
        assert_eq!(a.string("mode"), Some("strict"));
        assert_eq!(a.string("name"), Some("two words"));
        assert_eq!(a.boolean("on"), Some(true));
        let e = parse_prefix_args(&def, "loose x no").unwrap_err();
        assert!(e.to_string().contains("`Strict`, `Relaxed`"), "{e}");
    }

    #[test]
    fn subcommands() {
        let def = CommandDef::new("automod", "d", Nop)
            .subcommand(
                SubcommandDef::new("enable", "turn on")
                    .option(OptionDef::new("rule", "r", OptionKind::String).required()),
            )
            .subcommand(SubcommandDef::new("status", "show"));
        let a = parse_prefix_args(&def, "Enable spam filter").unwrap();
        assert_eq!(a.subcommand(), Some("enable"));
        assert_eq!(a.string("rule"), Some("spam filter"));
        assert!(matches!(
            parse_prefix_args(&def, ""),
            Err(ArgError::MissingSubcommand { .. })
        ));
        assert!(matches!(
            parse_prefix_args(&def, "frobnicate"),
            Err(ArgError::UnknownSubcommand { .. })
        ));
        assert!(matches!(
            parse_prefix_args(&def, "status extra"),
            Err(ArgError::TooMany { .. })
        ));
        let slash = vec![CommandDataOption {
            name: "enable".into(),
            value: CommandOptionValue::SubCommand(vec![CommandDataOption {
                name: "rule".into(),
                value: CommandOptionValue::String("caps".into()),
            }]),
        }];
        let a = parse_slash_args(&def, &slash).unwrap();
        assert_eq!(a.subcommand(), Some("enable"));
        assert_eq!(a.string("rule"), Some("caps"));
    }

    #[test]
    fn slash_checks() {
        let ok = vec![
            CommandDataOption {
                name: "user".into(),
                value: CommandOptionValue::User(Id::new(9)),
            },
            CommandDataOption {
                name: "days".into(),
                value: CommandOptionValue::Integer(2),
            },
        ];
        let a = parse_slash_args(&ban(), &ok).unwrap();
        assert_eq!(a.user("user"), Some(Id::new(9)));
        assert_eq!(a.integer("days"), Some(2));
        let e = parse_slash_args(&ban(), &ok[1..]).unwrap_err();
        assert!(matches!(e, ArgError::Missing { ref option, .. } if option == "user"));
        let bad = vec![CommandDataOption {
            name: "user".into(),
            value: CommandOptionValue::String("x".into()),
        }];
        assert!(matches!(
            parse_slash_args(&ban(), &bad),
            Err(ArgError::Invalid { .. })
        ));
        let range = vec![
            ok[0].clone(),
            CommandDataOption {
                name: "days".into(),
                value: CommandOptionValue::Integer(8),
            },
        ];
        assert!(matches!(
            parse_slash_args(&ban(), &range),
            Err(ArgError::Invalid { .. })
        ));
        let unknown = vec![CommandDataOption {
            name: "nope".into(),
            value: CommandOptionValue::Boolean(true),
        }];
        assert!(matches!(
            parse_slash_args(&ban(), &unknown),
            Err(ArgError::UnknownOption(_))
        ));
    }
}
