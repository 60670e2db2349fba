//! The pure part of `/purge`: what a purge deletes and how.
//!
//! [`PurgeFilter::parse`] checks the options (count 1..=1000, message ids that are real
//! snowflakes, a bounded regex) and [`PurgeFilter::matches`] decides a message; [`plan`] splits
//! the chosen messages into bulk deletes of 2..=100 ids and single deletes. Discord refuses to
//! bulk delete a message older than 14 days (error 50034): such messages are deleted one by one
//! with `DELETE /channels/{c}/messages/{m}`, and the reply counts them apart. No I/O here:
//! [`run`] reads the channel and deletes, [`command`] is `/purge` (`k!purge`).

pub mod command;
pub mod run;

use std::fmt;

use regex::{Regex, RegexBuilder};

/// Most messages one purge deletes.
pub const MAX_COUNT: u64 = 1000;
/// Most messages in one bulk delete (Discord's limit).
pub const MAX_BULK: usize = 100;
/// Fewest messages in one bulk delete (Discord's limit); one message is deleted singly.
pub const MIN_BULK: usize = 2;
/// Messages per page of `GET /channels/{id}/messages` (Discord's maximum).
pub const PAGE_LIMIT: u16 = 100;
/// Most messages a purge reads while looking for matches (a filter matching little must not
/// page through a channel's whole history).
pub const MAX_SCANNED: usize = 5000;
/// Longest regex pattern, in characters.
pub const MAX_PATTERN_CHARS: usize = 200;
/// Longest `contains` text, in characters.
pub const MAX_CONTAINS_CHARS: usize = 200;
/// Size limit of a compiled regex, in bytes (keeps a pattern such as `\w{1000}` from costing
/// megabytes).
pub const REGEX_SIZE_LIMIT: usize = 64 * 1024;

/// How old a message may be and still be bulk deleted: 14 days.
pub const BULK_MAX_AGE_MS: u64 = 14 * 24 * 60 * 60 * 1000;
/// Margin under [`BULK_MAX_AGE_MS`]: a message this close to the limit is deleted singly, so it
/// cannot age past the limit while the purge runs.
pub const BULK_AGE_MARGIN_MS: u64 = 10 * 60 * 1000;

/// Why the options of a purge are refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PurgeError {
    /// `count` outside 1..=1000.
    #[error("`count` must be between 1 and {MAX_COUNT}")]
    Count,
    /// A message id that is not a snowflake (not a number, or 0).
    #[error("`{option}`: {value:?} is not a message id")]
    BadMessageId {
        /// The option.
        option: &'static str,
        /// What was given.
        value: String,
    },
    /// `after` is not older than `before`: nothing lies between.
    #[error("`after` must be an older message than `before`")]
    EmptyRange,
    /// The regex does not compile or is too large.
    #[error("`regex`: {0}")]
    Regex(String),
    /// A text option is too long.
    #[error("`{option}` is longer than {max} characters")]
    TooLong {
        /// The option.
        option: &'static str,
        /// Its limit.
        max: usize,
    },
}

/// The options of one purge, as given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PurgeOptions<'a> {
    /// How many matching messages to delete.
    pub count: i64,
    /// Only messages of this user.
    pub user: Option<u64>,
    /// Only messages of bots.
    pub bots: bool,
    /// Only messages containing this text (case-insensitive).
    pub contains: Option<&'a str>,
    /// Only messages matching this regex.
    pub regex: Option<&'a str>,
    /// Only messages with attachments.
    pub attachments: bool,
    /// Only messages older than this message id.
    pub before: Option<&'a str>,
    /// Only messages newer than this message id.
    pub after: Option<&'a str>,
}

/// One message as a purge sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate<'a> {
    /// Message id.
    pub id: u64,
    /// Author id.
    pub author_id: u64,
    /// Whether the author is a bot (or a webhook).
    pub author_bot: bool,
    /// Text content.
    pub content: &'a str,
    /// How many attachments it has.
    pub attachments: usize,
}

