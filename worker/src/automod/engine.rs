//! Compiled rules and their evaluation against messages and joining members.
//!
//! Evaluation is a loop over the guild's compiled rules ([`super::rules`]): each rule's
//! check looks at the message or join and fires, does nothing, or asks for a counter; the
//! counters of every rule are then read in one call, and the windowed punishments are kept
//! to once per member and window.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::Serialize;

use super::config::{Action, AutomodConfig, ConfigError};
use super::context::{Evidence, MODERATOR_PERMISSIONS, MemberContext, MessageContext, excerpt};
use super::counters::{CounterOp, Counters, LocalCounters, Subject};
use super::rules::{Check, Finding, Hit, MessageInput, RuleInfo};
use super::text::{Normalized, normalize};
use super::toxicity::{Lexicon, ModelScorer};

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

/// One enabled rule, compiled.
#[derive(Debug, Clone)]
struct CompiledRule {
    info: RuleInfo,
    exempt_roles: Vec<u64>,
    exempt_channels: Vec<u64>,
    check: Arc<dyn Check>,
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

impl GuildRules {
    /// Validates and compiles a configuration.
    pub fn compile(config: &AutomodConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let mut message_rules = Vec::new();
        let mut member_rules = Vec::new();
        for r in config.rules.iter() {
            // Disabled rules compile too: nothing that cannot run is ever stored.
            let check = r.kind.compile(&r.name)?;
            if !r.enabled {
                continue;
            }
            let compiled = CompiledRule {
                info: RuleInfo {
                    name: r.name.as_str().into(),
                    type_name: r.kind.type_name(),
                    actions: r.actions.clone(),
                },
                exempt_roles: r.exempt_roles.clone(),
                exempt_channels: r.exempt_channels.clone(),
                check,
            };
            if r.kind.is_member_rule() {
                member_rules.push(compiled);
            } else {
                message_rules.push(compiled);
            }
        }
        let needs_normalized = message_rules.iter().any(|r| r.check.needs_normalized());
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
    fn exempt(&self, roles: &[u64], channel: u64) -> bool {
        self.exempt_channels.contains(&channel)
            || roles.iter().any(|r| self.exempt_roles.contains(r))
    }

    fn verdict(&self, hit: Hit) -> Verdict {
        Verdict {
            rule: self.info.name.clone(),
            rule_type: self.info.type_name,
            actions: hit.actions,
            evidence: hit.evidence,
        }
    }
}

/// One evaluation: the rules of one scope against one message or join.
struct Pass<'r> {
    rules: &'r [CompiledRule],
    guild: u64,
    user: u64,
    now_ms: u64,
    /// Logged when the counters cannot answer.
    unavailable: &'static str,
}

/// The automod engine: evaluates compiled rules against messages and joins.
#[derive(Debug, Clone, Copy)]
pub struct Engine {
    scorer: &'static ModelScorer,
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
    /// An engine with the shipped toxicity lexicon and model.
    #[must_use]
    pub fn new() -> Self {
        Self {
            scorer: ModelScorer::builtin(),
        }
    }

    /// The toxicity lexicon in use.
    #[must_use]
    pub fn lexicon(&self) -> &'static Lexicon {
        self.scorer.lexicon()
    }

