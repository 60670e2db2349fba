//! Commands through the real `kyuta-worker` binary and the simulator: slash and prefix
//! answers, bad arguments, permission refusals, and the per-user cooldown, within one worker
//! and shared through Redis by two.

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

async fn commands_total(worker: &WorkerProcess, command: &str, outcome: &str) -> f64 {
    metric_samples(&worker.metrics().await, "kyuta_commands_total")
        .into_iter()
        .filter(|(l, _)| l["command"] == command && l["outcome"] == outcome)
        .map(|(_, v)| v)
        .sum()
}

struct Setup {
    sim: Sim,
    control: SimControl,
    worker: WorkerProcess,
    cast: GuildCast,
    cluster: String,
    _dir: tempfile::TempDir,
}

async fn start_sim(shards: u32, guilds: u64) -> Sim {
    Sim::start(SimConfig {
        token: TOKEN.into(),
        guilds,
        recommended_shards: shards,
        members_per_guild: 10,
        heartbeat_interval: Duration::from_millis(1000),
        identify_window: Duration::from_millis(500),
        // Routes without a limit of their own (GET /users/@me, /applications/@me, command
        // registration, member reads; 5 per window by default) get 50: the workers of one test
        // call them more often than one bot at rest would. The routes Discord limits on their
        // own (messages, bans, member edits, DMs) keep their real limits.
        route_limit: 50,
        ..SimConfig::default()
    })
    .await
    .expect("start the simulator")
}

/// A worker of `cluster` (sharing Redis) against `sim`; `ordinal` picks one shard of several.
fn worker_env(
    sim: &Sim,
    dir: &std::path::Path,
    cluster: &str,
    ordinal: Option<u32>,
) -> std::collections::BTreeMap<String, String> {
    let mut env = sim_worker_env(sim, TOKEN, dir);
    env.insert("REDIS_URL".into(), redis_url());
    env.insert("KYUTA_CLUSTER".into(), cluster.into());
    env.insert("KYUTA_IDENTIFY_WINDOW_MS".into(), "500".into());
    if let Some(ordinal) = ordinal {
        env.insert("KYUTA_SHARDS_PER_POD".into(), "1".into());
        env.insert("KYUTA_POD_ORDINAL".into(), ordinal.to_string());
        env.insert(
            "KYUTA_STORE_PATH".into(),
            dir.join(format!("kyuta-{ordinal}.redb"))
                .display()
                .to_string(),
        );
    }
    env
}