/// A checked purge filter.
#[derive(Clone)]
pub struct PurgeFilter {
    /// How many matching messages to delete (1..=1000).
    pub count: usize,
    /// Only messages of this user.
    pub user: Option<u64>,
    /// Only messages of bots.
    pub bots: bool,
    /// Only messages containing this text, lowercased.
    pub contains: Option<String>,
    /// Only messages matching this.
    pub regex: Option<Regex>,
    /// Only messages with attachments.
    pub attachments: bool,
    /// Only messages older than this id.
    pub before: Option<u64>,
    /// Only messages newer than this id.
    pub after: Option<u64>,
}

impl fmt::Debug for PurgeFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PurgeFilter")
            .field("count", &self.count)
            .field("user", &self.user)
            .field("bots", &self.bots)
            .field("contains", &self.contains)
            .field("regex", &self.regex.as_ref().map(Regex::as_str))
            .field("attachments", &self.attachments)
            .field("before", &self.before)
            .field("after", &self.after)
            .finish()
    }
}

/// A message id from user input: digits making a non-zero `u64`.
///
/// # Errors
/// [`PurgeError::BadMessageId`] for anything else.
pub fn parse_message_id(option: &'static str, value: &str) -> Result<u64, PurgeError> {
    let v = value.trim();
    let bad = || PurgeError::BadMessageId {
        option,
        value: value.chars().take(40).collect(),
    };
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    match v.parse::<u64>() {
        Ok(0) | Err(_) => Err(bad()),
        Ok(id) => Ok(id),
    }
}

fn text_option(
    option: &'static str,
    value: Option<&str>,
    max: usize,
) -> Result<Option<String>, PurgeError> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) if v.chars().count() > max => Err(PurgeError::TooLong { option, max }),
        Some(v) => Ok(Some(v.to_owned())),
    }
}

impl PurgeFilter {
    /// Checks `options`.
    ///
    /// # Errors
    /// The first option that is refused.
    pub fn parse(options: &PurgeOptions<'_>) -> Result<Self, PurgeError> {
        let count = u64::try_from(options.count)
            .ok()
            .filter(|c| (1..=MAX_COUNT).contains(c))
            .ok_or(PurgeError::Count)?;
        let contains = text_option("contains", options.contains, MAX_CONTAINS_CHARS)?
            .map(|s| s.to_lowercase());
        let regex = match text_option("regex", options.regex, MAX_PATTERN_CHARS)? {
            None => None,
            Some(p) => Some(
                RegexBuilder::new(&p)
                    .size_limit(REGEX_SIZE_LIMIT)
                    .dfa_size_limit(REGEX_SIZE_LIMIT)
                    .build()
                    .map_err(|e| PurgeError::Regex(regex_error(&e)))?,
            ),
        };
        let before = options
            .before
            .map(|v| parse_message_id("before", v))
            .transpose()?;
        let after = options
            .after
            .map(|v| parse_message_id("after", v))
            .transpose()?;
        if let (Some(b), Some(a)) = (before, after)
            && a >= b
        {
            return Err(PurgeError::EmptyRange);
        }
        Ok(Self {
            count: usize::try_from(count).unwrap_or(1000),
            user: options.user.filter(|u| *u != 0),
            bots: options.bots,
            contains,
            regex,
            attachments: options.attachments,
            before,
            after,
        })
    }

    /// Whether `message` is to be deleted (ignoring the count).
    #[must_use]
    pub fn matches(&self, message: &Candidate<'_>) -> bool {
        if self.before.is_some_and(|b| message.id >= b)
            || self.after.is_some_and(|a| message.id <= a)
        {
            return false;
        }
        if self.user.is_some_and(|u| message.author_id != u) {
            return false;
        }
        if self.bots && !message.author_bot {
            return false;
        }
        if self.attachments && message.attachments == 0 {
            return false;
        }
        if let Some(text) = &self.contains
            && !message.content.to_lowercase().contains(text.as_str())
        {
            return false;
        }
        if let Some(re) = &self.regex
            && !re.is_match(message.content)
        {
            return false;
        }
        true
    }

