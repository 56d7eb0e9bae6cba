//! `server iam-policy`: the IAM policies this set-up needs, for the configured bucket and
//! credential mode, as JSON documents ready for `aws iam put-role-policy` / `put-user-policy`
//! (and the role's trust policy). Each statement names what it is for; nothing is granted on
//! `*`, and `s3:PutObject` only on the uploads prefix.
//! <https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-with-s3-policy-actions.html>

use serde_json::{json, Value};

use crate::config::Config;
use crate::credentials::{partition_for, StsMode};
use crate::quarantine::{Refused, QUARANTINE_PREFIX};

/// The documents an operator attaches.
#[derive(Debug, Clone, PartialEq)]
pub struct IamPolicies {
    /// For the server's own credentials (fixed keys or the default chain).
    pub base_credentials: Value,
    /// With `UPLOAD_ROLE_ARN`: the permissions of the role the server assumes per uploader.
    pub role_permissions: Option<Value>,
    /// With `UPLOAD_ROLE_ARN`: who may assume that role.
    pub role_trust: Option<Value>,
}

impl IamPolicies {
    /// All documents as one JSON object, by name.
    pub fn to_json(&self) -> Value {
        let mut all = serde_json::Map::new();
        all.insert("base_credentials".into(), self.base_credentials.clone());
        if let Some(role) = &self.role_permissions {
            all.insert("role_permissions".into(), role.clone());
        }
        if let Some(trust) = &self.role_trust {
            all.insert("role_trust".into(), trust.clone());
        }
        Value::Object(all)
    }

    /// One document by its name in [`IamPolicies::to_json`].
    pub fn document(&self, name: &str) -> Option<&Value> {
        match name {
            "base_credentials" => Some(&self.base_credentials),
            "role_permissions" => self.role_permissions.as_ref(),
            "role_trust" => self.role_trust.as_ref(),
            _ => None,
        }
    }
}

