//! Slash commands registered in a development guild (`KYUTA_GUILD_ID`) are removed from it once
//! the worker runs without `KYUTA_GUILD_ID`, so members do not see every command twice.

use std::time::Duration;

use kyuta_crds::contract::redis_keys;
use kyuta_sim::{Sim, SimConfig};
use kyuta_tests::worker::{WorkerProcess, redis_forget_cluster, sim_worker_env};
use serde_json::Value;

const TOKEN: &str = "MTIz.dev-guild-test-token.c3VwZXJzZWNyZXQ";
const CLUSTER: &str = "dev-guild-commands";

/// `GET /applications/{app}[/guilds/{guild}]/commands` as the bot.
async fn commands(sim: &Sim, guild: Option<u64>) -> Vec<Value> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = sim.world().application_id;
    let path = match guild {
        Some(g) => format!("/api/v10/applications/{app}/guilds/{g}/commands"),
        None => format!("/api/v10/applications/{app}/commands"),
    };
    let mut stream = tokio::net::TcpStream::connect(sim.addr()).await.unwrap();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bot {TOKEN}\r\nConnection: close\r\n\r\n",
        sim.addr()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{path}: {text}");
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guild_copies_are_removed_when_guild_id_is_unset() {
    redis_forget_cluster(CLUSTER).await;
    let mut con = kyuta_tests::redis_connection().await;
    let sim = Sim::start(SimConfig {
        token: TOKEN.into(),
        guilds: 1,
        identify_window: Duration::from_millis(200),
        ..SimConfig::default()
    })
    .await
    .expect("start the simulator");
    let guild = sim.world().guild_id(0);
    let dir = tempfile::tempdir().unwrap();
    let mut env = sim_worker_env(&sim, TOKEN, dir.path());
    env.insert("REDIS_URL".into(), kyuta_tests::redis_url());
    env.insert("KYUTA_CLUSTER".into(), CLUSTER.into());
    env.insert("KYUTA_IDENTIFY_WINDOW_MS".into(), "200".into());

    // Development: the commands go to the guild only.
    env.insert("KYUTA_GUILD_ID".into(), guild.to_string());
    let mut dev = WorkerProcess::spawn("dev", dir.path(), &env);
    dev.wait_ready(Duration::from_secs(60)).await;
    assert!(
        !commands(&sim, Some(guild)).await.is_empty(),
        "registered in the guild"
    );
    assert!(commands(&sim, None).await.is_empty(), "not globally");
    dev.sigterm();
    assert!(dev.wait_exit(Duration::from_secs(30)).await.success());

    // Production: global commands, and the guild's copies are gone. (The registration lock
    // of the first run lives 5 minutes; a fleet started later finds none.)
    let _: () = redis::cmd("DEL")
        .arg(redis_keys::command_registration(CLUSTER))
        .query_async(&mut con)
        .await
        .unwrap();
    env.remove("KYUTA_GUILD_ID");
    let mut prod = WorkerProcess::spawn("prod", dir.path(), &env);
    prod.wait_ready(Duration::from_secs(60)).await;
    let end = std::time::Instant::now() + Duration::from_secs(20);
    while commands(&sim, None).await.is_empty() {
        assert!(
            std::time::Instant::now() < end,
            "no global commands: {}",
            prod.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        commands(&sim, Some(guild)).await.is_empty(),
        "the guild's copies were removed; logs:\n{}",
        prod.logs()
    );
    let record: Option<u64> = redis::cmd("GET")
        .arg(redis_keys::dev_guild_commands(CLUSTER))
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(record, None);
    prod.sigterm();
    assert!(prod.wait_exit(Duration::from_secs(30)).await.success());
    redis_forget_cluster(CLUSTER).await;
    sim.shutdown().await;
}
