//! Cross-check of the presigned-URL signer against boto3's `generate_presigned_url`, on
//! generated cases: `upload_part` (content length and SHA-256 signed as headers) and
//! `get_object` (with a response type), keys with spaces, non-ASCII and reserved characters,
//! with and without a session token. Both must sign the same headers and reach the same
//! signature. boto3 runs from the project's `.venv` (`scripts/setup.sh test`).

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use serde_json::{json, Value};
use server::policy::{presign, Credentials, Presign};
use time::OffsetDateTime;

const CASES: usize = 60;
const ENDPOINT: &str = "http://127.0.0.1:3900";
const BUCKET: &str = "uploads";
const REGION: &str = "garage";

#[derive(Debug, Clone)]
struct Case {
    upload_part: bool,
    key: String,
    upload_id: String,
    part_number: u16,
    length: u64,
    sha256: String,
    response_type: String,
    now: i64,
    expires_in: u32,
    token: Option<String>,
}

fn case() -> impl Strategy<Value = Case> {
    (
        any::<bool>(),
        "[a-zA-Z0-9][a-zA-Z0-9 ._~!*'()+=&$@,;:ü/-]{0,40}",
        "[A-Za-z0-9+/=._-]{8,40}",
        1u16..=10_000,
        1u64..=5 << 30,
        "[A-Za-z0-9+/]{43}=",
        prop_oneof![
            Just("text/plain".to_owned()),
            Just("image/png".to_owned()),
            Just("application/octet-stream".to_owned())
        ],
        1_700_000_000i64..1_900_000_000,
        1u32..=3600,
        prop::option::of("[A-Za-z0-9+/=]{20,60}"),
    )
        .prop_map(
            |(
                upload_part,
                key,
                upload_id,
                part_number,
                length,
                sha256,
                response_type,
                now,
                expires_in,
                token,
            )| Case {
                upload_part,
                key,
                upload_id,
                part_number,
                length,
                sha256,
                response_type,
                now,
                expires_in,
                token,
            },
        )
}

fn credentials(token: &Option<String>) -> Credentials {
    let credentials = Credentials::new("GK0123456789abcdef01234567", "f".repeat(64));
    match token {
        Some(token) => credentials.with_session_token(token.clone()),
        None => credentials,
    }
}

fn ours(case: &Case) -> String {
    let path = format!("/{BUCKET}/{}", case.key);
    let (part, length) = (case.part_number.to_string(), case.length.to_string());
    let request = if case.upload_part {
        Presign {
            method: "PUT",
            endpoint: ENDPOINT,
            path: &path,
            query: vec![("partNumber", &part), ("uploadId", &case.upload_id)],
            headers: vec![("Content-Length", &length), ("x-amz-checksum-sha256", &case.sha256)],
            expires_in_secs: case.expires_in,
        }
    } else {
        Presign {
            method: "GET",
            endpoint: ENDPOINT,
            path: &path,
            query: vec![("response-content-type", &case.response_type)],
            headers: vec![],
            expires_in_secs: case.expires_in,
        }
    };
    let now = OffsetDateTime::from_unix_timestamp(case.now).unwrap();
    presign(&credentials(&case.token), REGION, &request, now).unwrap()
}

fn boto3(python: PathBuf, cases: &[Case]) -> Vec<String> {
    let inputs: Vec<Value> = cases
        .iter()
        .map(|case| {
            json!({
                "operation": if case.upload_part { "upload_part" } else { "get_object" },
                "now": case.now, "region": REGION, "endpoint": ENDPOINT, "bucket": BUCKET, "key": case.key,
                "access_key_id": "GK0123456789abcdef01234567", "secret_access_key": "f".repeat(64),
                "token": case.token, "upload_id": case.upload_id, "part_number": case.part_number,
                "length": case.length, "sha256": case.sha256, "response_type": case.response_type,
                "expires_in": case.expires_in,
            })
        })
        .collect();
    let mut child = Command::new(python)
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/boto3_presign.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(serde_json::to_string(&inputs).unwrap().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "boto3 failed");
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The URL's path, and its query as a map (boto3 does not sort the query; the signature does).
fn parts(url: &str) -> (String, BTreeMap<String, String>) {
    let (path, query) = url.split_once('?').unwrap();
    let query = query
        .split('&')
        .map(|pair| pair.split_once('=').unwrap())
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .collect();
    (path.to_owned(), query)
}

#[test]
fn presigned_urls_match_boto3() {
    let Some(python) = common::tools::python() else { return };
    let mut runner = TestRunner::deterministic();
    let cases: Vec<Case> =
        (0..CASES).map(|_| case().new_tree(&mut runner).unwrap().current()).collect();
    let theirs = boto3(python, &cases);
    assert_eq!(theirs.len(), cases.len());
    let mut tokens = 0;
    for (case, theirs) in cases.iter().zip(&theirs) {
        let ours = ours(case);
        let (our_path, our_query) = parts(&ours);
        let (their_path, their_query) = parts(theirs);
        assert_eq!(our_path, their_path, "{case:?}");
        assert_eq!(our_query, their_query, "{case:?}\nours:   {ours}\nboto3:  {theirs}");
        tokens += usize::from(case.token.is_some());
    }
    assert!(tokens > 0 && tokens < CASES, "both kinds of credentials were tried");
    assert!(cases.iter().any(|c| c.upload_part) && cases.iter().any(|c| !c.upload_part));
}
