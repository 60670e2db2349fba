//! Compiled rules and their evaluation against messages and joining members.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use regex::{RegexSet, RegexSetBuilder};
use serde::Serialize;
use twilight_model::guild::Permissions;

use super::config::{Action, AutomodConfig, ConfigError, Rule, RuleKind};
use super::counters::{CounterKey, CounterOp, CounterValue, Counters, LocalCounters, Subject};
use super::text::{
    Normalized, TermMatcher, caps_counts, count_emoji, host_in, invite_codes, link_hosts,
    normalize, stable_hash,
};
use super::toxicity::{Lexicon, TermHit};

/// Compiled size limit of one rule's regex set (bytes of compiled program).
pub const REGEX_SIZE_LIMIT: usize = 1 << 20;
/// Cache size limit of one rule's lazy DFA.
pub const REGEX_DFA_SIZE_LIMIT: usize = 2 << 20;
/// Longest excerpt of a message kept in the evidence.
pub const EXCERPT_CHARS: usize = 300;

/// Discord's epoch (2015-01-01) in Unix milliseconds.
pub const DISCORD_EPOCH_MS: u64 = 1_420_070_400_000;

/// The creation time (Unix ms) encoded in a Discord snowflake.
#[must_use]
pub fn snowflake_ms(id: u64) -> u64 {
    (id >> 22) + DISCORD_EPOCH_MS
}

/// Permissions that make a member a moderator for automod (exempt by default).
pub const MODERATOR_PERMISSIONS: Permissions = Permissions::ADMINISTRATOR
    .union(Permissions::MANAGE_GUILD)
    .union(Permissions::MANAGE_MESSAGES)
    .union(Permissions::MODERATE_MEMBERS)
    .union(Permissions::KICK_MEMBERS)
    .union(Permissions::BAN_MEMBERS);

/// A message as automod sees it.
#[derive(Debug, Clone, Copy)]
pub struct MessageContext<'a> {
    /// Guild.
    pub guild_id: u64,
    /// Channel.
    pub channel_id: u64,
    /// Message id (also the event id for counters).
    pub message_id: u64,
    /// Author.
    pub author_id: u64,
    /// Whether the author is a bot or webhook.
    pub author_is_bot: bool,
    /// The author's roles.
    pub author_roles: &'a [u64],
    /// The author's guild permissions (in this channel when known).
    pub author_permissions: Permissions,
    /// Text.
    pub content: &'a str,
    /// Distinct users mentioned.
    pub user_mentions: u32,
    /// Distinct roles mentioned.
    pub role_mentions: u32,
    /// Whether the message mentions `@everyone` or `@here`.
    pub mentions_everyone: bool,
    /// Attachments.
    pub attachments: u32,
    /// When it was sent (Unix ms).
    pub timestamp_ms: u64,
}

impl<'a> MessageContext<'a> {
    /// A message by an ordinary member with no roles, mentions or attachments, sent at the
    /// time its id says.
    #[must_use]
    pub fn new(
        guild_id: u64,
        channel_id: u64,
        message_id: u64,
        author_id: u64,
        content: &'a str,
    ) -> Self {
        Self {
            guild_id,
            channel_id,
            message_id,
            author_id,
            author_is_bot: false,
            author_roles: &[],
            author_permissions: Permissions::empty(),
            content,
            user_mentions: 0,
            role_mentions: 0,
            mentions_everyone: false,
            attachments: 0,
            timestamp_ms: snowflake_ms(message_id),
        }
    }
}

/// A member joining, as automod sees it.
#[derive(Debug, Clone, Copy)]
pub struct MemberContext<'a> {
    /// Guild.
    pub guild_id: u64,
    /// The member.
    pub user_id: u64,
    /// Whether the account is a bot.
    pub is_bot: bool,
    /// Username.
    pub username: &'a str,
    /// Display name, if any.
    pub global_name: Option<&'a str>,
    /// Guild nickname, if any.
    pub nick: Option<&'a str>,
    /// When the member joined (Unix ms).
    pub joined_at_ms: u64,
}

/// Why a rule fired.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Evidence {
    /// One sentence for people (shown in alerts, cases and `/automod test`).
    pub reason: String,
    /// What matched (term, pattern, domain, invite code).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matched: Option<String>,
    /// Count reached (messages, mentions, joins, letters…).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// The threshold it was compared with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold: Option<u64>,
    /// The window, in seconds, for counts over time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window_secs: Option<u32>,
    /// Toxicity score.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<f32>,
    /// Toxicity terms found.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub terms: Vec<TermHit>,
    /// Message id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<u64>,
    /// Channel id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel_id: Option<u64>,
    /// The start of the message or the name that matched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub excerpt: Option<String>,
    /// Set on the join that started raid mode.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub raid_started: bool,
}

