//! Engine tests: every rule at and below its threshold, exemptions, limits.

use serde_json::json;
use twilight_model::guild::Permissions;

use super::*;

const G: u64 = 1_000;
const CH: u64 = 2_000;
const USER: u64 = 3_000;
/// A message id whose snowflake time is 2024-01-01; `at(ms)` offsets from it.
const BASE_MS: u64 = 1_704_067_200_000;

fn id_at(ms: u64, seq: u64) -> u64 {
    crate::snowflake::at_ms(BASE_MS + ms, seq)
}

fn rules(v: serde_json::Value) -> GuildRules {
    let mut cfg = json!({"enabled": true, "rules": v});
    cfg["revision"] = json!(1);
    GuildRules::compile(&AutomodConfig::from_json(&cfg).unwrap()).unwrap()
}

fn compile_err(v: serde_json::Value) -> String {
    let cfg = json!({"enabled": true, "rules": v});
    match AutomodConfig::from_json(&cfg) {
        Err(e) => e.to_string(),
        Ok(c) => GuildRules::compile(&c).unwrap_err().to_string(),
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

fn eval(r: &GuildRules, m: &MessageContext<'_>, c: &LocalCounters) -> Vec<Verdict> {
    rt().block_on(Engine::new().evaluate(r, m, c))
}

fn msg(content: &str, ms: u64, seq: u64) -> MessageContext<'_> {
    MessageContext::new(G, CH, id_at(ms, seq), USER, content)
}

fn names(v: &[Verdict]) -> Vec<&str> {
    v.iter().map(|v| v.rule.as_ref()).collect()
}

fn delete() -> serde_json::Value {
    json!([{"type": "delete"}])
}

#[test]
fn message_rate_fires_at_n_within_t_and_not_below() {
    let r = rules(
        json!([{"name": "rate", "kind": {"type": "message_rate", "count": 3, "within_secs": 5},
        "actions": [{"type": "delete"}, {"type": "timeout", "secs": 60}]}]),
    );
    let c = LocalCounters::new();
    assert!(eval(&r, &msg("a", 0, 1), &c).is_empty());
    assert!(eval(&r, &msg("b", 1000, 2), &c).is_empty());
    let v = eval(&r, &msg("c", 2000, 3), &c);
    assert_eq!(names(&v), ["rate"]);
    assert_eq!(v[0].evidence.count, Some(3));
    assert_eq!(v[0].actions, [Action::Delete, Action::Timeout { secs: 60 }]);
    // The fourth message is deleted too, but the timeout is not applied a second time.
    let v = eval(&r, &msg("d", 2500, 4), &c);
    assert_eq!(v[0].actions, [Action::Delete]);
    // Slow messages never reach three within five seconds.
    let c = LocalCounters::new();
    for i in 0..6 {
        assert!(
            eval(&r, &msg("slow", i * 2600, i), &c).is_empty(),
            "message {i}"
        );
    }
    // Another member's messages do not count towards this one's.
    let c = LocalCounters::new();
    eval(&r, &msg("a", 0, 1), &c);
    eval(&r, &msg("b", 10, 2), &c);
    let other = MessageContext::new(G, CH, id_at(20, 3), USER + 1, "c");
    assert!(eval(&r, &other, &c).is_empty());
}

#[test]
fn the_same_message_evaluated_twice_counts_once() {
    let r = rules(
        json!([{"name": "rate", "kind": {"type": "message_rate", "count": 2, "within_secs": 5}, "actions": delete()}]),
    );
    let c = LocalCounters::new();
    let m = msg("a", 0, 1);
    assert!(eval(&r, &m, &c).is_empty());
    assert!(
        eval(&r, &m, &c).is_empty(),
        "a redelivered message is not a second message"
    );
    assert_eq!(names(&eval(&r, &msg("b", 10, 2), &c)), ["rate"]);
}

#[test]
fn duplicates() {
    let r = rules(
        json!([{"name": "dup", "kind": {"type": "duplicates", "count": 3, "within_secs": 30, "min_length": 3},
        "actions": delete()}]),
    );
    let c = LocalCounters::new();
    assert!(eval(&r, &msg("buy cheap coins", 0, 1), &c).is_empty());
    assert!(eval(&r, &msg("BUY  cheap coins!", 1000, 2), &c).is_empty());
    assert!(eval(&r, &msg("something else", 1500, 3), &c).is_empty());
    assert_eq!(
        names(&eval(&r, &msg("buy cheap c0ins", 2000, 4), &c)),
        ["dup"]
    );
    // Short texts are ignored.
    for i in 0..5 {
        assert!(eval(&r, &msg("ok", 3000 + i, 10 + i), &c).is_empty());
    }
}

#[test]
fn mention_spam_per_message_and_over_time() {
    let r = rules(
        json!([{"name": "ment", "kind": {"type": "mention_spam", "per_message": 5,
        "over_time": {"count": 8, "within_secs": 30}}, "actions": delete()}]),
    );
    let c = LocalCounters::new();
    let mut m = msg("hi", 0, 1);
    m.user_mentions = 4;
    assert!(eval(&r, &m, &c).is_empty());
    let mut m = msg("hi", 10, 2);
    m.user_mentions = 3;
    m.role_mentions = 2;
    let v = eval(&r, &m, &c);
    assert_eq!(v[0].evidence.reason, "5 mentions in one message (limit 5)");
    // Over time: 4 (first message) + 4 = 8 within 30 s.
    let mut m = msg("hi", 20, 3);
    m.user_mentions = 3;
    assert!(eval(&r, &m, &c).is_empty());
    let mut m = msg("hi", 30, 4);
    m.user_mentions = 1;
    let v = eval(&r, &m, &c);
    assert_eq!(v[0].evidence.count, Some(8));
    // @everyone counts as one.
    let c = LocalCounters::new();
    let mut m = msg("@everyone", 0, 1);
    m.user_mentions = 4;
    m.mentions_everyone = true;
    assert_eq!(eval(&r, &m, &c).len(), 1);
}

#[test]
fn invites_with_allowed_codes() {
    let r = rules(
        json!([{"name": "inv", "kind": {"type": "invites", "allowed_codes": ["ourserver"]}, "actions": delete()}]),
    );
    let c = LocalCounters::new();
    assert!(eval(&r, &msg("join us at discord.gg/OurServer", 0, 1), &c).is_empty());
    assert!(eval(&r, &msg("discord is great, gg", 0, 2), &c).is_empty());
    let v = eval(
        &r,
        &msg("free nitro https://discord.com/invite/sc4m", 0, 3),
        &c,
    );
    assert_eq!(v[0].evidence.matched.as_deref(), Some("sc4m"));
    assert_eq!(eval(&r, &msg("discord . gg / sc4m", 0, 4), &c).len(), 1);
}

#[test]
fn links_allow_and_deny_lists() {
    let deny = rules(
        json!([{"name": "links", "kind": {"type": "links", "deny": ["grabify.link", "bad.example"]}, "actions": delete()}]),
    );
    let c = LocalCounters::new();
    assert!(eval(&deny, &msg("see https://docs.rs/regex", 0, 1), &c).is_empty());
    assert!(
        eval(
            &deny,
            &msg("grabify.link without scheme is not a link", 0, 2),
            &c
        )
        .is_empty()
    );
    assert_eq!(
        eval(&deny, &msg("click https://grabify.link/x", 0, 3), &c).len(),
        1
    );
    assert_eq!(
        eval(&deny, &msg("click http://cdn.bad.example/a", 0, 4), &c).len(),
        1
    );
    let allow = rules(
        json!([{"name": "links", "kind": {"type": "links", "allow": ["github.com", "docs.rs"]}, "actions": delete()}]),
    );
    assert!(
        eval(
            &allow,
            &msg("https://github.com/x and https://gist.github.com/y", 0, 5),
            &c
        )
        .is_empty()
    );
    let v = eval(
        &allow,
        &msg("https://github.com/x and https://evil.com/y", 0, 6),
        &c,
    );
    assert_eq!(
        v[0].evidence.reason,
        "link to evil.com, which is not on the allow list"
    );
}

#[test]
fn caps_threshold() {
    let r = rules(
        json!([{"name": "caps", "kind": {"type": "caps", "min_letters": 10, "min_percent": 70}, "actions": delete()}]),
    );
    let c = LocalCounters::new();
    assert!(
        eval(&r, &msg("WHAT", 0, 1), &c).is_empty(),
        "too short to judge"
    );
    assert!(eval(&r, &msg("Hello World This Is Fine", 0, 2), &c).is_empty());
    assert!(
        eval(&r, &msg("SEVENLETx abc", 0, 3), &c).is_empty(),
        "7 of 12 letters: 58%"
    );
    assert_eq!(
        eval(&r, &msg("SEVENLETTERS abc", 0, 4), &c).len(),
        1,
        "12 of 15: 80%"
    );
    assert!(eval(&r, &msg("ok <@123> <:PEPEHAPPYFACE:1>", 0, 5), &c).is_empty());
}

#[test]
fn word_lists_see_through_obfuscation_but_not_into_words() {
    let r = rules(
        json!([{"name": "words", "kind": {"type": "words", "words": ["crypto scam", "spoiler*", "ass"]}, "actions": delete()}]),
    );
    let c = LocalCounters::new();
    assert_eq!(eval(&r, &msg("this is a CRYPT0  SCAM", 0, 1), &c).len(), 1);
    assert_eq!(eval(&r, &msg("spoilers ahead", 0, 2), &c).len(), 1);
    assert_eq!(eval(&r, &msg("s p o i l e r", 0, 3), &c).len(), 1);
    assert!(eval(&r, &msg("the assessment of the class", 0, 4), &c).is_empty());
    assert!(eval(&r, &msg("crypto is not a scam?", 0, 5), &c).is_empty());
}

#[test]
fn regex_lists() {
    let r = rules(
        json!([{"name": "re", "kind": {"type": "regex", "patterns": [r"free\s+nitro", r"(?-i)^[A-Z]{3}\d{4}$"]}, "actions": delete()}]),
    );
    let c = LocalCounters::new();
    let v = eval(&r, &msg("FREE   Nitro here", 0, 1), &c);
    assert_eq!(v[0].evidence.matched.as_deref(), Some(r"free\s+nitro"));
    assert_eq!(eval(&r, &msg("ABC1234", 0, 2), &c).len(), 1);
    assert!(eval(&r, &msg("abc1234", 0, 3), &c).is_empty());
}

#[test]
fn pathological_regexes_are_rejected_with_a_clear_message() {
    let one = |p: &str| {
        compile_err(
            json!([{"name": "re", "kind": {"type": "regex", "patterns": [p]}, "actions": [{"type": "delete"}]}]),
        )
    };
    let e = one(r"((a{100}){100}){100}");
    assert!(
        e.contains("rule \"re\"") && e.contains("compiles to more than"),
        "{e}"
    );
    let e = one(r"\w{1000}\w{1000}\w{1000}");
    assert!(e.contains("compiles to more than"), "{e}");
    let e = one(r"(a)\1");
    assert!(e.contains("back-references are not supported"), "{e}");
    let e = one(r"foo(?=bar)");
    assert!(e.contains("look-around"), "{e}");
    let e = one(&"a".repeat(300));
    assert!(e.contains("limit is 256"), "{e}");
    // Classic catastrophic-backtracking shapes are fine: the regex crate runs them in linear time.
    let r = rules(
        json!([{"name": "re", "kind": {"type": "regex", "patterns": [r"(a+)+$", r"(x|xx)+y"]}, "actions": [{"type": "delete"}]}]),
    );
    let long = format!("{}!", "a".repeat(4000));
    let c = LocalCounters::new();
    assert!(eval(&r, &msg(&long, 0, 1), &c).is_empty());
}

#[test]
fn attachment_and_emoji_spam() {
    let r = rules(json!([
        {"name": "att", "kind": {"type": "attachment_spam", "per_message": 4, "over_time": {"count": 6, "within_secs": 30}}, "actions": delete()},
        {"name": "emo", "kind": {"type": "emoji_spam", "per_message": 5}, "actions": delete()}
    ]));
    let c = LocalCounters::new();
    let mut m = msg("pics", 0, 1);
    m.attachments = 3;
    assert!(eval(&r, &m, &c).is_empty());
    let mut m = msg("pics", 10, 2);
    m.attachments = 3;
    assert_eq!(names(&eval(&r, &m, &c)), ["att"], "3 + 3 within 30 s");
    let mut m = msg("pics", 20, 3);
    m.attachments = 4;
    assert_eq!(
        eval(&r, &m, &c)[0].evidence.reason,
        "4 attachments in one message (limit 4)"
    );
    assert!(eval(&r, &msg("😀😀😀 <:a:1>", 0, 4), &LocalCounters::new()).is_empty());
    assert_eq!(
        names(&eval(
            &r,
            &msg("😀😀😀 <:a:1> <a:b:2>", 0, 5),
            &LocalCounters::new()
        )),
        ["emo"]
    );
}

#[test]
fn toxicity_tiers_pick_the_highest_reached() {
    let c = LocalCounters::new();
    let insult = "you're an idiot";
    let s = Engine::new().scorer().score(insult).score;
    assert!(s >= 0.4, "{s}");
    // Thresholds around the score: below it (lo) and above it (hi).
    let (lo, hi) = (s / 2.0, f32::midpoint(s, 1.0));
    let tiers = |warn: f32, timeout: f32, ban: Option<f32>| {
        rules(
            json!([{"name": "tox", "kind": {"type": "toxicity", "warn_at": warn,
            "timeout_at": timeout, "timeout_secs": 3600, "ban_at": ban},
            "actions": [{"type": "delete"}]}]),
        )
    };
    let r = tiers(0.4, hi, None);
    assert!(eval(&r, &msg("what a great game", 0, 1), &c).is_empty());
    assert!(
        eval(&r, &msg("holy shit that goal", 0, 2), &c).is_empty(),
        "swearing at nobody"
    );
    let v = eval(&r, &msg(insult, 0, 3), &c);
    assert_eq!(v[0].actions, [Action::Delete, Action::Warn]);
    assert!(
        v[0].evidence.reason.starts_with("insult "),
        "{:?}",
        v[0].evidence
    );
    assert_eq!(v[0].evidence.score, Some(s));
    let v = eval(&tiers(lo / 2.0, lo, Some(hi)), &msg(insult, 0, 4), &c);
    assert_eq!(
        v[0].actions,
        [Action::Delete, Action::Timeout { secs: 3600 }]
    );
    let v = eval(&tiers(lo / 2.0, lo / 2.0, Some(lo)), &msg(insult, 0, 5), &c);
    assert_eq!(
        v[0].actions,
        [
            Action::Delete,
            Action::Ban {
                delete_message_secs: 0
            }
        ]
    );
    // Per-guild tuning: a guild that only warns above this score.
    let lenient = rules(json!([{"name": "tox", "kind": {"type": "toxicity", "warn_at": hi}}]));
    assert!(eval(&lenient, &msg(insult, 0, 6), &c).is_empty());
}

#[test]
fn threats_and_self_harm_incitement_are_timed_out_and_alerted_from_the_lowest_tier() {
    let c = LocalCounters::new();
    let warn_only = rules(
        json!([{"name": "tox", "kind": {"type": "toxicity", "warn_at": 0.4,
        "timeout_secs": 600}}]),
    );
    for (i, text) in [
        "I will find where you live and hurt you",
        "i'm going to ddos your house and leak your address",
        "go kill yourself",
    ]
    .into_iter()
    .enumerate()
    {
        let v = eval(&warn_only, &msg(text, 0, 10 + i as u64), &c);
        assert_eq!(
            v[0].actions,
            [
                Action::Timeout { secs: 600 },
                Action::Alert { channel: None }
            ],
            "{text}: {:?}",
            v[0].evidence
        );
    }
    // An insult at the same tier stays a warning.
    let v = eval(&warn_only, &msg("you're an idiot", 0, 20), &c);
    assert_eq!(v[0].actions, [Action::Warn]);
}

#[test]
fn no_preset_bans_on_the_toxicity_score_alone() {
    for p in crate::automod::presets::PRESETS {
        for r in p.rules() {
            if let RuleKind::Toxicity(t) = &r.kind {
                assert_eq!(t.ban_at, None, "{p}");
            }
        }
    }
}

#[test]
fn exemptions_by_role_channel_bot_and_moderator() {
    let r = rules(
        json!([{"name": "inv", "kind": {"type": "invites"}, "actions": delete(),
        "exempt_roles": [77], "exempt_channels": [88]}]),
    );
    let c = LocalCounters::new();
    let text = "discord.gg/abc";
    assert_eq!(eval(&r, &msg(text, 0, 1), &c).len(), 1);
    let roles = [5u64, 77];
    let mut m = msg(text, 0, 2);
    m.author_roles = &roles;
    assert!(eval(&r, &m, &c).is_empty(), "exempt role");
    let mut m = msg(text, 0, 3);
    m.channel_id = 88;
    assert!(eval(&r, &m, &c).is_empty(), "exempt channel");
    let mut m = msg(text, 0, 4);
    m.author_is_bot = true;
    assert!(eval(&r, &m, &c).is_empty(), "bots by default");
    let mut m = msg(text, 0, 5);
    m.author_permissions = Permissions::MANAGE_MESSAGES | Permissions::SEND_MESSAGES;
    assert!(eval(&r, &m, &c).is_empty(), "moderators by default");
    let mut m = msg(text, 0, 6);
    m.author_permissions = Permissions::SEND_MESSAGES | Permissions::EMBED_LINKS;
    assert_eq!(
        eval(&r, &m, &c).len(),
        1,
        "ordinary permissions are not exempt"
    );

    // Turning the defaults off, and guild-wide exemptions.
    let cfg = json!({"enabled": true, "exempt_bots": false, "exempt_moderators": false, "exempt_channels": [99],
        "rules": [{"name": "inv", "kind": {"type": "invites"}, "actions": delete()}]});
    let strict = GuildRules::compile(&AutomodConfig::from_json(&cfg).unwrap()).unwrap();
    let mut m = msg(text, 0, 7);
    m.author_is_bot = true;
    m.author_permissions = Permissions::ADMINISTRATOR;
    assert_eq!(eval(&strict, &m, &c).len(), 1);
    let mut m = msg(text, 0, 8);
    m.channel_id = 99;
    assert!(eval(&strict, &m, &c).is_empty());
}

#[test]
fn disabled_guilds_and_rules_do_nothing() {
    let cfg = json!({"enabled": false, "rules": [{"name": "inv", "kind": {"type": "invites"}, "actions": delete()}]});
    let off = GuildRules::compile(&AutomodConfig::from_json(&cfg).unwrap()).unwrap();
    assert!(eval(&off, &msg("discord.gg/abc", 0, 1), &LocalCounters::new()).is_empty());
    let r = rules(
        json!([{"name": "inv", "enabled": false, "kind": {"type": "invites"}, "actions": delete()}]),
    );
    assert!(eval(&r, &msg("discord.gg/abc", 0, 1), &LocalCounters::new()).is_empty());
}

fn join<'a>(user: u64, at_ms: u64, name: &'a str) -> MemberContext<'a> {
    MemberContext {
        guild_id: G,
        user_id: user,
        is_bot: false,
        username: name,
        global_name: None,
        nick: None,
        joined_at_ms: at_ms,
    }
}

