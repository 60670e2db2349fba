//! The pure part of `/massban`: reading the list of users, and what the reply and the mod log
//! say. [`command`] is the command itself.
//!
//! A list is up to [`MAX_USERS`] user mentions or ids (bare ids of at least 15 digits, as
//! everywhere in prefix input), separated by spaces, commas or new lines; the same user twice
//! counts once. In the prefix form the first word that is not a user starts the reason.

pub mod command;

use twilight_model::channel::message::{
    Embed,
    embed::{EmbedField, EmbedFooter},
};
use twilight_model::util::Timestamp;

use crate::action::ActionKind;

use super::modlog::truncate;
use crate::commands::parse::user_id;

/// Most users one massban names (Discord's bulk-ban limit).
pub const MAX_USERS: usize = 200;

/// Why a list of users is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListError {
    /// Nothing was named.
    #[error("name at least one user: mentions or ids separated by spaces")]
    Empty,
    /// More than [`MAX_USERS`].
    #[error("a massban names at most {MAX_USERS} users; {0} were given")]
    TooMany(usize),
    /// A word that is not a user mention or id (slash form).
    #[error("`{0}` is not a user mention or id")]
    NotAUser(String),
}

/// A checked list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserList {
    /// Distinct user ids, in the order given.
    pub users: Vec<u64>,
    /// What followed the users, when the list may end in text (the prefix form's reason).
    pub rest: Option<String>,
}

fn is_separator(c: char) -> bool {
    c.is_whitespace() || c == ','
}

/// Reads `text`. With `text_after`, the first word that is not a user ends the list and the
/// rest is [`UserList::rest`]; without, it is an error.
///
/// # Errors
/// [`ListError`].
pub fn parse_users(text: &str, text_after: bool) -> Result<UserList, ListError> {
    let mut users: Vec<u64> = Vec::new();
    let mut rest = None;
    let mut s = text;
    loop {
        s = s.trim_start_matches(is_separator);
        if s.is_empty() {
            break;
        }
        let end = s.find(is_separator).unwrap_or(s.len());
        let word = &s[..end];
        match user_id(word) {
            Some(id) => {
                if !users.contains(&id) {
                    users.push(id);
                }
            }
            None if text_after => {
                rest = Some(s.trim().to_owned());
                break;
            }
            None => return Err(ListError::NotAUser(truncate(word, 40).replace('`', "'"))),
        }
        s = &s[end..];
    }
    if users.is_empty() {
        return Err(ListError::Empty);
    }
    if users.len() > MAX_USERS {
        return Err(ListError::TooMany(users.len()));
    }
    Ok(UserList { users, rest })
}

/// `<@1> <@2> …`, cut to `max` characters at a mention.
fn mentions(users: impl Iterator<Item = u64>, max: usize) -> String {
    let mut out = String::new();
    let mut left = 0usize;
    for u in users {
        let m = format!("<@{u}> ");
        if left > 0 || out.len() + m.len() > max.saturating_sub(12) {
            left += 1;
            continue;
        }
        out.push_str(&m);
    }
    let mut out = out.trim_end().to_owned();
    if left > 0 {
        out.push_str(&format!(" and {left} more"));
    }
    out
}

/// Case numbers as ranges: `#12–#14, #20`.
#[must_use]
pub fn case_ranges(numbers: &[u64]) -> String {
    let mut sorted = numbers.to_vec();
    sorted.sort_unstable();
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        let mut end = start;
        while i + 1 < sorted.len() && sorted[i + 1] == end + 1 {
            i += 1;
            end = sorted[i];
        }
        parts.push(if start == end {
            format!("#{start}")
        } else {
            format!("#{start}–#{end}")
        });
        i += 1;
    }
    parts.join(", ")
}

/// What a massban did, for its reply and its mod-log post.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Banned: (case number, user).
    pub banned: Vec<(u64, u64)>,
    /// Not banned by Discord: (case number, user, why).
    pub failed: Vec<(u64, u64, String)>,
    /// Refused before anything was done: (user, why).
    pub refused: Vec<(u64, String)>,
    /// Already handled by an earlier delivery of the same invocation.
    pub already: usize,
}

fn refusal_lines(refused: &[(u64, String)]) -> String {
    let lines: Vec<String> = refused
        .iter()
        .take(10)
        .map(|(u, why)| format!("<@{u}>: {why}"))
        .collect();
    let more = refused.len().saturating_sub(10);
    let mut out = lines.join("\n");
    if more > 0 {
        out.push_str(&format!("\nand {more} more"));
    }
    out
}

/// The reply of a dry run: who would be banned, and who not and why.
#[must_use]
pub fn dry_run_reply(would: &[u64], refused: &[(u64, String)]) -> String {
    let mut out = format!(
        "Dry run: **{}** user{} would be banned",
        would.len(),
        if would.len() == 1 { "" } else { "s" }
    );
    if !would.is_empty() {
        out.push_str(&format!(": {}", mentions(would.iter().copied(), 1200)));
    }
    out.push('.');
    if !refused.is_empty() {
        out.push_str(&format!(
            "\nRefused {}:\n{}",
            refused.len(),
            refusal_lines(refused)
        ));
    }
    out
}

