//! The server's configuration: every setting is declared once, as a flag and a variable, in
//! [`settings`], and read and checked once, here, at start. A missing or invalid setting stops
//! the server with a message naming both.

pub mod settings;

use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::Duration;

use crate::credentials::StsMode;
use std::sync::Arc;

use crate::edge::client::TrustedProxies;
use crate::policy::{Credentials, MAX_POST_OBJECT_SIZE};
use crate::seal::SessionKey;
use crate::shared::SharedStore;
use app::rules::MAX_OBJECT_BYTES;
pub use settings::Settings;

/// Everything the signer needs to know about the bucket.
#[derive(Debug, Clone)]
pub struct Config {
    /// `UPLOAD_BUCKET`.
    pub bucket: String,
    /// `AWS_REGION`: the region policies are signed for (Garage: its `s3_region`).
    pub region: String,
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, optional `AWS_SESSION_TOKEN`. Unset:
    /// the AWS default chain (profile, web identity, container, instance metadata).
    pub credentials: Option<Credentials>,
    /// `UPLOAD_ROLE_ARN` / `UPLOAD_STS_MODE`: sign with temporary credentials per uploader.
    pub sts: Option<StsConfig>,
    /// `AWS_ENDPOINT_URL_S3` (or `AWS_ENDPOINT_URL`): an S3-compatible server, addressed
    /// path-style as `<endpoint>/<bucket>`. Unset means AWS itself.
    pub endpoint: Option<String>,
    /// `UPLOAD_POLICY_TTL_SECS` (default 300, 30 to 600): how long a signed form is accepted.
    pub policy_lifetime: Duration,
    /// What the signer accepts to sign.
    pub limits: Limits,
}

/// Temporary credentials from STS, scoped to each uploader's prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StsConfig {
    pub mode: StsMode,
    /// `UPLOAD_STS_DURATION_SECS` (default 3600; from 900 to 43200, federation 129600).
    pub duration: Duration,
}

impl StsConfig {
    fn from_lookup(get: &impl Fn(&str) -> Option<String>) -> Result<Option<Self>, ConfigError> {
        let mode = match (get("UPLOAD_STS_MODE").as_deref(), get("UPLOAD_ROLE_ARN")) {
            (None, None) => return Ok(None),
            (None | Some("assume-role"), Some(role_arn)) => {
                if !role_arn.starts_with("arn:") || role_arn.split(':').count() < 6 {
                    return Err(invalid("UPLOAD_ROLE_ARN", format!("expected a role ARN such as arn:aws:iam::123456789012:role/uploader, got {role_arn:?}")));
                }
                StsMode::AssumeRole { role_arn }
            }
            (Some("assume-role"), None) => {
                return Err(ConfigError::Missing {
                    name: "UPLOAD_ROLE_ARN",
                    hint: "UPLOAD_STS_MODE=assume-role needs the role to assume",
                })
            }
            (Some("federation"), _) => StsMode::Federation,
            (Some(other), _) => {
                return Err(invalid(
                    "UPLOAD_STS_MODE",
                    format!("expected assume-role or federation, got {other:?}"),
                ))
            }
        };
        let max = if mode == StsMode::Federation { 129_600 } else { 43_200 };
        let duration = match get("UPLOAD_STS_DURATION_SECS") {
            None => 3600,
            Some(raw) => match raw.parse::<u64>() {
                Ok(secs) if (900..=max).contains(&secs) => secs,
                _ => {
                    return Err(invalid(
                        "UPLOAD_STS_DURATION_SECS",
                        format!("expected whole seconds from 900 to {max}, got {raw:?}"),
                    ))
                }
            },
        };
        Ok(Some(Self { mode, duration: Duration::from_secs(duration) }))
    }
}

