//! Mod-log embeds: one per case, posted in the guild's mod-log channel.
//!
//! Layout: title `Case #N · Kind`, colour by kind, fields User, Moderator, Reason, Duration
//! (with the expiry as a Discord timestamp), References (for escalations) and Outcome (only
//! when the action failed), footer with the user id, timestamp = when the case was created.

use std::time::Duration;

use twilight_model::channel::message::embed::{Embed, EmbedField, EmbedFooter};
use twilight_model::util::Timestamp;

use crate::action::ActionKind;
use crate::duration::format_duration;

/// Everything a mod-log embed shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModlogEntry {
    /// The per-guild case number.
    pub number: u64,
    /// The kind: its [`label`](ActionKind::label) is in the title, its
    /// [`colour`](ActionKind::colour) is the embed's.
    pub kind: ActionKind,
    /// The target user's id.
    pub user_id: u64,
    /// The moderator's id (the bot's id for automatic actions).
    pub moderator_id: u64,
    /// The reason, if any.
    pub reason: Option<String>,
    /// The duration, for tempbans and timeouts.
    pub duration: Option<Duration>,
    /// When the case was created (Unix seconds).
    pub created_at: i64,
    /// Cases this one answers (warns behind an escalation).
    pub references: Vec<u64>,
    /// The error, when the Discord call failed.
    pub failure: Option<String>,
    /// What the action did beyond its kind (a purge: how many messages, where), shown as
    /// a Details field.
    pub details: Option<String>,
}

/// The text shown when no reason was given.
pub const NO_REASON: &str = "No reason given";

/// What the User field shows for user 0: a purge that took anyone's messages.
pub const ANY_USER: &str = "Anyone";

/// What the Moderator field shows for moderator 0: a ban seen without the audit log.
pub const UNKNOWN_MODERATOR: &str = "Unknown (Kyuta cannot read the audit log)";

fn user_field(name: &str, id: u64, zero: &str) -> EmbedField {
    EmbedField {
        inline: true,
        name: name.to_owned(),
        value: if id == 0 {
            zero.to_owned()
        } else {
            format!("<@{id}> (`{id}`)")
        },
    }
}