#[test]
fn raid_mode_starts_at_n_joins_holds_and_calms() {
    let r = rules(
        json!([{"name": "raid", "kind": {"type": "join_rate", "count": 3, "within_secs": 10, "calm_secs": 60},
        "actions": [{"type": "kick"}, {"type": "lockdown"}, {"type": "alert", "channel": 5}]}]),
    );
    let c = LocalCounters::new();
    let e = Engine::new();
    let rt = rt();
    let t0 = BASE_MS;
    let user = |n: u64| id_at(0, 0) - ((400 * 86_400_000u64) << 22) + n; // year-old accounts
    assert!(
        rt.block_on(e.evaluate_join(&r, &join(user(1), t0, "a"), &c))
            .is_empty()
    );
    assert!(
        rt.block_on(e.evaluate_join(&r, &join(user(2), t0 + 1000, "b"), &c))
            .is_empty()
    );
    let v = rt.block_on(e.evaluate_join(&r, &join(user(3), t0 + 2000, "c"), &c));
    assert_eq!(
        v[0].actions,
        [
            Action::Kick,
            Action::Lockdown,
            Action::Alert { channel: Some(5) }
        ]
    );
    assert!(v[0].evidence.raid_started);
    // Later joiners are kicked without a new alert or lockdown while raid mode lasts, even
    // slow ones.
    let v = rt.block_on(e.evaluate_join(&r, &join(user(4), t0 + 30_000, "d"), &c));
    assert_eq!(v[0].actions, [Action::Kick]);
    assert!(!v[0].evidence.raid_started);
    // 60 s after the last burst it is over.
    assert!(
        rt.block_on(e.evaluate_join(&r, &join(user(5), t0 + 62_500, "e"), &c))
            .is_empty()
    );
}

