//! `server iam-policy` through the real binary, in each credential mode: valid JSON whose
//! documents grant nothing on `*`, and `s3:PutObject` only on the uploads prefix.

use std::process::Command;

use serde_json::Value;

const UPLOADS: &str = "arn:aws:s3:::my-uploads/uploads/*";
const ROLE: &str = "arn:aws:iam::123456789012:role/uploader";

fn iam_policy(args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_server"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .arg("iam-policy")
        .args(args);
    cmd.envs([("UPLOAD_BUCKET", "my-uploads"), ("AWS_REGION", "eu-west-1")])
        .envs(env.iter().copied());
    let out = cmd.output().expect("the server binary runs");
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn as_list(value: &Value) -> Vec<String> {
    match value {
        Value::String(one) => vec![one.clone()],
        Value::Array(many) => {
            many.iter().map(|v| v.as_str().expect("strings").to_owned()).collect()
        }
        other => panic!("not an action or resource list: {other}"),
    }
}

/// Checks one policy document; returns its (action, resources) grants.
fn grants(name: &str, doc: &Value) -> Vec<(String, Vec<String>)> {
    assert_eq!(doc["Version"], "2012-10-17", "{name}");
    let mut grants = Vec::new();
    for statement in doc["Statement"].as_array().unwrap_or_else(|| panic!("{name} has statements"))
    {
        assert_eq!(statement["Effect"], "Allow", "{name}");
        let actions = as_list(&statement["Action"]);
        for action in &actions {
            assert!(!action.contains('*'), "{name} grants the wildcard action {action}");
        }
        // A trust policy names a principal, not resources.
        let resources = if statement.get("Principal").is_some() {
            Vec::new()
        } else {
            as_list(&statement["Resource"])
        };
        for resource in &resources {
            assert!(
                resource != "*" && !resource.ends_with(":*") && !resource.ends_with(":::*"),
                "{name} grants {resource}"
            );
        }
        for action in actions {
            if action == "s3:PutObject" {
                assert_eq!(resources, [UPLOADS], "{name}: PutObject only under uploads/");
            }
            grants.push((action, resources.clone()));
        }
    }
    grants
}

fn documents(stdout: &str) -> serde_json::Map<String, Value> {
    serde_json::from_str::<Value>(stdout)
        .expect("valid JSON")
        .as_object()
        .expect("an object of documents")
        .clone()
}

#[test]
fn fixed_keys_need_put_get_list_and_cors_on_the_bucket_only() {
    let (ok, out, err) = iam_policy(&[], &[]);
    assert!(ok, "{err}");
    let docs = documents(&out);
    assert_eq!(docs.keys().collect::<Vec<_>>(), ["base_credentials"]);
    let base = grants("base_credentials", &docs["base_credentials"]);
    let actions: Vec<&str> = base.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(
        actions,
        [
            "s3:PutObject",
            "s3:AbortMultipartUpload",
            "s3:ListMultipartUploadParts",
            "s3:GetObject",
            "s3:DeleteObject",
            "s3:ListBucket",
            "s3:GetBucketCORS",
            "s3:PutBucketCORS",
            "s3:GetLifecycleConfiguration",
            "s3:PutLifecycleConfiguration"
        ]
    );
    assert!(base.contains(&("s3:ListBucket".into(), vec!["arn:aws:s3:::my-uploads".into()])));
}

#[test]
fn with_a_role_the_role_signs_and_trusts_the_server() {
    let (ok, out, err) = iam_policy(&[], &[("UPLOAD_ROLE_ARN", ROLE)]);
    assert!(ok, "{err}");
    let docs = documents(&out);
    let base = grants("base_credentials", &docs["base_credentials"]);
    assert!(base.contains(&("sts:AssumeRole".into(), vec![ROLE.into()])), "{base:?}");
    // The role signs; the base credentials only start and finish multipart uploads.
    assert!(
        !docs["base_credentials"].to_string().contains("SignUploadsUnderTheUploadsPrefix"),
        "the base credentials do not sign: {base:?}"
    );
    let uploading = ["s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]
        .map(|a| (a.to_string(), vec![UPLOADS.to_string()]));
    assert_eq!(grants("role_permissions", &docs["role_permissions"]), uploading);
    grants("role_trust", &docs["role_trust"]);
    assert_eq!(docs["role_trust"]["Statement"][0]["Action"], "sts:AssumeRole");

    // One document alone, ready for `aws iam update-assume-role-policy --policy-document`.
    let (ok, out, _) = iam_policy(
        &["--document", "role_trust", "--principal", "arn:aws:iam::123456789012:role/web"],
        &[("UPLOAD_ROLE_ARN", ROLE)],
    );
    assert!(ok);
    let trust: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(trust["Statement"][0]["Principal"]["AWS"], "arn:aws:iam::123456789012:role/web");
}

#[test]
fn federation_needs_the_token_call_and_the_prefix() {
    let (ok, out, err) =
        iam_policy(&["--account-id", "123456789012"], &[("UPLOAD_STS_MODE", "federation")]);
    assert!(ok, "{err}");
    let base = grants("base_credentials", &documents(&out)["base_credentials"]);
    assert!(
        base.contains(&(
            "sts:GetFederationToken".into(),
            vec!["arn:aws:sts::123456789012:federated-user/*".into()]
        )),
        "{base:?}"
    );
    assert!(base.iter().any(|(a, _)| a == "s3:PutObject"));
}

#[test]
fn an_unknown_document_is_named_with_the_ones_there_are() {
    let (ok, _, err) = iam_policy(&["--document", "role_trust"], &[]);
    assert!(!ok);
    assert!(
        err.contains("no document \"role_trust\" in this mode; it has: base_credentials"),
        "{err}"
    );
}
