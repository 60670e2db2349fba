//! The `kyuta-worker` binary's configuration errors: an invalid setting stops it with exit
//! code 2 and one line naming the setting; the token never appears in its output, whether
//! the configuration is refused, a server is unreachable or Discord refuses the token.

use std::collections::BTreeMap;
use std::time::Duration;

use kyuta_sim::{Sim, SimConfig};
use kyuta_tests::worker::{WorkerRun, free_port, run_worker_to_exit, sim_worker_env};

const TOKEN: &str = "MTIz.config-test-token.c3VwZXJzZWNyZXQ";

fn base_env() -> BTreeMap<String, String> {
    BTreeMap::from([
        ("DISCORD_TOKEN".to_owned(), TOKEN.to_owned()),
        ("KYUTA_METRICS_PORT".to_owned(), free_port().to_string()),
        ("KYUTA_HEALTH_PORT".to_owned(), free_port().to_string()),
        ("KYUTA_BIND_ADDRESS".to_owned(), "127.0.0.1".to_owned()),
    ])
}

fn assert_no_secret(run: &WorkerRun, secret: &str, what: &str) {
    assert!(
        !run.stdout.contains(secret) && !run.stderr.contains(secret),
        "{what}: the secret appears in the output:\nstdout: {}\nstderr: {}",
        run.stdout,
        run.stderr
    );
}