#[test]
fn account_age_gate_and_names() {
    let r = rules(json!([
        {"name": "age", "kind": {"type": "account_age", "min_age_secs": 86400}, "actions": [{"type": "kick"}]},
        {"name": "names", "kind": {"type": "names", "words": ["discord staff", "free nitro"]}, "actions": [{"type": "ban"}]}
    ]));
    let c = LocalCounters::new();
    let e = Engine::new();
    let rt = rt();
    let created = BASE_MS;
    let user = id_at(0, 1); // created at BASE_MS
    let v = rt.block_on(e.evaluate_join(&r, &join(user, created + 3_600_000, "newbie"), &c));
    assert_eq!(names(&v), ["age"]);
    assert_eq!(v[0].evidence.reason, "account is 1h old; the minimum is 1d");
    assert!(
        rt.block_on(e.evaluate_join(&r, &join(user, created + 86_400_000, "oldie"), &c))
            .is_empty()
    );
    let mut m = join(user, created + 90_000_000, "someone");
    m.global_name = Some("Discord  St4ff");
    assert_eq!(names(&rt.block_on(e.evaluate_join(&r, &m, &c))), ["names"]);
    let mut bot = join(user, created, "free nitro bot");
    bot.is_bot = true;
    assert!(
        rt.block_on(e.evaluate_join(&r, &bot, &c)).is_empty(),
        "bots are exempt by default"
    );
}

