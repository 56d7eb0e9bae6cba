//! Cross-check against boto3's `generate_presigned_post` (the reference most S3 users sign
//! with): for the same inputs and time, both policies state the same conditions and expiry,
//! our SigV4 reproduces boto3's signatures, and the verifier treats both forms alike.
//! boto3 runs from the project's `.venv`, which `scripts/setup.sh test` creates.

mod common;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use common::policy::{case, credentials, parts, sign, verdict, Case, BUCKET, REGION};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;
use serde_json::{json, Value};
use server::policy::{Condition, OnSuccess, ReceivedPolicy, SigningKey, SizeRule};

const CASES: usize = 60;

/// The same upload, described the way boto3 takes it.
fn boto3_input(case: &Case) -> Value {
    let creds = credentials(&case.token);
    let spec = &case.spec;
    let mut fields = serde_json::Map::new();
    let mut conditions = vec![];
    let mut both = |name: String, value: String| {
        conditions.push(json!({ name.clone(): value.clone() }));
        fields.insert(name, Value::String(value));
    };
    if let Some(ct) = &spec.content_type {
        both("Content-Type".into(), ct.clone());
    }
    match &spec.on_success {
        Some(OnSuccess::Status(s)) => both("success_action_status".into(), s.to_string()),
        Some(OnSuccess::Redirect(url)) => both("success_action_redirect".into(), url.clone()),
        None => {}
    }
    for (name, value) in &spec.metadata {
        both(format!("x-amz-meta-{name}"), value.clone());
    }
    if let Some(sum) = &spec.checksum_sha256 {
        both("x-amz-checksum-algorithm".into(), "SHA256".into());
        both("x-amz-checksum-sha256".into(), sum.clone());
    }
    let (min, max) = match spec.size {
        SizeRule::Exact(n) => (n, n),
        SizeRule::Range { min, max } => (min, max),
    };
    conditions.push(json!(["content-length-range", min, max]));
    json!({
        "now": case.now.unix_timestamp(),
        "region": REGION,
        "endpoint": "http://127.0.0.1:3900",
        "access_key_id": creds.access_key_id(),
        "secret_access_key": "f".repeat(64),
        "token": case.token,
        "bucket": BUCKET,
        "key": spec.key,
        "fields": fields,
        "conditions": conditions,
        "expires_in": spec.expires_in.as_secs(),
    })
}

fn run_boto3(python: PathBuf, inputs: &[Value]) -> Vec<Value> {
    let mut child = Command::new(python)
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/boto3_post.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(serde_json::to_string(inputs).unwrap().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "boto3 failed");
    serde_json::from_slice(&out.stdout).unwrap()
}

fn sorted(conditions: &[Condition]) -> Vec<String> {
    let mut all: Vec<String> =
        conditions.iter().map(|c| c.to_string().to_ascii_lowercase()).collect();
    all.sort();
    all
}

#[test]
fn boto3_and_we_sign_the_same_policies() {
    let Some(python) = common::tools::python() else { return };
    let mut runner = TestRunner::deterministic();
    let cases: Vec<Case> =
        (0..CASES).map(|_| case().new_tree(&mut runner).unwrap().current()).collect();
    let boto3 = run_boto3(python, &cases.iter().map(boto3_input).collect::<Vec<_>>());
    assert_eq!(boto3.len(), CASES);

    for (case, theirs) in cases.iter().zip(&boto3) {
        let ours = sign(case);
        let their_fields: Vec<(String, String)> = theirs["fields"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(n, v)| (n.clone(), v.as_str().unwrap().to_owned()))
            .collect();
        let field = |name: &str| {
            their_fields.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).unwrap().1.clone()
        };

        // Same URL, same conditions, same expiry.
        assert_eq!(theirs["url"], "http://127.0.0.1:3900/uploads");
        let their_policy = ReceivedPolicy::parse(&field("policy")).expect("boto3's policy reads");
        assert_eq!(
            sorted(their_policy.policy().conditions()),
            sorted(ours.policy().conditions()),
            "{case:?}"
        );
        assert_eq!(their_policy.policy().expiration(), ours.expires_at());

        // Our SigV4 over boto3's exact policy text gives boto3's signature.
        let key = SigningKey::derive(&credentials(&case.token), case.now, REGION);
        assert_eq!(key.sign(&field("policy")), field("x-amz-signature"));

        // The verifier accepts and refuses both forms alike.
        let (min, max) = match case.spec.size {
            SizeRule::Exact(n) => (n, n),
            SizeRule::Range { min, max } => (min, max),
        };
        let mut sizes = vec![case.size, max + 1];
        sizes.extend(min.checked_sub(1));
        for size in sizes {
            let theirs = verdict(case, &parts(&their_fields, size), case.now);
            assert_eq!(
                theirs,
                verdict(case, &parts(&ours.fields, size), case.now),
                "size {size}: {case:?}"
            );
            assert_eq!(theirs == "accepted", (min..=max).contains(&size));
        }
        let expired = ours.expires_at() + time::Duration::seconds(1);
        assert_eq!(verdict(case, &parts(&their_fields, case.size), expired), "AccessDenied");
    }
    // A sanity check that the inputs were varied.
    let tokens = cases.iter().filter(|c| c.token.is_some()).count();
    let templated = cases.iter().filter(|c| c.spec.key.contains("${filename}")).count();
    assert!(tokens > 0 && tokens < CASES && templated > 0 && templated < CASES);
}
