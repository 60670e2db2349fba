//! Each moderation command through its slash form and its prefix form, against the simulator
//! and the embedded store: what Discord (the simulator) ends up with, the case, the reply.

mod moderation_support;

use kyuta_worker::store::{ActionKind, CaseFilter, CaseOutcome, ScheduleKind, ScheduleState};
use moderation_support::{Harness, StoreKind, text};
use serde_json::json;

const BAN_ADD: u64 = 22;
const BAN_REMOVE: u64 = 23;
const KICK: u64 = 20;
const MEMBER_UPDATE: u64 = 24;

async fn case(h: &Harness, n: u64) -> kyuta_worker::store::Case {
    h.worker
        .store
        .get_case(h.cast.guild, n)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("case #{n} exists"))
}

#[tokio::test]
async fn ban_slash_and_prefix() {
    let h = Harness::start(&StoreKind::embedded()).await;
    let c = h.cast;

    let reply = h
        .slash(
            c.moderator,
            "ban",
            json!({"user": c.member.to_string(), "reason": "spam links", "delete_messages": "week"}),
        )
        .await
        .expect("slash ban");
    let t = text(&reply);
    assert!(t.contains(&format!("Banned <@{}>", c.member)), "{t}");
    assert!(t.contains("case #1"), "{t}");
    assert!(h.is_banned(c.member));
    let audit = h.audit_of(BAN_ADD, c.member).await;
    assert_eq!(audit.len(), 1);
    assert_eq!(
        audit[0]["reason"].as_str(),
        Some(format!("spam links (case #1, by {})", c.moderator).as_str())
    );
    let one = case(&h, 1).await;
    assert_eq!(one.kind, ActionKind::Ban);
    assert_eq!(one.user_id, c.member);
    assert_eq!(one.moderator_id, c.moderator);
    assert_eq!(one.reason.as_deref(), Some("spam links"));
    assert_eq!(one.outcome, CaseOutcome::Applied);

    // Prefix: mention form, no duration, reason takes the rest of the line.
    let reply = h
        .prefix(
            c.moderator,
            &format!("ban <@{}> posting scams again", c.member2),
        )
        .await
        .expect("prefix ban");
    assert!(text(&reply).contains("case #2"), "{}", text(&reply));
    assert!(h.is_banned(c.member2));
    let two = case(&h, 2).await;
    assert_eq!(two.kind, ActionKind::Ban);
    assert_eq!(two.reason.as_deref(), Some("posting scams again"));
    assert_eq!(two.duration_secs, None);
    h.shutdown().await;
}

#[tokio::test]
async fn tempban_slash_and_prefix_write_schedules() {
    let h = Harness::start(&StoreKind::embedded()).await;
    let c = h.cast;
    let reply = h
        .slash(
            c.moderator,
            "ban",
            json!({"user": c.member.to_string(), "duration": "2h", "reason": "cool off"}),
        )
        .await
        .expect("slash tempban");
    assert!(text(&reply).contains("for 2h"), "{}", text(&reply));
    // `k!ban @user 1d spam` from the issue.
    let reply = h
        .prefix(c.moderator, &format!("ban <@{}> 1d spam", c.member2))
        .await
        .expect("prefix tempban");
    assert!(text(&reply).contains("for 1d"), "{}", text(&reply));
    for (n, user, secs) in [(1, c.member, 7200), (2, c.member2, 86_400)] {
        let k = case(&h, n).await;
        assert_eq!(k.kind, ActionKind::Tempban);
        assert_eq!(k.duration_secs, Some(secs));
        assert!(h.is_banned(user));
        let s = h
            .worker
            .store
            .get_schedule(c.guild, user, ScheduleKind::Unban)
            .await
            .unwrap()
            .expect("an expiry schedule");
        assert_eq!(s.state, ScheduleState::Pending);
        assert_eq!(s.case_number, Some(n));
        assert_eq!(
            s.due_at,
            k.created_at.plus(std::time::Duration::from_secs(secs))
        );
    }
    assert_eq!(case(&h, 2).await.reason.as_deref(), Some("spam"));
    h.shutdown().await;
}

#[tokio::test]
async fn prefix_ban_reads_optional_words() {
    let h = Harness::start(&StoreKind::embedded()).await;
    let c = h.cast;
    // A reason that does not start with a duration is all reason.
    h.prefix(c.moderator, &format!("ban {} spam bot", c.member))
        .await
        .expect("ban");
    let k = case(&h, 1).await;
    assert_eq!(
        (k.kind, k.reason.as_deref()),
        (ActionKind::Ban, Some("spam bot"))
    );
    // A delete_messages choice without a duration.
    h.prefix(c.moderator, &format!("ban <@!{}> week raid", c.member2))
        .await
        .expect("ban with deletion");
    let k = case(&h, 2).await;
    assert_eq!(
        (k.kind, k.reason.as_deref()),
        (ActionKind::Ban, Some("raid"))
    );
    // A bad duration that starts with a digit is an error, not a reason.
    let e = h
        .prefix(c.moderator, &format!("ban {} 5y spam", c.plain))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("`y` is not a unit"), "{e}");
    assert!(!h.is_banned(c.plain));
    h.shutdown().await;
}