    /// The message ids given (`before`, `after`), which must be of the invoking channel.
    #[must_use]
    pub fn message_ids(&self) -> Vec<(&'static str, u64)> {
        let mut out = Vec::new();
        if let Some(b) = self.before {
            out.push(("before", b));
        }
        if let Some(a) = self.after {
            out.push(("after", a));
        }
        out
    }
}

fn regex_error(e: &regex::Error) -> String {
    match e {
        regex::Error::CompiledTooBig(_) => "the pattern is too large".to_owned(),
        regex::Error::Syntax(s) => {
            // The first line names the problem; the rest draws the pattern.
            let last = s.lines().rev().find(|l| l.starts_with("error:"));
            last.map_or_else(
                || "not a valid regular expression".to_owned(),
                |l| {
                    format!(
                        "not a valid regular expression ({})",
                        l.trim_start_matches("error: ")
                    )
                },
            )
        }
        _ => "not a valid regular expression".to_owned(),
    }
}

/// How a purge deletes its messages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Bulk deletes, 2..=100 ids each.
    pub bulk: Vec<Vec<u64>>,
    /// Messages deleted one by one: older than bulk delete allows, or one left over.
    pub single: Vec<u64>,
    /// Of [`Plan::single`], how many because they are older than 14 days.
    pub old: usize,
}

impl Plan {
    /// Messages the plan deletes.
    #[must_use]
    pub fn total(&self) -> usize {
        self.bulk.iter().map(Vec::len).sum::<usize>() + self.single.len()
    }
}

/// Whether message `id` can still be bulk deleted at `now_ms` (with the margin).
#[must_use]
pub fn bulk_deletable(id: u64, now_ms: u64) -> bool {
    now_ms.saturating_sub(crate::snowflake::timestamp_ms(id)) < BULK_MAX_AGE_MS - BULK_AGE_MARGIN_MS
}

/// Splits `ids` (distinct message ids) into bulk deletes and single deletes at `now_ms`.
#[must_use]
pub fn plan(ids: &[u64], now_ms: u64) -> Plan {
    let mut ids: Vec<u64> = ids.to_vec();
    ids.sort_unstable_by(|a, b| b.cmp(a));
    ids.dedup();
    let (young, old): (Vec<u64>, Vec<u64>) =
        ids.into_iter().partition(|id| bulk_deletable(*id, now_ms));
    let mut plan = Plan {
        old: old.len(),
        ..Plan::default()
    };
    for chunk in young.chunks(MAX_BULK) {
        if chunk.len() >= MIN_BULK {
            plan.bulk.push(chunk.to_vec());
        } else {
            plan.single.extend_from_slice(chunk);
        }
    }
    plan.single.extend(old);
    plan
}

/// What a purge's case records (its evidence), and what its reply and mod-log entry say.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Evidence {
    /// The channel purged.
    pub channel_id: u64,
    /// Messages read while looking for matches.
    pub scanned: usize,
    /// Messages the purge set out to delete.
    pub planned: usize,
    /// Of those, how many were older than 14 days and deleted one by one.
    pub old: usize,
    /// Messages older than 14 days that matched and were left (`skip_old`).
    pub skipped_old: usize,
}

impl Evidence {
    /// One line for the mod log: `250 messages in <#c> (30 older than 14 days, one by one)`.
    #[must_use]
    pub fn summary(&self) -> String {
        let mut out = format!(
            "{} message{} in <#{}>",
            self.planned,
            if self.planned == 1 { "" } else { "s" },
            self.channel_id
        );
        let mut notes = Vec::new();
        if self.old > 0 {
            notes.push(format!("{} older than 14 days, one by one", self.old));
        }
        if self.skipped_old > 0 {
            notes.push(format!("{} older than 14 days left", self.skipped_old));
        }
        if !notes.is_empty() {
            out.push_str(&format!(" ({})", notes.join("; ")));
        }
        out
    }
}

