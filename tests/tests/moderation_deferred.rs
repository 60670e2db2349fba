//! A deferred answer keeps its visibility: `/cases` and `/case` answer privately even when
//! they take long enough to be deferred (here: always, `defer_after` 1 ms), so a moderator's
//! lookup never appears in the channel.

mod moderation_support;

use moderation_support::{Harness, StoreKind};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deferred_cases_answer_stays_ephemeral() {
    let h = Harness::start(&StoreKind::embedded()).await;
    let c = h.cast;
    // A store across the network: the answer cannot be ready at the first poll, so it is
    // always deferred.
    let mut config = h.live_config(&StoreKind::mongo());
    config.defer_after_ms = 1;
    let worker = h.start_live_with(config).await;

    h.post(c.moderator, &format!("k!warn <@{}> first", c.member))
        .await;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    for (name, options) in [
        ("cases", json!({"user": c.member.to_string()})),
        ("case show", json!({"number": 1})),
    ] {
        let id = h.send_slash(c.moderator, name, options).await;
        let a = h.answer(id).await;
        assert_eq!(a["response"]["type"], 5, "/{name} was deferred: {a}");
        assert_eq!(
            a["response"]["data"]["flags"].as_u64().unwrap_or(0) & 64,
            64,
            "/{name}: the defer is private: {a}"
        );
        let flags = a["original"]["flags"].as_u64().unwrap_or(0);
        assert_eq!(flags & 64, 64, "/{name}: the answer stays private: {a}");
        let shown = a["original"].to_string();
        assert!(
            shown.contains("first"),
            "/{name} answered with the case: {a}"
        );
    }
    // Nothing of it reached the channel: the bot's only message there is the warn's reply.
    let bot = c.bot.to_string();
    let public: Vec<String> = h
        .messages(c.general)
        .await
        .iter()
        .filter(|m| m["author"]["id"].as_str() == Some(bot.as_str()))
        .map(|m| m.to_string())
        .collect();
    assert_eq!(public.len(), 1, "{public:?}");
    worker.shutdown().await;
    h.shutdown().await;
}