#[tokio::test]
async fn unban_slash_and_prefix_cancel_expiry() {
    let h = Harness::start(&StoreKind::embedded()).await;
    let c = h.cast;
    h.slash(
        c.moderator,
        "ban",
        json!({"user": c.member.to_string(), "duration": "1h"}),
    )
    .await
    .unwrap();
    h.slash(c.moderator, "ban", json!({"user": c.member2.to_string()}))
        .await
        .unwrap();
    let reply = h
        .slash(
            c.moderator,
            "unban",
            json!({"user": c.member.to_string(), "reason": "appeal"}),
        )
        .await
        .expect("slash unban");
    assert!(text(&reply).contains(&format!("Unbanned <@{}>", c.member)));
    assert!(!h.is_banned(c.member));
    let s = h
        .worker
        .store
        .get_schedule(c.guild, c.member, ScheduleKind::Unban)
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(s.state, ScheduleState::Cancelled { .. }), "{s:?}");
    h.prefix(c.moderator, &format!("unban {} appeal accepted", c.member2))
        .await
        .expect("prefix unban");
    assert!(!h.is_banned(c.member2));
    assert_eq!(h.audit_of(BAN_REMOVE, c.member2).await.len(), 1);
    let k = case(&h, 4).await;
    assert_eq!(k.kind, ActionKind::Unban);
    assert_eq!(k.reason.as_deref(), Some("appeal accepted"));
    // Unbanning someone who is not banned: Discord says 10026, the case says so.
    let e = h
        .prefix(c.moderator, &format!("unban {}", c.plain))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("not banned (10026)"), "{e}");
    assert!(matches!(
        case(&h, 5).await.outcome,
        CaseOutcome::Failed { .. }
    ));
    h.shutdown().await;
}

#[tokio::test]
async fn softban_slash_and_prefix() {
    let h = Harness::start(&StoreKind::embedded()).await;
    let c = h.cast;
    let reply = h
        .slash(
            c.moderator,
            "softban",
            json!({"user": c.member.to_string(), "reason": "spam"}),
        )
        .await
        .expect("slash softban");
    assert!(text(&reply).contains("Softbanned"), "{}", text(&reply));
    h.prefix(c.moderator, &format!("softban <@{}> week flood", c.member2))
        .await
        .expect("prefix softban");
    for user in [c.member, c.member2] {
        assert!(!h.is_banned(user), "softban leaves no ban");
        assert!(!h.is_member(user), "softban removes the member");
        assert_eq!(h.audit_of(BAN_ADD, user).await.len(), 1);
        assert_eq!(h.audit_of(BAN_REMOVE, user).await.len(), 1);
    }
    assert_eq!(case(&h, 1).await.kind, ActionKind::Softban);
    assert_eq!(case(&h, 2).await.reason.as_deref(), Some("flood"));
    h.shutdown().await;
}

#[tokio::test]
async fn kick_slash_and_prefix() {
    let h = Harness::start(&StoreKind::embedded()).await;
    let c = h.cast;
    let reply = h
        .slash(
            c.moderator,
            "kick",
            json!({"user": c.member.to_string(), "reason": "rude"}),
        )
        .await
        .expect("slash kick");
    assert!(text(&reply).contains("Kicked"), "{}", text(&reply));
    h.prefix(c.moderator, &format!("kick <@{}>", c.member2))
        .await
        .expect("prefix kick");
    for user in [c.member, c.member2] {
        assert!(!h.is_member(user));
        assert!(!h.is_banned(user));
        assert_eq!(h.audit_of(KICK, user).await.len(), 1);
    }
    assert_eq!(case(&h, 2).await.kind, ActionKind::Kick);
    assert_eq!(case(&h, 2).await.reason, None);
    h.shutdown().await;
}