#[test]
fn dry_run_reports_without_counting() {
    let r = GuildRules::compile(&Preset::Standard.config()).unwrap();
    let d = rt().block_on(Engine::new().dry_run(&r, "JOIN DISCORD.GG/ABC NOW PLEASE, YOU IDIOT"));
    let fired = names(&d.verdicts);
    assert!(
        fired.contains(&"invites") && fired.contains(&"caps"),
        "{fired:?}"
    );
    let d = rt().block_on(Engine::new().dry_run(&r, "you're an idiot"));
    assert_eq!(names(&d.verdicts), ["toxicity"]);
    assert!(d.toxicity.score >= 0.4);
    assert_eq!(
        d.toxicity.category,
        Some(crate::automod::toxicity::Class::Insult)
    );
    let d = rt().block_on(Engine::new().dry_run(&r, "hello there"));
    assert!(d.verdicts.is_empty() && d.toxicity.score < 0.1, "{d:?}");
}

#[test]
fn rules_cache_compiles_once_per_revision() {
    let cache = RulesCache::new(2);
    let mut cfg = Preset::Standard.config();
    let a = cache.get(G, &cfg.to_json());
    let b = cache.get(G, &cfg.to_json());
    assert!(std::sync::Arc::ptr_eq(&a, &b));
    cfg.revision += 1;
    let c = cache.get(G, &cfg.to_json());
    assert!(!std::sync::Arc::ptr_eq(&a, &c));
    // A stored config that does not compile is off, not an error per message.
    let broken = json!({"enabled": true, "revision": 9, "rules": [{"name": "x", "kind": {"type": "regex", "patterns": ["(a)\\1"]}, "actions": [{"type": "delete"}]}]});
    assert!(!cache.get(G + 1, &broken).enabled());
    assert!(!cache.get(G + 2, &serde_json::Value::Null).enabled());
}

