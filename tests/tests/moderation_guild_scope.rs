//! Ids from another server are refused, through the running worker: a server's admin cannot
//! make Kyuta post into, or exempt, a channel or role of another server, by prefix or slash,
//! and a 0 id is a validation error, not a crash.

mod moderation_support;

use moderation_support::{Harness, StoreKind, reply_text};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_or_role_of_another_server_is_refused_everywhere() {
    let h = Harness::start_with_guilds(&StoreKind::embedded(), 2).await;
    let c = h.cast;
    let other = h.sim.guild(h.sim.world().guild_id(1)).expect("guild 1");
    let foreign_channel = other
        .channels
        .iter()
        .find(|ch| ch.name == "general")
        .expect("guild 1 #general")
        .id;
    let foreign_role = other
        .roles
        .iter()
        .find(|r| r.id != other.id)
        .expect("a role of guild 1")
        .id;
    let worker = h.start_live(&StoreKind::embedded()).await;

    // The owner of guild 0 points the mod log, and every automod channel or role setting,
    // at guild 1 — by prefix.
    let attempts = [
        format!("k!modlog {foreign_channel}"),
        format!("k!modlog <#{foreign_channel}>"),
        format!("k!automod set all alert_channel <#{foreign_channel}>"),
        format!("k!automod set all exempt_channels {foreign_channel}"),
        format!("k!automod set all exempt_roles <@&{foreign_role}>"),
        "k!automod set all alert_channel 0".to_owned(),
        "k!modlog 0".to_owned(),
    ];
    h.post(c.owner, "k!automod preset standard").await;
    h.bot_replies(1).await;
    for a in &attempts {
        h.post(c.owner, a).await;
    }
    let texts = h.bot_replies(1 + attempts.len()).await;
    // The commands run concurrently, so the replies come in any order: count them.
    let refusals = &texts[1..];
    let count = |needle: &str| refusals.iter().filter(|t| t.contains(needle)).count();
    let foreign = format!("<#{foreign_channel}> is not a channel of this server");
    assert_eq!(count(&foreign), 4, "{refusals:?}");
    assert_eq!(
        count(&format!("<@&{foreign_role}> is not a role of this server")),
        1,
        "{refusals:?}"
    );
    assert_eq!(
        count("\"0\" is not a role or channel mention or id"),
        1,
        "{refusals:?}"
    );
    assert_eq!(
        count("`channel` must be a channel mention or id"),
        1,
        "{refusals:?}"
    );
    // Nothing was stored.
    let cfg = worker.services.store.guild_config(c.guild).await.unwrap();
    assert_eq!(cfg.mod_log_channel, None);
    let automod = kyuta_worker::automod::config::AutomodConfig::from_json(&cfg.automod).unwrap();
    assert_eq!(automod.alert_channel, None);
    assert!(automod.exempt_channels.is_empty() && automod.exempt_roles.is_empty());

    // By slash, a string option naming another server's channel is refused the same way.
    let id = h
        .send_slash(
            c.owner,
            "automod set",
            json!({"rule": "all", "setting": "alert_channel", "value": foreign_channel.to_string()}),
        )
        .await;
    let a = h.answer(id).await;
    assert!(reply_text(&a).contains(&foreign), "{a}");

    // A ban afterwards posts nothing in the other server.
    h.post(c.owner, &format!("k!ban <@{}> spam", c.member))
        .await;
    h.bot_replies(2 + attempts.len()).await;
    assert!(h.is_banned(c.member));
    let bot = c.bot.to_string();
    let posted_there = h
        .messages(foreign_channel)
        .await
        .into_iter()
        .filter(|m| m["author"]["id"].as_str() == Some(bot.as_str()))
        .count();
    assert_eq!(posted_there, 0, "the bot posted in another server");

    // The server's own channel is accepted.
    h.post(c.owner, &format!("k!modlog <#{}>", c.mod_log)).await;
    let texts = h.bot_replies(3 + attempts.len()).await;
    assert!(
        texts.last().unwrap().contains(&c.mod_log.to_string()),
        "{texts:?}"
    );
    worker.shutdown().await;
    h.shutdown().await;
}