/// A rule that fired, with what to do and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    /// The rule's name.
    #[serde(serialize_with = "serialize_arc_str")]
    pub rule: Arc<str>,
    /// The rule's type (`message_rate`, `toxicity`…).
    pub rule_type: &'static str,
    /// Actions to take, in the rule's order. Punishments of windowed rules are left out when
    /// the member was already punished by the rule within its window.
    pub actions: Vec<Action>,
    /// Why.
    pub evidence: Evidence,
}

fn serialize_arc_str<S: serde::Serializer>(s: &Arc<str>, ser: S) -> Result<S::Ok, S::Error> {
    ser.serialize_str(s)
}

impl Verdict {
    /// The evidence as JSON, for the case.
    #[must_use]
    pub fn evidence_json(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(&self.evidence).expect("evidence serialises");
        if let Some(o) = v.as_object_mut() {
            o.insert("rule".into(), self.rule.as_ref().into());
            o.insert("rule_type".into(), self.rule_type.into());
        }
        v
    }
}

#[derive(Debug, Clone)]
enum Check {
    MessageRate {
        count: u64,
        window_ms: u64,
        secs: u32,
    },
    Duplicates {
        count: u64,
        window_ms: u64,
        secs: u32,
        min_len: usize,
    },
    Mentions {
        per_message: Option<u32>,
        over_time: Option<(u64, u64, u32)>,
        everyone: bool,
    },
    Invites {
        allowed: HashSet<String>,
    },
    Links {
        allow: HashSet<String>,
        deny: HashSet<String>,
    },
    Caps {
        min_letters: u32,
        min_percent: u8,
    },
    Words(TermMatcher),
    Regex {
        set: RegexSet,
    },
    Attachments {
        per_message: Option<u32>,
        over_time: Option<(u64, u64, u32)>,
    },
    Emoji {
        per_message: Option<u32>,
        over_time: Option<(u64, u64, u32)>,
    },
    Toxicity {
        tiers: Vec<(f32, Action)>,
    },
    JoinRate {
        count: u64,
        window_ms: u64,
        secs: u32,
        calm_ms: u64,
    },
    AccountAge {
        min_age_ms: u64,
    },
    Names(TermMatcher),
}

#[derive(Debug, Clone)]
struct CompiledRule {
    name: Arc<str>,
    type_name: &'static str,
    actions: Vec<Action>,
    exempt_roles: Vec<u64>,
    exempt_channels: Vec<u64>,
    check: Check,
}

/// A guild's rules, validated and compiled (regexes, word automata, domain sets). Compile
/// once per configuration revision; evaluation never compiles.
#[derive(Debug)]
pub struct GuildRules {
    enabled: bool,
    revision: u64,
    alert_channel: Option<u64>,
    exempt_bots: bool,
    exempt_moderators: bool,
    exempt_roles: Vec<u64>,
    exempt_channels: Vec<u64>,
    message_rules: Vec<CompiledRule>,
    member_rules: Vec<CompiledRule>,
    needs_normalized: bool,
}

fn window(count: u32, secs: u32) -> (u64, u64, u32) {
    (u64::from(count), u64::from(secs) * 1000, secs)
}

