//! Commands through the real `kyuta-worker` binary and the simulator: slash and prefix
//! answers, bad arguments, and the per-user cooldown (within one worker: the dispatcher keeps
//! cooldowns in process).

use std::time::Duration;

use kyuta_sim::{Sim, SimConfig};
use kyuta_tests::worker::{
    GuildCast, SimControl, WorkerProcess, metric_samples, redis_forget_cluster, shown_text,
    sim_worker_env,
};
use kyuta_tests::{redis_url, unique_name};
use serde_json::{Value, json};

const TOKEN: &str = "commands-test-token-9a7e";
const ANSWER: Duration = Duration::from_secs(15);

struct Setup {
    sim: Sim,
    control: SimControl,
    worker: WorkerProcess,
    cast: GuildCast,
    cluster: String,
    _dir: tempfile::TempDir,
}

async fn setup() -> Setup {
    let sim = Sim::start(SimConfig {
        token: TOKEN.into(),
        guilds: 2,
        members_per_guild: 10,
        heartbeat_interval: Duration::from_millis(1000),
        identify_window: Duration::from_millis(500),
        route_limit: 50,
        ..SimConfig::default()
    })
    .await
    .expect("start the simulator");
    let dir = tempfile::tempdir().unwrap();
    let cluster = unique_name("cmds");
    let mut env = sim_worker_env(&sim, TOKEN, dir.path());
    env.insert("REDIS_URL".into(), redis_url());
    env.insert("KYUTA_CLUSTER".into(), cluster.clone());
    env.insert("KYUTA_IDENTIFY_WINDOW_MS".into(), "500".into());
    let mut worker = WorkerProcess::spawn("w", dir.path(), &env);
    worker.wait_ready(Duration::from_secs(90)).await;
    let cast = GuildCast::of(&sim, sim.world().guild_id(0));
    assert!(cast.members.len() >= 3, "{cast:?}");
    Setup {
        control: SimControl::new(sim.addr()),
        sim,
        worker,
        cast,
        cluster,
        _dir: dir,
    }
}

impl Setup {
    async fn slash(&self, user: u64, name: &str, options: Value) -> Value {
        let id = self
            .control
            .slash(self.cast.guild, self.cast.general, user, name, options)
            .await;
        self.control.wait_answer(&id, ANSWER).await
    }

    async fn prefix(&self, user: u64, content: &str) -> Value {
        let msg = self
            .control
            .post_message(self.cast.general, user, content)
            .await;
        self.control
            .wait_reply(self.cast.general, msg["id"].as_str().unwrap(), ANSWER)
            .await
    }

    async fn commands_total(&self, command: &str, outcome: &str) -> f64 {
        metric_samples(&self.worker.metrics().await, "kyuta_commands_total")
            .into_iter()
            .filter(|(l, _)| l["command"] == command && l["outcome"] == outcome)
            .map(|(_, v)| v)
            .sum()
    }

    async fn finish(mut self) {
        let logs = self.worker.logs();
        assert!(
            !logs.contains(TOKEN),
            "the token appears in the worker's output"
        );
        self.worker.sigterm();
        let status = self.worker.wait_exit(Duration::from_secs(30)).await;
        assert!(status.success(), "{status}");
        redis_forget_cluster(&self.cluster).await;
        self.sim.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_answer_via_slash_and_prefix() {
    let s = setup().await;
    let (owner, member) = (s.cast.owner, s.cast.members[0]);

    // /ping: an embed with the latencies and the shard, not ephemeral.
    let ping = s.slash(owner, "ping", json!({})).await;
    assert_eq!(ping["response"]["type"], json!(4), "{ping}");
    let text = shown_text(&ping["response"]);
    for part in [
        "Pong!", "Gateway", "REST", "Store", "Memory", "Uptime", "0/1",
    ] {
        assert!(text.contains(part), "/ping lacks {part:?}: {text}");
    }
    assert_ne!(ping["response"]["data"]["flags"], json!(64), "{ping}");

    // k!ping: the same embed as a reply to the message.
    let reply = s.prefix(member, "k!ping").await;
    let text = shown_text(&reply);
    assert!(text.contains("Pong!") && text.contains("0/1"), "{reply}");

    // k!help lists every command.
    let help = shown_text(&s.prefix(member, "k!help").await);
    for cmd in ["/ping", "/help", "/userinfo", "/serverinfo"] {
        assert!(help.contains(cmd), "k!help lacks {cmd}: {help}");
    }
    let one = shown_text(&s.slash(member, "help", json!({"command": "ping"})).await["response"]);
    assert!(
        one.contains("/ping") && one.contains("k!ping") && one.contains("3 s"),
        "{one}"
    );

    // /userinfo with a user option, and k!userinfo with a mention.
    let target = s.cast.members[1];
    let username = s.sim.guild(s.cast.guild).unwrap().members[&target]
        .user
        .username
        .clone();
    let info = shown_text(
        &s.slash(owner, "userinfo", json!({"user": target.to_string()}))
            .await["response"],
    );
    assert!(info.contains(&target.to_string()), "{info}");
    assert!(info.contains(&username), "{info}");
    let info = shown_text(&s.prefix(member, &format!("k!userinfo <@{owner}>")).await);
    assert!(info.contains(&owner.to_string()), "{info}");
    let own = shown_text(&s.prefix(target, "k!userinfo").await);
    assert!(
        own.contains(&target.to_string()),
        "userinfo defaults to the author: {own}"
    );

    // Bad arguments: said precisely.
    let bad = shown_text(&s.prefix(member, "k!userinfo bob").await);
    assert!(
        bad.contains("`user` must be") && bad.contains("`bob` is not"),
        "{bad}"
    );

    // /serverinfo names the guild.
    let name = s.sim.guild(s.cast.guild).unwrap().name;
    let server = shown_text(&s.slash(member, "serverinfo", json!({})).await["response"]);
    assert!(server.contains(&name), "{server}");

    assert_eq!(s.commands_total("ping", "ok").await, 2.0);
    assert_eq!(s.commands_total("userinfo", "ok").await, 3.0);
    assert_eq!(s.commands_total("userinfo", "bad_arguments").await, 1.0);
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cooldown_refuses_the_second_ping_of_a_user() {
    let s = setup().await;
    let (a, b) = (s.cast.members[0], s.cast.members[1]);

    let first = s.slash(a, "ping", json!({})).await;
    assert!(shown_text(&first["response"]).contains("Pong!"), "{first}");
    // Same user right away: refused, ephemerally, saying how long to wait.
    let again = s.slash(a, "ping", json!({})).await;
    let text = shown_text(&again["response"]);
    assert!(text.contains("slow down"), "{again}");
    assert!(!text.contains("Pong!"), "{again}");
    assert_eq!(again["response"]["data"]["flags"], json!(64), "{again}");
    // Prefix and slash share the cooldown.
    let prefixed = shown_text(&s.prefix(a, "k!ping").await);
    assert!(prefixed.contains("slow down"), "{prefixed}");
    // Another user is not affected.
    let other = shown_text(&s.slash(b, "ping", json!({})).await["response"]);
    assert!(other.contains("Pong!"), "{other}");
    // After the 3 s cooldown the first user may ping again.
    tokio::time::sleep(Duration::from_millis(3200)).await;
    let later = shown_text(&s.prefix(a, "k!ping").await);
    assert!(later.contains("Pong!"), "{later}");

    assert_eq!(s.commands_total("ping", "ok").await, 3.0);
    assert_eq!(s.commands_total("ping", "cooldown").await, 2.0);
    s.finish().await;
}