/// What may be uploaded: checked before anything is signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// `UPLOAD_MAX_BYTES` (default 5 GiB, what one POST can carry; at most 5 TiB, S3's largest
    /// object: files above 5 GiB always go in parts).
    pub max_bytes: u64,
    /// `UPLOAD_MULTIPART_THRESHOLD` (default 100 MiB, at most 5 GiB): larger files go in parts.
    pub multipart_threshold: u64,
    /// `UPLOAD_ALLOWED_TYPES`: comma-separated types, `type/*` wildcards allowed; empty: any.
    pub allowed_types: Vec<String>,
    /// `UPLOAD_FILES_PER_MINUTE` (default 60): files (signatures) one uploader may ask for.
    pub files_per_minute: NonZeroU32,
    /// `UPLOAD_SIGNS_PER_MINUTE_PER_IP` (default 600): the same, for one client address.
    pub signs_per_minute_per_ip: NonZeroU32,
    /// `UPLOAD_ACCESS_CODE`: when set, signing needs it. Kept only as its SHA-256.
    pub access_code_sha256: Option<[u8; 32]>,
    /// `UPLOAD_CHECKSUM_MAX_BYTES` (default 256 MiB; 0: off): files up to this size are
    /// hashed by the browser and the bucket checks their SHA-256.
    pub checksum_max_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_bytes: MAX_POST_OBJECT_SIZE,
            multipart_threshold: DEFAULT_MULTIPART_THRESHOLD,
            allowed_types: Vec::new(),
            files_per_minute: NonZeroU32::new(60).expect("not zero"),
            signs_per_minute_per_ip: NonZeroU32::new(600).expect("not zero"),
            access_code_sha256: None,
            checksum_max_bytes: DEFAULT_CHECKSUM_MAX_BYTES,
        }
    }
}

const DEFAULT_CHECKSUM_MAX_BYTES: u64 = 256 << 20;
const DEFAULT_MULTIPART_THRESHOLD: u64 = 100 << 20;

fn sha256(text: &str) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes()).into()
}

fn per_minute(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: u32,
) -> Result<NonZeroU32, ConfigError> {
    match get(name) {
        None => Ok(NonZeroU32::new(default).expect("defaults are not zero")),
        Some(raw) => raw.parse::<NonZeroU32>().map_err(|_| {
            invalid(name, format!("expected a count per minute of at least 1, got {raw:?}"))
        }),
    }
}