fn compile_rule(r: &Rule) -> Result<CompiledRule, ConfigError> {
    let name: Arc<str> = r.name.as_str().into();
    let term_err = |e: super::text::TermError| ConfigError::rule(&r.name, e.to_string());
    let check = match &r.kind {
        RuleKind::MessageRate { count, within_secs } => {
            let (count, window_ms, secs) = window(*count, *within_secs);
            Check::MessageRate {
                count,
                window_ms,
                secs,
            }
        }
        RuleKind::Duplicates {
            count,
            within_secs,
            min_length,
        } => {
            let (count, window_ms, secs) = window(*count, *within_secs);
            Check::Duplicates {
                count,
                window_ms,
                secs,
                min_len: *min_length as usize,
            }
        }
        RuleKind::MentionSpam {
            per_message,
            over_time,
            count_everyone,
        } => Check::Mentions {
            per_message: *per_message,
            over_time: over_time.map(|w| window(w.count, w.within_secs)),
            everyone: *count_everyone,
        },
        RuleKind::Invites { allowed_codes } => Check::Invites {
            allowed: allowed_codes
                .iter()
                .map(|c| c.to_ascii_lowercase())
                .collect(),
        },
        RuleKind::Links { allow, deny } => Check::Links {
            allow: allow.iter().cloned().collect(),
            deny: deny.iter().cloned().collect(),
        },
        RuleKind::Caps {
            min_letters,
            min_percent,
        } => Check::Caps {
            min_letters: *min_letters,
            min_percent: *min_percent,
        },
        RuleKind::Words { words } => Check::Words(TermMatcher::new(words).map_err(term_err)?),
        RuleKind::Names { words } => Check::Names(TermMatcher::new(words).map_err(term_err)?),
        RuleKind::Regex { patterns } => Check::Regex {
            set: compile_regexes(&r.name, patterns)?,
        },
        RuleKind::AttachmentSpam {
            per_message,
            over_time,
        } => Check::Attachments {
            per_message: *per_message,
            over_time: over_time.map(|w| window(w.count, w.within_secs)),
        },
        RuleKind::EmojiSpam {
            per_message,
            over_time,
        } => Check::Emoji {
            per_message: *per_message,
            over_time: over_time.map(|w| window(w.count, w.within_secs)),
        },
        RuleKind::Toxicity {
            warn_at,
            timeout_at,
            timeout_secs,
            ban_at,
        } => {
            let mut tiers = Vec::new();
            if let Some(t) = ban_at {
                tiers.push((
                    *t,
                    Action::Ban {
                        delete_message_secs: 0,
                    },
                ));
            }
            if let Some(t) = timeout_at {
                tiers.push((
                    *t,
                    Action::Timeout {
                        secs: *timeout_secs,
                    },
                ));
            }
            if let Some(t) = warn_at {
                tiers.push((*t, Action::Warn));
            }
            Check::Toxicity { tiers }
        }
        RuleKind::JoinRate {
            count,
            within_secs,
            calm_secs,
        } => {
            let (count, window_ms, secs) = window(*count, *within_secs);
            Check::JoinRate {
                count,
                window_ms,
                secs,
                calm_ms: u64::from(*calm_secs) * 1000,
            }
        }
        RuleKind::AccountAge { min_age_secs } => Check::AccountAge {
            min_age_ms: min_age_secs.saturating_mul(1000),
        },
    };
    Ok(CompiledRule {
        name,
        type_name: r.kind.type_name(),
        actions: r.actions.clone(),
        exempt_roles: r.exempt_roles.clone(),
        exempt_channels: r.exempt_channels.clone(),
        check,
    })
}

/// Compiles a rule's regexes into one set under the size limits; patterns the `regex` crate
/// cannot run in linear time (look-around, back-references) or that compile too big are
/// rejected with the reason.
pub fn compile_regexes(rule: &str, patterns: &[String]) -> Result<RegexSet, ConfigError> {
    for p in patterns {
        if p.len() > super::config::MAX_REGEX_LEN {
            return Err(ConfigError::rule(
                rule,
                format!(
                    "a pattern is {} bytes long; the limit is {}",
                    p.len(),
                    super::config::MAX_REGEX_LEN
                ),
            ));
        }
        // Each pattern alone first, so the error names it.
        RegexSetBuilder::new([p])
            .case_insensitive(true)
            .size_limit(REGEX_SIZE_LIMIT)
            .dfa_size_limit(REGEX_DFA_SIZE_LIMIT)
            .build()
            .map_err(|e| {
                ConfigError::rule(
                    rule,
                    format!("pattern {p:?} is rejected: {}", regex_error(&e)),
                )
            })?;
    }
    RegexSetBuilder::new(patterns)
        .case_insensitive(true)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_DFA_SIZE_LIMIT)
        .build()
        .map_err(|e| {
            ConfigError::rule(
                rule,
                format!("the patterns together are rejected: {}", regex_error(&e)),
            )
        })
}

fn regex_error(e: &regex::Error) -> String {
    match e {
        regex::Error::CompiledTooBig(limit) => format!(
            "it compiles to more than the {limit}-byte limit (too much repetition or too large a class); simplify it"
        ),
        regex::Error::Syntax(s) => {
            let first = s.lines().last().unwrap_or(s).trim();
            format!("{first} (look-around and back-references are not supported)")
        }
        other => other.to_string(),
    }
}

