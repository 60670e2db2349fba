//! Server-log embeds, built from plain data (no Discord, no cache), and cut to Discord's
//! embed limits: title 256, description 4096, field name 256, field value 1024, 25 fields,
//! 6000 characters in all. Cut text ends with `…`.

use twilight_model::channel::message::embed::{Embed, EmbedField, EmbedFooter};
use twilight_model::util::Timestamp;

use crate::moderation::modlog::truncate;

/// Discord: longest embed title.
pub const TITLE_MAX: usize = 256;
/// Discord: longest embed description.
pub const DESCRIPTION_MAX: usize = 4096;
/// Discord: longest field name.
pub const FIELD_NAME_MAX: usize = 256;
/// Discord: longest field value.
pub const FIELD_VALUE_MAX: usize = 1024;
/// Discord: most fields in an embed.
pub const FIELDS_MAX: usize = 25;
/// Discord: most characters in an embed (title, description, fields, footer, author).
pub const TOTAL_MAX: usize = 6000;

/// Shown instead of a message's text when the bot cannot read message content.
pub const CONTENT_UNAVAILABLE: &str = "*content unavailable (no Message Content intent)*";
/// Shown when the message was not in the cache.
pub const NOT_CACHED: &str = "*not cached (sent before the bot started, or too long ago)*";
/// Shown for a message with no text.
pub const NO_TEXT: &str = "*no text*";

const RED: u32 = 0xED_42_45;
const ORANGE: u32 = 0xE6_7E_22;
const BLUE: u32 = 0x34_98_DB;
const GREEN: u32 = 0x57_F2_87;

/// A message as the log shows it: its text (`None`: content unavailable) and attachments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Content {
    /// The text, `None` when the bot could not read it.
    pub text: Option<String>,
    /// How many attachments.
    pub attachments: usize,
}

impl Content {
    fn show(&self) -> String {
        let mut out = match self.text.as_deref() {
            None => CONTENT_UNAVAILABLE.to_owned(),
            Some("") => NO_TEXT.to_owned(),
            Some(t) => t.to_owned(),
        };
        if self.attachments > 0 {
            out.push_str(&format!(
                "\n({} attachment{})",
                self.attachments,
                plural(self.attachments)
            ));
        }
        out
    }
}

/// A deleted message as the bulk-delete post lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deleted {
    /// The author.
    pub author_id: u64,
    /// What it said.
    pub content: Content,
}

/// What happened to a channel or a role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Created.
    Created,
    /// Changed.
    Updated,
    /// Deleted.
    Deleted,
}

impl Change {
    fn word(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Updated => "updated",
            Self::Deleted => "deleted",
        }
    }

    fn colour(self) -> u32 {
        match self {
            Self::Created => GREEN,
            Self::Updated => BLUE,
            Self::Deleted => RED,
        }
    }
}

/// One setting that changed: its name, before and after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diff {
    /// What changed (`Name`, `Topic`).
    pub what: String,
    /// Before.
    pub before: String,
    /// After.
    pub after: String,
}

