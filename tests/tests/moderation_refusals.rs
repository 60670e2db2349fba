//! Every permission and hierarchy refusal, through the simulator's world (owner, Admin above
//! the bot, the bot, Moderator, Member): refused before any call that changes Discord, no
//! case written, and the message names the rule.

mod moderation_support;

use kyuta_worker::store::CaseFilter;
use moderation_support::{Harness, StoreKind};
use serde_json::json;

async fn assert_nothing_happened(h: &Harness) {
    let page = h
        .worker
        .store
        .list_cases(h.cast.guild, &CaseFilter::default(), 0, 10)
        .await
        .unwrap();
    assert_eq!(page.total, 0, "a refusal writes no case: {:?}", page.cases);
    assert!(
        h.audit_log().await.is_empty(),
        "a refusal changes nothing on Discord"
    );
}

#[tokio::test]
async fn refusals_name_the_rule() {
    let h = Harness::start(&StoreKind::embedded()).await;
    let c = h.cast;
    let user = |u: u64| u.to_string();
    // (who, command, options, prefix form, expected text)
    let cases: Vec<(u64, &str, serde_json::Value, String, &str)> = vec![
        (
            c.moderator,
            "ban",
            json!({"user": user(c.moderator)}),
            format!("ban {}", c.moderator),
            "you cannot ban yourself",
        ),
        (
            c.moderator,
            "kick",
            json!({"user": user(c.bot)}),
            format!("kick <@{}>", c.bot),
            "I will not kick myself",
        ),
        (
            c.admin,
            "ban",
            json!({"user": user(c.owner)}),
            format!("ban {} nope", c.owner),
            "the server owner cannot be moderated",
        ),
        (
            c.plain,
            "ban",
            json!({"user": user(c.member)}),
            format!("ban {}", c.member),
            "you do not have the Ban Members permission needed to ban",
        ),
        (
            c.member,
            "timeout",
            json!({"user": user(c.plain), "duration": "1h"}),
            format!("timeout {} 1h", c.plain),
            "you do not have the Timeout Members permission needed to time out",
        ),
        (
            c.plain,
            "kick",
            json!({"user": user(c.member)}),
            format!("kick {}", c.member),
            "you do not have the Kick Members permission needed to kick",
        ),
        (
            c.plain,
            "warn",
            json!({"user": user(c.member), "reason": "x"}),
            format!("warn {} x", c.member),
            "you do not have the Timeout Members permission needed to warn",
        ),
        (
            c.moderator,
            "ban",
            json!({"user": user(c.admin)}),
            format!("ban {}", c.admin),
            "your highest role must be above the target's highest role to ban them",
        ),
        (
            c.moderator,
            "warn",
            json!({"user": user(c.admin), "reason": "x"}),
            format!("warn {} x", c.admin),
            "your highest role must be above the target's highest role to warn them",
        ),
        (
            c.owner,
            "kick",
            json!({"user": user(c.admin)}),
            format!("kick {}", c.admin),
            "my highest role must be above the target's highest role to kick them",
        ),
        (
            c.owner,
            "timeout",
            json!({"user": user(c.admin), "duration": "10m"}),
            format!("timeout {} 10m", c.admin),
            "members with the Administrator permission cannot be timed out",
        ),
    ];
    for (who, name, options, prefix, expected) in cases {
        let e = h
            .slash(who, name, options.clone())
            .await
            .expect_err(&format!("/{name} {options} must be refused"));
        assert!(
            e.to_string().contains(expected),
            "/{name} {options}: got `{e}`, want `{expected}`"
        );
        assert!(e.is_refusal(), "{e:?}");
        let e = h
            .prefix(who, &prefix)
            .await
            .expect_err(&format!("k!{prefix} must be refused"));
        assert!(
            e.to_string().contains(expected),
            "k!{prefix}: got `{e}`, want `{expected}`"
        );
    }
    assert_nothing_happened(&h).await;
    h.shutdown().await;
}

#[tokio::test]
async fn kick_and_timeout_need_a_member_but_ban_does_not() {
    let h = Harness::start(&StoreKind::embedded()).await;
    let c = h.cast;
    // An id that is nobody in this guild.
    let stranger: u64 = 175_928_847_299_117_063;
    for (cmd, expected) in [
        (
            format!("kick {stranger}"),
            "not a member of this server, so I cannot kick them",
        ),
        (
            format!("timeout {stranger} 1h"),
            "not a member of this server, so I cannot time them out",
        ),
    ] {
        let e = h.prefix(c.moderator, &cmd).await.unwrap_err();
        assert!(e.to_string().contains(expected), "{cmd}: {e}");
    }
    assert_nothing_happened(&h).await;
    h.shutdown().await;
}