impl GuildRules {
    /// Validates and compiles a configuration.
    pub fn compile(config: &AutomodConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let mut message_rules = Vec::new();
        let mut member_rules = Vec::new();
        for r in config.rules.iter() {
            let compiled = compile_rule(r)?;
            if !r.enabled {
                continue;
            }
            if r.kind.is_member_rule() {
                member_rules.push(compiled);
            } else {
                message_rules.push(compiled);
            }
        }
        let needs_normalized = message_rules.iter().any(|r| {
            matches!(
                r.check,
                Check::Words(_) | Check::Toxicity { .. } | Check::Duplicates { .. }
            )
        });
        Ok(Self {
            enabled: config.enabled,
            revision: config.revision,
            alert_channel: config.alert_channel,
            exempt_bots: config.exempt_bots,
            exempt_moderators: config.exempt_moderators,
            exempt_roles: config.exempt_roles.clone(),
            exempt_channels: config.exempt_channels.clone(),
            message_rules,
            member_rules,
            needs_normalized,
        })
    }

    /// Rules that never fire (automod off).
    #[must_use]
    pub fn disabled() -> Self {
        Self::compile(&AutomodConfig::default()).expect("the default config compiles")
    }

    /// Whether automod is on for the guild.
    #[must_use]
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// The configuration revision these rules were compiled from.
    #[must_use]
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// The default alert channel.
    #[must_use]
    pub fn alert_channel(&self) -> Option<u64> {
        self.alert_channel
    }

    /// Number of enabled message rules and member rules.
    #[must_use]
    pub fn rule_counts(&self) -> (usize, usize) {
        (self.message_rules.len(), self.member_rules.len())
    }
}

impl CompiledRule {
    fn exempt(&self, roles: &[u64], channel: Option<u64>) -> bool {
        channel.is_some_and(|c| self.exempt_channels.contains(&c))
            || roles.iter().any(|r| self.exempt_roles.contains(r))
    }

    fn key(&self, guild_id: u64, subject: Subject) -> CounterKey {
        CounterKey {
            guild_id,
            rule: self.name.clone(),
            subject,
        }
    }

    fn verdict(&self, actions: Vec<Action>, evidence: Evidence) -> Verdict {
        Verdict {
            rule: self.name.clone(),
            rule_type: self.type_name,
            actions,
            evidence,
        }
    }
}

/// A stateful check waiting for its counter.
struct Pending {
    rule: usize,
    op: usize,
    threshold: u64,
    secs: u32,
    what: &'static str,
}

fn excerpt(s: &str) -> String {
    let mut out: String = s.chars().take(EXCERPT_CHARS).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}

/// The automod engine: evaluates compiled rules against messages and joins.
#[derive(Debug, Clone, Copy)]
pub struct Engine {
    lexicon: &'static Lexicon,
}

impl Default for Engine {
    fn default() -> Self {
        Self::new()
    }
}

/// What `/automod test` reports for a text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DryRun {
    /// Rules that would fire on this text as one message from an ordinary member.
    pub verdicts: Vec<Verdict>,
    /// The text's toxicity, whether or not a toxicity rule is on.
    pub toxicity: super::toxicity::Toxicity,
}

impl Engine {
    /// An engine with the shipped toxicity lexicon.
    #[must_use]
    pub fn new() -> Self {
        Self {
            lexicon: Lexicon::builtin(),
        }
    }

