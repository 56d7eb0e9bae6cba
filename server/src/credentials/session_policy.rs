//! The inline session policy handed to STS: whatever the role or user may do, the temporary
//! credentials can only put objects under one uploader's prefix.
//! <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html>

/// STS refuses packed session policies over this many characters.
pub const MAX_SESSION_POLICY_CHARS: usize = 2048;

/// The ARN partition a region belongs to (`aws`, `aws-cn`, `aws-us-gov`).
pub fn partition_for(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// Allows on `<bucket>/<prefix>*`, for each of `prefixes`, what a browser's upload needs and
/// nothing else: `s3:PutObject` (a POST, and each part of a multipart upload), and for
/// multipart uploads `s3:AbortMultipartUpload` and `s3:ListMultipartUploadParts`. `bucket` and
/// the prefixes are ours (a validated bucket name, `uploads/<32 hex>/` and
/// `uploads/.staging/<32 hex>/`), so no JSON escaping is needed; the debug assertion keeps it
/// that way.
pub fn session_policy(partition: &str, bucket: &str, prefixes: &[&str]) -> String {
    debug_assert!(
        [partition, bucket].iter().chain(prefixes).all(|s| s
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\' && b != b'*')),
        "session policy parts must not need escaping"
    );
    let resources: Vec<String> =
        prefixes.iter().map(|p| format!(r#""arn:{partition}:s3:::{bucket}/{p}*""#)).collect();
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"UploadOnly","Effect":"Allow","Action":["s3:PutObject","s3:AbortMultipartUpload","s3:ListMultipartUploadParts"],"Resource":[{}]}}]}}"#,
        resources.join(",")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_only_uploading_under_the_prefix() {
        let policy = session_policy(
            "aws",
            "my-bucket",
            &[
                "uploads/0123456789abcdef0123456789abcdef/",
                "uploads/.staging/0123456789abcdef0123456789abcdef/",
            ],
        );
        let json: serde_json::Value = serde_json::from_str(&policy).unwrap();
        let statements = json["Statement"].as_array().unwrap();
        assert_eq!(statements.len(), 1);
        assert_eq!(statements[0]["Effect"], "Allow");
        assert_eq!(
            statements[0]["Action"],
            serde_json::json!([
                "s3:PutObject",
                "s3:AbortMultipartUpload",
                "s3:ListMultipartUploadParts"
            ])
        );
        assert_eq!(
            statements[0]["Resource"],
            serde_json::json!([
                "arn:aws:s3:::my-bucket/uploads/0123456789abcdef0123456789abcdef/*",
                "arn:aws:s3:::my-bucket/uploads/.staging/0123456789abcdef0123456789abcdef/*"
            ])
        );
    }

    #[test]
    fn the_longest_bucket_name_fits_sts_limit() {
        let policy = session_policy(
            "aws-us-gov",
            &"b".repeat(63),
            &[
                "uploads/0123456789abcdef0123456789abcdef/",
                "uploads/.staging/0123456789abcdef0123456789abcdef/",
            ],
        );
        assert!(policy.len() <= MAX_SESSION_POLICY_CHARS, "{}", policy.len());
    }

    #[test]
    fn partitions_follow_the_region() {
        assert_eq!(partition_for("eu-west-1"), "aws");
        assert_eq!(partition_for("cn-north-1"), "aws-cn");
        assert_eq!(partition_for("us-gov-west-1"), "aws-us-gov");
    }
}