#[tokio::test]
async fn timeout_and_untimeout_slash_and_prefix() {
    let h = Harness::start(&StoreKind::embedded()).await;
    let c = h.cast;
    let now_ms = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64
    };
    let reply = h
        .slash(
            c.moderator,
            "timeout",
            json!({"user": c.member.to_string(), "duration": "1h30m", "reason": "flooding"}),
        )
        .await
        .expect("slash timeout");
    assert!(text(&reply).contains("for 1h 30m"), "{}", text(&reply));
    assert!(!text(&reply).contains("renewed"), "{}", text(&reply));
    let until = h.timed_out_until(c.member).expect("timed out");
    assert!(until > now_ms() + 80 * 60_000 && until <= now_ms() + 90 * 60_000);

    // 40 days: Discord's cap is 28; the reply says a renewal is planned.
    let reply = h
        .prefix(
            c.moderator,
            &format!("timeout <@{}> 40d repeated raids", c.member2),
        )
        .await
        .expect("prefix timeout");
    let t = text(&reply);
    assert!(t.contains("for 5w 5d"), "{t}");
    assert!(
        t.contains("caps a timeout at 4w: it will be renewed 1 time"),
        "{t}"
    );
    let until = h.timed_out_until(c.member2).expect("timed out");
    assert!(until <= now_ms() + 28 * 86_400_000 && until > now_ms() + 27 * 86_400_000);
    let s = h
        .worker
        .store
        .get_schedule(c.guild, c.member2, ScheduleKind::RenewTimeout)
        .await
        .unwrap()
        .expect("a renewal is stored");
    assert_eq!(s.state, ScheduleState::Pending);
    assert_eq!(s.case_number, Some(2));

    // Untimeout, both forms; the planned renewal is cancelled.
    h.slash(
        c.moderator,
        "untimeout",
        json!({"user": c.member.to_string()}),
    )
    .await
    .expect("slash untimeout");
    h.prefix(c.moderator, &format!("untimeout {} served", c.member2))
        .await
        .expect("prefix untimeout");
    assert_eq!(h.timed_out_until(c.member), None);
    assert_eq!(h.timed_out_until(c.member2), None);
    let s = h
        .worker
        .store
        .get_schedule(c.guild, c.member2, ScheduleKind::RenewTimeout)
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(s.state, ScheduleState::Cancelled { .. }));
    assert_eq!(h.audit_of(MEMBER_UPDATE, c.member2).await.len(), 2);
    assert_eq!(case(&h, 4).await.kind, ActionKind::Untimeout);

    // A bad duration is refused before anything happens.
    let e = h
        .prefix(c.moderator, &format!("timeout {} 90 spam", c.plain))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("`90` has no unit"), "{e}");
    let e = h
        .slash(
            c.moderator,
            "timeout",
            json!({"user": c.plain.to_string(), "duration": "0s"}),
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("zero"), "{e}");
    assert_eq!(h.timed_out_until(c.plain), None);
    h.shutdown().await;
}

#[tokio::test]
async fn warn_case_cases_and_reason() {
    let h = Harness::start(&StoreKind::embedded()).await;
    let c = h.cast;
    let reply = h
        .slash(
            c.moderator,
            "warn",
            json!({"user": c.member.to_string(), "reason": "caps"}),
        )
        .await
        .expect("slash warn");
    assert!(text(&reply).contains("Warned"), "{}", text(&reply));
    h.prefix(c.moderator, &format!("warn <@{}> still caps", c.member))
        .await
        .expect("prefix warn");
    h.prefix(c.admin, &format!("warn {} off topic", c.member2))
        .await
        .expect("prefix warn 2");
    // A warn needs a reason.
    let e = h
        .prefix(c.moderator, &format!("warn {}", c.member))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("reason"), "{e}");

    let page = h
        .worker
        .store
        .list_cases(
            c.guild,
            &CaseFilter {
                user_id: Some(c.member),
                moderator_id: None,
                kind: Some(ActionKind::Warn),
                include_hidden: false,
            },
            0,
            10,
        )
        .await
        .unwrap();
    assert_eq!(page.total, 2);

    // /case and k!case
    let reply = h
        .slash(c.moderator, "case show", json!({"number": 2}))
        .await
        .unwrap();
    let t = text(&reply);
    assert!(
        t.contains("Case #2 · Warn") && t.contains("still caps"),
        "{t}"
    );
    let t = text(&h.prefix(c.moderator, "case 3").await.unwrap());
    assert!(
        t.contains("Case #3 · Warn") && t.contains("off topic"),
        "{t}"
    );
    let e = h.prefix(c.moderator, "case 99").await.unwrap_err();
    assert!(e.to_string().contains("no case #99"), "{e}");

    // /cases filtered by user and by moderator, both forms.
    let t = text(
        &h.slash(c.moderator, "cases", json!({"user": c.member.to_string()}))
            .await
            .unwrap(),
    );
    assert!(
        t.contains("**#1**") && t.contains("**#2**") && !t.contains("**#3**"),
        "{t}"
    );
    let t = text(
        &h.prefix(c.moderator, &format!("cases {}", c.member2))
            .await
            .unwrap(),
    );
    assert!(t.contains("**#3**") && !t.contains("**#1**"), "{t}");
    let t = text(
        &h.slash(
            c.moderator,
            "cases",
            json!({"moderator": c.admin.to_string()}),
        )
        .await
        .unwrap(),
    );
    assert!(t.contains("(1 total)"), "{t}");
    let t = text(&h.prefix(c.moderator, "cases").await.unwrap());
    assert!(t.contains("(3 total)"), "{t}");

    // /reason keeps the history; k!reason too.
    h.slash(
        c.moderator,
        "reason",
        json!({"case": 1, "text": "ALL CAPS in #general"}),
    )
    .await
    .expect("slash reason");
    h.prefix(c.admin, "reason 1 all caps, third time")
        .await
        .expect("prefix reason");
    let k = case(&h, 1).await;
    assert_eq!(k.reason.as_deref(), Some("all caps, third time"));
    assert_eq!(k.reason_history.len(), 2);
    assert_eq!(k.reason_history[0].previous.as_deref(), Some("caps"));
    assert_eq!(k.reason_history[1].editor_id, c.admin);
    let t = text(&h.prefix(c.moderator, "case 1").await.unwrap());
    assert!(t.contains("Earlier reasons"), "{t}");

    // Someone without moderation permissions cannot read cases.
    let e = h.prefix(c.plain, "case 1").await.unwrap_err();
    assert!(e.to_string().contains("permission"), "{e}");
    h.shutdown().await;
}

