//! What serving the app needs beside the bucket (the session key, the shared store, whose
//! forwarding to believe, the instance's name, draining, the metrics address), and where uploads
//! go: the configured bucket, or the embedded dev bucket when none is.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::bucket::Config;
use super::limits::Limits;
use super::read::{invalid, missing, number, policy_lifetime, upload_method, ConfigError, Lookup};
use super::settings::{Setting, Settings};
use crate::devbucket::emulate::Emulated;
use crate::edge::client::TrustedProxies;
use crate::edge::host::SiteHosts;
use crate::policy::{Bucket, Credentials};
use crate::seal::SessionKey;
use crate::shared::SharedStore;

/// The bucket name the embedded dev bucket serves.
pub const DEV_BUCKET: &str = "dev-uploads";
/// The region its signatures are scoped to.
pub const DEV_REGION: &str = "us-east-1";

/// The dev bucket served at `endpoint`: [`DEV_BUCKET`] in [`DEV_REGION`].
pub fn dev_bucket_at(endpoint: String) -> Bucket {
    Bucket::new(DEV_BUCKET, DEV_REGION, Some(endpoint))
}

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
    /// `UPLOAD_AUTH` and its settings: who uploads.
    pub auth: Arc<crate::auth::Auth>,
    /// `UPLOAD_PUBLIC_ORIGIN`: the host names the site is served under; empty: the listening
    /// address and its loopback names (see [`SiteHosts::listening_on`]).
    pub hosts: SiteHosts,
    /// `UPLOAD_INSTANCE_ID` (default: the host name): named in every response's
    /// `x-upload-instance` header.
    pub instance: String,
    /// `UPLOAD_DRAIN_SECS` (default 20, at most 300): on SIGTERM, how long requests in flight
    /// may still take.
    pub drain: Duration,
    /// `UPLOAD_METRICS_ADDR` (default `127.0.0.1:9464`): where `/metrics` is served, apart from
    /// the app, so that the public cannot read the counters.
    pub metrics_addr: SocketAddr,
    /// `UPLOAD_STATE_DIR` (default `data/state`): the embedded store of pending uploads and
    /// verdicts, used without `UPLOAD_REDIS_URL`.
    pub state_dir: PathBuf,
    /// `UPLOAD_RECONCILE_GRACE_SECS` (default 900): how long after a form's policy expires the
    /// reconciler first looks at what it stored.
    pub reconcile_grace: Duration,
    /// `UPLOAD_RECONCILE_EVERY_SECS` (default 5): the reconciler's rounds.
    pub reconcile_every: Duration,
    /// `UPLOAD_WEBHOOK_URL` and the profiles' own endpoints: where events go, if anywhere.
    pub webhooks: super::Webhooks,
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
    /// `UPLOAD_DEV_EMULATE` (`r2`, `b2`): answer as that store does where it differs from S3.
    pub emulate: Option<Emulated>,
    /// The signing configuration for it, but for the endpoint: see [`DevBucketConfig::config`].
    signing: Config,
}

impl DevBucketConfig {
    /// The dev bucket's configuration, now that it listens at `endpoint`.
    pub fn config(&self, endpoint: String) -> Config {
        Config { bucket: dev_bucket_at(endpoint), ..self.signing.clone() }
    }
}

impl Config {
    /// The configuration for the embedded dev bucket at `endpoint`. Its credentials are made up
    /// at start (and never logged), unless `UPLOAD_DEV_ACCESS_KEY_ID` and
    /// `UPLOAD_DEV_SECRET_ACCESS_KEY` pin them (tests use this to sign forms from outside).
    pub fn dev_bucket(get: impl Lookup, endpoint: String) -> Result<Self, ConfigError> {
        let random_hex = |bytes: usize| {
            let mut out = String::new();
            while out.len() < bytes * 2 {
                out.push_str(&uuid::Uuid::new_v4().simple().to_string());
            }
            out.truncate(bytes * 2);
            out
        };
        let credentials = match (get(Setting::DevAccessKeyId), get(Setting::DevSecretAccessKey)) {
            (Some(id), Some(secret)) => Credentials::new(id, secret),
            _ => Credentials::new(format!("DEV{}", random_hex(10).to_uppercase()), random_hex(32)),
        };
        let limits = Limits::from_lookup(&get)?;
        Ok(Self {
            profiles: std::sync::Arc::new(super::Profiles::from_lookup(&get, &limits)?),
            bucket: dev_bucket_at(endpoint),
            credentials: Some(credentials),
            sts: None,
            policy_lifetime: policy_lifetime(&get)?,
            method: upload_method(&get, limits.checksum)?,
            limits,
        })
    }
}

impl ServeConfig {
    pub fn from_settings(settings: &Settings) -> Result<Self, ConfigError> {
        Self::from_lookup(|setting| settings.get(setting))
    }

