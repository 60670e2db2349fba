//! Privileged intents not enabled for the application (the simulator's
//! `--no-privileged-intents`):
//! - left on `auto`, the worker reads the application's flags, identifies without them and
//!   serves with less, saying so once at start;
//! - told to ask for them, it is closed with 4014 for good: it says why and what fixes it,
//!   exits non-zero, records the close (the shard's load carries the code for the operator),
//!   and the next process waits out a growing back-off before it identifies that shard again.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kyuta_crds::contract::{fatal_fields, load_fields, redis_keys};
use kyuta_sim::{Sim, SimConfig};
use kyuta_tests::worker::{
    GuildCast, SimControl, WorkerProcess, http, redis_forget_cluster, run_worker_to_exit,
    sim_worker_env,
};

const TOKEN: &str = "MTIz.fatal-close-test-token.c3VwZXJzZWNyZXQ";
const CLUSTER: &str = "fatal-close";

fn closes_4014(sim: &Sim) -> u64 {
    sim.stats().stats.closes.get(&4014).copied().unwrap_or(0)
}

async fn fatal_record(
    con: &mut redis::aio::MultiplexedConnection,
) -> (Option<u16>, Option<u64>, Option<u32>) {
    redis::cmd("HMGET")
        .arg(redis_keys::shard_fatal(CLUSTER, 1, 0))
        .arg(fatal_fields::CODE)
        .arg(fatal_fields::AT_MS)
        .arg(fatal_fields::STRIKES)
        .query_async(con)
        .await
        .expect("read the fatal record")
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disallowed_intents_exit_non_zero_naming_the_fix_and_back_off() {
    redis_forget_cluster(CLUSTER).await;
    let mut con = kyuta_tests::redis_connection().await;
    let sim = Sim::start(SimConfig {
        token: TOKEN.into(),
        guilds: 1,
        privileged_intents: false,
        identify_window: Duration::from_millis(200),
        ..SimConfig::default()
    })
    .await
    .expect("start the simulator");
    let dir = tempfile::tempdir().unwrap();
    let mut env = sim_worker_env(&sim, TOKEN, dir.path());
    env.insert("REDIS_URL".into(), kyuta_tests::redis_url());
    env.insert("KYUTA_CLUSTER".into(), CLUSTER.into());
    env.insert("KYUTA_IDENTIFY_WINDOW_MS".into(), "200".into());
    env.insert("KYUTA_REGISTER_COMMANDS".into(), "false".into());
    env.insert(
        "KYUTA_PRIVILEGED_INTENTS".into(),
        "members,message_content".into(),
    );

    // First run: 4014, exit 1, the cause and the fix in the output.
    let run = run_worker_to_exit(dir.path(), &env, &[], Duration::from_secs(60)).await;
    let out = format!("{}{}", run.stdout, run.stderr);
    assert_eq!(run.code, Some(1), "exit code; output:\n{out}");
    assert!(out.contains("close code 4014"), "{out}");
    assert!(
        out.contains(
            "enable the Message Content and Server Members intents in the Developer Portal"
        ),
        "the fix is named: {out}"
    );
    assert!(!out.contains(TOKEN), "the token is never printed");
    assert!(
        !out.contains('\x1b'),
        "no ANSI colour codes when the output is not a terminal: {out}"
    );
    assert_eq!(closes_4014(&sim), 1, "one identify refused");

    // Recorded for the next process, and in the shard's load for the operator.
    let (code, at, strikes) = fatal_record(&mut con).await;
    assert_eq!((code, strikes), (Some(4014), Some(1)));
    assert!(at.is_some_and(|at| now_ms() - at < 60_000));
    let load_code: Option<u16> = redis::cmd("HGET")
        .arg(redis_keys::shard_load(CLUSTER, 1, 0))
        .arg(load_fields::CLOSE_CODE)
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(load_code, Some(4014));

    // Second run, right after: it waits (not Ready, /ready says why; alive) and does not
    // identify; SIGTERM ends the wait cleanly.
    let mut second = WorkerProcess::spawn("second", dir.path(), &env);
    let end = std::time::Instant::now() + Duration::from_secs(30);
    let body = loop {
        if tokio::net::TcpStream::connect(second.health_addr)
            .await
            .is_ok()
        {
            let (status, body) = http(second.health_addr, "GET", "/ready", None).await;
            if body.contains("BackingOff") {
                assert_eq!(status, 503, "{body}");
                break body;
            }
        }
        assert!(
            std::time::Instant::now() < end,
            "no back-off seen; logs:\n{}",
            second.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(body.contains("4014"), "{body}");
    let (status, health) = http(second.health_addr, "GET", "/health", None).await;
    assert_eq!(status, 200, "waiting is alive: {health}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(closes_4014(&sim), 1, "no identify while backing off");
    assert!(
        second
            .logs()
            .contains("waiting before identifying it again"),
        "{}",
        second.logs()
    );
    second.sigterm();
    let status = second.wait_exit(Duration::from_secs(20)).await;
    assert!(
        status.success(),
        "a SIGTERM while backing off exits 0: {status}"
    );

    // Once the back-off has passed, the next process identifies again; a second fatal close
    // in a row doubles the next wait.
    let _: () = redis::cmd("HSET")
        .arg(redis_keys::shard_fatal(CLUSTER, 1, 0))
        .arg(fatal_fields::AT_MS)
        .arg(now_ms() - 31_000)
        .query_async(&mut con)
        .await
        .unwrap();
    let run = run_worker_to_exit(dir.path(), &env, &[], Duration::from_secs(60)).await;
    assert_eq!(run.code, Some(1), "{}{}", run.stdout, run.stderr);
    assert_eq!(closes_4014(&sim), 2);
    let (_, _, strikes) = fatal_record(&mut con).await;
    assert_eq!(strikes, Some(2));

    redis_forget_cluster(CLUSTER).await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_runs_without_the_privileged_intents_it_lacks() {
    let sim = Sim::start(SimConfig {
        token: TOKEN.into(),
        guilds: 1,
        privileged_intents: false,
        identify_window: Duration::from_millis(200),
        ..SimConfig::default()
    })
    .await
    .expect("start the simulator");
    let control = SimControl::new(sim.addr());
    let dir = tempfile::tempdir().unwrap();
    let mut env = sim_worker_env(&sim, TOKEN, dir.path());
    env.insert("KYUTA_IDENTIFY_WINDOW_MS".into(), "200".into());
    let mut worker = WorkerProcess::spawn("auto", dir.path(), &env);
    worker.wait_ready(Duration::from_secs(60)).await;

    // Identified without GUILD_MEMBERS (1 << 1) and MESSAGE_CONTENT (1 << 15).
    let stats = control.stats().await;
    let intents = stats["sessions"][0]["intents"].as_u64().expect("a session");
    assert_eq!(intents & ((1 << 1) | (1 << 15)), 0, "intents {intents:#b}");
    assert_eq!(sim.stats().stats.closes.get(&4014), None);
    let logs = worker.logs();
    assert_eq!(
        logs.matches("Message Content is not enabled").count(),
        1,
        "one warning at start: {logs}"
    );
    assert!(logs.contains("Server Members is not enabled"), "{logs}");
    let invite = format!(
        "https://discord.com/oauth2/authorize?client_id={}&scope=bot+applications.commands&permissions=1099780156566",
        sim.world().application_id
    );
    assert!(
        logs.contains(&invite),
        "the invite URL is logged at start: {logs}"
    );

    // Slash commands serve; prefix commands are off.
    let cast = GuildCast::of(&sim, sim.world().guild_id(0));
    let id = control
        .slash(
            cast.guild,
            cast.general,
            cast.owner,
            "ping",
            serde_json::json!({}),
        )
        .await;
    let answer = control.wait_answer(&id, Duration::from_secs(10)).await;
    assert_eq!(answer["response"]["type"], serde_json::json!(4), "{answer}");
    let msg = control
        .post_message(cast.general, cast.members[0], "k!ping")
        .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let replied = control
        .messages(cast.general)
        .await
        .into_iter()
        .any(|m| m["message_reference"]["message_id"] == msg["id"]);
    assert!(!replied, "k!ping is not answered without Message Content");

    worker.sigterm();
    assert!(worker.wait_exit(Duration::from_secs(30)).await.success());
    sim.shutdown().await;
}