/// Builds the embed for a case.
#[must_use]
pub fn build_embed(entry: &ModlogEntry) -> Embed {
    let mut fields = vec![
        user_field("User", entry.user_id, ANY_USER),
        user_field("Moderator", entry.moderator_id, UNKNOWN_MODERATOR),
        EmbedField {
            inline: false,
            name: "Reason".to_owned(),
            value: truncate(entry.reason.as_deref().unwrap_or(NO_REASON), 1024),
        },
    ];
    if let Some(d) = entry.duration {
        let ends = entry
            .created_at
            .saturating_add(i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        fields.push(EmbedField {
            inline: false,
            name: "Duration".to_owned(),
            value: format!("{} (ends <t:{ends}:f>, <t:{ends}:R>)", format_duration(d)),
        });
    }
    if !entry.references.is_empty() {
        let refs: Vec<String> = entry.references.iter().map(|n| format!("#{n}")).collect();
        fields.push(EmbedField {
            inline: false,
            name: "References".to_owned(),
            value: truncate(&refs.join(", "), 1024),
        });
    }
    if let Some(details) = &entry.details {
        fields.push(EmbedField {
            inline: false,
            name: "Details".to_owned(),
            value: truncate(details, 1024),
        });
    }
    if let Some(err) = &entry.failure {
        fields.push(EmbedField {
            inline: false,
            name: "Outcome".to_owned(),
            value: truncate(&format!("Failed: {err}"), 1024),
        });
    }
    Embed {
        author: None,
        color: Some(entry.kind.colour()),
        description: None,
        fields,
        flags: None,
        footer: (entry.user_id != 0).then(|| EmbedFooter {
            icon_url: None,
            proxy_icon_url: None,
            text: format!("User ID: {}", entry.user_id),
        }),
        image: None,
        kind: "rich".to_owned(),
        provider: None,
        thumbnail: None,
        timestamp: Timestamp::from_secs(entry.created_at).ok(),
        title: Some(format!("Case #{} · {}", entry.number, entry.kind.label())),
        url: None,
        video: None,
    }
}

/// Cuts `text` to at most `max` characters, ending with `…` when cut.
#[must_use]
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> ModlogEntry {
        ModlogEntry {
            number: 7,
            kind: ActionKind::Tempban,
            user_id: 42,
            moderator_id: 9,
            reason: Some("spam".into()),
            duration: Some(Duration::from_secs(86_400)),
            created_at: 1_700_000_000,
            references: vec![],
            failure: None,
            details: None,
        }
    }

    fn field<'a>(e: &'a Embed, name: &str) -> Option<&'a str> {
        e.fields
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.value.as_str())
    }

    #[test]
    fn tempban_embed() {
        let e = build_embed(&entry());
        assert_eq!(e.title.as_deref(), Some("Case #7 · Tempban"));
        assert_eq!(e.color, Some(0xE6_7E_22));
        assert_eq!(field(&e, "User"), Some("<@42> (`42`)"));
        assert_eq!(field(&e, "Moderator"), Some("<@9> (`9`)"));
        assert_eq!(field(&e, "Reason"), Some("spam"));
        assert_eq!(
            field(&e, "Duration"),
            Some("1d (ends <t:1700086400:f>, <t:1700086400:R>)")
        );
        assert_eq!(field(&e, "References"), None);
        assert_eq!(field(&e, "Outcome"), None);
        assert_eq!(e.timestamp.unwrap().as_secs(), 1_700_000_000);
        assert_eq!(e.footer.unwrap().text, "User ID: 42");
        assert_eq!(e.kind, "rich");
    }

    #[test]
    fn warn_escalation_and_failure() {
        let mut x = entry();
        x.kind = ActionKind::Kick;
        x.reason = None;
        x.duration = None;
        x.references = vec![3, 4, 5];
        x.failure = Some("Missing Permissions (50013)".into());
        let e = build_embed(&x);
        assert_eq!(e.title.as_deref(), Some("Case #7 · Kick"));
        assert_eq!(field(&e, "Reason"), Some(NO_REASON));
        assert_eq!(field(&e, "Duration"), None);
        assert_eq!(field(&e, "References"), Some("#3, #4, #5"));
        assert_eq!(
            field(&e, "Outcome"),
            Some("Failed: Missing Permissions (50013)")
        );
    }

    #[test]
    fn a_purge_of_anyone_shows_its_details() {
        let mut x = entry();
        x.kind = ActionKind::Purge;
        x.user_id = 0;
        x.duration = None;
        x.details = Some("250 messages in <#5>".into());
        let e = build_embed(&x);
        assert_eq!(e.title.as_deref(), Some("Case #7 · Purge"));
        assert_eq!(field(&e, "User"), Some(ANY_USER));
        assert_eq!(field(&e, "Details"), Some("250 messages in <#5>"));
        assert!(e.footer.is_none());
    }

    #[test]
    fn colours_differ_by_action() {
        let kinds = [
            ActionKind::Ban,
            ActionKind::Tempban,
            ActionKind::Softban,
            ActionKind::Unban,
            ActionKind::Kick,
            ActionKind::Timeout,
            ActionKind::Warn,
            ActionKind::AutomodDelete,
        ];
        let mut colours: Vec<u32> = kinds.iter().map(|k| k.colour()).collect();
        colours.sort_unstable();
        colours.dedup();
        assert_eq!(colours.len(), kinds.len());
        assert_eq!(ActionKind::Untimeout.colour(), ActionKind::Unban.colour());
    }

    #[test]
    fn long_reason_is_cut_to_field_limit() {
        let mut x = entry();
        x.reason = Some("x".repeat(2000));
        let e = build_embed(&x);
        let r = field(&e, "Reason").unwrap();
        assert_eq!(r.chars().count(), 1024);
        assert!(r.ends_with('…'));
    }
}