/// The reply once the bans are done.
#[must_use]
pub fn reply(o: &Outcome) -> String {
    let numbers: Vec<u64> = o.banned.iter().map(|(n, _)| *n).collect();
    let mut out = format!(
        "Banned **{}** user{}",
        o.banned.len(),
        if o.banned.len() == 1 { "" } else { "s" }
    );
    if !numbers.is_empty() {
        out.push_str(&format!(" (cases {})", case_ranges(&numbers)));
    }
    out.push('.');
    if !o.failed.is_empty() {
        let lines: Vec<(u64, String)> = o
            .failed
            .iter()
            .map(|(n, u, why)| (*u, format!("{why} (case #{n})")))
            .collect();
        out.push_str(&format!(
            "\nDiscord did not ban {}:\n{}",
            o.failed.len(),
            refusal_lines(&lines)
        ));
    }
    if !o.refused.is_empty() {
        out.push_str(&format!(
            "\nRefused {}:\n{}",
            o.refused.len(),
            refusal_lines(&o.refused)
        ));
    }
    if o.already > 0 {
        out.push_str(&format!(
            "\n{} were already handled by this command.",
            o.already
        ));
    }
    out
}

/// The one mod-log post of a massban (one post per case would flood the channel and take
/// minutes at Discord's 5 messages per 5 seconds).
#[must_use]
pub fn modlog_embed(o: &Outcome, moderator: u64, reason: Option<&str>, at_secs: i64) -> Embed {
    let numbers: Vec<u64> = o.banned.iter().map(|(n, _)| *n).collect();
    let field = |name: &str, value: String| EmbedField {
        inline: false,
        name: name.to_owned(),
        value: truncate(&value, 1024),
    };
    let mut fields = vec![
        EmbedField {
            inline: true,
            name: "Moderator".to_owned(),
            value: format!("<@{moderator}> (`{moderator}`)"),
        },
        field(
            "Reason",
            reason.unwrap_or(super::modlog::NO_REASON).to_owned(),
        ),
    ];
    if !numbers.is_empty() {
        fields.push(field("Cases", case_ranges(&numbers)));
        fields.push(field(
            "Users",
            mentions(o.banned.iter().map(|(_, u)| *u), 1024),
        ));
    }
    if !o.failed.is_empty() {
        fields.push(field(
            "Not banned",
            mentions(o.failed.iter().map(|(_, u, _)| *u), 1024),
        ));
    }
    Embed {
        author: None,
        color: Some(ActionKind::Ban.colour()),
        description: None,
        fields,
        flags: None,
        footer: Some(EmbedFooter {
            icon_url: None,
            proxy_icon_url: None,
            text: format!("Massban of {} users", o.banned.len() + o.failed.len()),
        }),
        image: None,
        kind: "rich".to_owned(),
        provider: None,
        thumbnail: None,
        timestamp: Timestamp::from_secs(at_secs).ok(),
        title: Some(format!("Massban · {} banned", o.banned.len())),
        url: None,
        video: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: u64 = 222_213_938_194_939_904;
    const B: u64 = 222_213_938_194_939_905;

    #[test]
    fn lists_of_users() {
        let l = parse_users(&format!("<@{A}>, {B}\n<@!{A}>  "), false).unwrap();
        assert_eq!(l.users, vec![A, B]);
        assert_eq!(l.rest, None);
        let l = parse_users(&format!("{A} {B} raid accounts, all"), true).unwrap();
        assert_eq!(l.users, vec![A, B]);
        assert_eq!(l.rest.as_deref(), Some("raid accounts, all"));
        assert_eq!(
            parse_users(&format!("{A} spam"), false).unwrap_err(),
            ListError::NotAUser("spam".into())
        );
        // Small numbers are not ids; 0 never is.
        assert_eq!(
            parse_users("5", false).unwrap_err(),
            ListError::NotAUser("5".into())
        );
        assert_eq!(
            parse_users("<@0>", false).unwrap_err(),
            ListError::NotAUser("<@0>".into())
        );
        assert_eq!(parse_users(" , ", false).unwrap_err(), ListError::Empty);
        assert_eq!(parse_users("raid", true).unwrap_err(), ListError::Empty);
        let many: Vec<String> = (0..201).map(|i| (A + i).to_string()).collect();
        assert_eq!(
            parse_users(&many.join(" "), false).unwrap_err(),
            ListError::TooMany(201)
        );
        assert_eq!(
            parse_users(&many[..200].join(" "), false)
                .unwrap()
                .users
                .len(),
            200
        );
    }

    #[test]
    fn replies_and_the_modlog_post() {
        assert_eq!(case_ranges(&[14, 12, 13, 20, 22, 21]), "#12–#14, #20–#22");
        assert_eq!(case_ranges(&[3]), "#3");
        let o = Outcome {
            banned: vec![(12, A), (13, B)],
            failed: vec![(14, 7, "already banned".into())],
            refused: vec![(9, "the server owner cannot be moderated".into())],
            already: 0,
        };
        assert_eq!(
            reply(&o),
            format!(
                "Banned **2** users (cases #12–#13).\nDiscord did not ban 1:\n<@7>: already banned (case #14)\nRefused 1:\n<@9>: the server owner cannot be moderated"
            )
        );
        let e = modlog_embed(&o, 5, Some("raid"), 1_700_000_000);
        assert_eq!(e.title.as_deref(), Some("Massban · 2 banned"));
        let f = |n: &str| {
            e.fields
                .iter()
                .find(|f| f.name == n)
                .map(|f| f.value.clone())
        };
        assert_eq!(f("Cases").as_deref(), Some("#12–#13"));
        assert_eq!(f("Users"), Some(format!("<@{A}> <@{B}>")));
        assert_eq!(f("Not banned").as_deref(), Some("<@7>"));
        assert_eq!(f("Reason").as_deref(), Some("raid"));
        let many: Vec<u64> = (0..200).map(|i| A + i).collect();
        let m = mentions(many.iter().copied(), 1024);
        assert!(m.len() <= 1024 && m.ends_with(" more"), "{m}");
        assert!(dry_run_reply(&[A], &[]).starts_with("Dry run: **1** user would be banned"));
    }
}
