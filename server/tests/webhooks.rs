//! Events, delivered at least once and never lost (issue #25), to a receiver that verifies each
//! delivery with the Standard Webhooks reference library and validates each event against the
//! schema in docs/events.md (`scripts/webhook-receiver.py`): through errors, an outage and a
//! receiver slower than the timeout; across a restart without Redis; from a fleet whose
//! delivering instance is killed (SIGKILL) mid-delivery; past a 410 that disables the endpoint
//! (its alert fires, `server webhooks enable` lifts it); across a secret rotation; after a
//! `Retry-After`; past its window, as a dead letter an operator replays; for every kind of
//! verdict; and to each profile's own endpoints, each signed with its own secret, one disabled
//! while the others go on. Running servers (the binary) on the dev bucket, except the last, which
//! drives the service in-process with its clock moved on.

mod common;

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use common::buckets::{etag_of, post_form, someone, text_file, Bucket, TestClock};
use common::instance::{free_port, Instance, Signed};
use common::receiver::Receiver;
use common::redis::Redis;
use serde_json::json;
use server::events::deliver::Deliverer;
use server::events::endpoint::Endpoint;
use server::events::route::Routes;
use server::events::signature::Secrets;
use server::state::State;

/// A `whsec_` secret of 32 bytes of `n`.
fn secret(n: u8) -> String {
    format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode([n; 32]))
}

/// A directory of the test's own, removed when it ends (passed or not).
fn scratch() -> tempfile::TempDir {
    tempfile::Builder::new().prefix("webhooks-").tempdir().unwrap()
}

/// An instance's settings: its own dev bucket and state under `dir`, files hashed and checked,
/// events to `receiver` signed with `secrets`, tried for `retry_secs`.
fn settings(
    dir: &std::path::Path,
    receiver: &Receiver,
    secrets: &str,
    retry_secs: u32,
) -> Vec<(&'static str, String)> {
    vec![
        ("UPLOAD_DEV_DATA_DIR", dir.join("data").display().to_string()),
        ("UPLOAD_STATE_DIR", dir.join("state").display().to_string()),
        ("UPLOAD_DEV_BUCKET_ADDR", format!("127.0.0.1:{}", free_port())),
        ("UPLOAD_CHECKSUM_MAX_BYTES", "1048576".into()),
        ("UPLOAD_WEBHOOK_URL", receiver.url()),
        ("UPLOAD_WEBHOOK_SECRET", secrets.into()),
        ("UPLOAD_WEBHOOK_RETRY_SECS", retry_secs.to_string()),
    ]
}

/// Signs `body` through `instance`, POSTs it to the bucket, and (if `confirm`) confirms it as the
/// page does.
async fn upload(instance: &Instance, name: &str, body: &[u8], confirm: bool) -> Signed {
    let signed = instance.sign_checked(name, body).await;
    let (status, answer) = post_form(&signed.url, &signed.fields, name, body).await;
    assert_eq!(status, 201, "{answer}");
    if confirm {
        let stored = instance.confirm(&signed, &etag_of(&answer)).await;
        assert_eq!(stored["key"], signed.key.as_str(), "{stored}");
    }
    signed
}