async fn setup() -> Setup {
    let sim = start_sim(1, 2).await;
    let dir = tempfile::tempdir().unwrap();
    let cluster = unique_name("cmds");
    let env = worker_env(&sim, dir.path(), &cluster, None);
    let mut worker = WorkerProcess::spawn("w", dir.path(), &env);
    worker.wait_ready(Duration::from_secs(90)).await;
    let cast = GuildCast::of(&sim, sim.world().guild_id(0));
    assert!(cast.members.len() >= 3, "{cast:?}");
    // The server's admins let every member run Kyuta's commands (Server Settings →
    // Integrations): otherwise Discord hides /kick from a member without Kick Members, and
    // the worker's own refusals could not be reached.
    let (status, body) = kyuta_tests::worker::http(
        sim.addr(),
        "PUT",
        &format!("/_sim/guilds/{}/commands/permissions", cast.guild),
        Some(&json!({"permissions": [{"id": cast.guild.to_string(), "type": 1, "permission": true}]})),
    )
    .await;
    assert_eq!(status, 200, "command permissions: {body}");
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
        commands_total(&self.worker, command, outcome).await
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permission_refusals_via_slash_and_prefix() {
    let s = setup().await;
    let (member, target) = (s.cast.members[0], s.cast.members[1]);
    let moderator = s.cast.moderator.expect("the guild has a moderator");
    let is_member = |u: u64| s.sim.guild(s.cast.guild).unwrap().members.contains_key(&u);

    // A member without Kick Members: refused, ephemerally, naming the permission.
    let slash = s
        .slash(
            member,
            "kick",
            json!({"user": target.to_string(), "reason": "test"}),
        )
        .await;
    let text = shown_text(&slash["response"]);
    assert!(
        text.contains("you need the kick members permission"),
        "{slash}"
    );
    assert_eq!(slash["response"]["data"]["flags"], json!(64), "{slash}");
    let text = shown_text(&s.prefix(member, &format!("k!kick <@{target}> test")).await);
    assert!(
        text.contains("you need the kick members permission"),
        "{text}"
    );
    assert!(is_member(target), "a refused kick removed the member");

    // A member whose Discord client is in German is refused in German.
    let kick = json!({"user": target.to_string(), "reason": "test"});
    let slash_in = |user: u64, name: &'static str, options: Value, locale: &'static str| {
        let control = s.control;
        let (guild, channel) = (s.cast.guild, s.cast.general);
        async move {
            let id = control
                .slash_in(guild, channel, user, name, options, locale)
                .await;
            control.wait_answer(&id, ANSWER).await
        }
    };
    let de = slash_in(member, "kick", kick.clone(), "de").await;
    assert!(
        shown_text(&de["response"]).contains("du brauchst die Berechtigung kick members"),
        "{de}"
    );
    // The server's language answers prefix commands, and members whose language Kyuta
    // does not speak; only Manage Server may set it.
    let refused = s.slash(member, "language", json!({"locale": "fr"})).await;
    assert!(
        shown_text(&refused["response"]).contains("you need the manage server permission"),
        "{refused}"
    );
    let set = s
        .slash(s.cast.owner, "language", json!({"locale": "fr"}))
        .await;
    assert!(
        shown_text(&set["response"]).contains("La langue de ce serveur est maintenant Français"),
        "{set}"
    );
    let text = shown_text(&s.prefix(member, &format!("k!kick <@{target}> test")).await);
    assert!(
        text.contains("il vous faut la permission kick members"),
        "{text}"
    );
    let ja = slash_in(member, "kick", kick, "ja").await;
    assert!(
        shown_text(&ja["response"]).contains("il vous faut la permission kick members"),
        "{ja}"
    );

    // The moderator has it: the same command goes through.
    let done = s
        .slash(
            moderator,
            "kick",
            json!({"user": target.to_string(), "reason": "test"}),
        )
        .await;
    assert!(
        !shown_text(&done["response"]).contains("you need"),
        "the moderator was refused: {done}"
    );
    let end = std::time::Instant::now() + ANSWER;
    while is_member(target) {
        assert!(
            std::time::Instant::now() < end,
            "the moderator's kick did not happen: {done}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(s.commands_total("kick", "forbidden").await, 5.0);
    assert_eq!(s.commands_total("language", "forbidden").await, 1.0);
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cooldown_is_shared_by_two_workers_through_redis() {
    // Two shards, one worker each; a user who is in a guild on each shard pings in both.
    let sim = start_sim(2, 8).await;
    let control = SimControl::new(sim.addr());
    let dir = tempfile::tempdir().unwrap();
    let cluster = unique_name("cmds");
    let guild_on = |shard: u32| {
        (0..8)
            .map(|n| sim.world().guild_id(n))
            .find(|g| kyuta_tests::worker::shard_of(*g, 2) == shard)
            .unwrap_or_else(|| panic!("no guild on shard {shard}"))
    };
    let (a, b) = (
        GuildCast::of(&sim, guild_on(0)),
        GuildCast::of(&sim, guild_on(1)),
    );
    let user = a.members[0];
    control
        .post(
            &format!("/guilds/{}/members", b.guild),
            json!({"user_id": user.to_string()}),
        )
        .await;
    let mut w0 = WorkerProcess::spawn(
        "w0",
        dir.path(),
        &worker_env(&sim, dir.path(), &cluster, Some(0)),
    );
    let mut w1 = WorkerProcess::spawn(
        "w1",
        dir.path(),
        &worker_env(&sim, dir.path(), &cluster, Some(1)),
    );
    w0.wait_ready(Duration::from_secs(90)).await;
    w1.wait_ready(Duration::from_secs(90)).await;

    let first = control
        .slash(a.guild, a.general, user, "ping", json!({}))
        .await;
    let first = control.wait_answer(&first, ANSWER).await;
    assert!(shown_text(&first["response"]).contains("Pong!"), "{first}");
    let second = control
        .slash(b.guild, b.general, user, "ping", json!({}))
        .await;
    let second = control.wait_answer(&second, ANSWER).await;
    assert!(
        shown_text(&second["response"]).contains("slow down"),
        "the other worker did not see the cooldown: {second}"
    );
    // Each worker answered its own shard's guild.
    assert_eq!(commands_total(&w0, "ping", "ok").await, 1.0);
    assert_eq!(commands_total(&w1, "ping", "cooldown").await, 1.0);
    assert_eq!(commands_total(&w1, "ping", "ok").await, 0.0);

    for w in [&mut w0, &mut w1] {
        assert!(
            !w.logs().contains(TOKEN),
            "the token appears in the output of {}",
            w.name
        );
        w.sigterm();
        assert!(w.wait_exit(Duration::from_secs(30)).await.success());
    }
    redis_forget_cluster(&cluster).await;
    sim.shutdown().await;
}
