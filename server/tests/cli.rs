//! `server sign` through the real binary: deterministic with --now, accepted by the verifier,
//! and clear about missing configuration.

use std::process::{Command, Output};

use serde_json::Value;
use server::policy::{verify, Context, Credentials, Part};
use time::macros::datetime;

const SECRET: &str = "4f6a0c3e9b1d2a7f8e5c6b4a3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e";

fn sign(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_server"));
    cmd.env_clear().env("PATH", std::env::var("PATH").unwrap_or_default()).arg("sign").args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("the server binary runs")
}

const ENV: [(&str, &str); 5] = [
    ("UPLOAD_BUCKET", "uploads"),
    ("AWS_REGION", "garage"),
    ("AWS_ACCESS_KEY_ID", "GK0123456789abcdef01234567"),
    ("AWS_SECRET_ACCESS_KEY", SECRET),
    ("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:3900"),
];

const ARGS: [&str; 10] = [
    "--key",
    "docs/report.pdf",
    "--content-type",
    "application/pdf",
    "--size",
    "5",
    "--meta",
    "origin=cli",
    "--now",
    "2026-11-28T12:00:00Z",
];

#[test]
fn prints_a_form_the_verifier_accepts() {
    let out = sign(&ARGS, &ENV);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(!stdout.contains(SECRET) && !String::from_utf8_lossy(&out.stderr).contains(SECRET));
    let json: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["url"], "http://127.0.0.1:3900/uploads");
    assert_eq!(json["expires_at"], "2026-11-28T12:05:00Z");
    let fields: Vec<(String, String)> = serde_json::from_value(json["fields"].clone()).unwrap();
    let names: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "key",
            "Content-Type",
            "success_action_status",
            "x-amz-meta-origin",
            "x-amz-credential",
            "x-amz-algorithm",
            "x-amz-date",
            "policy",
            "x-amz-signature"
        ]
    );

    let mut parts: Vec<Part> = fields.iter().map(|(n, v)| Part::field(n, v)).collect();
    parts.push(Part::File { file_name: "report.pdf".into(), size: 5 });
    let cx =
        Context { bucket: "uploads", region: "garage", now: datetime!(2026-11-28 12:01:00 UTC) };
    let creds = |id: &str| Some(Credentials::new(id, SECRET));
    assert_eq!(verify(&parts, cx, creds).unwrap().key, "docs/report.pdf");

    // Same inputs, same output: the form is reproducible.
    assert_eq!(String::from_utf8(sign(&ARGS, &ENV).stdout).unwrap(), stdout);
}

#[test]
fn prints_a_curl_command_binding_the_file_size() {
    let file = std::env::temp_dir().join(format!("cli-test-{}.txt", std::process::id()));
    std::fs::write(&file, b"twelve bytes").unwrap();
    let out = sign(&["--key", "k.txt", "--curl", file.to_str().unwrap()], &ENV);
    std::fs::remove_file(&file).unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let cmd = String::from_utf8(out.stdout).unwrap();
    assert!(cmd.starts_with("curl "), "{cmd}");
    assert!(cmd.contains(&format!("-F 'file=@{}'", file.display())), "{cmd}");
    assert!(cmd.trim_end().ends_with("'http://127.0.0.1:3900/uploads'"), "{cmd}");
    // The policy inside binds exactly 12 bytes.
    let policy = cmd.split("'policy=").nth(1).unwrap().split('\'').next().unwrap();
    let policy = server::policy::ReceivedPolicy::parse(policy).unwrap();
    assert!(policy
        .policy()
        .conditions()
        .contains(&server::policy::Condition::content_length_range(12, 12).unwrap()));
}

#[test]
fn missing_configuration_and_bad_flags_are_named() {
    let out = sign(&ARGS, &ENV[1..]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("UPLOAD_BUCKET (--bucket) is not set"));

    let out = sign(&["--key", "k"], &ENV);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--size"));

    let out = sign(&["--key", "k", "--size", "1", "--checksum-sha256", "c2hvcnQ="], &ENV);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("32-byte"));
}
