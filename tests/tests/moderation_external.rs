//! Cases for moderation done outside Kyuta, through the running worker: a human moderator
//! bans, kicks, times out and unbans in Discord's client (the simulator's control API); each
//! becomes one case naming that moderator, posted once in the mod log, while Kyuta's own
//! actions keep their single case. Without View Audit Log, bans and unbans still become cases,
//! from GUILD_BAN_ADD and GUILD_BAN_REMOVE, with the moderator unknown.

mod moderation_support;

use std::time::Duration;

use kyuta_worker::store::{ActionKind, Case, CaseFilter, CaseOutcome};
use moderation_support::{Harness, StoreKind, http, wait_until};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ban_in_discords_client_becomes_a_case_naming_the_moderator() {
    let h = Harness::start(&StoreKind::embedded()).await;
    let c = h.cast;
    let (worker, cases) = h.start_live_on_mongo().await;
    h.slash_answer(c.admin, "modlog", json!({"channel": c.mod_log.to_string()}))
        .await;

    let g = c.guild;
    let by_moderator =
        |reason: &str| json!({"moderator_id": c.moderator.to_string(), "reason": reason});
    let (s, b) = http(
        &h.sim,
        "POST",
        &format!("/_sim/guilds/{g}/bans/{}", c.member),
        Some(by_moderator("raid account")),
    )
    .await;
    assert!(s < 300, "ban: {s} {b}");
    let (s, b) = http(
        &h.sim,
        "POST",
        &format!("/_sim/guilds/{g}/members/{}/kick", c.member2),
        Some(by_moderator("")),
    )
    .await;
    assert!(s < 300, "kick: {s} {b}");
    let until = twilight_model::util::Timestamp::from_secs(
        i64::try_from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs(),
        )
        .unwrap()
            + 3600,
    )
    .unwrap()
    .iso_8601()
    .to_string();
    let (s, b) = http(
        &h.sim,
        "PATCH",
        &format!("/_sim/guilds/{g}/members/{}", c.plain),
        Some(
            json!({"moderator_id": c.moderator.to_string(), "communication_disabled_until": until}),
        ),
    )
    .await;
    assert!(s < 300, "timeout: {s} {b}");
    // And one action through Kyuta, which has its own case already: its audit entry (by the
    // bot) is not a second one.
    h.post(c.moderator, &format!("k!kick <@{}> be nice", c.plain))
        .await;

    let mut all: Vec<Case> = Vec::new();
    let done = wait_until(Duration::from_secs(15), async || {
        all = cases
            .list_cases(g, &CaseFilter::default(), 0, 50)
            .await
            .unwrap()
            .cases;
        all.len() >= 4
    })
    .await;
    assert!(done, "cases: {all:?}");
    // Let a late duplicate show up if there were one.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let all = cases
        .list_cases(g, &CaseFilter::default(), 0, 50)
        .await
        .unwrap()
        .cases;
    let find = |kind: ActionKind, user: u64| -> Vec<&Case> {
        all.iter()
            .filter(|x| x.kind == kind && x.user_id == user)
            .collect()
    };
    let ban = find(ActionKind::Ban, c.member);
    assert_eq!(ban.len(), 1, "{all:?}");
    assert_eq!(ban[0].moderator_id, c.moderator, "the moderator is named");
    assert_eq!(ban[0].reason.as_deref(), Some("raid account"));
    assert_eq!(ban[0].outcome, CaseOutcome::Applied);
    let kick = find(ActionKind::Kick, c.member2);
    assert_eq!(kick.len(), 1, "{all:?}");
    assert_eq!(kick[0].moderator_id, c.moderator);
    let timeout = find(ActionKind::Timeout, c.plain);
    assert_eq!(timeout.len(), 1, "{all:?}");
    let secs = timeout[0].duration_secs.expect("a timeout's length");
    assert!((3590..=3600).contains(&secs), "{secs}");
    let own = find(ActionKind::Kick, c.plain);
    assert_eq!(own.len(), 1, "Kyuta's own kick is one case: {all:?}");
    assert_eq!(own[0].reason.as_deref(), Some("be nice"));
    assert_eq!(all.len(), 4, "{all:?}");

    // Each case was posted once in the mod log.
    let bot = c.bot.to_string();
    let mut posts = Vec::new();
    wait_until(Duration::from_secs(10), async || {
        posts = h
            .messages(c.mod_log)
            .await
            .into_iter()
            .filter(|m| m["author"]["id"].as_str() == Some(bot.as_str()))
            .collect();
        posts.len() >= 4
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let posts = h.messages(c.mod_log).await;
    let titles: Vec<String> = posts
        .iter()
        .filter_map(|m| m["embeds"][0]["title"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(titles.len(), 4, "{titles:?}");
    for (kind, n) in [("Ban", 1), ("Kick", 2), ("Timeout", 1)] {
        assert_eq!(
            titles.iter().filter(|t| t.ends_with(kind)).count(),
            n,
            "{kind}: {titles:?}"
        );
    }
    let ban_post = posts
        .iter()
        .find(|m| {
            m["embeds"][0]["title"]
                .as_str()
                .is_some_and(|t| t.ends_with("Ban"))
        })
        .unwrap();
    assert!(
        ban_post.to_string().contains(&c.moderator.to_string()),
        "the post names the moderator: {ban_post}"
    );

    worker.shutdown().await;
    h.shutdown().await;
}

/// A tempban lifted by hand in Discord's client ends Kyuta's planned unban, and a timeout
/// lifted by hand ends the renewals of Kyuta's long timeout: neither comes back later.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_human_unban_or_untimeout_ends_what_kyuta_planned() {
    use kyuta_worker::store::{ScheduleKind, ScheduleState};
    let h = Harness::start(&StoreKind::embedded()).await;
    let c = h.cast;
    let (worker, store) = h.start_live_on_mongo().await;
    let g = c.guild;
    let a = h
        .slash_answer(
            c.moderator,
            "ban",
            json!({"user": c.member.to_string(), "duration": "1d", "reason": "cool off"}),
        )
        .await;
    assert!(h.is_banned(c.member), "{a}");
    let a = h
        .slash_answer(
            c.moderator,
            "timeout",
            json!({"user": c.plain.to_string(), "duration": "60d"}),
        )
        .await;
    assert!(h.timed_out_until(c.plain).is_some(), "{a}");
    let state = async |user: u64, kind: ScheduleKind| {
        store
            .get_schedule(g, user, kind)
            .await
            .unwrap()
            .map(|s| s.state)
    };
    assert_eq!(
        state(c.member, ScheduleKind::Unban).await,
        Some(ScheduleState::Pending)
    );
    assert_eq!(
        state(c.plain, ScheduleKind::RenewTimeout).await,
        Some(ScheduleState::Pending)
    );

    let by = json!({"moderator_id": c.admin.to_string(), "reason": "appeal accepted"});
    let (s, b) = http(
        &h.sim,
        "DELETE",
        &format!("/_sim/guilds/{g}/bans/{}", c.member),
        Some(by.clone()),
    )
    .await;
    assert!(s < 300, "unban: {s} {b}");
    let (s, b) = http(
        &h.sim,
        "PATCH",
        &format!("/_sim/guilds/{g}/members/{}", c.plain),
        Some(json!({"moderator_id": c.admin.to_string(), "communication_disabled_until": null})),
    )
    .await;
    assert!(s < 300, "untimeout: {s} {b}");
    let ended = wait_until(Duration::from_secs(15), async || {
        state(c.member, ScheduleKind::Unban).await != Some(ScheduleState::Pending)
            && state(c.plain, ScheduleKind::RenewTimeout).await != Some(ScheduleState::Pending)
    })
    .await;
    assert!(
        ended,
        "unban: {:?}, renewal: {:?}",
        state(c.member, ScheduleKind::Unban).await,
        state(c.plain, ScheduleKind::RenewTimeout).await
    );
    let mut unbans = 0;
    wait_until(Duration::from_secs(10), async || {
        unbans = store
            .list_cases(g, &CaseFilter::default(), 0, 50)
            .await
            .unwrap()
            .cases
            .into_iter()
            .filter(|x| x.kind == ActionKind::Unban && x.moderator_id == c.admin)
            .count();
        unbans >= 1
    })
    .await;
    assert_eq!(unbans, 1, "the human unban is a case");
    worker.shutdown().await;
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_audit_log_bans_and_unbans_are_cases_from_the_ban_events() {
    const VIEW_AUDIT_LOG: u64 = 1 << 7;
    let h = Harness::start(&StoreKind::embedded()).await;
    let c = h.cast;
    let (_worker, cases) = h.start_live_on_mongo().await;
    h.slash_answer(c.admin, "modlog", json!({"channel": c.mod_log.to_string()}))
        .await;
    h.revoke_bot(VIEW_AUDIT_LOG).await;
    let g = c.guild;
    let by_moderator =
        |reason: &str| json!({"moderator_id": c.moderator.to_string(), "reason": reason});
    let human = |method: &'static str, user: u64, reason: &'static str| {
        let body = by_moderator(reason);
        let sim = &h.sim;
        async move {
            let (s, b) = http(
                sim,
                method,
                &format!("/_sim/guilds/{g}/bans/{user}"),
                Some(body),
            )
            .await;
            assert!(s < 300, "{method} ban: {s} {b}");
        }
    };
    let bans_of = async |user: u64| -> Vec<Case> {
        cases
            .list_cases(
                g,
                &CaseFilter {
                    user_id: Some(user),
                    ..CaseFilter::default()
                },
                0,
                50,
            )
            .await
            .unwrap()
            .cases
    };

    human("POST", c.member, "raid account").await;
    // Kyuta's own ban of another member stays one case.
    h.post(c.moderator, &format!("k!ban <@{}> spam", c.member2))
        .await;
    let mut got = Vec::new();
    assert!(
        wait_until(Duration::from_secs(15), async || {
            got = bans_of(c.member).await;
            !got.is_empty()
        })
        .await,
        "no case for the human ban"
    );
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].kind, ActionKind::Ban);
    assert_eq!(got[0].moderator_id, 0, "Discord does not say who");
    assert_eq!(got[0].reason.as_deref(), Some("raid account"));
    assert_eq!(got[0].outcome, CaseOutcome::Applied);

    // Unbanned and banned again by hand: two more cases, in order.
    human("DELETE", c.member, "").await;
    assert!(
        wait_until(Duration::from_secs(10), async || bans_of(c.member)
            .await
            .len()
            == 2)
        .await,
        "no case for the human unban: {:?}",
        bans_of(c.member).await
    );
    human("POST", c.member, "again").await;
    assert!(
        wait_until(Duration::from_secs(10), async || bans_of(c.member)
            .await
            .len()
            == 3)
        .await,
        "no case for the second ban: {:?}",
        bans_of(c.member).await
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let kinds: Vec<ActionKind> = bans_of(c.member)
        .await
        .iter()
        .rev()
        .map(|x| x.kind)
        .collect();
    assert_eq!(kinds, [ActionKind::Ban, ActionKind::Unban, ActionKind::Ban]);
    let own = bans_of(c.member2).await;
    assert_eq!(own.len(), 1, "Kyuta's own ban is one case: {own:?}");
    assert_eq!(own[0].moderator_id, c.moderator);

    // The mod log says the moderator is unknown.
    let posts = h
        .modlog_posts("Unknown (Kyuta cannot read the audit log)", 3)
        .await;
    assert_eq!(posts.len(), 3, "{posts:?}");
    h.shutdown().await;
}
