//! What the worker's REST client repeats: a request Discord may have acted on (a message
//! posted, an interaction answered) is not sent again after a 5xx or a timeout, only after a
//! 429; idempotent requests are retried.

use std::sync::Arc;

use kyuta_sim::{Sim, SimConfig};
use kyuta_tests::worker::SimControl;
use kyuta_worker::config::Token;
use kyuta_worker::rest::{LocalBudget, Rest, http_client};
use kyuta_worker::telemetry::Metrics;
use serde_json::json;
use twilight_model::id::Id;

const TOKEN: &str = "rest-retry-token";

fn requests(stats: &serde_json::Value, label: &str) -> u64 {
    stats["rest_requests"][label].as_u64().unwrap_or(0)
}

#[tokio::test]
async fn a_message_is_not_posted_again_after_a_5xx_but_reads_are_retried() {
    let sim = Sim::start(SimConfig {
        token: TOKEN.into(),
        guilds: 1,
        ..SimConfig::default()
    })
    .await
    .expect("start the simulator");
    let control = SimControl::new(sim.addr());
    let rest = Rest::new(
        http_client(&Token::new(TOKEN), Some(&sim.api_url())),
        Arc::new(LocalBudget::new(50)),
        Arc::new(Metrics::new()),
    );
    let guild = sim.world().guild_id(0);
    let general = kyuta_tests::worker::GuildCast::of(&sim, guild).general;
    let post = "POST /channels/{channel}/messages";

    // A 502 on create message: one request, an error, no second post.
    control
        .fault(json!({"kind": "route", "route": post, "status": 502, "count": 1}))
        .await;
    let r = rest
        .call("create_message", |c| {
            c.create_message(Id::new(general))
                .content("once")
                .into_future()
        })
        .await;
    assert!(r.is_err(), "a 502 is reported, not hidden by a retry");
    assert_eq!(requests(&control.stats().await, post), 1, "sent once");

    // A 429 says Discord did not act: the same post is repeated and lands once.
    control
        .fault(json!({"kind": "route", "route": post, "status": 429, "ms": 200, "count": 1}))
        .await;
    rest.call("create_message", |c| {
        c.create_message(Id::new(general))
            .content("after 429")
            .into_future()
    })
    .await
    .expect("posted after the 429");
    assert_eq!(requests(&control.stats().await, post), 3);
    let texts: Vec<String> = control
        .messages(general)
        .await
        .iter()
        .filter_map(|m| m["content"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(
        texts.iter().filter(|t| *t == "after 429").count(),
        1,
        "{texts:?}"
    );

    // A read is idempotent: a 503 is retried.
    let get = "GET /channels/{channel}";
    control
        .fault(json!({"kind": "route", "route": get, "status": 503, "count": 1}))
        .await;
    rest.model("get_channel", |c| c.channel(Id::new(general)).into_future())
        .await
        .expect("read after a retry");
    assert_eq!(requests(&control.stats().await, get), 2);
    sim.shutdown().await;
}