    /// The toxicity scorer in use (model and lexicon).
    #[must_use]
    pub fn scorer(&self) -> &'static ModelScorer {
        self.scorer
    }

    /// Evaluates a message: the rules that fire, in rule order. When the counters are
    /// unavailable the rules that need them are skipped (logged) and the others still run.
    pub async fn evaluate(
        &self,
        rules: &GuildRules,
        msg: &MessageContext<'_>,
        counters: &dyn Counters,
    ) -> Vec<Verdict> {
        self.evaluate_message(rules, msg, counters, false).await
    }

    /// Evaluates the new content of an edited message: the same rules and exemptions as
    /// [`Engine::evaluate`], but an edit is not a new message, so nothing is counted over
    /// time (message rate, duplicates, mentions, attachments or emoji over time); what one
    /// message holds (words, links, invites, caps, regexes, toxicity, mentions, attachments
    /// or emoji per message) is checked again.
    pub async fn evaluate_edit(
        &self,
        rules: &GuildRules,
        msg: &MessageContext<'_>,
        counters: &dyn Counters,
    ) -> Vec<Verdict> {
        self.evaluate_message(rules, msg, counters, true).await
    }

    async fn evaluate_message(
        &self,
        rules: &GuildRules,
        msg: &MessageContext<'_>,
        counters: &dyn Counters,
        edit: bool,
    ) -> Vec<Verdict> {
        if !rules.enabled || rules.message_rules.is_empty() || self.globally_exempt(rules, msg) {
            return Vec::new();
        }
        let norm: Option<Normalized> = rules.needs_normalized.then(|| normalize(msg.content));
        let input = MessageInput {
            msg,
            norm: norm.as_ref(),
        };
        let pass = Pass {
            rules: &rules.message_rules,
            guild: msg.guild_id,
            user: msg.author_id,
            now_ms: msg.timestamp_ms,
            unavailable: "automod counters unavailable; windowed rules skipped",
        };
        let mut verdicts = self
            .run(
                &pass,
                |rule| {
                    if rule.exempt(msg.author_roles, msg.channel_id) {
                        return Finding::Clean;
                    }
                    match rule.check.message(&input, &rule.info) {
                        Finding::Count(_) if edit => Finding::Clean,
                        f => f,
                    }
                },
                counters,
            )
            .await;
        for v in &mut verdicts {
            v.evidence.message_id = Some(msg.message_id);
            v.evidence.channel_id = Some(msg.channel_id);
            v.evidence.excerpt = Some(excerpt(msg.content));
        }
        verdicts
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
        let pass = Pass {
            rules: &rules.member_rules,
            guild: member.guild_id,
            user: member.user_id,
            now_ms: member.joined_at_ms,
            unavailable: "automod counters unavailable; raid detection skipped",
        };
        self.run(&pass, |rule| rule.check.join(member, &rule.info), counters)
            .await
    }

    /// Evaluates a member whose username, global name or nickname changed at `now_ms`: the
    /// rules about names only (raid mode and account age are about joining), with the same
    /// exemption of bots as for joins.
    pub async fn evaluate_rename(
        &self,
        rules: &GuildRules,
        member: &MemberContext<'_>,
        now_ms: u64,
        counters: &dyn Counters,
    ) -> Vec<Verdict> {
        if !rules.enabled || rules.member_rules.is_empty() || (rules.exempt_bots && member.is_bot) {
            return Vec::new();
        }
        let pass = Pass {
            rules: &rules.member_rules,
            guild: member.guild_id,
            user: member.user_id,
            now_ms,
            unavailable: "automod counters unavailable",
        };
        self.run(
            &pass,
            |rule| rule.check.renamed(member, &rule.info),
            counters,
        )
        .await
    }

    /// The loop: every rule's finding, the counters all rules asked for in one call, then
    /// once-per-window punishments; verdicts in rule order.
    async fn run(
        &self,
        pass: &Pass<'_>,
        find: impl Fn(&CompiledRule) -> Finding,
        counters: &dyn Counters,
    ) -> Vec<Verdict> {
        let mut fired: Vec<(usize, Verdict)> = Vec::new();
        let mut ops: Vec<CounterOp> = Vec::new();
        let mut waiting: Vec<usize> = Vec::new();
        for (idx, rule) in pass.rules.iter().enumerate() {
            match find(rule) {
                Finding::Clean => {}
                Finding::Fired(hit) => fired.push((idx, rule.verdict(hit))),
                Finding::Count(op) => {
                    waiting.push(idx);
                    ops.push(op);
                }
            }
        }
        if !ops.is_empty() {
            match counters.apply(&ops, pass.now_ms).await {
                Ok(values) => {
                    for (k, idx) in waiting.into_iter().enumerate() {
                        let rule = &pass.rules[idx];
                        let value = values.get(k).copied().unwrap_or_default();
                        if let Some(hit) = rule.check.counted(value, &rule.info) {
                            fired.push((idx, rule.verdict(hit)));
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(guild = pass.guild, error = %e, "{}", pass.unavailable)
                }
            }
        }
        if !fired.is_empty() {
            self.once_per_window(pass, &mut fired, counters).await;
        }
        fired.sort_by_key(|(i, _)| *i);
        fired.into_iter().map(|(_, v)| v).collect()
    }

    /// Drops the punishments of windowed verdicts when the member was already punished by
    /// that rule within its window, so a burst of messages gives one timeout, not ten.
    async fn once_per_window(
        &self,
        pass: &Pass<'_>,
        fired: &mut [(usize, Verdict)],
        counters: &dyn Counters,
    ) {
        let mut ops = Vec::new();
        let mut which = Vec::new();
        for (k, (idx, v)) in fired.iter().enumerate() {
            let rule = &pass.rules[*idx];
            if v.evidence.window_secs.is_none() || !v.actions.iter().any(Action::is_punishment) {
                continue;
            }
            if let Some(ttl_ms) = rule.check.once_window_ms() {
                ops.push(CounterOp::Once {
                    key: rule.info.key(pass.guild, Subject::Punished(pass.user)),
                    ttl_ms,
                });
                which.push(k);
            }
        }
        if ops.is_empty() {
            return;
        }
        let values = match counters.apply(&ops, pass.now_ms).await {
            Ok(v) => v,
            Err(e) => {
                // Without the marker we cannot know; punish rather than let spam through.
                tracing::warn!(guild = pass.guild, error = %e, "automod once-markers unavailable");
                return;
            }
        };
        for (k, v) in which.into_iter().zip(values) {
            if !v.first {
                fired[k].1.actions.retain(|a| !a.is_punishment());
            }
        }
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
            toxicity: self.scorer.score(content),
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