impl Limits {
    fn from_lookup(get: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let max_bytes = match get("UPLOAD_MAX_BYTES") {
            None => MAX_POST_OBJECT_SIZE,
            Some(raw) => match raw.parse::<u64>() {
                Ok(n @ 1..=MAX_OBJECT_BYTES) => n,
                _ => {
                    return Err(invalid(
                        "UPLOAD_MAX_BYTES",
                        format!("expected bytes from 1 to {MAX_OBJECT_BYTES} (5 TiB), got {raw:?}"),
                    ))
                }
            },
        };
        let multipart_threshold = match get("UPLOAD_MULTIPART_THRESHOLD") {
            None => DEFAULT_MULTIPART_THRESHOLD,
            Some(raw) => match raw.parse::<u64>() {
                Ok(n @ 1..=MAX_POST_OBJECT_SIZE) => n,
                _ => {
                    let message = format!("expected bytes from 1 to {MAX_POST_OBJECT_SIZE} (5 GiB, what one POST carries), got {raw:?}");
                    return Err(invalid("UPLOAD_MULTIPART_THRESHOLD", message));
                }
            },
        };
        let mut allowed_types = Vec::new();
        for pattern in get("UPLOAD_ALLOWED_TYPES")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            let pattern = pattern.to_ascii_lowercase();
            let valid = matches!(pattern.split_once('/'), Some((t, s)) if !t.is_empty() && t != "*" && !s.is_empty() && !s.contains('/'));
            if !valid {
                return Err(invalid(
                    "UPLOAD_ALLOWED_TYPES",
                    format!("expected types such as image/png or image/*, got {pattern:?}"),
                ));
            }
            allowed_types.push(pattern);
        }
        Ok(Self {
            max_bytes,
            multipart_threshold,
            allowed_types,
            files_per_minute: per_minute(get, "UPLOAD_FILES_PER_MINUTE", 60)?,
            signs_per_minute_per_ip: per_minute(get, "UPLOAD_SIGNS_PER_MINUTE_PER_IP", 600)?,
            access_code_sha256: get("UPLOAD_ACCESS_CODE").map(|code| sha256(&code)),
            checksum_max_bytes: match get("UPLOAD_CHECKSUM_MAX_BYTES") {
                None => DEFAULT_CHECKSUM_MAX_BYTES,
                Some(raw) => raw.parse::<u64>().map_err(|_| {
                    invalid(
                        "UPLOAD_CHECKSUM_MAX_BYTES",
                        format!("expected bytes (0 turns checksums off), got {raw:?}"),
                    )
                })?,
            },
        })
    }

    /// Whether `code` is the operator's access code (always true when none is set). Digests are
    /// compared, so the comparison's timing says nothing useful about the code.
    pub fn accepts_access_code(&self, code: &str) -> bool {
        self.access_code_sha256.is_none_or(|want| sha256(code) == want)
    }

    /// Whether `content_type` (parameters ignored, any case) is on the allow-list.
    pub fn allows_type(&self, content_type: &str) -> bool {
        app::rules::type_allowed(&self.allowed_types, content_type)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{name}{} is not set: {hint}", settings::flag_hint(name))]
    Missing { name: &'static str, hint: &'static str },
    #[error("{name}{} is invalid: {reason}", settings::flag_hint(name))]
    Invalid { name: &'static str, reason: String },
}

fn invalid(name: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid { name, reason: reason.into() }
}

impl Config {
    /// Reads the command line and the environment (see [`Settings`]).
    pub fn from_settings(settings: &Settings) -> Result<Self, ConfigError> {
        Self::from_lookup(|name| settings.get(name))
    }

    /// Reads settings through `get`, so tests need not touch the process environment.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let need = |name: &'static str, hint: &'static str| {
            get(name).ok_or(ConfigError::Missing { name, hint })
        };

        let bucket = need("UPLOAD_BUCKET", "name the S3 bucket that receives uploads")?;
        validate_bucket(&bucket).map_err(|reason| invalid("UPLOAD_BUCKET", reason))?;
        let region =
            need("AWS_REGION", "the bucket's region, e.g. us-east-1 (for Garage: its s3_region)")?;
        // Both keys or neither (then the AWS default chain finds credentials at start).
        let credentials = match (get("AWS_ACCESS_KEY_ID"), get("AWS_SECRET_ACCESS_KEY")) {
            (None, None) => None,
            (Some(id), Some(secret)) => {
                let credentials = Credentials::new(id, secret);
                Some(match get("AWS_SESSION_TOKEN") {
                    Some(token) => credentials.with_session_token(token),
                    None => credentials,
                })
            }
            (None, Some(_)) => {
                return Err(ConfigError::Missing {
                    name: "AWS_ACCESS_KEY_ID",
                    hint: "AWS_SECRET_ACCESS_KEY is set without its access key id",
                })
            }
            (Some(_), None) => {
                return Err(ConfigError::Missing {
                    name: "AWS_SECRET_ACCESS_KEY",
                    hint: "the secret key the server signs with (it never leaves the server)",
                })
            }
        };
        let sts = StsConfig::from_lookup(&get)?;

        let endpoint = match get("AWS_ENDPOINT_URL_S3").or_else(|| get("AWS_ENDPOINT_URL")) {
            None => None,
            Some(url) if url.starts_with("http://") || url.starts_with("https://") => {
                Some(url.trim_end_matches('/').to_owned())
            }
            Some(url) => {
                return Err(invalid(
                    "AWS_ENDPOINT_URL_S3",
                    format!("expected an http:// or https:// URL, got {url:?}"),
                ))
            }
        };

        let policy_lifetime = policy_lifetime(&get)?;
        let limits = Limits::from_lookup(&get)?;
        Ok(Self { bucket, region, credentials, sts, endpoint, policy_lifetime, limits })
    }

    /// The configuration for the embedded dev bucket at `endpoint`. Its credentials are made up
    /// at start (and never logged), unless `UPLOAD_DEV_ACCESS_KEY_ID` and
    /// `UPLOAD_DEV_SECRET_ACCESS_KEY` pin them (tests use this to sign forms from outside).
    pub fn dev_bucket(
        get: impl Fn(&str) -> Option<String>,
        endpoint: String,
    ) -> Result<Self, ConfigError> {
        let random_hex = |bytes: usize| {
            let mut out = String::new();
            while out.len() < bytes * 2 {
                out.push_str(&uuid::Uuid::new_v4().simple().to_string());
            }
            out.truncate(bytes * 2);
            out
        };
        let credentials =
            match (get("UPLOAD_DEV_ACCESS_KEY_ID"), get("UPLOAD_DEV_SECRET_ACCESS_KEY")) {
                (Some(id), Some(secret)) => Credentials::new(id, secret),
                _ => Credentials::new(
                    format!("DEV{}", random_hex(10).to_uppercase()),
                    random_hex(32),
                ),
            };
        Ok(Self {
            bucket: DEV_BUCKET.into(),
            region: DEV_REGION.into(),
            credentials: Some(credentials),
            sts: None,
            endpoint: Some(endpoint),
            policy_lifetime: policy_lifetime(&get)?,
            limits: Limits::from_lookup(&get)?,
        })
    }

    /// Where browsers POST their forms.
    /// Where an object's requests go: the endpoint (scheme and authority) and the path, not
    /// yet encoded, as [`crate::policy::presign`] takes them; the same addressing as
    /// [`Config::post_url`].
    pub fn object_location(&self, key: &str) -> (String, String) {
        match &self.endpoint {
            Some(endpoint) => {
                (endpoint.trim_end_matches('/').to_owned(), format!("/{}/{key}", self.bucket))
            }
            None if self.bucket.contains('.') => (
                format!("https://s3.{}.amazonaws.com", self.region),
                format!("/{}/{key}", self.bucket),
            ),
            None => (
                format!("https://{}.s3.{}.amazonaws.com", self.bucket, self.region),
                format!("/{key}"),
            ),
        }
    }

    pub fn post_url(&self) -> String {
        match &self.endpoint {
            Some(endpoint) => format!("{endpoint}/{}", self.bucket),
            // Dotted names break virtual-host TLS certificates; AWS serves them path-style.
            None if self.bucket.contains('.') => {
                format!("https://s3.{}.amazonaws.com/{}", self.region, self.bucket)
            }
            None => format!("https://{}.s3.{}.amazonaws.com/", self.bucket, self.region),
        }
    }
}