/// The mod-log line of a purge case's evidence, when it is a purge's.
#[must_use]
pub fn evidence_summary(evidence: Option<&serde_json::Value>) -> Option<String> {
    let e: Evidence = serde_json::from_value(evidence?.clone()).ok()?;
    Some(e.summary())
}

/// Drops the messages of `plan` that are older than 14 days (`skip_old`): returns how many.
pub fn skip_old(plan: &mut Plan) -> usize {
    let skipped = plan.old;
    let keep = plan.single.len() - plan.old;
    plan.single.truncate(keep);
    plan.old = 0;
    skipped
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_800_000_000_000;

    fn id_at(ms: u64, n: u64) -> u64 {
        crate::snowflake::at_ms(ms, n)
    }

    fn msg(id: u64, author: u64, content: &str) -> Candidate<'_> {
        Candidate {
            id,
            author_id: author,
            author_bot: false,
            content,
            attachments: 0,
        }
    }

    fn opts(count: i64) -> PurgeOptions<'static> {
        PurgeOptions {
            count,
            ..PurgeOptions::default()
        }
    }

    #[test]
    fn count_bounds() {
        for bad in [0, -1, 1001, i64::MIN, i64::MAX] {
            assert_eq!(
                PurgeFilter::parse(&opts(bad)).unwrap_err(),
                PurgeError::Count
            );
        }
        assert_eq!(PurgeFilter::parse(&opts(1)).unwrap().count, 1);
        assert_eq!(PurgeFilter::parse(&opts(1000)).unwrap().count, 1000);
    }

    #[test]
    fn message_ids_are_snowflakes() {
        for bad in [
            "0",
            "",
            " ",
            "-5",
            "abc",
            "12a",
            "99999999999999999999999",
            "+1",
        ] {
            assert!(parse_message_id("before", bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse_message_id("before", " 123 ").unwrap(), 123);
        let o = PurgeOptions {
            before: Some("0"),
            ..opts(5)
        };
        assert!(matches!(
            PurgeFilter::parse(&o).unwrap_err(),
            PurgeError::BadMessageId {
                option: "before",
                ..
            }
        ));
        let o = PurgeOptions {
            before: Some("10"),
            after: Some("10"),
            ..opts(5)
        };
        assert_eq!(PurgeFilter::parse(&o).unwrap_err(), PurgeError::EmptyRange);
    }

    #[test]
    fn regex_is_checked_and_bounded() {
        let o = PurgeOptions {
            regex: Some("(unclosed"),
            ..opts(5)
        };
        let e = PurgeFilter::parse(&o).unwrap_err();
        assert!(matches!(e, PurgeError::Regex(_)), "{e}");
        assert!(
            e.to_string()
                .starts_with("`regex`: not a valid regular expression")
        );
        let o = PurgeOptions {
            regex: Some(r"\w{1000}\w{1000}\w{1000}"),
            ..opts(5)
        };
        assert_eq!(
            PurgeFilter::parse(&o).unwrap_err(),
            PurgeError::Regex("the pattern is too large".into())
        );
        let long = "a".repeat(MAX_PATTERN_CHARS + 1);
        let o = PurgeOptions {
            regex: Some(&long),
            ..opts(5)
        };
        assert!(matches!(
            PurgeFilter::parse(&o).unwrap_err(),
            PurgeError::TooLong {
                option: "regex",
                ..
            }
        ));
    }

    #[test]
    fn filters() {
        let o = PurgeOptions {
            user: Some(7),
            contains: Some("SPAM"),
            ..opts(10)
        };
        let f = PurgeFilter::parse(&o).unwrap();
        assert!(f.matches(&msg(1, 7, "buy spam now")));
        assert!(!f.matches(&msg(1, 8, "buy spam now")));
        assert!(!f.matches(&msg(1, 7, "hello")));

        let f = PurgeFilter::parse(&PurgeOptions {
            regex: Some(r"^https?://"),
            ..opts(10)
        })
        .unwrap();
        assert!(f.matches(&msg(1, 1, "http://x")));
        assert!(!f.matches(&msg(1, 1, "see http://x")));

        let f = PurgeFilter::parse(&PurgeOptions {
            bots: true,
            attachments: true,
            ..opts(10)
        })
        .unwrap();
        let mut m = msg(1, 1, "");
        assert!(!f.matches(&m));
        m.author_bot = true;
        assert!(!f.matches(&m));
        m.attachments = 1;
        assert!(f.matches(&m));

        let f = PurgeFilter::parse(&PurgeOptions {
            before: Some("100"),
            after: Some("50"),
            ..opts(10)
        })
        .unwrap();
        assert!(f.matches(&msg(99, 1, "")));
        assert!(f.matches(&msg(51, 1, "")));
        assert!(!f.matches(&msg(100, 1, "")));
        assert!(!f.matches(&msg(50, 1, "")));
        assert_eq!(f.message_ids(), vec![("before", 100), ("after", 50)]);
    }

    #[test]
    fn plan_splits_by_age_and_size() {
        let day = 24 * 60 * 60 * 1000;
        let young: Vec<u64> = (0..220).map(|i| id_at(NOW - 1000 - i * 1000, 0)).collect();
        let old: Vec<u64> = (0..30).map(|i| id_at(NOW - 15 * day - i, 0)).collect();
        let all: Vec<u64> = young.iter().chain(&old).copied().collect();
        let p = plan(&all, NOW);
        assert_eq!(p.total(), 250);
        assert_eq!(
            p.bulk.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![100, 100, 20]
        );
        assert_eq!(p.single.len(), 30);
        assert_eq!(p.old, 30);
        assert!(p.single.iter().all(|id| old.contains(id)));

        // One young message left over is deleted singly.
        let p = plan(&young[..101], NOW);
        assert_eq!(p.bulk.len(), 1);
        assert_eq!(p.single, vec![young[100]]);
        assert_eq!(p.old, 0);

        // Close to the limit counts as old.
        let edge = id_at(NOW - BULK_MAX_AGE_MS + BULK_AGE_MARGIN_MS / 2, 0);
        assert!(!bulk_deletable(edge, NOW));
        // Duplicates are deleted once.
        let p = plan(&[young[0], young[0], young[1]], NOW);
        assert_eq!(p.bulk, vec![vec![young[0], young[1]]]);
    }

    #[test]
    fn old_messages_can_be_left_and_the_evidence_says_so() {
        let day = 24 * 60 * 60 * 1000;
        let ids: Vec<u64> = (0..5)
            .map(|i| id_at(NOW - 1000 - i, 0))
            .chain((0..3).map(|i| id_at(NOW - 20 * day - i, 0)))
            .collect();
        let mut p = plan(&ids, NOW);
        assert_eq!((p.total(), p.old), (8, 3));
        assert_eq!(skip_old(&mut p), 3);
        assert_eq!((p.total(), p.old), (5, 0));
        assert_eq!(p.bulk, vec![ids[..5].to_vec()]);
        let e = Evidence {
            channel_id: 9,
            scanned: 300,
            planned: 250,
            old: 30,
            skipped_old: 0,
        };
        assert_eq!(
            evidence_summary(Some(&serde_json::to_value(&e).unwrap())).as_deref(),
            Some("250 messages in <#9> (30 older than 14 days, one by one)")
        );
        let e = Evidence {
            planned: 1,
            old: 0,
            skipped_old: 2,
            ..e
        };
        assert_eq!(e.summary(), "1 message in <#9> (2 older than 14 days left)");
        assert_eq!(
            evidence_summary(Some(&serde_json::json!({"rule": "x"}))),
            None
        );
    }

    #[test]
    fn snowflake_time() {
        assert_eq!(crate::snowflake::timestamp_ms(id_at(NOW, 5)), NOW);
    }
}