    /// The toxicity lexicon in use.
    #[must_use]
    pub fn lexicon(&self) -> &'static Lexicon {
        self.lexicon
    }

    /// Evaluates a message: the rules that fire, in rule order. When the counters are
    /// unavailable the rules that need them are skipped (logged) and the others still run.
    pub async fn evaluate(
        &self,
        rules: &GuildRules,
        msg: &MessageContext<'_>,
        counters: &dyn Counters,
    ) -> Vec<Verdict> {
        if !rules.enabled || rules.message_rules.is_empty() || self.globally_exempt(rules, msg) {
            return Vec::new();
        }
        let norm: Option<Normalized> = rules.needs_normalized.then(|| normalize(msg.content));
        let mut fired: Vec<(usize, Verdict)> = Vec::new();
        let mut ops: Vec<CounterOp> = Vec::new();
        let mut pending: Vec<Pending> = Vec::new();
        let g = msg.guild_id;
        let user = msg.author_id;
        let base_evidence = || Evidence {
            message_id: Some(msg.message_id),
            channel_id: Some(msg.channel_id),
            excerpt: Some(excerpt(msg.content)),
            ..Evidence::default()
        };

        for (idx, rule) in rules.message_rules.iter().enumerate() {
            if rule.exempt(msg.author_roles, Some(msg.channel_id)) {
                continue;
            }
            let mut window_op = |subject, window_ms: u64, weight: u32, threshold, secs, what| {
                pending.push(Pending {
                    rule: idx,
                    op: ops.len(),
                    threshold,
                    secs,
                    what,
                });
                ops.push(CounterOp::Window {
                    key: rule.key(g, subject),
                    window_ms,
                    weight,
                    event: msg.message_id,
                });
            };
            match &rule.check {
                Check::MessageRate {
                    count,
                    window_ms,
                    secs,
                } => {
                    window_op(
                        Subject::User(user),
                        *window_ms,
                        1,
                        *count,
                        *secs,
                        "messages",
                    );
                }
                Check::Duplicates {
                    count,
                    window_ms,
                    secs,
                    min_len,
                } => {
                    let text = norm.as_ref().map_or("", |n| n.words.as_str());
                    if text.chars().count() >= *min_len && !text.is_empty() {
                        let hash = stable_hash(text);
                        window_op(
                            Subject::Content { user, hash },
                            *window_ms,
                            1,
                            *count,
                            *secs,
                            "identical messages",
                        );
                    }
                }
                Check::Mentions {
                    per_message,
                    over_time,
                    everyone,
                } => {
                    let n = msg.user_mentions
                        + msg.role_mentions
                        + u32::from(*everyone && msg.mentions_everyone);
                    if let Some(max) = per_message.filter(|&m| n >= m) {
                        fired.push((
                            idx,
                            rule.verdict(
                                rule.actions.clone(),
                                Evidence {
                                    reason: format!("{n} mentions in one message (limit {max})"),
                                    count: Some(u64::from(n)),
                                    threshold: Some(u64::from(max)),
                                    ..base_evidence()
                                },
                            ),
                        ));
                    } else if let Some((count, window_ms, secs)) = over_time
                        && n > 0
                    {
                        window_op(
                            Subject::User(user),
                            *window_ms,
                            n,
                            *count,
                            *secs,
                            "mentions",
                        );
                    }
                }
                Check::Attachments {
                    per_message,
                    over_time,
                }
                | Check::Emoji {
                    per_message,
                    over_time,
                } => {
                    let is_emoji = matches!(rule.check, Check::Emoji { .. });
                    let n = if is_emoji {
                        count_emoji(msg.content)
                    } else {
                        msg.attachments
                    };
                    let what = if is_emoji { "emoji" } else { "attachments" };
                    if let Some(max) = per_message.filter(|&m| n >= m) {
                        fired.push((
                            idx,
                            rule.verdict(
                                rule.actions.clone(),
                                Evidence {
                                    reason: format!("{n} {what} in one message (limit {max})"),
                                    count: Some(u64::from(n)),
                                    threshold: Some(u64::from(max)),
                                    ..base_evidence()
                                },
                            ),
                        ));
                    } else if let Some((count, window_ms, secs)) = over_time
                        && n > 0
                    {
                        window_op(Subject::User(user), *window_ms, n, *count, *secs, what);
                    }
                }
                Check::Invites { allowed } => {
                    if let Some(code) = invite_codes(msg.content)
                        .find(|c| !allowed.contains(&c.to_ascii_lowercase()))
                    {
                        fired.push((
                            idx,
                            rule.verdict(
                                rule.actions.clone(),
                                Evidence {
                                    reason: format!("invite link to another server ({code})"),
                                    matched: Some(code.to_owned()),
                                    ..base_evidence()
                                },
                            ),
                        ));
                    }
                }
                Check::Links { allow, deny } => {
                    if msg.content.len() >= 8 {
                        let bad = link_hosts(msg.content).find(|h| {
                            host_in(h, deny) || (!allow.is_empty() && !host_in(h, allow))
                        });
                        if let Some(host) = bad {
                            let why = if host_in(&host, deny) {
                                "is on the deny list"
                            } else {
                                "is not on the allow list"
                            };
                            fired.push((
                                idx,
                                rule.verdict(
                                    rule.actions.clone(),
                                    Evidence {
                                        reason: format!("link to {host}, which {why}"),
                                        matched: Some(host),
                                        ..base_evidence()
                                    },
                                ),
                            ));
                        }
                    }
                }
                Check::Caps {
                    min_letters,
                    min_percent,
                } => {
                    if msg.content.len() >= *min_letters as usize {
                        let (letters, upper) = caps_counts(msg.content);
                        if letters >= *min_letters
                            && u64::from(upper) * 100
                                >= u64::from(*min_percent) * u64::from(letters)
                        {
                            fired.push((
                                idx,
                                rule.verdict(
                                    rule.actions.clone(),
                                    Evidence {
                                        reason: format!(
                                            "{upper} of {letters} letters are capitals ({}%, limit {min_percent}%)",
                                            u64::from(upper) * 100 / u64::from(letters.max(1))
                                        ),
                                        count: Some(u64::from(upper)),
                                        threshold: Some(u64::from(*min_percent)),
                                        ..base_evidence()
                                    },
                                ),
                            ));
                        }
                    }
                }
                Check::Words(m) => {
                    if let Some(i) = norm.as_ref().and_then(|n| m.first_match(n)) {
                        fired.push((
                            idx,
                            rule.verdict(
                                rule.actions.clone(),
                                Evidence {
                                    reason: format!("contains the listed term {:?}", m.term(i)),
                                    matched: Some(m.term(i).to_owned()),
                                    ..base_evidence()
                                },
                            ),
                        ));
                    }
                }
                Check::Regex { set } => {
                    if let Some(i) = set.matches(msg.content).iter().next() {
                        let pattern = &set.patterns()[i];
                        fired.push((
                            idx,
                            rule.verdict(
                                rule.actions.clone(),
                                Evidence {
                                    reason: format!("matches the pattern {pattern:?}"),
                                    matched: Some(pattern.clone()),
                                    ..base_evidence()
                                },
                            ),
                        ));
                    }
                }
                Check::Toxicity { tiers } => {
                    let Some(n) = norm.as_ref() else { continue };
                    let tox = self.lexicon.score_normalized(msg.content, n);
                    // Tiers are ordered from the highest threshold down.
                    if let Some((at, tier_action)) = tiers.iter().find(|(at, _)| tox.score >= *at) {
                        let mut actions = rule.actions.clone();
                        if !actions.contains(tier_action) {
                            actions.push(*tier_action);
                        }
                        let terms: Vec<&str> = tox.hits.iter().map(|h| h.term.as_str()).collect();
                        let reason = format!(
                            "toxicity {:.2} ≥ {at:.2} ({}{})",
                            tox.score,
                            terms.join(", "),
                            if tox.targeted {
                                "; aimed at someone"
                            } else {
                                ""
                            }
                        );
                        fired.push((
                            idx,
                            rule.verdict(
                                actions,
                                Evidence {
                                    reason,
                                    score: Some(tox.score),
                                    threshold: None,
                                    terms: tox.hits,
                                    ..base_evidence()
                                },
                            ),
                        ));
                    }
                }
                Check::JoinRate { .. } | Check::AccountAge { .. } | Check::Names(_) => {}
            }
        }

        if !ops.is_empty() {
            match counters.apply(&ops, msg.timestamp_ms).await {
                Ok(values) => {
                    for p in &pending {
                        let total = values.get(p.op).map_or(0, |v| v.total);
                        if total >= p.threshold {
                            let rule = &rules.message_rules[p.rule];
                            fired.push((
                                p.rule,
                                rule.verdict(
                                    rule.actions.clone(),
                                    Evidence {
                                        reason: format!(
                                            "{total} {} within {} s (limit {})",
                                            p.what, p.secs, p.threshold
                                        ),
                                        count: Some(total),
                                        threshold: Some(p.threshold),
                                        window_secs: Some(p.secs),
                                        ..base_evidence()
                                    },
                                ),
                            ));
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(guild = g, error = %e, "automod counters unavailable; windowed rules skipped")
                }
            }
        }
        if fired.is_empty() {
            return fired.into_iter().map(|(_, v)| v).collect();
        }
        self.once_per_window(
            rules,
            g,
            user,
            &mut fired,
            counters,
            msg.timestamp_ms,
            |r| match r.check {
                Check::MessageRate { window_ms, .. } | Check::Duplicates { window_ms, .. } => {
                    Some(window_ms)
                }
                Check::Mentions { over_time, .. }
                | Check::Attachments { over_time, .. }
                | Check::Emoji { over_time, .. } => over_time.map(|w| w.1),
                _ => None,
            },
        )
        .await;
        fired.sort_by_key(|(i, _)| *i);
        fired.into_iter().map(|(_, v)| v).collect()
    }

    /// Drops the punishments of windowed verdicts when the member was already punished by
    /// that rule within its window, so a burst of messages gives one timeout, not ten.
    #[allow(clippy::too_many_arguments)]
    async fn once_per_window(
        &self,
        rules: &GuildRules,
        guild: u64,
        user: u64,
        fired: &mut [(usize, Verdict)],
        counters: &dyn Counters,
        now: u64,
        window_of: impl Fn(&CompiledRule) -> Option<u64>,
    ) {
        let mut ops = Vec::new();
        let mut which = Vec::new();
        for (k, (idx, v)) in fired.iter().enumerate() {
            let rule = &rules.message_rules[*idx];
            if v.evidence.window_secs.is_none() || !v.actions.iter().any(Action::is_punishment) {
                continue;
            }
            if let Some(ttl_ms) = window_of(rule) {
                ops.push(CounterOp::Once {
                    key: rule.key(guild, Subject::Punished(user)),
                    ttl_ms,
                });
                which.push(k);
            }
        }
        if ops.is_empty() {
            return;
        }
        let values = match counters.apply(&ops, now).await {
            Ok(v) => v,
            Err(e) => {
                // Without the marker we cannot know; punish rather than let spam through.
                tracing::warn!(guild, error = %e, "automod once-markers unavailable");
                return;
            }
        };
        for (k, v) in which.into_iter().zip(values) {
            if !v.first {
                fired[k].1.actions.retain(|a| !a.is_punishment());
            }
        }
    }

    /// Evaluates a member joining: raid mode, account age, names.
    pub async fn evaluate_join(
        &self,
        rules: &GuildRules,
        member: &MemberContext<'_>,
        counters: &dyn Counters,
    ) -> Vec<Verdict> {
        if !rules.enabled || rules.member_rules.is_empty() || (rules.exempt_bots && member.is_bot) {
            return Vec::new();
        }
        let g = member.guild_id;
        let mut fired: Vec<(usize, Verdict)> = Vec::new();
        let mut ops = Vec::new();
        let mut pending = Vec::new();
        for (idx, rule) in rules.member_rules.iter().enumerate() {
            match &rule.check {
                Check::JoinRate {
                    count,
                    window_ms,
                    calm_ms,
                    secs,
                } => {
                    pending.push((idx, ops.len(), *count, *secs));
                    ops.push(CounterOp::Latch {
                        key: rule.key(g, Subject::Joins),
                        window_ms: *window_ms,
                        event: member.user_id,
                        threshold: *count,
                        latch: rule.key(g, Subject::Raid),
                        hold_ms: *calm_ms,
                    });
                }
                Check::AccountAge { min_age_ms } => {
                    let created = snowflake_ms(member.user_id);
                    let age = member.joined_at_ms.saturating_sub(created);
                    if age < *min_age_ms {
                        fired.push((
                            idx,
                            rule.verdict(
                                rule.actions.clone(),
                                Evidence {
                                    reason: format!(
                                        "account is {} old; the minimum is {}",
                                        human_secs(age / 1000),
                                        human_secs(min_age_ms / 1000)
                                    ),
                                    count: Some(age / 1000),
                                    threshold: Some(min_age_ms / 1000),
                                    ..Evidence::default()
                                },
                            ),
                        ));
                    }
                }
                Check::Names(m) => {
                    let names = [Some(member.username), member.global_name, member.nick];
                    let hit = names
                        .into_iter()
                        .flatten()
                        .find_map(|n| m.first_match(&normalize(n)).map(|i| (n, m.term(i))));
                    if let Some((name, term)) = hit {
                        fired.push((
                            idx,
                            rule.verdict(
                                rule.actions.clone(),
                                Evidence {
                                    reason: format!(
                                        "name {name:?} contains the listed term {term:?}"
                                    ),
                                    matched: Some(term.to_owned()),
                                    excerpt: Some(excerpt(name)),
                                    ..Evidence::default()
                                },
                            ),
                        ));
                    }
                }
                _ => {}
            }
        }
        if !ops.is_empty() {
            match counters.apply(&ops, member.joined_at_ms).await {
                Ok(values) => {
                    for (idx, op, count, secs) in pending {
                        let v: CounterValue = values.get(op).copied().unwrap_or_default();
                        if v.latch_ms == 0 {
                            continue;
                        }
                        let rule = &rules.member_rules[idx];
                        // The alert goes out once, when raid mode starts.
                        let mut actions: Vec<Action> = rule
                            .actions
                            .iter()
                            .filter(|a| !matches!(a, Action::Alert { .. }))
                            .copied()
                            .collect();
                        if v.first {
                            actions.push(
                                rule.actions
                                    .iter()
                                    .find(|a| matches!(a, Action::Alert { .. }))
                                    .copied()
                                    .unwrap_or(Action::Alert { channel: None }),
                            );
                        }
                        fired.push((
                            idx,
                            rule.verdict(
                                actions,
                                Evidence {
                                    reason: format!(
                                        "raid mode: {} joins within {secs} s (limit {count}); on for {} s more",
                                        v.total,
                                        v.latch_ms.div_ceil(1000)
                                    ),
                                    count: Some(v.total),
                                    threshold: Some(count),
                                    window_secs: Some(secs),
                                    raid_started: v.first,
                                    ..Evidence::default()
                                },
                            ),
                        ));
                    }
                }
                Err(e) => {
                    tracing::warn!(guild = g, error = %e, "automod counters unavailable; raid detection skipped")
                }
            }
        }
        fired.sort_by_key(|(i, _)| *i);
        fired.into_iter().map(|(_, v)| v).collect()
    }

    /// Which message rules would fire on `content` sent once by an ordinary member, and its
    /// toxicity; nothing is counted or acted on. Exemptions and the master switch are
    /// ignored so a moderator can try the rules before turning them on.
    pub async fn dry_run(&self, rules: &GuildRules, content: &str) -> DryRun {
        let counters = LocalCounters::new();
        let probe = GuildRules {
            enabled: true,
            revision: rules.revision,
            alert_channel: rules.alert_channel,
            exempt_bots: false,
            exempt_moderators: false,
            exempt_roles: Vec::new(),
            exempt_channels: Vec::new(),
            message_rules: rules
                .message_rules
                .iter()
                .map(|r| CompiledRule {
                    exempt_roles: Vec::new(),
                    exempt_channels: Vec::new(),
                    ..r.clone()
                })
                .collect(),
            member_rules: Vec::new(),
            needs_normalized: rules.needs_normalized,
        };
        let msg = MessageContext::new(0, 0, 1 << 22, 0, content);
        DryRun {
            verdicts: self.evaluate(&probe, &msg, &counters).await,
            toxicity: self.lexicon.score(content),
        }
    }

    fn globally_exempt(&self, rules: &GuildRules, msg: &MessageContext<'_>) -> bool {
        (rules.exempt_bots && msg.author_is_bot)
            || (rules.exempt_moderators && msg.author_permissions.intersects(MODERATOR_PERMISSIONS))
            || rules.exempt_channels.contains(&msg.channel_id)
            || msg
                .author_roles
                .iter()
                .any(|r| rules.exempt_roles.contains(r))
    }
}

/// `90` → `1m30s`, `86400` → `1d`.
#[must_use]
pub fn human_secs(secs: u64) -> String {
    if secs == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    let mut rest = secs;
    for (unit, n) in [("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)] {
        if rest >= n {
            out.push_str(&format!("{}{unit}", rest / n));
            rest %= n;
        }
    }
    out
}

/// Compiled rules per guild, recompiled only when the stored revision changes. Bounded: past
/// `capacity` guilds the cache starts over.
#[derive(Debug)]
pub struct RulesCache {
    map: Mutex<HashMap<u64, Arc<GuildRules>>>,
    capacity: usize,
}

impl Default for RulesCache {
    fn default() -> Self {
        Self::new(10_000)
    }
}

impl RulesCache {
    /// A cache of at most `capacity` guilds.
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        Self {
            map: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
        }
    }

    /// The compiled rules of `guild` for the stored configuration `stored` (the
    /// `GuildConfig.automod` value). A configuration that does not compile (edited by hand,
    /// from an older version) counts as disabled and is logged once per revision.
    pub fn get(&self, guild: u64, stored: &serde_json::Value) -> Arc<GuildRules> {
        let revision = stored
            .get("revision")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0);
        let enabled = stored
            .get("enabled")
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false);
        if let Some(r) = self.map.lock().expect("rules cache lock").get(&guild)
            && r.revision == revision
            && r.enabled == enabled
        {
            return r.clone();
        }
        let compiled = match AutomodConfig::from_json(stored).and_then(|c| GuildRules::compile(&c))
        {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(guild, revision, error = %e, "stored automod configuration does not compile; automod is off for the guild");
                let mut off = GuildRules::disabled();
                off.revision = revision;
                off
            }
        };
        let compiled = Arc::new(compiled);
        let mut map = self.map.lock().expect("rules cache lock");
        if map.len() >= self.capacity && !map.contains_key(&guild) {
            map.clear();
        }
        map.insert(guild, compiled.clone());
        compiled
    }

    /// Forgets a guild (after its configuration changed on this pod).
    pub fn invalidate(&self, guild: u64) {
        self.map.lock().expect("rules cache lock").remove(&guild);
    }
}