/// The bucket name the embedded dev bucket serves.
pub const DEV_BUCKET: &str = "dev-uploads";
/// The region its signatures are scoped to.
pub const DEV_REGION: &str = "us-east-1";

/// What serving the app needs, beside the bucket: read and checked before anything starts.
pub struct ServeConfig {
    /// `UPLOAD_SESSION_SECRET` (64 hex digits): the key uploader cookies, return tokens and
    /// receipts are sealed with, so sessions survive restarts and every instance opens what
    /// another sealed. Unset: a random key (sessions then end with the process), which only a
    /// single instance may use.
    pub session_key: Arc<SessionKey>,
    /// `UPLOAD_REDIS_URL`: the store the instances share budgets and verdicts through.
    pub shared: Option<Arc<SharedStore>>,
    /// `UPLOAD_TRUSTED_PROXIES`: whose forwarding headers are believed (default: nobody's).
    pub proxies: TrustedProxies,
    /// `UPLOAD_INSTANCE_ID` (default: the host name): named in every response's
    /// `x-upload-instance` header.
    pub instance: String,
    /// `UPLOAD_DRAIN_SECS` (default 20, at most 300): on SIGTERM, how long requests in flight
    /// may still take.
    pub drain: Duration,
    /// `UPLOAD_METRICS_ADDR` (default `127.0.0.1:9464`): where `/metrics` is served, apart from
    /// the app, so that the public cannot read the counters.
    pub metrics_addr: std::net::SocketAddr,
    pub target: Target,
}

