//! MESSAGE_CREATE events per second on one core through what a shard does with each: parse
//! the gateway frame (twilight-gateway), count it in the events metric, and hand it to the
//! worker's `Router` (guild cache update, automod on the message, the command dispatcher's
//! prefix check), then run every task that spawned to completion. Messages are ordinary chat
//! (no command, no automod rule configured), in 100 guilds whose configuration is cached.
//!
//! `cargo bench -p kyuta-worker --bench dispatch` (one current-thread runtime = one core).

use std::{hint::black_box, sync::Arc, time::Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kyuta_worker::{
    analytics::Analytics,
    automod::{LocalCounters, RulesCache, act::AutomodRunner, runtime::Automod},
    cache::{GuildCache, GuildConfigs, InProcessCooldowns},
    clock::SystemClock,
    commands::{CommandObserver, dispatch::Dispatcher},
    config::{Config, Token},
    gateway::EventSink,
    rest::{LocalBudget, Rest, http_client},
    router::Router,
    runtime::build_registry,
    services::Services,
    shards::status::ShardStatus,
    store::{EmbeddedStore, Store},
    telemetry::{Metrics, metrics::EventLabels},
};
use twilight_gateway::{Event, EventTypeFlags, parse};
use twilight_model::id::Id;

const GUILDS: u64 = 100;

/// A MESSAGE_CREATE frame as Discord sends it (guild message with member, no command).
fn frame(seq: u64) -> String {
    let guild = 81_384_788_765_712_384 + (seq % GUILDS) * (1 << 22);
    let author = 80_351_110_224_678_912 + (seq % 997);
    format!(
        r#"{{"op":0,"s":{seq},"t":"MESSAGE_CREATE","d":{{"type":0,"tts":false,"timestamp":"2026-11-26T10:00:00.000000+00:00","pinned":false,"nonce":"{seq}","mentions":[],"mention_roles":[],"mention_everyone":false,"member":{{"roles":["{guild}1"],"premium_since":null,"pending":false,"nick":null,"mute":false,"joined_at":"2024-01-01T00:00:00.000000+00:00","flags":0,"deaf":false,"communication_disabled_until":null,"banner":null,"avatar":null}},"id":"{}","flags":0,"embeds":[],"edited_timestamp":null,"content":"hello there, this is message number {seq} in a busy channel","components":[],"channel_id":"{}","author":{{"username":"user{author}","public_flags":0,"id":"{author}","global_name":"User","discriminator":"0","avatar":null}},"attachments":[],"guild_id":"{guild}"}}}}"#,
        1_300_000_000_000_000_000u64 + seq,
        guild + 1,
    )
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let (services, router) = rt.block_on(async {
        let metrics = Arc::new(Metrics::new());
        let token = Token::new("bench-token");
        let store: Arc<dyn Store> = Arc::new(
            EmbeddedStore::open(dir.path().join("bench.redb"))
                .await
                .expect("store"),
        );
        let rules = Arc::new(RulesCache::default());
        // The analytics feature on, as in a production fleet: every message is counted.
        let analytics = Arc::new(Analytics::new(true, Arc::new(SystemClock)));
        let services = Arc::new(Services {
            config: Arc::new(Config::defaults()),
            rest: Rest::new(
                http_client(&token, Some("http://127.0.0.1:9")),
                Arc::new(LocalBudget::new(50)),
                Arc::clone(&metrics),
            ),
            clock: Arc::new(SystemClock),
            metrics,
            shards: Arc::new(ShardStatus::new(1, [0])),
            application_id: Id::new(1),
            bot_user_id: Id::new(2),
            started_at: Instant::now(),
            store,
            guild_configs: GuildConfigs::new(),
            guild_cache: Arc::new(GuildCache::builder().build()),
            cooldowns: Arc::new(InProcessCooldowns::new()),
            guild_refills: Default::default(),
        });
        let registry = Arc::new(
            build_registry(
                Arc::clone(&services.store),
                Arc::clone(&rules),
                Arc::clone(&analytics),
            )
            .expect("registry"),
        );
        let dispatcher = Dispatcher::new(Arc::clone(&services), registry)
            .observe(Arc::clone(&analytics) as Arc<dyn CommandObserver>);
        let automod = Arc::new(AutomodRunner::new(
            Automod::new(rules, Arc::new(LocalCounters::new())),
            Arc::clone(&services),
            Arc::clone(&analytics),
        ));
        let router = Router::new(dispatcher, automod, analytics);
        (services, router)
    });
    let frames: Vec<String> = (0..1_000).map(frame).collect();
    let handle = |router: &Router, frame: &str| {
        let event: Event = parse(frame.to_owned(), EventTypeFlags::all())
            .expect("parses")
            .expect("wanted")
            .into();
        services
            .metrics
            .events
            .get_or_create(&EventLabels {
                shard: 0,
                event: "MESSAGE_CREATE".to_owned(),
            })
            .inc();
        router.handle(0, event);
    };
    // Warm up: every guild's configuration is read from the store once and cached.
    rt.block_on(async {
        for f in &frames {
            handle(&router, f);
        }
        drain(&router).await;
    });

    let mut group = c.benchmark_group("message_create");
    group.throughput(Throughput::Elements(1));
    let mut i = 0usize;
    group.bench_function("parse", |b| {
        b.iter(|| {
            i = (i + 1) % frames.len();
            black_box(parse(frames[i].clone(), EventTypeFlags::all()).expect("parses"))
        });
    });
    group.bench_function("parse_route_and_handle", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for n in 0..iters {
                    handle(&router, &frames[n as usize % frames.len()]);
                    if n % 256 == 255 {
                        drain(&router).await;
                    }
                }
                drain(&router).await;
                start.elapsed()
            })
        });
    });
    group.finish();
    assert!(
        !services.metrics.render().contains("kyuta_commands_total{"),
        "no message was taken for a command"
    );
}

/// Lets every spawned handler (automod, dispatcher) run to completion.
async fn drain(router: &Router) {
    while router.in_flight() > 0 {
        tokio::task::yield_now().await;
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