#[test]
fn evidence_serialises_for_cases() {
    let r = rules(json!([{"name": "inv", "kind": {"type": "invites"}, "actions": delete()}]));
    let v = eval(&r, &msg("discord.gg/abc", 0, 1), &LocalCounters::new());
    let e = v[0].evidence_json();
    assert_eq!(e["rule"], "inv");
    assert_eq!(e["rule_type"], "invites");
    assert_eq!(e["matched"], "abc");
    assert_eq!(e["excerpt"], "discord.gg/abc");
}

/// Counters that always fail, like an unreachable Redis.
struct Down;

#[async_trait::async_trait]
impl Counters for Down {
    async fn apply(
        &self,
        _: &[counters::CounterOp],
        _: u64,
    ) -> Result<Vec<counters::CounterValue>, CounterError> {
        Err(CounterError::Protocol("down".into()))
    }
}

#[test]
fn unavailable_counters_skip_windowed_rules_but_not_the_others() {
    let r = rules(json!([
        {"name": "rate", "kind": {"type": "message_rate", "count": 1, "within_secs": 10}, "actions": delete()},
        {"name": "inv", "kind": {"type": "invites"}, "actions": delete()}
    ]));
    let v = rt().block_on(Engine::new().evaluate(&r, &msg("discord.gg/abc", 0, 1), &Down));
    assert_eq!(names(&v), ["inv"]);
    let with = rt().block_on(Engine::new().evaluate(
        &r,
        &msg("discord.gg/abc", 0, 1),
        &LocalCounters::new(),
    ));
    assert_eq!(names(&with), ["rate", "inv"]);
}