/// Where uploads go.
pub enum Target {
    /// `UPLOAD_BUCKET` is set: that bucket.
    Bucket(Config),
    /// It is not: the embedded dev bucket, started in this process.
    Dev(DevBucketConfig),
}

/// The embedded dev bucket's settings.
pub struct DevBucketConfig {
    /// `UPLOAD_DEV_BUCKET_ADDR` (default `127.0.0.1:0`: any free port).
    pub addr: String,
    /// `UPLOAD_DEV_DATA_DIR` (default `data`): objects land in `<dir>/<bucket>/<key>`.
    pub data_dir: PathBuf,
    /// The signing configuration for it, but for the endpoint: see [`DevBucketConfig::config`].
    signing: Config,
}

impl DevBucketConfig {
    /// The dev bucket's configuration, now that it listens at `endpoint`.
    pub fn config(&self, endpoint: String) -> Config {
        Config { endpoint: Some(endpoint), ..self.signing.clone() }
    }
}

impl ServeConfig {
    pub fn from_settings(settings: &Settings) -> Result<Self, ConfigError> {
        Self::from_lookup(|name| settings.get(name))
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let target = if get("UPLOAD_BUCKET").is_some() {
            Target::Bucket(Config::from_lookup(&get)?)
        } else {
            Target::Dev(DevBucketConfig {
                addr: get("UPLOAD_DEV_BUCKET_ADDR").unwrap_or_else(|| "127.0.0.1:0".into()),
                data_dir: get("UPLOAD_DEV_DATA_DIR").unwrap_or_else(|| "data".into()).into(),
                signing: Config::dev_bucket(&get, String::new())?,
            })
        };
        let shared = match get("UPLOAD_REDIS_URL") {
            None => None,
            Some(url) => Some(Arc::new(
                SharedStore::new(&url).map_err(|reason| invalid("UPLOAD_REDIS_URL", reason))?,
            )),
        };
        let session_key = match get("UPLOAD_SESSION_SECRET") {
            // Several instances with a key each would refuse each other's cookies and receipts.
            None if shared.is_some() => {
                return Err(ConfigError::Missing {
                    name: "UPLOAD_SESSION_SECRET",
                    hint: "UPLOAD_REDIS_URL is set, so several instances serve this site: give them all the same 64 hex digits (e.g. openssl rand -hex 32)",
                })
            }
            None => SessionKey::random(),
            Some(hex) => SessionKey::from_hex(&hex).ok_or_else(|| invalid("UPLOAD_SESSION_SECRET", "expected 64 hex digits (32 random bytes)"))?,
        };
        let proxies = TrustedProxies::parse(&get("UPLOAD_TRUSTED_PROXIES").unwrap_or_default())
            .map_err(|reason| invalid("UPLOAD_TRUSTED_PROXIES", reason))?;
        let instance = match get("UPLOAD_INSTANCE_ID") {
            Some(id) if id.len() <= 64 && id.bytes().all(|b| b.is_ascii_graphic()) => id,
            Some(id) => {
                return Err(invalid(
                    "UPLOAD_INSTANCE_ID",
                    format!("expected up to 64 printable characters without spaces, got {id:?}"),
                ))
            }
            None => host_name(),
        };
        let drain = match get("UPLOAD_DRAIN_SECS") {
            None => Duration::from_secs(20),
            Some(raw) => match raw.parse::<u64>() {
                Ok(secs @ 0..=300) => Duration::from_secs(secs),
                _ => {
                    return Err(invalid(
                        "UPLOAD_DRAIN_SECS",
                        format!("expected whole seconds from 0 to 300, got {raw:?}"),
                    ))
                }
            },
        };
        let metrics_addr = match get("UPLOAD_METRICS_ADDR") {
            None => std::net::SocketAddr::from(([127, 0, 0, 1], 9464)),
            Some(raw) => raw.parse().map_err(|_| {
                invalid(
                    "UPLOAD_METRICS_ADDR",
                    format!("expected an address and port such as 127.0.0.1:9464, got {raw:?}"),
                )
            })?,
        };
        Ok(Self {
            session_key: Arc::new(session_key),
            shared,
            proxies,
            instance,
            drain,
            metrics_addr,
            target,
        })
    }
}

