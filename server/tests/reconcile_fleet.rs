//! The reconciler in running servers, killed outright (SIGKILL) mid-way: an instance without
//! Redis restarted finds what it signed before on disk and reconciles it; two instances sharing
//! Redis (on Garage), the lease holder killed mid-round, the other takes over, and every grant
//! gets exactly one verdict. Forms expire after 30 s (the shortest policy) with a grace of 1 s,
//! so each test takes about a minute. The Garage test runs from `scripts/test.sh`
//! (`cargo test --test reconcile_fleet -- --ignored`), with the cluster up.

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::buckets::post_form;
use common::instance::{free_port, Instance};
use common::redis::Redis;
use server::uploads::pending::{Outcome, VerdictLine};

/// A directory of the test's own, removed when it ends (passed or not).
fn scratch() -> tempfile::TempDir {
    tempfile::Builder::new().prefix("reconcile-fleet-").tempdir().unwrap()
}

const VERIFIED_BY_RECONCILER: &str =
    "upload_verdicts_total{verdict=\"verified\",by=\"reconciler\"}";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_without_redis_killed_and_restarted_reconciles_what_it_signed() {
    let dir = scratch();
    let settings = [
        ("UPLOAD_DEV_DATA_DIR", dir.path().join("data").display().to_string()),
        ("UPLOAD_STATE_DIR", dir.path().join("state").display().to_string()),
        ("UPLOAD_DEV_BUCKET_ADDR", format!("127.0.0.1:{}", free_port())),
    ];
    let log = dir.path().join("server.log");
    let mut first = Instance::start(&settings, &log);
    let mut keys = Vec::new();
    for name in ["one.txt", "two.txt"] {
        let (url, key, fields) = first.sign(name).await;
        let (status, answer) = post_form(&url, &fields, name, b"kept").await;
        assert_eq!(status, 201, "{answer}");
        keys.push(key);
    }
    // Killed outright a moment after signing (each record is written within a commit or two).
    tokio::time::sleep(Duration::from_millis(300)).await;
    first.child.kill().unwrap();
    first.child.wait().unwrap();

    let again = Instance::start(&settings, &log);
    let deadline = Instant::now() + Duration::from_secs(60);
    while again.metric(VERIFIED_BY_RECONCILER).await < 2.0 {
        assert!(Instant::now() < deadline, "not reconciled after the restart:\n{}", again.tail());
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    for key in &keys {
        again.logged(&["upload_verdict", key], 1).await;
    }
    // A second verdict, had there been one, would have been logged by now.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let log = std::fs::read_to_string(&log).unwrap();
    for key in &keys {
        let verdicts = log
            .lines()
            .filter(|l| l.contains("upload_verdict") && l.contains(key.as_str()))
            .count();
        assert_eq!(verdicts, 1, "one verdict for {key}");
    }
    drop(again);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Garage: scripts/test.sh runs it with its cluster up"]
async fn the_lease_holder_killed_mid_round_is_taken_over_and_each_grant_gets_one_verdict() {
    let Some(redis) = Redis::start() else { return };
    let dir = scratch();
    let mut settings: Vec<(&str, String)> = [
        "UPLOAD_BUCKET",
        "AWS_REGION",
        "AWS_ENDPOINT_URL_S3",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
    ]
    .into_iter()
    .map(|n| (n, std::env::var(n).unwrap_or_else(|_| panic!("{n}: run with Garage up"))))
    .collect();
    settings.push(("UPLOAD_REDIS_URL", redis.url()));
    settings.push(("UPLOAD_SESSION_SECRET", "7".repeat(64)));
    let mut instances: Vec<(String, Option<Instance>)> = ["a", "b"]
        .into_iter()
        .map(|name| {
            let mut own = settings.clone();
            own.push(("UPLOAD_INSTANCE_ID", name.into()));
            (name.to_owned(), Some(Instance::start(&own, &dir.path().join(format!("{name}.log")))))
        })
        .collect();

    // Many grants, each POSTed (so that each is checked, not left for its receipt's expiry).
    const GRANTS: usize = 300;
    let signer = instances[0].1.as_ref().unwrap();
    let mut keys = HashSet::new();
    for i in 0..GRANTS {
        let (url, key, fields) = signer.sign(&format!("f{i}.txt")).await;
        let (status, answer) = post_form(&url, &fields, "f.txt", b"fact").await;
        assert_eq!(status, 201, "{answer}");
        keys.insert(key);
    }

    // As soon as the first verdicts are in, the lease holder is killed.
    let client = redis::Client::open(redis.url()).unwrap();
    let mut redis_conn = client.get_multiplexed_async_connection().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    let given_before_kill = loop {
        let given: usize =
            redis::cmd("XLEN").arg("s3up:verdicts").query_async(&mut redis_conn).await.unwrap();
        if given > 0 {
            break given;
        }
        assert!(Instant::now() < deadline, "no verdict within 90 s");
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    let holder: String =
        redis::cmd("GET").arg("s3up:reconciler").query_async(&mut redis_conn).await.unwrap();
    let killed = instances
        .iter_mut()
        .find(|(name, _)| holder.starts_with(&format!("{name}-")))
        .unwrap_or_else(|| panic!("the lease is held by {holder:?}"));
    let name = killed.0.clone();
    drop(killed.1.take());
    let given_at_kill: usize =
        redis::cmd("XLEN").arg("s3up:verdicts").query_async(&mut redis_conn).await.unwrap();
    assert!(
        given_at_kill < GRANTS,
        "{name} finished the round before it was killed ({given_before_kill} then {given_at_kill})"
    );

    // The other takes the lease over when it expires (15 s), and the check the killed one was
    // making with it, and finishes.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let given: usize =
            redis::cmd("XLEN").arg("s3up:verdicts").query_async(&mut redis_conn).await.unwrap();
        let due: usize =
            redis::cmd("ZCARD").arg("s3up:pending:due").query_async(&mut redis_conn).await.unwrap();
        if given >= GRANTS && due == 0 {
            break;
        }
        let survivor = instances.iter().find_map(|(_, i)| i.as_ref()).unwrap();
        assert!(
            Instant::now() < deadline,
            "{given} verdicts, {due} records due:\n{}",
            survivor.tail()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let rows: Vec<(String, Vec<String>)> = redis::cmd("XRANGE")
        .arg("s3up:verdicts")
        .arg("-")
        .arg("+")
        .query_async(&mut redis_conn)
        .await
        .unwrap();
    let mut seen = HashSet::new();
    for (_, fields) in rows {
        let line: VerdictLine = serde_json::from_str(&fields[1]).unwrap();
        assert_eq!(line.verdict, Outcome::Verified, "{line:?}");
        assert!(seen.insert(line.key.clone()), "checked twice: {}", line.key);
    }
    assert_eq!(seen, keys, "every grant got its verdict, and only those");
    // The survivor took the lease over.
    let survivor = instances.iter().find_map(|(_, i)| i.as_ref()).unwrap();
    survivor.logged(&["reconciler_lease_taken"], 1).await;
    drop(instances);
}