    pub fn from_lookup(get: impl Lookup) -> Result<Self, ConfigError> {
        let target = if get(Setting::Bucket).is_some() {
            Target::Bucket(Config::from_lookup(&get)?)
        } else {
            Target::Dev(DevBucketConfig {
                addr: get(Setting::DevBucketAddr).unwrap_or_else(|| "127.0.0.1:0".into()),
                data_dir: get(Setting::DevDataDir).unwrap_or_else(|| "data".into()).into(),
                emulate: match get(Setting::DevEmulate) {
                    None => None,
                    Some(name) => Some(Emulated::parse(&name).ok_or_else(|| {
                        invalid(Setting::DevEmulate, format!("expected r2 or b2, got {name:?}"))
                    })?),
                },
                signing: Config::dev_bucket(&get, String::new())?,
            })
        };
        let shared = match get(Setting::RedisUrl) {
            None => None,
            Some(url) => Some(Arc::new(
                SharedStore::new(&url).map_err(|reason| invalid(Setting::RedisUrl, reason))?,
            )),
        };
        let session_key = match get(Setting::SessionSecret) {
            // Several instances with a key each would refuse each other's cookies and receipts.
            None if shared.is_some() => {
                return Err(missing(
                    Setting::SessionSecret,
                    "UPLOAD_REDIS_URL is set, so several instances serve this site: give them \
                     all the same 64 hex digits (e.g. openssl rand -hex 32)",
                ))
            }
            None => SessionKey::random(),
            Some(hex) => SessionKey::from_hex(&hex).ok_or_else(|| {
                invalid(Setting::SessionSecret, "expected 64 hex digits (32 random bytes)")
            })?,
        };
        let proxies = TrustedProxies::parse(&get(Setting::TrustedProxies).unwrap_or_default())
            .map_err(|reason| invalid(Setting::TrustedProxies, reason))?;
        let auth = Arc::new(super::auth::auth(&get)?);
        let profiles = match &target {
            Target::Bucket(config) => &config.profiles,
            Target::Dev(dev) => &dev.signing.profiles,
        };
        if profiles.embeddable() && !matches!(auth.mode, crate::auth::Mode::Token(_)) {
            return Err(invalid(
                Setting::EmbedOrigins,
                format!(
                    "embedding needs UPLOAD_AUTH=token (it is {}): a frame on another site gets \
                     no cookie, so the embedded uploader signs every call with the token its \
                     parent page hands it",
                    auth.mode.name()
                ),
            ));
        }
        let hosts = SiteHosts::parse(&get(Setting::PublicOrigin).unwrap_or_default())
            .map_err(|reason| invalid(Setting::PublicOrigin, reason))?;
        let instance = match get(Setting::InstanceId) {
            Some(id) if id.len() <= 64 && id.bytes().all(|b| b.is_ascii_graphic()) => id,
            Some(id) => {
                return Err(invalid(
                    Setting::InstanceId,
                    format!("expected up to 64 printable characters without spaces, got {id:?}"),
                ))
            }
            None => host_name(),
        };
        let drain = number(&get, Setting::DrainSecs, 20, 0..=300, "whole seconds from 0 to 300")?;
        let metrics_addr = match get(Setting::MetricsAddr) {
            None => SocketAddr::from(([127, 0, 0, 1], 9464)),
            Some(raw) => raw.parse().map_err(|_| {
                invalid(
                    Setting::MetricsAddr,
                    format!("expected an address and port such as 127.0.0.1:9464, got {raw:?}"),
                )
            })?,
        };
        let state_dir = get(Setting::StateDir).unwrap_or_else(|| "data/state".into()).into();
        let default_grace = crate::uploads::DEFAULT_GRACE.as_secs();
        let grace = number(
            &get,
            Setting::ReconcileGraceSecs,
            default_grace,
            1..=86_400,
            "whole seconds from 1 to 86400",
        )?;
        let every =
            number(&get, Setting::ReconcileEverySecs, 5, 1..=300, "whole seconds from 1 to 300")?;
        let webhooks = super::webhooks::webhooks(&get, profiles, |name| std::env::var(name).ok())?;
        Ok(Self {
            webhooks,
            state_dir,
            reconcile_grace: Duration::from_secs(grace),
            reconcile_every: Duration::from_secs(every),
            session_key: Arc::new(session_key),
            shared,
            proxies,
            auth,
            hosts,
            instance,
            drain: Duration::from_secs(drain),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::table;

    use crate::config::read::TEST_SETTINGS as BASE;

    #[test]
    fn dev_bucket_credentials_are_fresh_unless_pinned() {
        let a = Config::dev_bucket(table(&[]), "http://127.0.0.1:1".into()).unwrap();
        let b = Config::dev_bucket(table(&[]), "http://127.0.0.1:1".into()).unwrap();
        let id = |c: &Config| c.credentials.as_ref().unwrap().access_key_id().to_owned();
        assert_ne!(id(&a), id(&b));
        assert_eq!(a.bucket.post_url(), "http://127.0.0.1:1/dev-uploads");
        let pinned = Config::dev_bucket(
            table(&[("UPLOAD_DEV_ACCESS_KEY_ID", "DEVKEY"), ("UPLOAD_DEV_SECRET_ACCESS_KEY", "s")]),
            "http://127.0.0.1:1".into(),
        )
        .unwrap();
        assert_eq!(id(&pinned), "DEVKEY");
    }

    #[test]
    fn serving_without_a_bucket_means_the_dev_bucket() {
        let serve =
            ServeConfig::from_lookup(table(&[("UPLOAD_DEV_DATA_DIR", "/tmp/uploads")])).unwrap();
        let Target::Dev(dev) = serve.target else { panic!("no UPLOAD_BUCKET: the dev bucket") };
        assert_eq!(
            (dev.addr.as_str(), dev.data_dir.to_str().unwrap()),
            ("127.0.0.1:0", "/tmp/uploads")
        );
        assert_eq!(
            dev.config("http://127.0.0.1:9".into()).bucket.post_url(),
            "http://127.0.0.1:9/dev-uploads"
        );
        assert!(matches!(
            ServeConfig::from_lookup(table(&BASE)).unwrap().target,
            Target::Bucket(_)
        ));
        let bad_secret =
            ServeConfig::from_lookup(table(&[("UPLOAD_SESSION_SECRET", "short")])).err().unwrap();
        assert_eq!(
            bad_secret.to_string(),
            "UPLOAD_SESSION_SECRET is invalid: expected 64 hex digits (32 random bytes)"
        );
    }

    #[test]
    fn embedding_needs_tokens() {
        let embed = ("UPLOAD_EMBED_ORIGINS", "https://app.example");
        let err = ServeConfig::from_lookup(table(&[embed])).err().unwrap().to_string();
        assert!(err.starts_with("UPLOAD_EMBED_ORIGINS (--embed-origins) is invalid: embedding needs UPLOAD_AUTH=token (it is anonymous)"), "{err}");
        let tokens = [
            embed,
            ("UPLOAD_AUTH", "token"),
            ("UPLOAD_TOKEN_HS256_SECRET", "0123456789abcdef0123456789abcdef"),
            ("UPLOAD_TOKEN_ISSUER", "https://app.example"),
            ("UPLOAD_TOKEN_AUDIENCE", "uploads"),
        ];
        assert!(ServeConfig::from_lookup(table(&tokens)).is_ok());
        let bad = ServeConfig::from_lookup(table(&[("UPLOAD_EMBED_ORIGINS", "app.example")]));
        assert!(bad
            .err()
            .unwrap()
            .to_string()
            .contains("expected origins such as https://app.example"));
    }

    #[test]
    fn several_instances_need_one_secret_and_say_who_they_are() {
        let redis = ("UPLOAD_REDIS_URL", "redis://127.0.0.1:6379");
        let err = ServeConfig::from_lookup(table(&[redis])).err().unwrap().to_string();
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
        let serve = ServeConfig::from_lookup(table(&pairs)).unwrap();
        assert!(serve.shared.is_some());
        assert!(serve.proxies.trusts("::1".parse().unwrap()));
        assert_eq!((serve.instance.as_str(), serve.drain), ("a-1", Duration::from_secs(20)));
        assert_eq!(
            (serve.reconcile_grace, serve.reconcile_every),
            (Duration::from_secs(900), Duration::from_secs(5))
        );
        assert_eq!(serve.state_dir, PathBuf::from("data/state"));
        // A single instance needs neither, and names itself after the host.
        let single = ServeConfig::from_lookup(table(&[])).unwrap();
        assert!(single.shared.is_none() && !single.instance.is_empty());
        for (name, value) in [
            ("UPLOAD_REDIS_URL", "http://x"),
            ("UPLOAD_TRUSTED_PROXIES", "10.0.0.0/99"),
            ("UPLOAD_INSTANCE_ID", "a b"),
            ("UPLOAD_DRAIN_SECS", "301"),
            ("UPLOAD_PUBLIC_ORIGIN", "upload.example.com"),
            ("UPLOAD_RECONCILE_GRACE_SECS", "0"),
            ("UPLOAD_RECONCILE_EVERY_SECS", "soon"),
        ] {
            let err = ServeConfig::from_lookup(table(&[
                (name, value),
                ("UPLOAD_SESSION_SECRET", secret.as_str()),
            ]))
            .err();
            assert!(err.is_some_and(|e| e.to_string().starts_with(name)), "{name}={value}");
        }
    }
}
