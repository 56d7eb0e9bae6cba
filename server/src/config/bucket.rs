//! The bucket and how to sign for it ([`Config`]): its name, region and endpoint, the keys, STS,
//! how long a policy lives, and what may be uploaded.

use std::time::Duration;

use super::limits::Limits;
use super::profiles::Profiles;
use super::read::{invalid, missing, policy_lifetime, upload_method, ConfigError, Lookup};
use super::settings::{Setting, Settings};
use super::sts::StsConfig;
use crate::policy::{Bucket, Credentials};
use app::wire::UploadMethod;

/// Everything the signer needs to know about the bucket.
#[derive(Debug, Clone)]
pub struct Config {
    /// `UPLOAD_BUCKET`, in `AWS_REGION` (the region policies are signed for; Garage: its
    /// `s3_region`), at `AWS_ENDPOINT_URL_S3` (or `AWS_ENDPOINT_URL`): an S3-compatible server,
    /// addressed path-style. No endpoint means AWS itself.
    pub bucket: Bucket,
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, optional `AWS_SESSION_TOKEN`. Unset:
    /// the AWS default chain (profile, web identity, container, instance metadata).
    pub credentials: Option<Credentials>,
    /// `UPLOAD_ROLE_ARN` / `UPLOAD_STS_MODE`: sign with temporary credentials per uploader.
    pub sts: Option<StsConfig>,
    /// `UPLOAD_POLICY_TTL_SECS` (default 300, 30 to 600): how long a signed form is accepted.
    pub policy_lifetime: Duration,
    /// What the signer accepts to sign: the global settings.
    pub limits: Limits,
    /// `UPLOAD_PROFILES`: each kind of upload's own limits over `limits` (just `default`, which
    /// is `limits`, without the file).
    pub profiles: std::sync::Arc<Profiles>,
    /// `UPLOAD_METHOD` (default `post`): how a file in one request goes to the bucket.
    pub method: UploadMethod,
}

impl Config {
    /// Reads the command line and the environment (see [`Settings`]).
    pub fn from_settings(settings: &Settings) -> Result<Self, ConfigError> {
        Self::from_lookup(|setting| settings.get(setting))
    }

    /// Reads settings through `get`, so tests need not touch the process environment.
    pub fn from_lookup(get: impl Lookup) -> Result<Self, ConfigError> {
        let need = |setting, hint| get(setting).ok_or_else(|| missing(setting, hint));

        let name = need(Setting::Bucket, "name the S3 bucket that receives uploads")?;
        validate_bucket(&name).map_err(|reason| invalid(Setting::Bucket, reason))?;
        let region = need(
            Setting::Region,
            "the bucket's region, e.g. us-east-1 (for Garage: its s3_region)",
        )?;
        // Both keys or neither (then the AWS default chain finds credentials at start).
        let credentials = match (get(Setting::AccessKeyId), get(Setting::SecretAccessKey)) {
            (None, None) => None,
            (Some(id), Some(secret)) => {
                let credentials = Credentials::new(id, secret);
                Some(match get(Setting::SessionToken) {
                    Some(token) => credentials.with_session_token(token),
                    None => credentials,
                })
            }
            (None, Some(_)) => {
                return Err(missing(
                    Setting::AccessKeyId,
                    "AWS_SECRET_ACCESS_KEY is set without its access key id",
                ))
            }
            (Some(_), None) => {
                return Err(missing(
                    Setting::SecretAccessKey,
                    "the secret key the server signs with (it never leaves the server)",
                ))
            }
        };
        let sts = StsConfig::from_lookup(&get)?;

        let endpoint = match get(Setting::Endpoint).or_else(|| get(Setting::AnyEndpoint)) {
            None => None,
            Some(url) if url.starts_with("http://") || url.starts_with("https://") => Some(url),
            Some(url) => {
                return Err(invalid(
                    Setting::Endpoint,
                    format!("expected an http:// or https:// URL, got {url:?}"),
                ))
            }
        };

        let limits = Limits::from_lookup(&get)?;
        let profiles = std::sync::Arc::new(Profiles::from_lookup(&get, &limits)?);
        Ok(Self {
            profiles,
            bucket: Bucket::new(name, region, endpoint),
            credentials,
            sts,
            policy_lifetime: policy_lifetime(&get)?,
            method: upload_method(&get, limits.checksum)?,
            limits,
        })
    }
}