/// Everything a server-log post can show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A message was edited.
    Edit {
        /// Where.
        channel_id: u64,
        /// Which message.
        message_id: u64,
        /// Who wrote it.
        author_id: u64,
        /// Before, `None` when it was not cached.
        before: Option<Content>,
        /// After.
        after: Content,
    },
    /// A message was deleted.
    Delete {
        /// Where.
        channel_id: u64,
        /// Which message.
        message_id: u64,
        /// What it was, `None` when it was not cached.
        message: Option<Deleted>,
    },
    /// Messages were deleted at once (a purge).
    BulkDelete {
        /// Where.
        channel_id: u64,
        /// How many.
        count: usize,
        /// The ones the cache had, oldest first.
        cached: Vec<Deleted>,
    },
    /// A member joined.
    Join {
        /// Who.
        user_id: u64,
        /// Their username.
        name: String,
        /// When the account was made (Unix seconds).
        created_secs: i64,
        /// Now (Unix seconds).
        now_secs: i64,
    },
    /// A member left (or was kicked or banned).
    Leave {
        /// Who.
        user_id: u64,
        /// Their username.
        name: String,
        /// When the account was made (Unix seconds).
        created_secs: i64,
        /// Now (Unix seconds).
        now_secs: i64,
        /// Their roles, when the cache had them.
        roles: Option<Vec<u64>>,
    },
    /// A member's nickname, roles or avatar changed.
    Member {
        /// Who.
        user_id: u64,
        /// Nickname before and after (`None`: none).
        nick: Option<(Option<String>, Option<String>)>,
        /// Roles given.
        roles_added: Vec<u64>,
        /// Roles taken.
        roles_removed: Vec<u64>,
        /// The avatar changed.
        avatar: bool,
    },
    /// A channel was created, changed or deleted.
    Channel {
        /// What happened.
        change: Change,
        /// Which channel.
        channel_id: u64,
        /// Its name.
        name: String,
        /// What changed, for updates.
        diffs: Vec<Diff>,
    },
    /// A role was created, changed or deleted.
    Role {
        /// What happened.
        change: Change,
        /// Which role.
        role_id: u64,
        /// Its name (`None`: deleted and not cached).
        name: Option<String>,
        /// What changed, for updates.
        diffs: Vec<Diff>,
    },
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// How old an account is, in words: minutes under an hour, hours under a day, else days.
#[must_use]
pub fn account_age(created_secs: i64, now_secs: i64) -> String {
    let secs = now_secs.saturating_sub(created_secs).max(0);
    let (n, unit) = if secs < 3600 {
        (secs / 60, "minute")
    } else if secs < 86_400 {
        (secs / 3600, "hour")
    } else {
        (secs / 86_400, "day")
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

/// Accounts younger than this are flagged as new on join.
pub const NEW_ACCOUNT_SECS: i64 = 7 * 86_400;

fn field(name: &str, value: impl Into<String>, inline: bool) -> EmbedField {
    let value = value.into();
    EmbedField {
        inline,
        name: truncate(name, FIELD_NAME_MAX),
        value: truncate(if value.is_empty() { "—" } else { &value }, FIELD_VALUE_MAX),
    }
}

fn user_value(id: u64) -> String {
    format!("<@{id}> (`{id}`)")
}

fn roles_value(roles: &[u64]) -> String {
    if roles.is_empty() {
        return "none".to_owned();
    }
    roles
        .iter()
        .map(|r| format!("<@&{r}>"))
        .collect::<Vec<_>>()
        .join(" ")
}

struct Post {
    title: String,
    colour: u32,
    description: Option<String>,
    fields: Vec<EmbedField>,
    footer: Option<String>,
}

/// The embed of an entry, posted at `now_secs`.
#[must_use]
pub fn build_embed(entry: &Entry, now_secs: i64) -> Embed {
    let post = match entry {
        Entry::Edit {
            channel_id,
            message_id,
            author_id,
            before,
            after,
        } => Post {
            title: "Message edited".into(),
            colour: BLUE,
            description: Some(format!("By {} in <#{channel_id}>", user_value(*author_id))),
            fields: vec![
                field(
                    "Before",
                    before
                        .as_ref()
                        .map_or_else(|| NOT_CACHED.to_owned(), Content::show),
                    false,
                ),
                field("After", after.show(), false),
            ],
            footer: Some(format!("Message ID: {message_id}")),
        },
        Entry::Delete {
            channel_id,
            message_id,
            message,
        } => Post {
            title: "Message deleted".into(),
            colour: RED,
            description: Some(match message {
                Some(m) => format!(
                    "By {} in <#{channel_id}>\n\n{}",
                    user_value(m.author_id),
                    m.content.show()
                ),
                None => format!("In <#{channel_id}>\n\n{NOT_CACHED}"),
            }),
            fields: Vec::new(),
            footer: Some(format!("Message ID: {message_id}")),
        },
        Entry::BulkDelete {
            channel_id,
            count,
            cached,
        } => {
            let mut lines = vec![format!(
                "{count} message{} deleted in <#{channel_id}>; {} cached:",
                plural(*count),
                cached.len()
            )];
            for m in cached {
                let text = m.content.show().replace('\n', " ");
                lines.push(format!("<@{}>: {}", m.author_id, truncate(&text, 200)));
            }
            Post {
                title: "Messages deleted in bulk".into(),
                colour: RED,
                description: Some(lines.join("\n")),
                fields: Vec::new(),
                footer: None,
            }
        }
        Entry::Join {
            user_id,
            name,
            created_secs,
            now_secs,
        } => {
            let mut age = format!(
                "{} (created <t:{created_secs}:f>)",
                account_age(*created_secs, *now_secs)
            );
            if now_secs - created_secs < NEW_ACCOUNT_SECS {
                age.push_str("\n⚠️ New account");
            }
            Post {
                title: "Member joined".into(),
                colour: GREEN,
                description: Some(format!("{} {}", user_value(*user_id), name)),
                fields: vec![field("Account age", age, false)],
                footer: Some(format!("User ID: {user_id}")),
            }
        }
        Entry::Leave {
            user_id,
            name,
            created_secs,
            now_secs,
            roles,
        } => Post {
            title: "Member left".into(),
            colour: ORANGE,
            description: Some(format!("{} {}", user_value(*user_id), name)),
            fields: vec![
                field(
                    "Account age",
                    format!(
                        "{} (created <t:{created_secs}:f>)",
                        account_age(*created_secs, *now_secs)
                    ),
                    false,
                ),
                field(
                    "Roles",
                    roles
                        .as_deref()
                        .map_or_else(|| "not cached".to_owned(), roles_value),
                    false,
                ),
            ],
            footer: Some(format!("User ID: {user_id}")),
        },
        Entry::Member {
            user_id,
            nick,
            roles_added,
            roles_removed,
            avatar,
        } => {
            let mut fields = Vec::new();
            if let Some((before, after)) = nick {
                let show = |n: &Option<String>| n.clone().unwrap_or_else(|| "*none*".into());
                fields.push(field("Nickname before", show(before), true));
                fields.push(field("Nickname after", show(after), true));
            }
            if !roles_added.is_empty() {
                fields.push(field("Roles added", roles_value(roles_added), false));
            }
            if !roles_removed.is_empty() {
                fields.push(field("Roles removed", roles_value(roles_removed), false));
            }
            if *avatar {
                fields.push(field("Avatar", "changed", false));
            }
            Post {
                title: "Member updated".into(),
                colour: BLUE,
                description: Some(user_value(*user_id)),
                fields,
                footer: Some(format!("User ID: {user_id}")),
            }
        }
        Entry::Channel {
            change,
            channel_id,
            name,
            diffs,
        } => Post {
            title: format!("Channel {}", change.word()),
            colour: change.colour(),
            description: Some(if *change == Change::Deleted {
                format!("#{name} (`{channel_id}`)")
            } else {
                format!("<#{channel_id}> #{name} (`{channel_id}`)")
            }),
            fields: diff_fields(diffs),
            footer: None,
        },
        Entry::Role {
            change,
            role_id,
            name,
            diffs,
        } => Post {
            title: format!("Role {}", change.word()),
            colour: change.colour(),
            description: Some(match (change, name) {
                (Change::Deleted, Some(n)) => format!("@{n} (`{role_id}`)"),
                (Change::Deleted, None) => format!("`{role_id}` (not cached)"),
                (_, n) => format!(
                    "<@&{role_id}> @{} (`{role_id}`)",
                    n.as_deref().unwrap_or("")
                ),
            }),
            fields: diff_fields(diffs),
            footer: None,
        },
    };
    fit(post, now_secs)
}

fn diff_fields(diffs: &[Diff]) -> Vec<EmbedField> {
    diffs
        .iter()
        .map(|d| {
            field(
                &d.what,
                format!(
                    "{} → {}",
                    truncate(&d.before, FIELD_VALUE_MAX / 2 - 2),
                    truncate(&d.after, FIELD_VALUE_MAX / 2 - 2)
                ),
                false,
            )
        })
        .collect()
}

/// Characters Discord counts towards an embed's 6000.
#[must_use]
pub fn embed_chars(e: &Embed) -> usize {
    let n = |s: &Option<String>| s.as_deref().map_or(0, |s| s.chars().count());
    n(&e.title)
        + n(&e.description)
        + e.footer.as_ref().map_or(0, |f| f.text.chars().count())
        + e.author.as_ref().map_or(0, |a| a.name.chars().count())
        + e.fields
            .iter()
            .map(|f| f.name.chars().count() + f.value.chars().count())
            .sum::<usize>()
}

fn fit(mut post: Post, now_secs: i64) -> Embed {
    post.fields.truncate(FIELDS_MAX);
    let mut e = Embed {
        author: None,
        color: Some(post.colour),
        description: post.description.map(|d| truncate(&d, DESCRIPTION_MAX)),
        fields: post.fields,
        flags: None,
        footer: post.footer.map(|text| EmbedFooter {
            icon_url: None,
            proxy_icon_url: None,
            text,
        }),
        image: None,
        kind: "rich".to_owned(),
        provider: None,
        thumbnail: None,
        timestamp: Timestamp::from_secs(now_secs).ok(),
        title: Some(truncate(&post.title, TITLE_MAX)),
        url: None,
        video: None,
    };
    let total = embed_chars(&e);
    if total > TOTAL_MAX {
        // The description gives way first, then the last fields.
        let over = total - TOTAL_MAX;
        if let Some(d) = &e.description {
            let len = d.chars().count();
            e.description = Some(truncate(d, len.saturating_sub(over).max(1)));
        }
        while embed_chars(&e) > TOTAL_MAX && !e.fields.is_empty() {
            e.fields.pop();
        }
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Content {
        Content {
            text: Some(s.into()),
            attachments: 0,
        }
    }

    fn field_of<'a>(e: &'a Embed, name: &str) -> Option<&'a str> {
        e.fields
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.value.as_str())
    }

    fn within_limits(e: &Embed) {
        assert!(e.title.as_ref().unwrap().chars().count() <= TITLE_MAX);
        assert!(
            e.description
                .as_ref()
                .is_none_or(|d| d.chars().count() <= DESCRIPTION_MAX)
        );
        assert!(e.fields.len() <= FIELDS_MAX);
        for f in &e.fields {
            assert!(f.name.chars().count() <= FIELD_NAME_MAX);
            assert!((1..=FIELD_VALUE_MAX).contains(&f.value.chars().count()));
        }
        assert!(embed_chars(e) <= TOTAL_MAX, "{}", embed_chars(e));
    }

    #[test]
    fn account_ages() {
        let table = [
            (0, "0 minutes"),
            (59, "0 minutes"),
            (60, "1 minute"),
            (3599, "59 minutes"),
            (3600, "1 hour"),
            (86_399, "23 hours"),
            (86_400, "1 day"),
            (400 * 86_400, "400 days"),
            (-5, "0 minutes"),
        ];
        for (secs, want) in table {
            assert_eq!(
                account_age(1_000_000_000, 1_000_000_000 + secs),
                want,
                "{secs}"
            );
        }
    }

    #[test]
    fn entries_and_what_they_show() {
        let now = 1_800_000_000;
        // An entry, its title, fields it must show and a part of its description.
        type Row = (
            Entry,
            &'static str,
            Vec<(&'static str, &'static str)>,
            &'static str,
        );
        let table: Vec<Row> = vec![
            (
                Entry::Edit {
                    channel_id: 5,
                    message_id: 6,
                    author_id: 7,
                    before: Some(text("hello")),
                    after: text("hullo"),
                },
                "Message edited",
                vec![("Before", "hello"), ("After", "hullo")],
                "<@7>",
            ),
            (
                Entry::Edit {
                    channel_id: 5,
                    message_id: 6,
                    author_id: 7,
                    before: None,
                    after: Content {
                        text: None,
                        attachments: 2,
                    },
                },
                "Message edited",
                vec![
                    ("Before", NOT_CACHED),
                    (
                        "After",
                        "*content unavailable (no Message Content intent)*\n(2 attachments)",
                    ),
                ],
                "<#5>",
            ),
            (
                Entry::Delete {
                    channel_id: 5,
                    message_id: 6,
                    message: Some(Deleted {
                        author_id: 7,
                        content: Content {
                            text: Some(String::new()),
                            attachments: 1,
                        },
                    }),
                },
                "Message deleted",
                vec![],
                "*no text*\n(1 attachment)",
            ),
            (
                Entry::Delete {
                    channel_id: 5,
                    message_id: 6,
                    message: None,
                },
                "Message deleted",
                vec![],
                NOT_CACHED,
            ),
            (
                Entry::BulkDelete {
                    channel_id: 5,
                    count: 3,
                    cached: vec![Deleted {
                        author_id: 7,
                        content: text("one\ntwo"),
                    }],
                },
                "Messages deleted in bulk",
                vec![],
                "3 messages deleted in <#5>; 1 cached:\n<@7>: one two",
            ),
            (
                Entry::Join {
                    user_id: 9,
                    name: "newbie".into(),
                    created_secs: now - 2 * 86_400,
                    now_secs: now,
                },
                "Member joined",
                vec![(
                    "Account age",
                    "2 days (created <t:1799827200:f>)\n⚠️ New account",
                )],
                "<@9> (`9`) newbie",
            ),
            (
                Entry::Leave {
                    user_id: 9,
                    name: "gone".into(),
                    created_secs: now - 30 * 86_400,
                    now_secs: now,
                    roles: Some(vec![11, 12]),
                },
                "Member left",
                vec![
                    ("Account age", "30 days (created <t:1797408000:f>)"),
                    ("Roles", "<@&11> <@&12>"),
                ],
                "gone",
            ),
            (
                Entry::Member {
                    user_id: 9,
                    nick: Some((None, Some("Neo".into()))),
                    roles_added: vec![11],
                    roles_removed: vec![],
                    avatar: true,
                },
                "Member updated",
                vec![
                    ("Nickname before", "*none*"),
                    ("Nickname after", "Neo"),
                    ("Roles added", "<@&11>"),
                    ("Avatar", "changed"),
                ],
                "<@9>",
            ),
            (
                Entry::Role {
                    change: Change::Updated,
                    role_id: 11,
                    name: Some("Helpers".into()),
                    diffs: vec![Diff {
                        what: "Name".into(),
                        before: "Member".into(),
                        after: "Helpers".into(),
                    }],
                },
                "Role updated",
                vec![("Name", "Member → Helpers")],
                "<@&11> @Helpers",
            ),
            (
                Entry::Role {
                    change: Change::Deleted,
                    role_id: 11,
                    name: None,
                    diffs: vec![],
                },
                "Role deleted",
                vec![],
                "`11` (not cached)",
            ),
            (
                Entry::Channel {
                    change: Change::Created,
                    channel_id: 5,
                    name: "news".into(),
                    diffs: vec![],
                },
                "Channel created",
                vec![],
                "<#5> #news",
            ),
        ];
        for (entry, title, fields, description) in table {
            let e = build_embed(&entry, now);
            assert_eq!(e.title.as_deref(), Some(title), "{entry:?}");
            for (name, value) in fields {
                assert_eq!(field_of(&e, name), Some(value), "{entry:?}: {name}");
            }
            let d = e.description.as_deref().unwrap_or_default();
            assert!(d.contains(description), "{entry:?}: {d}");
            within_limits(&e);
        }
    }

    #[test]
    fn long_content_is_cut_to_the_limits() {
        let long = "x".repeat(5000);
        let e = build_embed(
            &Entry::Edit {
                channel_id: 5,
                message_id: 6,
                author_id: 7,
                before: Some(text(&long)),
                after: text(&long),
            },
            0,
        );
        within_limits(&e);
        assert!(field_of(&e, "Before").unwrap().ends_with('…'));
        let e = build_embed(
            &Entry::Delete {
                channel_id: 5,
                message_id: 6,
                message: Some(Deleted {
                    author_id: 7,
                    content: text(&long),
                }),
            },
            0,
        );
        within_limits(&e);
        assert!(e.description.as_ref().unwrap().ends_with('…'));
        let cached = (0..100)
            .map(|n| Deleted {
                author_id: n,
                content: text(&long),
            })
            .collect();
        let e = build_embed(
            &Entry::BulkDelete {
                channel_id: 5,
                count: 100,
                cached,
            },
            0,
        );
        within_limits(&e);
        let diffs = (0..40)
            .map(|n| Diff {
                what: format!("Setting {n}"),
                before: long.clone(),
                after: long.clone(),
            })
            .collect();
        let e = build_embed(
            &Entry::Channel {
                change: Change::Updated,
                channel_id: 5,
                name: long.clone(),
                diffs,
            },
            0,
        );
        within_limits(&e);
    }
}