/// Exit code 2, nothing on stdout, exactly one line on stderr naming `setting`.
fn assert_refused(run: &WorkerRun, setting: &str, what: &str) {
    assert_eq!(
        run.code,
        Some(2),
        "{what}: exit code\nstdout: {}\nstderr: {}",
        run.stdout,
        run.stderr
    );
    assert_eq!(run.stdout, "", "{what}: stdout");
    let lines: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert_eq!(
        lines.len(),
        1,
        "{what}: one line on stderr, got: {}",
        run.stderr
    );
    assert!(
        lines[0].contains(&format!(" {setting}:")),
        "{what}: the message names {setting}: {}",
        lines[0]
    );
    assert_no_secret(run, TOKEN, what);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_settings_exit_2_naming_the_setting() {
    let cases: &[(&str, &str, &str)] = &[
        ("KYUTA_SHARD_COUNT", "lots", "KYUTA_SHARD_COUNT"),
        ("KYUTA_SHARD_COUNT", "0", "KYUTA_SHARD_COUNT"),
        ("KYUTA_PREFIX", "k !", "KYUTA_PREFIX"),
        (
            "KYUTA_DISCORD_API_URL",
            "ftp://127.0.0.1:1",
            "KYUTA_DISCORD_API_URL",
        ),
        (
            "KYUTA_DISCORD_GATEWAY_URL",
            "http://127.0.0.1:1",
            "KYUTA_DISCORD_GATEWAY_URL",
        ),
        ("KYUTA_METRICS_PORT", "99999", "KYUTA_METRICS_PORT"),
        ("KYUTA_LOG_LEVEL", "kyuta=[[", "KYUTA_LOG_LEVEL"),
        (
            "KYUTA_MAX_CONCURRENT_COMMANDS",
            "0",
            "KYUTA_MAX_CONCURRENT_COMMANDS",
        ),
        ("REDIS_URL", "127.0.0.1:6379", "REDIS_URL"),
        ("KYUTA_CLUSTER", "Not_A_Name", "KYUTA_CLUSTER"),
        ("KYUTA_SHARDS_PER_POD", "0", "KYUTA_SHARDS_PER_POD"),
        (
            "KYUTA_IDENTIFY_WINDOW_MS",
            "soon",
            "KYUTA_IDENTIFY_WINDOW_MS",
        ),
        ("KYUTA_FEATURES", "a b", "KYUTA_FEATURES"),
        (
            "KYUTA_PRIVILEGED_INTENTS",
            "presences",
            "KYUTA_PRIVILEGED_INTENTS",
        ),
        ("KYUTA_CLIENT_ID", "me", "KYUTA_CLIENT_ID"),
        ("KYUTA_PRESENCE", "servers", "KYUTA_PRESENCE"),
        ("KYUTA_PRESENCE", "watching:{guild}", "KYUTA_PRESENCE"),
        ("KYUTA_PRESENCE_STATUS", "away", "KYUTA_PRESENCE_STATUS"),
        (
            "KYUTA_PRESENCE_INTERVAL_SECS",
            "1",
            "KYUTA_PRESENCE_INTERVAL_SECS",
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (var, value, setting) in cases {
        let mut env = base_env();
        env.insert((*var).to_owned(), (*value).to_owned());
        let run = run_worker_to_exit(dir.path(), &env, &[], Duration::from_secs(30)).await;
        assert_refused(&run, setting, &format!("{var}={value}"));
    }

    // Settings that are fine alone but not together.
    let mut env = base_env();
    env.insert("KYUTA_SHARD_COUNT".into(), "8".into());
    env.insert("KYUTA_SHARDS_PER_POD".into(), "4".into());
    env.insert("KYUTA_POD_ORDINAL".into(), "2".into());
    let run = run_worker_to_exit(dir.path(), &env, &[], Duration::from_secs(30)).await;
    assert_refused(&run, "KYUTA_POD_ORDINAL", "ordinal past the last pod");

    let mut env = base_env();
    env.insert("KYUTA_SHARDS_PER_POD".into(), "4".into());
    env.insert("KYUTA_POD_NAME".into(), "kyuta-worker".into());
    let run = run_worker_to_exit(dir.path(), &env, &[], Duration::from_secs(30)).await;
    assert_refused(&run, "KYUTA_POD_NAME", "pod name without an ordinal");

    let mut env = base_env();
    let port = free_port().to_string();
    env.insert("KYUTA_METRICS_PORT".into(), port.clone());
    env.insert("KYUTA_HEALTH_PORT".into(), port);
    let run = run_worker_to_exit(dir.path(), &env, &[], Duration::from_secs(30)).await;
    assert_refused(&run, "KYUTA_HEALTH_PORT", "one port for metrics and health");

    // A flag is named by its environment variable too.
    let run = run_worker_to_exit(
        dir.path(),
        &base_env(),
        &["--shard-count", "lots"],
        Duration::from_secs(30),
    )
    .await;
    assert_refused(&run, "KYUTA_SHARD_COUNT", "--shard-count lots");

    // A .env file in the working directory is read like the environment.
    std::fs::write(dir.path().join(".env"), "KYUTA_PREFIX=\"a b\"\n").unwrap();
    let run = run_worker_to_exit(dir.path(), &base_env(), &[], Duration::from_secs(30)).await;
    assert_refused(&run, "KYUTA_PREFIX", ".env with KYUTA_PREFIX=\"a b\"");
    std::fs::remove_file(dir.path().join(".env")).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_is_never_printed() {
    let dir = tempfile::tempdir().unwrap();

    // Missing: named, exit 2.
    let mut env = base_env();
    env.remove("DISCORD_TOKEN");
    let run = run_worker_to_exit(dir.path(), &env, &[], Duration::from_secs(30)).await;
    assert_refused(&run, "DISCORD_TOKEN", "no token");

    // Malformed: named, its value not echoed.
    let mut env = base_env();
    let bad = format!("{TOKEN} trailing-words");
    env.insert("DISCORD_TOKEN".into(), bad.clone());
    let run = run_worker_to_exit(dir.path(), &env, &[], Duration::from_secs(30)).await;
    assert_refused(&run, "DISCORD_TOKEN", "token with whitespace");
    assert_no_secret(&run, "trailing-words", "token with whitespace");

    // Given as a flag with another setting wrong: the error is about the other setting.
    let mut env = base_env();
    env.remove("DISCORD_TOKEN");
    env.insert("KYUTA_SHARD_COUNT".into(), "-3".into());
    let run = run_worker_to_exit(
        dir.path(),
        &env,
        &["--discord-token", TOKEN],
        Duration::from_secs(30),
    )
    .await;
    assert_refused(
        &run,
        "KYUTA_SHARD_COUNT",
        "--discord-token with KYUTA_SHARD_COUNT=-3",
    );

    // Redis unreachable, with a password in its URL: a startup error (exit 1) naming
    // REDIS_URL, neither the token nor the password in it.
    let mut env = base_env();
    let port = free_port();
    env.insert(
        "REDIS_URL".into(),
        format!("redis://kyuta:hunter2-redis-pw@127.0.0.1:{port}"),
    );
    env.insert("KYUTA_LOG_LEVEL".into(), "debug".into());
    // A name from before the KYUTA_ prefix is not read, and the worker says which name to use.
    env.insert("SHARD_COUNT".into(), "8".into());
    let run = run_worker_to_exit(dir.path(), &env, &[], Duration::from_secs(60)).await;
    assert_eq!(
        run.code,
        Some(1),
        "stdout: {}\nstderr: {}",
        run.stdout,
        run.stderr
    );
    assert!(run.stderr.contains("REDIS_URL"), "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "SHARD_COUNT is set but no longer read: the setting is now KYUTA_SHARD_COUNT"
        ),
        "{}",
        run.stderr
    );
    assert_no_secret(&run, TOKEN, "Redis unreachable");
    assert_no_secret(&run, "hunter2-redis-pw", "Redis unreachable");

    // Discord (the simulator) refuses the token: exit 1, the token not printed even at the
    // most verbose log level.
    let sim = Sim::start(SimConfig {
        token: "the-simulator-wants-another-token".into(),
        guilds: 1,
        ..SimConfig::default()
    })
    .await
    .expect("start the simulator");
    let mut env = sim_worker_env(&sim, TOKEN, dir.path());
    env.insert("KYUTA_LOG_LEVEL".into(), "trace".into());
    let run = run_worker_to_exit(dir.path(), &env, &[], Duration::from_secs(60)).await;
    assert_eq!(
        run.code,
        Some(1),
        "stdout: {}\nstderr: {}",
        run.stdout,
        run.stderr
    );
    assert!(
        run.stderr.contains("DISCORD_TOKEN"),
        "the error says which setting to check: {}",
        run.stderr
    );
    assert_no_secret(&run, TOKEN, "token refused by the gateway");
    sim.shutdown().await;
}