#[tokio::test]
async fn modlog_and_moddm_settings() {
    let h = Harness::start(&StoreKind::embedded()).await;
    let c = h.cast;
    h.prefix(c.admin, &format!("modlog <#{}>", c.mod_log))
        .await
        .expect("prefix modlog");
    let config = h.worker.store.guild_config(c.guild).await.unwrap();
    assert_eq!(config.mod_log_channel, Some(c.mod_log));
    assert!(config.dm_on_action, "DMs are on by default");
    h.prefix(c.admin, "moddm false").await.unwrap();
    assert!(
        !h.worker
            .store
            .guild_config(c.guild)
            .await
            .unwrap()
            .dm_on_action
    );
    h.slash(c.admin, "moddm", json!({"enabled": true}))
        .await
        .unwrap();
    assert!(
        h.worker
            .store
            .guild_config(c.guild)
            .await
            .unwrap()
            .dm_on_action
    );
    h.prefix(c.admin, "moddm off").await.unwrap();
    assert!(
        !h.worker
            .store
            .guild_config(c.guild)
            .await
            .unwrap()
            .dm_on_action
    );
    h.shutdown().await;
}

#[tokio::test]
async fn a_duration_may_span_words_and_small_numbers_are_not_users() {
    let h = Harness::start(&StoreKind::embedded()).await;
    let c = h.cast;
    // `1h 30m spam`: 90 minutes, reason "spam"; the reply shows the length.
    let r = h
        .prefix(c.moderator, &format!("timeout <@{}> 1h 30m spam", c.member))
        .await
        .expect("timeout");
    let k = case(&h, 1).await;
    assert_eq!(k.kind, ActionKind::Timeout);
    assert_eq!(k.duration_secs, Some(90 * 60));
    assert_eq!(k.reason.as_deref(), Some("spam"));
    assert!(text(&r).contains("1h 30m"), "{}", text(&r));
    // `mo` is months (30 days), `m` minutes.
    h.prefix(c.moderator, &format!("ban <@{}> 1mo raid", c.member2))
        .await
        .expect("tempban");
    let k = case(&h, 2).await;
    assert_eq!(k.duration_secs, Some(30 * 24 * 3600));
    assert_eq!(k.reason.as_deref(), Some("raid"));
    // A bare small number is not a user id.
    let e = h.prefix(c.moderator, "ban 5 spam").await.unwrap_err();
    assert!(e.to_string().contains("`user` must be"), "{e}");
    h.shutdown().await;
}

#[tokio::test]
async fn warns_and_dms_go_only_to_members() {
    let h = Harness::start_with_guilds(&StoreKind::embedded(), 2).await;
    let c = h.cast;
    let other = h.sim.guild(h.sim.world().guild_id(1)).expect("guild 1");
    let g0 = h.sim.guild(c.guild).expect("guild 0");
    let outsider = other
        .members
        .values()
        .find(|m| !m.user.bot && !g0.members.contains_key(&m.user.id))
        .expect("a member of guild 1 only")
        .user
        .id;
    h.prefix(c.admin, "moddm true").await.expect("moddm");
    let e = h
        .prefix(c.moderator, &format!("warn {outsider} spam"))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("not a member of this server"), "{e}");
    h.prefix(c.moderator, &format!("ban {outsider} raid"))
        .await
        .expect("a ban may name anyone");
    assert!(h.is_banned(outsider));
    let dms = h
        .sim
        .stats()
        .stats
        .rest_requests
        .get("POST /users/@me/channels")
        .copied()
        .unwrap_or(0);
    assert_eq!(dms, 0, "no DM to someone outside the server");
    h.shutdown().await;
}