#[test]
fn an_edit_is_checked_for_content_but_not_counted_as_a_message() {
    let r = rules(json!([
        {"name": "rate", "kind": {"type": "message_rate", "count": 2, "within_secs": 5}, "actions": delete()},
        {"name": "dup", "kind": {"type": "duplicates", "count": 2, "within_secs": 30}, "actions": delete()},
        {"name": "ment", "kind": {"type": "mention_spam", "per_message": 3, "over_time": {"count": 4, "within_secs": 30}}, "actions": delete()},
        {"name": "inv", "kind": {"type": "invites"}, "actions": delete()}
    ]));
    let c = LocalCounters::new();
    let e = Engine::new();
    let rt = rt();
    // One message, then many edits of it: no rate, duplicate or mentions-over-time hit.
    assert!(eval(&r, &msg("hello there", 0, 1), &c).is_empty());
    let mut edit = msg("hello there", 0, 1);
    edit.user_mentions = 2;
    for _ in 0..5 {
        assert!(rt.block_on(e.evaluate_edit(&r, &edit, &c)).is_empty());
    }
    // What the edited text holds is checked as in a new message.
    let spam = msg("join discord.gg/spam", 0, 1);
    assert_eq!(names(&rt.block_on(e.evaluate_edit(&r, &spam, &c))), ["inv"]);
    edit.user_mentions = 3;
    assert_eq!(
        names(&rt.block_on(e.evaluate_edit(&r, &edit, &c))),
        ["ment"]
    );
    // The edits did not count: the next real message is only the second.
    assert_eq!(names(&eval(&r, &msg("another", 1000, 2), &c)), ["rate"]);
}

#[test]
fn a_rename_is_checked_by_the_name_rules_only() {
    let r = rules(json!([
        {"name": "age", "kind": {"type": "account_age", "min_age_secs": 86400}, "actions": [{"type": "kick"}]},
        {"name": "raid", "kind": {"type": "join_rate", "count": 2, "within_secs": 10}, "actions": [{"type": "alert"}]},
        {"name": "names", "kind": {"type": "names", "words": ["discord staff"]}, "actions": [{"type": "kick"}]}
    ]));
    let c = LocalCounters::new();
    let e = Engine::new();
    let rt = rt();
    let user = id_at(0, 1);
    let mut m = join(user, BASE_MS + 1000, "newbie");
    assert!(
        rt.block_on(e.evaluate_rename(&r, &m, m.joined_at_ms, &c))
            .is_empty(),
        "a young account renaming is not a join"
    );
    m.nick = Some("Discord Staff");
    assert_eq!(
        names(&rt.block_on(e.evaluate_rename(&r, &m, m.joined_at_ms, &c))),
        ["names"]
    );
    m.is_bot = true;
    assert!(
        rt.block_on(e.evaluate_rename(&r, &m, m.joined_at_ms, &c))
            .is_empty()
    );
}