fn statement(sid: &str, actions: &[&str], resources: &[String]) -> Value {
    json!({ "Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources })
}

fn document(statements: Vec<Value>) -> Value {
    json!({ "Version": "2012-10-17", "Statement": statements })
}

/// The account of an ARN such as `arn:aws:iam::123456789012:role/uploader`.
fn account_of(arn: &str) -> Option<&str> {
    arn.split(':').nth(4).filter(|account| !account.is_empty())
}

/// The policies for `config`. `principal` is who runs the server (the role's trust policy
/// names it; default: the role's own account); `account_id` scopes GetFederationToken.
pub fn policies(config: &Config, principal: Option<&str>, account_id: Option<&str>) -> IamPolicies {
    let partition = partition_for(&config.bucket.region);
    let bucket = format!("arn:{partition}:s3:::{}", config.bucket.name);
    let uploads = format!("{bucket}/uploads/*");
    // What a browser's upload needs (a POST, the parts of a multipart upload): the same actions
    // as each uploader's STS session policy (`credentials::session_policy`).
    const UPLOADING: [&str; 3] =
        ["s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"];
    let sign =
        statement("SignUploadsUnderTheUploadsPrefix", &UPLOADING, std::slice::from_ref(&uploads));
    // HeadObject (confirming) and the presigned view links need GetObject; removing an object
    // that is not what was signed needs DeleteObject; "Your uploads" (ListObjectsV2), HeadBucket
    // (doctor) and a 404 rather than a 403 for a missing object need ListBucket.
    let mut own_calls = vec![
        statement(
            "ConfirmAndViewUploads",
            &["s3:GetObject", "s3:DeleteObject"],
            std::slice::from_ref(&uploads),
        ),
        statement("CheckTheBucket", &["s3:ListBucket"], std::slice::from_ref(&bucket)),
        statement(
            "OperatorCorsCommands",
            &["s3:GetBucketCORS", "s3:PutBucketCORS"],
            std::slice::from_ref(&bucket),
        ),
        statement(
            "OperatorLifecycleCommands",
            &["s3:GetLifecycleConfiguration", "s3:PutLifecycleConfiguration"],
            std::slice::from_ref(&bucket),
        ),
    ];
    // Profiles that quarantine: a refused file is copied (above the copy part size, in parts)
    // to quarantine/, outside every uploader's prefix. Promotion copies within uploads/, which
    // the statements above cover.
    let keeps_refused = config.profiles.iter().any(|p| p.quarantine && p.refused == Refused::Keep);
    if keeps_refused {
        own_calls.push(statement(
            "KeepRefusedFilesInQuarantine",
            &["s3:PutObject", "s3:AbortMultipartUpload"],
            &[format!("{bucket}/{QUARANTINE_PREFIX}*")],
        ));
    }
    // The server starts, lists, completes and aborts multipart uploads with its own credentials
    // (Create and Complete are s3:PutObject): with STS, those need them too.
    let multipart =
        statement("StartAndFinishMultipartUploads", &UPLOADING, std::slice::from_ref(&uploads));
    match config.sts.as_ref().map(|sts| &sts.mode) {
        None => IamPolicies {
            base_credentials: document([vec![sign], own_calls.clone()].concat()),
            role_permissions: None,
            role_trust: None,
        },
        Some(StsMode::AssumeRole { role_arn }) => {
            let assume = statement(
                "AssumeTheUploadRole",
                &["sts:AssumeRole"],
                std::slice::from_ref(role_arn),
            );
            let trusted = principal.map(str::to_owned).unwrap_or_else(|| {
                format!(
                    "arn:{partition}:iam::{}:root",
                    account_of(role_arn).unwrap_or("ACCOUNT_ID")
                )
            });
            IamPolicies {
                base_credentials: document([vec![assume, multipart], own_calls.clone()].concat()),
                // Each uploader's session policy narrows this to `uploads/<uploader-id>/*`.
                role_permissions: Some(document(vec![sign])),
                role_trust: Some(json!({
                    "Version": "2012-10-17",
                    "Statement": [{
                        "Sid": "TheUploadServerAssumesThisRole",
                        "Effect": "Allow",
                        "Principal": { "AWS": trusted },
                        "Action": "sts:AssumeRole",
                    }],
                })),
            }
        }
        Some(StsMode::Federation) => {
            let federated = format!(
                "arn:{partition}:sts::{}:federated-user/*",
                account_id.unwrap_or("ACCOUNT_ID")
            );
            let federate =
                statement("FederateUploaders", &["sts:GetFederationToken"], &[federated]);
            // A federated session may do what both the user and its session policy allow: the
            // user keeps PutObject on the prefix, each session only its uploader's part.
            IamPolicies {
                base_credentials: document([vec![federate, sign], own_calls.clone()].concat()),
                role_permissions: None,
                role_trust: None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Config {
        let defaults = [("UPLOAD_BUCKET", "my-uploads"), ("AWS_REGION", "eu-west-1")];
        let all: Vec<(&str, &str)> = pairs.iter().chain(&defaults).copied().collect();
        Config::from_lookup(crate::config::table(&all)).unwrap()
    }

    fn actions(doc: &Value) -> Vec<(String, Vec<String>)> {
        doc["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|s| {
                let resources: Vec<String> = s["Resource"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r.as_str().unwrap().to_owned())
                    .collect();
                s["Action"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(move |a| (a.as_str().unwrap().to_owned(), resources.clone()))
            })
            .collect()
    }

    #[test]
    fn fixed_keys_sign_and_check_under_the_prefix_only() {
        let p = policies(&config(&[]), None, None);
        let granted = actions(&p.base_credentials);
        assert!(
            granted.contains(&(
                "s3:PutObject".into(),
                vec!["arn:aws:s3:::my-uploads/uploads/*".into()]
            )),
            "{granted:?}"
        );
        assert!(granted.contains(&("s3:ListBucket".into(), vec!["arn:aws:s3:::my-uploads".into()])));
        assert!(p.role_permissions.is_none() && p.role_trust.is_none());
    }

    #[test]
    fn profiles_that_keep_refused_files_may_write_quarantine_and_no_others() {
        let quarantine =
            ("s3:PutObject".into(), vec!["arn:aws:s3:::my-uploads/quarantine/*".into()]);
        assert!(
            !actions(&policies(&config(&[]), None, None).base_credentials).contains(&quarantine)
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("profiles.toml");
        std::fs::write(&path, "[profiles.held]\nquarantine = true\n").unwrap();
        let held = config(&[("UPLOAD_PROFILES", path.to_str().unwrap())]);
        assert!(actions(&policies(&held, None, None).base_credentials).contains(&quarantine));
    }

    #[test]
    fn with_a_role_the_base_credentials_only_assume_it() {
        let role = "arn:aws:iam::123456789012:role/uploader";
        let p = policies(&config(&[("UPLOAD_ROLE_ARN", role)]), None, None);
        let base = actions(&p.base_credentials);
        assert!(base.contains(&("sts:AssumeRole".into(), vec![role.into()])));
        assert!(
            !p.base_credentials.to_string().contains("SignUploadsUnderTheUploadsPrefix"),
            "signing uses the role: {base:?}"
        );
        let uploading = ["s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]
            .map(|a| (a.to_string(), vec!["arn:aws:s3:::my-uploads/uploads/*".to_string()]));
        assert_eq!(actions(p.role_permissions.as_ref().unwrap()), uploading);
        assert_eq!(
            p.role_trust.as_ref().unwrap()["Statement"][0]["Principal"]["AWS"],
            "arn:aws:iam::123456789012:root"
        );
        let named = policies(
            &config(&[("UPLOAD_ROLE_ARN", role)]),
            Some("arn:aws:iam::123456789012:role/web"),
            None,
        );
        assert_eq!(
            named.role_trust.unwrap()["Statement"][0]["Principal"]["AWS"],
            "arn:aws:iam::123456789012:role/web"
        );
    }

    #[test]
    fn china_regions_use_their_partition() {
        let p = policies(&config(&[("AWS_REGION", "cn-north-1")]), None, None);
        assert!(p.base_credentials.to_string().contains("arn:aws-cn:s3:::my-uploads/uploads/*"));
    }
}