/// S3's bucket naming rules, enough to catch typos before the first upload does.
/// <https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html>
fn validate_bucket(name: &str) -> Result<(), String> {
    let ok_chars = name.bytes().all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-'));
    let ok_ends = name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    if (3..=63).contains(&name.len()) && ok_chars && ok_ends {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not a valid bucket name (3-63 lowercase letters, digits, dots, hyphens)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::read::table;
    use crate::credentials::StsMode;

    use crate::config::read::TEST_SETTINGS as BASE;

    #[test]
    fn each_missing_variable_is_named() {
        for (name, _) in &BASE[..2] {
            let pairs: Vec<_> = BASE.iter().filter(|(n, _)| n != name).copied().collect();
            let err = Config::from_lookup(table(&pairs)).unwrap_err();
            assert!(err.to_string().starts_with(name), "{err}");
        }
    }

    #[test]
    fn md5_needs_put_and_each_mode_is_read() {
        use app::wire::{ChecksumMode, UploadMethod};
        let with = |extra: &[(&'static str, &'static str)]| {
            let mut pairs = BASE.to_vec();
            pairs.extend_from_slice(extra);
            Config::from_lookup(table(&pairs))
        };
        let err = with(&[("UPLOAD_CHECKSUM", "md5")]).unwrap_err().to_string();
        assert!(err.starts_with("UPLOAD_CHECKSUM") && err.contains("UPLOAD_METHOD=put"), "{err}");
        let config = with(&[("UPLOAD_CHECKSUM", "MD5"), ("UPLOAD_METHOD", "put")]).unwrap();
        assert_eq!((config.limits.checksum, config.method), (ChecksumMode::Md5, UploadMethod::Put));
        let config = with(&[]).unwrap();
        assert_eq!(
            (config.limits.checksum, config.method),
            (ChecksumMode::Sha256, UploadMethod::Post)
        );
        assert!(with(&[("UPLOAD_METHOD", "patch")]).unwrap_err().to_string().contains("post"));
        assert!(with(&[("UPLOAD_CHECKSUM", "crc32")]).is_err());
    }

    #[test]
    fn custom_endpoint_means_path_style() {
        let mut pairs = BASE.to_vec();
        pairs.push(("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:3900/"));
        let config = Config::from_lookup(table(&pairs)).unwrap();
        assert_eq!(config.bucket.post_url(), "http://127.0.0.1:3900/uploads");
        assert_eq!(config.policy_lifetime, Duration::from_secs(300));
    }

    #[test]
    fn aws_urls_are_virtual_host_unless_the_name_has_dots() {
        let config = Config::from_lookup(table(&BASE)).unwrap();
        assert_eq!(config.bucket.post_url(), "https://uploads.s3.garage.amazonaws.com/");
        let mut pairs = BASE.to_vec();
        pairs[0] = ("UPLOAD_BUCKET", "my.uploads");
        assert_eq!(
            Config::from_lookup(table(&pairs)).unwrap().bucket.post_url(),
            "https://s3.garage.amazonaws.com/my.uploads"
        );
    }

    #[test]
    fn invalid_values_are_refused_by_name() {
        for (name, value) in [
            ("UPLOAD_BUCKET", "Bad_Bucket"),
            ("AWS_ENDPOINT_URL_S3", "127.0.0.1:3900"),
            ("UPLOAD_POLICY_TTL_SECS", "3600"),
            ("UPLOAD_POLICY_TTL_SECS", "five"),
            ("UPLOAD_MAX_BYTES", "0"),
            ("UPLOAD_MAX_BYTES", "5497558138881"),
            ("UPLOAD_MULTIPART_THRESHOLD", "5368709121"),
            ("UPLOAD_MULTIPART_THRESHOLD", "0"),
            ("UPLOAD_ALLOWED_TYPES", "image"),
            ("UPLOAD_ALLOWED_TYPES", "*/*"),
            ("UPLOAD_FILES_PER_MINUTE", "0"),
            ("UPLOAD_SIGNS_PER_MINUTE_PER_IP", "lots"),
            ("UPLOAD_CHECKSUM_MAX_BYTES", "-1"),
            ("UPLOAD_ROLE_ARN", "uploader"),
            ("UPLOAD_STS_MODE", "magic"),
        ] {
            let mut pairs = BASE.to_vec();
            pairs.retain(|(k, _)| *k != name);
            pairs.push((name, value));
            let err = Config::from_lookup(table(&pairs)).unwrap_err();
            assert!(matches!(err, ConfigError::Invalid { name: n, .. } if n == name), "{err}");
        }
    }

    #[test]
    fn keys_come_in_pairs_or_from_the_default_chain() {
        let config = Config::from_lookup(table(&BASE[..2])).unwrap();
        assert!(config.credentials.is_none() && config.sts.is_none());
        let err = Config::from_lookup(table(&BASE[..3])).unwrap_err();
        assert!(err.to_string().starts_with("AWS_SECRET_ACCESS_KEY"), "{err}");
    }

    #[test]
    fn sts_is_configured_by_role_or_mode() {
        let mut pairs = BASE.to_vec();
        pairs.push(("UPLOAD_ROLE_ARN", "arn:aws:iam::123456789012:role/uploader"));
        let sts = Config::from_lookup(table(&pairs)).unwrap().sts.unwrap();
        assert_eq!(
            sts.mode,
            StsMode::AssumeRole { role_arn: "arn:aws:iam::123456789012:role/uploader".into() }
        );
        assert_eq!(sts.duration, Duration::from_secs(3600));
        let mut pairs = BASE.to_vec();
        pairs.extend([("UPLOAD_STS_MODE", "federation"), ("UPLOAD_STS_DURATION_SECS", "129600")]);
        let sts = Config::from_lookup(table(&pairs)).unwrap().sts.unwrap();
        assert_eq!((sts.mode, sts.duration), (StsMode::Federation, Duration::from_secs(129_600)));
        pairs[5] = ("UPLOAD_STS_DURATION_SECS", "129601");
        assert!(matches!(
            Config::from_lookup(table(&pairs)),
            Err(ConfigError::Invalid { name: "UPLOAD_STS_DURATION_SECS", .. })
        ));
        let mut pairs = BASE.to_vec();
        pairs.push(("UPLOAD_STS_MODE", "assume-role"));
        assert!(matches!(
            Config::from_lookup(table(&pairs)),
            Err(ConfigError::Missing { name: "UPLOAD_ROLE_ARN", .. })
        ));
    }

    #[test]
    fn debug_does_not_print_the_secret() {
        let config = Config::from_lookup(table(&BASE)).unwrap();
        assert!(!format!("{config:?}").contains("topsecret"));
    }
}