/// Waits until `instance`'s metric `series` reaches `at_least`.
async fn wait_metric(instance: &Instance, series: &str, at_least: f64, within: Duration) {
    let deadline = Instant::now() + within;
    while instance.metric(series).await < at_least {
        assert!(Instant::now() < deadline, "{series} < {at_least}:\n{}", instance.tail());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

const DELIVERED: &str = "upload_webhook_delivered_total{endpoint=\"default\"}";
const DISABLED: &str = "upload_webhook_endpoint_disabled{endpoint=\"default\"}";

/// The events `receiver` took, by the object's key: (type, by, checksum value).
fn by_key(receiver: &Receiver) -> BTreeMap<String, (String, String, String)> {
    receiver
        .taken()
        .into_values()
        .map(|event| {
            let data = &event["data"];
            (
                data["key"].as_str().unwrap_or_default().to_owned(),
                (
                    event["type"].as_str().unwrap_or_default().to_owned(),
                    data["by"].as_str().unwrap_or_default().to_owned(),
                    data["checksum"]["value"].as_str().unwrap_or_default().to_owned(),
                ),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_arrives_and_verifies_through_errors_an_outage_and_a_slow_receiver() {
    let first_tries = json!([{"status": 500, "times": 3}]);
    let Some(mut receiver) = Receiver::start_with(&[&secret(1)], first_tries) else { return };
    let dir = scratch();
    let instance = Instance::start(
        &settings(dir.path(), &receiver, &secret(1), 160),
        &dir.path().join("server.log"),
    );
    // One upload no browser confirms: the reconciler verifies it after its policy (30 s) and
    // the grace (1 s). Five confirmed by their browsers.
    let unconfirmed = upload(&instance, "unconfirmed.txt", b"nobody came back", false).await;
    let mut files = BTreeMap::new();
    for i in 0..5 {
        let signed =
            upload(&instance, &format!("f{i}.txt"), format!("file {i}").as_bytes(), true).await;
        files.insert(signed.key.clone(), signed.sha256.clone());
    }
    // The first tries are answered 500; then the receiver is down for 30 s.
    let deadline = Instant::now() + Duration::from_secs(20);
    while receiver.deliveries().iter().filter(|d| d.status == 500).count() < 3 {
        assert!(Instant::now() < deadline, "no 500s: {:#?}", receiver.deliveries());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    receiver.stop();
    tokio::time::sleep(Duration::from_secs(30)).await;
    // Back, and slower than the service waits (15 s) once; then well.
    receiver.restart_with(&[&secret(1)], json!([{"delay": 17, "times": 1}])).unwrap();
    wait_metric(&instance, DELIVERED, 6.0, Duration::from_secs(120)).await;

    let events = by_key(&receiver);
    for (key, sha) in &files {
        assert_eq!(
            events.get(key),
            Some(&("upload.verified".into(), "browser".into(), sha.clone())),
            "{key}"
        );
    }
    assert_eq!(
        events.get(&unconfirmed.key),
        Some(&("upload.verified".into(), "reconciler".into(), unconfirmed.sha256.clone())),
        "the reconciler's verdict is an event too, with the file's SHA-256"
    );
    assert_eq!(events.len(), 6, "no other event: {events:#?}");
    let refused: Vec<_> = receiver.deliveries().into_iter().filter(|d| !d.verified).collect();
    assert!(refused.is_empty(), "every delivery verifies and matches the schema: {refused:#?}");
    for reason in ["status", "unreachable", "timeout"] {
        let series = format!(
            "upload_webhook_failed_attempts_total{{endpoint=\"default\",reason=\"{reason}\"}}"
        );
        assert!(instance.metric(&series).await >= 1.0, "{series}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_without_redis_restarted_with_events_pending_delivers_them() {
    let Some(mut receiver) = Receiver::start(&[&secret(1)]) else { return };
    receiver.stop();
    let dir = scratch();
    let settings = settings(dir.path(), &receiver, &secret(1), 600);
    let log = dir.path().join("server.log");
    let mut first = Instance::start(&settings, &log);
    let mut keys = Vec::new();
    for i in 0..3 {
        keys.push(upload(&first, &format!("r{i}.txt"), b"restart", true).await.key);
    }
    let unreachable =
        "upload_webhook_failed_attempts_total{endpoint=\"default\",reason=\"unreachable\"}";
    wait_metric(&first, unreachable, 3.0, Duration::from_secs(20)).await;
    first.kill();

    receiver.restart(&[&secret(1)]).unwrap();
    let again = Instance::start(&settings, &log);
    wait_metric(&again, DELIVERED, 3.0, Duration::from_secs(60)).await;
    let events = by_key(&receiver);
    for key in &keys {
        assert_eq!(events.get(key).map(|e| e.0.as_str()), Some("upload.verified"), "{key}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_killed_mid_delivery_leaves_its_events_to_another() {
    let Some(redis) = Redis::start() else { return };
    // The first four deliveries are held 8 s: in flight when their instance dies.
    let held = json!([{"delay": 8, "times": 4}]);
    let Some(receiver) = Receiver::start_with(&[&secret(1)], held) else { return };
    let dir = scratch();
    let fleet = |name: &str| {
        let mut own = settings(&dir.path().join(name), &receiver, &secret(1), 600);
        own.push(("UPLOAD_REDIS_URL", redis.url()));
        own.push(("UPLOAD_SESSION_SECRET", "7".repeat(64)));
        own.push(("UPLOAD_INSTANCE_ID", name.into()));
        Instance::start(&own, &dir.path().join(format!("{name}.log")))
    };
    let mut a = fleet("a");
    let mut keys = Vec::new();
    for i in 0..4 {
        keys.push(upload(&a, &format!("k{i}.txt"), b"in flight", true).await.key);
    }
    let client = redis::Client::open(redis.url()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        // Each taken once (by a, the only instance), none settled: all four in flight.
        let tries: BTreeMap<String, u32> = redis::cmd("HGETALL")
            .arg("s3up:outbox:tries")
            .query_async(&mut connection)
            .await
            .unwrap();
        if tries.len() == 4 && tries.values().all(|&t| t == 1) {
            break;
        }
        assert!(Instant::now() < deadline, "not all in flight on a: {tries:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    a.kill();

    // Another instance takes them when their lease (30 s) ends.
    let b = fleet("b");
    wait_metric(&b, DELIVERED, 4.0, Duration::from_secs(60)).await;
    let events = by_key(&receiver);
    for key in &keys {
        assert_eq!(events.get(key).map(|e| e.0.as_str()), Some("upload.verified"), "{key}");
    }
    let left: usize =
        redis::cmd("XLEN").arg("s3up:outbox").query_async(&mut connection).await.unwrap();
    assert_eq!(left, 0, "the outbox is empty");
}

/// Runs `server webhooks ARGS` against `redis`: its output.
fn webhooks_command(redis: &Redis, args: &[&str]) -> String {
    webhooks_command_with(redis, &[], args)
}

/// `server webhooks ARGS` against `redis` with the settings `env`: whether it succeeded, and
/// its standard output and error.
fn run_webhooks(redis: &Redis, env: &[(&str, &str)], args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_server"))
        .arg("webhooks")
        .args(args)
        .env("UPLOAD_REDIS_URL", redis.url())
        // The bucket's endpoint, as a Garage or MinIO deployment sets it: never read as the
        // webhook endpoint's name (it once was: both were `--endpoint`).
        .env("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    (out.status.success(), text(&out.stdout), text(&out.stderr))
}

/// `server webhooks ARGS` with the settings `env`, which must succeed: its output.
fn webhooks_command_with(redis: &Redis, env: &[(&str, &str)], args: &[&str]) -> String {
    let (ok, out, err) = run_webhooks(redis, env, args);
    assert!(ok, "server webhooks {args:?}: {err}");
    out
}

/// `server webhooks ARGS` with the settings `env`, which must fail: what it says.
fn webhooks_refused(redis: &Redis, env: &[(&str, &str)], args: &[&str]) -> String {
    let (ok, _, err) = run_webhooks(redis, env, args);
    assert!(!ok, "server webhooks {args:?} should fail");
    err
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_410_disables_the_endpoint_its_alert_fires_and_the_operator_enables_it() {
    let Some(redis) = Redis::start() else { return };
    let gone = json!([{"status": 410}]);
    let Some(receiver) = Receiver::start_with(&[&secret(1)], gone) else { return };
    let Some(promtool) = common::tools::promtool() else { return };
    let dir = scratch();
    let mut own = settings(dir.path(), &receiver, &secret(1), 600);
    own.push(("UPLOAD_REDIS_URL", redis.url()));
    own.push(("UPLOAD_SESSION_SECRET", "7".repeat(64)));
    let instance = Instance::start(&own, &dir.path().join("server.log"));
    let first = upload(&instance, "gone.txt", b"410", true).await;
    wait_metric(&instance, DISABLED, 1.0, Duration::from_secs(20)).await;
    instance.logged(&["webhook_endpoint_disabled"], 1).await;

    // The alert fires on what the instance exports.
    let disabled = instance.metric(DISABLED).await;
    let rules = concat!(env!("CARGO_MANIFEST_DIR"), "/../monitoring/alerts.yml");
    // promtool compares the annotations too: the rule's own, as written.
    let text = std::fs::read_to_string(rules).unwrap();
    let rule = &text[text.find("alert: WebhookEndpointDisabled").unwrap()..];
    let annotation = |name: &str| {
        let at = rule.find(&format!("{name}: ")).unwrap() + name.len() + 2;
        rule[at..].lines().next().unwrap().to_owned()
    };
    let (summary, description) = (annotation("summary"), annotation("description"));
    let test = format!(
        "rule_files: [{rules}]\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n      - series: 'upload_webhook_endpoint_disabled{{instance=\"a\",endpoint=\"default\"}}'\n        values: '{disabled}x5'\n    alert_rule_test:\n      - eval_time: 1m\n        alertname: WebhookEndpointDisabled\n        exp_alerts:\n          - exp_labels: {{ severity: page, endpoint: default }}\n            exp_annotations:\n              summary: {summary}\n              description: {description}\n"
    );
    let file = dir.path().join("disabled.test.yml");
    std::fs::write(&file, test).unwrap();
    let out = Command::new(promtool).args(["test", "rules"]).arg(&file).output().unwrap();
    let said =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("SUCCESS"), "{said}");

    // Nothing is sent while it is disabled; the operator sees what waits, and enables it.
    let second = upload(&instance, "waits.txt", b"waiting", true).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(receiver.deliveries().len(), 1, "only the 410: {:#?}", receiver.deliveries());
    let listed = webhooks_command(&redis, &["list"]);
    assert_eq!(listed.lines().count(), 2, "{listed}");
    assert!(listed.contains(&second.key) && listed.contains("upload.verified"), "{listed}");
    webhooks_command(&redis, &["enable"]);
    wait_metric(&instance, DELIVERED, 2.0, Duration::from_secs(20)).await;
    let events = by_key(&receiver);
    assert!(events.contains_key(&first.key) && events.contains_key(&second.key), "{events:#?}");
    assert_eq!(webhooks_command(&redis, &["list"]).trim(), "(none)");

    // A replay sends the event again, with its own id.
    let id = receiver
        .taken()
        .into_iter()
        .find(|(_, e)| e["data"]["key"] == first.key.as_str())
        .unwrap()
        .0;
    let said = webhooks_command(&redis, &["replay", &id]);
    assert!(said.contains("queued again"), "{said}");
    wait_metric(&instance, DELIVERED, 3.0, Duration::from_secs(20)).await;
    let again = receiver
        .deliveries()
        .iter()
        .filter(|d| d.id.as_deref() == Some(id.as_str()) && d.status == 204)
        .count();
    assert_eq!(again, 2, "delivered twice with one webhook-id");
    // Every verdict since a time: both again.
    let said = webhooks_command(&redis, &["replay", "--since", "2000-01-01T00:00:00Z"]);
    assert_eq!(said.trim(), "2 events queued again");
    wait_metric(&instance, DELIVERED, 5.0, Duration::from_secs(20)).await;
}

/// Profiles for the per-profile endpoints' test: `invoices` sends to `billing` (its secret in
/// `BILLING_SECRET`), `quiet` sends nowhere, and `default` to UPLOAD_WEBHOOK_URL.
const PROFILES: &str = r#"
[profiles.invoices]
types = ["text/plain"]
[[profiles.invoices.webhooks]]
name = "billing"
url = "BILLING_URL"
secret_env = "BILLING_SECRET"

[profiles.quiet]
webhooks = []
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_profile_sends_to_its_own_endpoints_signed_with_their_secrets_and_a_410_stops_only_that_one(
) {
    let Some(redis) = Redis::start() else { return };
    let Some(main) = Receiver::start(&[&secret(1)]) else { return };
    // The billing receiver verifies with its own secret only: an event signed with the main
    // endpoint's secret would be refused there.
    let Some(billing) = Receiver::start_with(&[&secret(2)], json!([{"status": 410}])) else {
        return;
    };
    let dir = scratch();
    let profiles = dir.path().join("profiles.toml");
    std::fs::write(&profiles, PROFILES.replace("BILLING_URL", &billing.url())).unwrap();
    let profiles = profiles.display().to_string();
    let mut own = settings(dir.path(), &main, &secret(1), 600);
    own.push(("UPLOAD_REDIS_URL", redis.url()));
    own.push(("UPLOAD_SESSION_SECRET", "7".repeat(64)));
    own.push(("UPLOAD_PROFILES", profiles.clone()));
    own.push(("BILLING_SECRET", secret(2)));
    let instance = Instance::start(&own, &dir.path().join("server.log"));
    let upload_for = |profile: &'static str, name: &'static str| {
        let instance = &instance;
        async move {
            let body = format!("a file of {profile}");
            let signed = instance.sign_checked_for(profile, name, body.as_bytes()).await;
            let (status, answer) =
                post_form(&signed.url, &signed.fields, name, body.as_bytes()).await;
            assert_eq!(status, 201, "{answer}");
            instance.confirm(&signed, &etag_of(&answer)).await;
            signed
        }
    };
    let billing_disabled = "upload_webhook_endpoint_disabled{endpoint=\"billing\"}";

    // The invoice's event goes to billing, which answers 410: billing alone is disabled.
    let invoice = upload_for("invoices", "invoice.txt").await;
    wait_metric(&instance, billing_disabled, 1.0, Duration::from_secs(20)).await;
    assert_eq!(instance.metric(DISABLED).await, 0.0, "the other endpoint is not disabled");
    // The default profile's events still go, to UPLOAD_WEBHOOK_URL only; quiet's go nowhere.
    let plain = upload_for("", "plain.txt").await;
    let quiet = upload_for("quiet", "quiet.txt").await;
    wait_metric(&instance, DELIVERED, 1.0, Duration::from_secs(20)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let to_main = by_key(&main);
    assert_eq!(to_main.keys().collect::<Vec<_>>(), [&plain.key], "{to_main:#?}");
    assert_eq!(main.taken().into_values().next().unwrap()["data"]["profile"], "default");
    assert_eq!(billing.deliveries().len(), 1, "only the 410: {:#?}", billing.deliveries());
    assert_eq!(instance.metric(DELIVERED).await, 1.0, "quiet's event went nowhere");
    // No outbox holds quiet's event (its verdict is in the log all the same).
    let client = redis::Client::open(redis.url()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let outboxes: Vec<String> =
        redis::cmd("KEYS").arg("s3up:outbox*").query_async(&mut connection).await.unwrap();
    assert!(outboxes.iter().all(|k| !k.contains("quiet")), "{outboxes:?}");
    let log: Vec<(String, Vec<String>)> = redis::cmd("XRANGE")
        .arg("s3up:verdicts")
        .arg("-")
        .arg("+")
        .query_async(&mut connection)
        .await
        .unwrap();
    assert!(log.iter().any(|(_, fields)| fields.concat().contains(&quiet.key)), "{log:?}");

    // The operator sees what waits for billing, and enables it: the invoice's event arrives,
    // verified with billing's secret.
    let env = [("UPLOAD_PROFILES", profiles.as_str())];
    let listed = webhooks_command_with(&redis, &env, &["list", "--webhook", "billing"]);
    assert_eq!(listed.lines().count(), 1, "{listed}");
    assert!(listed.contains(&invoice.key), "{listed}");
    assert_eq!(webhooks_command(&redis, &["list"]).trim(), "(none)", "default's is empty");
    // A name the server does not have is refused, not quietly "enabled".
    let typo = webhooks_refused(&redis, &env, &["enable", "--webhook", "biling"]);
    assert!(typo.contains("no endpoint \"biling\" (there are: default, billing)"), "{typo}");
    let said = webhooks_command_with(&redis, &env, &["enable", "--webhook", "billing"]);
    assert!(said.contains("\"billing\" is enabled"), "{said}");
    let billing_delivered = "upload_webhook_delivered_total{endpoint=\"billing\"}";
    wait_metric(&instance, billing_delivered, 1.0, Duration::from_secs(20)).await;
    let taken = billing.taken();
    let event = taken.values().next().unwrap();
    assert_eq!(
        (event["data"]["key"].as_str(), event["data"]["profile"].as_str()),
        (Some(invoice.key.as_str()), Some("invoices"))
    );
    assert!(billing.deliveries().iter().all(|d| d.verified), "{:#?}", billing.deliveries());
    assert_eq!(instance.metric(billing_disabled).await, 0.0);

    // A replay sends each endpoint only its profiles' events: by id, and since a time; without
    // the server's profiles file it says so rather than guess.
    let id = taken.keys().next().unwrap().clone();
    let wrong = webhooks_refused(&redis, &env, &["replay", &id]);
    assert!(wrong.contains("do not go to the endpoint \"default\""), "{wrong}");
    let said = webhooks_command_with(&redis, &env, &["replay", &id, "--webhook", "billing"]);
    assert!(said.contains("queued again"), "{said}");
    wait_metric(&instance, billing_delivered, 2.0, Duration::from_secs(20)).await;
    let since = ["replay", "--since", "2000-01-01T00:00:00Z", "--webhook", "billing"];
    assert_eq!(webhooks_command_with(&redis, &env, &since).trim(), "1 events queued again");
    wait_metric(&instance, billing_delivered, 3.0, Duration::from_secs(20)).await;
    let since = ["replay", "--since", "2000-01-01T00:00:00Z"];
    assert_eq!(webhooks_command_with(&redis, &env, &since).trim(), "1 events queued again");
    wait_metric(&instance, DELIVERED, 2.0, Duration::from_secs(20)).await;
    let blind = webhooks_refused(&redis, &[], &since);
    assert!(blind.contains("which UPLOAD_PROFILES does not declare here"), "{blind}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_signature_is_refused_and_retried_and_a_rotation_verifies_with_either_secret() {
    // A receiver holding a secret the service does not have refuses what it is sent.
    let Some(mut receiver) = Receiver::start(&[&secret(3)]) else { return };
    let dir = scratch();
    let both = format!("{} {}", secret(1), secret(2));
    let instance = Instance::start(
        &settings(dir.path(), &receiver, &both, 600),
        &dir.path().join("server.log"),
    );
    let first = upload(&instance, "old.txt", b"rotation", true).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while !receiver.deliveries().iter().any(|d| {
        d.status == 400 && d.refused.as_deref().is_some_and(|r| r.starts_with("signature"))
    }) {
        assert!(Instant::now() < deadline, "not refused: {:#?}", receiver.deliveries());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Given the old secret, the receiver verifies the retry; given only the new one, the next.
    receiver.restart(&[&secret(1)]).unwrap();
    wait_metric(&instance, DELIVERED, 1.0, Duration::from_secs(30)).await;
    receiver.restart(&[&secret(2)]).unwrap();
    let second = upload(&instance, "new.txt", b"rotation", true).await;
    wait_metric(&instance, DELIVERED, 2.0, Duration::from_secs(30)).await;
    let events = by_key(&receiver);
    assert!(events.contains_key(&first.key) && events.contains_key(&second.key), "{events:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_of_verdict_is_an_event_that_matches_the_schema() {
    let Some(receiver) = Receiver::start(&[&secret(1)]) else { return };
    let bucket = Bucket::dev().await;
    let (clock, state) = (TestClock::default(), Arc::new(State::in_memory()));
    let metrics = Arc::new(server::metrics::Metrics::new());
    let endpoint =
        Endpoint::new("default", &receiver.url(), Secrets::parse(&secret(1)).unwrap()).unwrap();
    let routes = Arc::new(Routes::new([&endpoint]));
    let uploads = bucket.uploads(state.clone(), &clock).await.with_events(routes.clone());
    tokio::spawn(
        Deliverer {
            state: state.clone(),
            wake: routes.wake(&endpoint.name),
            endpoint: Arc::new(endpoint),
            metrics,
            window: Duration::from_secs(600),
        }
        .run(),
    );
    let who = someone();
    // Verified and mismatched by the reconciler, a form never used abandoned, and a plain form
    // POSTed twice: its first file verified, the second removed.
    let good = uploads.sign_upload(&who, text_file("good.txt", 5)).await.unwrap();
    assert_eq!(post_form(&good.url, &good.fields, "good.txt", b"hello").await.0, 201);
    let other = uploads.sign_upload(&who, text_file("other.txt", 5)).await.unwrap();
    let own = bucket.own_form(&other.key, "text/html");
    assert_eq!(post_form(&other.url, &own, "other.txt", b"<p>other</p>").await.0, 201);
    let never = uploads.sign_upload(&who, text_file("never.txt", 3)).await.unwrap();
    let plain = uploads.page_form(&who, "", "http://127.0.0.1:9/".into()).await.unwrap().unwrap();
    for name in ["first.txt", "second.txt"] {
        assert_eq!(post_form(&plain.url, &plain.fields, name, b"plain").await.0, 303);
        tokio::time::sleep(Duration::from_millis(1100)).await;
    }
    uploads.state().flush().await.unwrap();
    clock.advance(time::Duration::seconds(300 + 900 + 1));
    uploads.reconcile_round(100, "test").await.unwrap();
    clock.advance(time::Duration::seconds(86_400 + 1));
    uploads.reconcile_round(100, "test").await.unwrap();
    receiver.wait_for(5, Duration::from_secs(30), String::new).await;
    let events = by_key(&receiver);
    let kind = |key: &str| {
        events.get(key).map(|e| e.0.clone()).unwrap_or_else(|| panic!("{key}: {events:#?}"))
    };
    assert_eq!(kind(&good.key), "upload.verified");
    assert_eq!(kind(&other.key), "upload.mismatched");
    assert_eq!(kind(&never.key), "upload.abandoned");
    let directory = plain.key.trim_end_matches("${filename}");
    assert_eq!(kind(&format!("{directory}first.txt")), "upload.verified");
    assert_eq!(kind(&format!("{directory}second.txt")), "upload.removed");
    let refused: Vec<_> = receiver.deliveries().into_iter().filter(|d| !d.verified).collect();
    assert!(refused.is_empty(), "every event matches the schema: {refused:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_is_honoured_and_an_event_past_its_window_is_a_dead_letter_until_replayed() {
    let Some(redis) = Redis::start() else { return };
    // Busy for 3 s, then failing for good.
    let plan =
        json!([{"status": 503, "retry_after": 3, "times": 1}, {"status": 500, "times": 1000}]);
    let Some(mut receiver) = Receiver::start_with(&[&secret(1)], plan) else { return };
    let dir = scratch();
    let mut own = settings(dir.path(), &receiver, &secret(1), 10);
    own.push(("UPLOAD_REDIS_URL", redis.url()));
    own.push(("UPLOAD_SESSION_SECRET", "7".repeat(64)));
    let instance = Instance::start(&own, &dir.path().join("server.log"));
    let signed = upload(&instance, "late.txt", b"dead letter", true).await;
    let dead = "upload_webhook_dead_total{endpoint=\"default\"}";
    wait_metric(&instance, dead, 1.0, Duration::from_secs(30)).await;
    let attempts = receiver.deliveries();
    let gap = attempts[1].at - attempts[0].at;
    assert!(gap >= 3.0, "the second attempt came {gap:.2} s after a Retry-After of 3");
    let dead = webhooks_command(&redis, &["list", "--dead"]);
    assert!(dead.contains(&signed.key) && dead.contains("upload.verified"), "{dead}");
    instance.logged(&["webhook_dead"], 1).await;

    // The receiver is mended; the operator replays the dead letter by its id.
    receiver.restart(&[&secret(1)]).unwrap();
    let id: String = serde_json::from_str::<serde_json::Value>(dead.lines().next().unwrap())
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .into();
    let said = webhooks_command(&redis, &["replay", &id]);
    assert!(said.contains("dead letter"), "{said}");
    wait_metric(&instance, DELIVERED, 1.0, Duration::from_secs(20)).await;
    assert!(receiver.taken().contains_key(&id), "delivered with its own id");
    assert_eq!(webhooks_command(&redis, &["list", "--dead"]).trim(), "(none)");
}