/// This machine's name, as the kernel has it (or `HOSTNAME`); `server` if neither says.
fn host_name() -> String {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_default();
    let name: String = name.trim().chars().filter(char::is_ascii_graphic).take(64).collect();
    if name.is_empty() {
        "server".into()
    } else {
        name
    }
}

fn policy_lifetime(get: &impl Fn(&str) -> Option<String>) -> Result<Duration, ConfigError> {
    match get("UPLOAD_POLICY_TTL_SECS") {
        None => Ok(Duration::from_secs(300)),
        Some(raw) => match raw.parse::<u64>() {
            Ok(secs @ 30..=600) => Ok(Duration::from_secs(secs)),
            _ => Err(invalid(
                "UPLOAD_POLICY_TTL_SECS",
                format!("expected whole seconds from 30 to 600, got {raw:?}"),
            )),
        },
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

/// Leptos's options, with `hash_files` on when the build left its hash file beside this binary
/// (cargo-leptos `hash-files`): the page then names the hashed wasm, JS and CSS, and browsers
/// may keep them. cargo-leptos says so in `LEPTOS_HASH_FILES` only to the processes it starts;
/// a server started any other way (a service manager, the test scripts) finds out here.
pub fn site_options(mut options: leptos::config::LeptosOptions) -> leptos::config::LeptosOptions {
    let beside_binary = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.join(options.hash_file.as_ref())));
    if beside_binary.is_some_and(|file| file.is_file()) {
        options.hash_files = true;
    }
    options
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> =
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |name| map.get(name).cloned()
    }

    const BASE: [(&str, &str); 4] = [
        ("UPLOAD_BUCKET", "uploads"),
        ("AWS_REGION", "garage"),
        ("AWS_ACCESS_KEY_ID", "GK0123456789abcdef01234567"),
        ("AWS_SECRET_ACCESS_KEY", "topsecret"),
    ];

    #[test]
    fn each_missing_variable_is_named() {
        for (name, _) in &BASE[..2] {
            let pairs: Vec<_> = BASE.iter().filter(|(n, _)| n != name).copied().collect();
            let err = Config::from_lookup(lookup(&pairs)).unwrap_err();
            assert!(err.to_string().starts_with(name), "{err}");
        }
    }

    #[test]
    fn custom_endpoint_means_path_style() {
        let mut pairs = BASE.to_vec();
        pairs.push(("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:3900/"));
        let config = Config::from_lookup(lookup(&pairs)).unwrap();
        assert_eq!(config.post_url(), "http://127.0.0.1:3900/uploads");
        assert_eq!(config.policy_lifetime, Duration::from_secs(300));
    }

    #[test]
    fn aws_urls_are_virtual_host_unless_the_name_has_dots() {
        let config = Config::from_lookup(lookup(&BASE)).unwrap();
        assert_eq!(config.post_url(), "https://uploads.s3.garage.amazonaws.com/");
        let mut pairs = BASE.to_vec();
        pairs[0] = ("UPLOAD_BUCKET", "my.uploads");
        assert_eq!(
            Config::from_lookup(lookup(&pairs)).unwrap().post_url(),
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
            let err = Config::from_lookup(lookup(&pairs)).unwrap_err();
            assert!(matches!(err, ConfigError::Invalid { name: n, .. } if n == name), "{err}");
        }
    }

    #[test]
    fn dev_bucket_credentials_are_fresh_unless_pinned() {
        let a = Config::dev_bucket(lookup(&[]), "http://127.0.0.1:1".into()).unwrap();
        let b = Config::dev_bucket(lookup(&[]), "http://127.0.0.1:1".into()).unwrap();
        let id = |c: &Config| c.credentials.as_ref().unwrap().access_key_id().to_owned();
        assert_ne!(id(&a), id(&b));
        assert_eq!(a.post_url(), "http://127.0.0.1:1/dev-uploads");
        let pinned = Config::dev_bucket(
            lookup(&[
                ("UPLOAD_DEV_ACCESS_KEY_ID", "DEVKEY"),
                ("UPLOAD_DEV_SECRET_ACCESS_KEY", "s"),
            ]),
            "http://127.0.0.1:1".into(),
        )
        .unwrap();
        assert_eq!(id(&pinned), "DEVKEY");
    }

    #[test]
    fn serving_without_a_bucket_means_the_dev_bucket() {
        let serve =
            ServeConfig::from_lookup(lookup(&[("UPLOAD_DEV_DATA_DIR", "/tmp/uploads")])).unwrap();
        let Target::Dev(dev) = serve.target else { panic!("no UPLOAD_BUCKET: the dev bucket") };
        assert_eq!(
            (dev.addr.as_str(), dev.data_dir.to_str().unwrap()),
            ("127.0.0.1:0", "/tmp/uploads")
        );
        assert_eq!(
            dev.config("http://127.0.0.1:9".into()).post_url(),
            "http://127.0.0.1:9/dev-uploads"
        );
        assert!(matches!(
            ServeConfig::from_lookup(lookup(&BASE)).unwrap().target,
            Target::Bucket(_)
        ));
        let bad_secret =
            ServeConfig::from_lookup(lookup(&[("UPLOAD_SESSION_SECRET", "short")])).err().unwrap();
        assert_eq!(
            bad_secret.to_string(),
            "UPLOAD_SESSION_SECRET is invalid: expected 64 hex digits (32 random bytes)"
        );
    }

    #[test]
    fn several_instances_need_one_secret_and_say_who_they_are() {
        let redis = ("UPLOAD_REDIS_URL", "redis://127.0.0.1:6379");
        let err = ServeConfig::from_lookup(lookup(&[redis])).err().unwrap().to_string();
        assert!(
            err.starts_with(
                "UPLOAD_SESSION_SECRET is not set: UPLOAD_REDIS_URL is set, so several instances"
            ),
            "{err}"
        );
        let secret = "ab".repeat(32);
        let pairs = [
            redis,
            ("UPLOAD_SESSION_SECRET", secret.as_str()),
            ("UPLOAD_TRUSTED_PROXIES", "127.0.0.1, ::1"),
            ("UPLOAD_INSTANCE_ID", "a-1"),
        ];
        let serve = ServeConfig::from_lookup(lookup(&pairs)).unwrap();
        assert!(serve.shared.is_some());
        assert!(serve.proxies.trusts("::1".parse().unwrap()));
        assert_eq!((serve.instance.as_str(), serve.drain), ("a-1", Duration::from_secs(20)));
        // A single instance needs neither, and names itself after the host.
        let single = ServeConfig::from_lookup(lookup(&[])).unwrap();
        assert!(single.shared.is_none() && !single.instance.is_empty());
        for (name, value) in [
            ("UPLOAD_REDIS_URL", "http://x"),
            ("UPLOAD_TRUSTED_PROXIES", "10.0.0.0/99"),
            ("UPLOAD_INSTANCE_ID", "a b"),
            ("UPLOAD_DRAIN_SECS", "301"),
        ] {
            let err = ServeConfig::from_lookup(lookup(&[
                (name, value),
                ("UPLOAD_SESSION_SECRET", secret.as_str()),
            ]))
            .err();
            assert!(err.is_some_and(|e| e.to_string().starts_with(name)), "{name}={value}");
        }
    }

    #[test]
    fn allowed_types_take_wildcards_and_ignore_case_and_parameters() {
        let mut pairs = BASE.to_vec();
        pairs.push(("UPLOAD_ALLOWED_TYPES", "image/*, application/PDF"));
        pairs.push(("UPLOAD_MAX_BYTES", "1048576"));
        let limits = Config::from_lookup(lookup(&pairs)).unwrap().limits;
        assert_eq!(limits.max_bytes, 1_048_576);
        for ok in ["image/png", "IMAGE/JPEG", "application/pdf; charset=x"] {
            assert!(limits.allows_type(ok), "{ok}");
        }
        for refused in ["text/html", "application/pdfx", "imagex/png", "application/octet-stream"] {
            assert!(!limits.allows_type(refused), "{refused}");
        }
        assert!(Limits::default().allows_type("anything/at-all"));
    }

    #[test]
    fn the_access_code_is_checked_only_when_set() {
        assert!(Limits::default().accepts_access_code(""));
        let mut pairs = BASE.to_vec();
        pairs.push(("UPLOAD_ACCESS_CODE", "open sesame"));
        let limits = Config::from_lookup(lookup(&pairs)).unwrap().limits;
        assert!(limits.accepts_access_code("open sesame"));
        assert!(!limits.accepts_access_code("open sesame "));
        assert!(!limits.accepts_access_code(""));
        assert!(!format!("{limits:?}").contains("open sesame"));
    }

    #[test]
    fn keys_come_in_pairs_or_from_the_default_chain() {
        let config = Config::from_lookup(lookup(&BASE[..2])).unwrap();
        assert!(config.credentials.is_none() && config.sts.is_none());
        let err = Config::from_lookup(lookup(&BASE[..3])).unwrap_err();
        assert!(err.to_string().starts_with("AWS_SECRET_ACCESS_KEY"), "{err}");
    }

    #[test]
    fn sts_is_configured_by_role_or_mode() {
        let mut pairs = BASE.to_vec();
        pairs.push(("UPLOAD_ROLE_ARN", "arn:aws:iam::123456789012:role/uploader"));
        let sts = Config::from_lookup(lookup(&pairs)).unwrap().sts.unwrap();
        assert_eq!(
            sts.mode,
            StsMode::AssumeRole { role_arn: "arn:aws:iam::123456789012:role/uploader".into() }
        );
        assert_eq!(sts.duration, Duration::from_secs(3600));
        let mut pairs = BASE.to_vec();
        pairs.extend([("UPLOAD_STS_MODE", "federation"), ("UPLOAD_STS_DURATION_SECS", "129600")]);
        let sts = Config::from_lookup(lookup(&pairs)).unwrap().sts.unwrap();
        assert_eq!((sts.mode, sts.duration), (StsMode::Federation, Duration::from_secs(129_600)));
        pairs[5] = ("UPLOAD_STS_DURATION_SECS", "129601");
        assert!(matches!(
            Config::from_lookup(lookup(&pairs)),
            Err(ConfigError::Invalid { name: "UPLOAD_STS_DURATION_SECS", .. })
        ));
        let mut pairs = BASE.to_vec();
        pairs.push(("UPLOAD_STS_MODE", "assume-role"));
        assert!(matches!(
            Config::from_lookup(lookup(&pairs)),
            Err(ConfigError::Missing { name: "UPLOAD_ROLE_ARN", .. })
        ));
    }

    #[test]
    fn debug_does_not_print_the_secret() {
        let config = Config::from_lookup(lookup(&BASE)).unwrap();
        assert!(!format!("{config:?}").contains("topsecret"));
    }
}
