//! Every setting of the server as a flag and an environment variable (clap), so `server
//! --help` lists them all with their defaults. Values are checked in one place,
//! [`super::Config`] and [`super::ServeConfig`], whose errors name the variable. Secrets are read from the
//! environment only: flags show up in process listings.

use clap::Args;

/// Settings shared by every command. Each flag overrides its variable.
#[derive(Debug, Clone, Default, Args)]
pub struct Settings {
    /// The bucket that receives uploads. Unset: the embedded dev bucket.
    #[arg(long, env = "UPLOAD_BUCKET", value_name = "NAME", global = true)]
    pub bucket: Option<String>,
    /// The bucket's region, which policies are signed for (Garage: its s3_region).
    #[arg(long, env = "AWS_REGION", value_name = "REGION", global = true)]
    pub region: Option<String>,
    /// An S3-compatible endpoint, addressed path-style (also read from AWS_ENDPOINT_URL).
    /// Unset: AWS.
    #[arg(long, env = "AWS_ENDPOINT_URL_S3", value_name = "URL", global = true)]
    pub endpoint: Option<String>,
    /// Seconds a signed form stays valid, 30 to 600 [default: 300].
    #[arg(long, env = "UPLOAD_POLICY_TTL_SECS", value_name = "SECS", global = true)]
    pub policy_ttl_secs: Option<String>,
    /// The largest file signed for, in bytes, at most 5 TiB (files above 5 GiB go in parts)
    /// [default: 5368709120].
    #[arg(long, env = "UPLOAD_MAX_BYTES", value_name = "BYTES", global = true)]
    pub max_bytes: Option<String>,
    /// Files above this size go to the bucket in parts (multipart upload), at most 5 GiB
    /// [default: 104857600].
    #[arg(long, env = "UPLOAD_MULTIPART_THRESHOLD", value_name = "BYTES", global = true)]
    pub multipart_threshold: Option<String>,
    /// Accepted types, comma-separated, `type/*` wildcards allowed [default: any].
    #[arg(long, env = "UPLOAD_ALLOWED_TYPES", value_name = "TYPES", global = true)]
    pub allowed_types: Option<String>,
    /// Files one uploader may start per minute; past that, 429 [default: 60].
    #[arg(long, env = "UPLOAD_FILES_PER_MINUTE", value_name = "N", global = true)]
    pub files_per_minute: Option<String>,
    /// Signatures one client address may ask for per minute [default: 600].
    #[arg(long, env = "UPLOAD_SIGNS_PER_MINUTE_PER_IP", value_name = "N", global = true)]
    pub signs_per_minute_per_ip: Option<String>,
    /// Files up to this size are hashed in the browser and checked by the bucket; 0: off
    /// [default: 268435456].
    #[arg(long, env = "UPLOAD_CHECKSUM_MAX_BYTES", value_name = "BYTES", global = true)]
    pub checksum_max_bytes: Option<String>,
    /// Sign with temporary credentials from STS AssumeRole on this role, scoped per uploader.
    #[arg(long, env = "UPLOAD_ROLE_ARN", value_name = "ARN", global = true)]
    pub role_arn: Option<String>,
    /// `assume-role` (with --role-arn) or `federation` (GetFederationToken).
    #[arg(long, env = "UPLOAD_STS_MODE", value_name = "MODE", global = true)]
    pub sts_mode: Option<String>,
    /// Lifetime of STS credentials, 900 to 43200 (federation: 129600) [default: 3600].
    #[arg(long, env = "UPLOAD_STS_DURATION_SECS", value_name = "SECS", global = true)]
    pub sts_duration_secs: Option<String>,
    /// Where the embedded dev bucket listens [default: 127.0.0.1:0, any free port].
    /// Proxies whose X-Forwarded-For and X-Forwarded-Proto are believed: comma-separated CIDRs.
    #[arg(long, env = "UPLOAD_TRUSTED_PROXIES", value_name = "CIDRS", global = true)]
    pub trusted_proxies: Option<String>,
    /// This instance's name in the `x-upload-instance` header (default: the host name).
    #[arg(long, env = "UPLOAD_INSTANCE_ID", value_name = "NAME", global = true)]
    pub instance_id: Option<String>,
    /// Where `/metrics` is served (default 127.0.0.1:9464; never on the app's own port).
    #[arg(long, env = "UPLOAD_METRICS_ADDR", value_name = "ADDR", global = true)]
    pub metrics_addr: Option<String>,
    /// On SIGTERM, how long requests in flight may take before the server exits (default 20).
    #[arg(long, env = "UPLOAD_DRAIN_SECS", value_name = "SECS", global = true)]
    pub drain_secs: Option<String>,
    #[arg(long, env = "UPLOAD_DEV_BUCKET_ADDR", value_name = "ADDR", global = true)]
    pub dev_bucket_addr: Option<String>,
    /// Where the embedded dev bucket stores files [default: data].
    #[arg(long, env = "UPLOAD_DEV_DATA_DIR", value_name = "DIR", global = true)]
    pub dev_data_dir: Option<String>,
}

/// Read from the environment only (never flags): secrets, and the AWS fallbacks.
const ENV_ONLY: [&str; 9] = [
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_ENDPOINT_URL",
    "UPLOAD_ACCESS_CODE",
    "UPLOAD_SESSION_SECRET",
    // It may hold a password.
    "UPLOAD_REDIS_URL",
    "UPLOAD_DEV_ACCESS_KEY_ID",
    "UPLOAD_DEV_SECRET_ACCESS_KEY",
];

/// " (--flag)" for a variable that has a flag, to name both in messages.
pub fn flag_hint(variable: &str) -> String {
    let command = Settings::augment_args(clap::Command::new("server"));
    let flag = command
        .get_arguments()
        .find(|arg| arg.get_env().is_some_and(|env| env == variable))
        .and_then(|arg| arg.get_long());
    flag.map(|long| format!(" (--{long})")).unwrap_or_default()
}

impl Settings {
    /// A setting by its variable's name; empty values count as unset.
    pub fn get(&self, name: &str) -> Option<String> {
        let value = match name {
            "UPLOAD_BUCKET" => self.bucket.clone(),
            "AWS_REGION" => self.region.clone(),
            "AWS_ENDPOINT_URL_S3" => self.endpoint.clone(),
            "UPLOAD_POLICY_TTL_SECS" => self.policy_ttl_secs.clone(),
            "UPLOAD_MAX_BYTES" => self.max_bytes.clone(),
            "UPLOAD_MULTIPART_THRESHOLD" => self.multipart_threshold.clone(),
            "UPLOAD_ALLOWED_TYPES" => self.allowed_types.clone(),
            "UPLOAD_FILES_PER_MINUTE" => self.files_per_minute.clone(),
            "UPLOAD_SIGNS_PER_MINUTE_PER_IP" => self.signs_per_minute_per_ip.clone(),
            "UPLOAD_CHECKSUM_MAX_BYTES" => self.checksum_max_bytes.clone(),
            "UPLOAD_ROLE_ARN" => self.role_arn.clone(),
            "UPLOAD_STS_MODE" => self.sts_mode.clone(),
            "UPLOAD_STS_DURATION_SECS" => self.sts_duration_secs.clone(),
            "UPLOAD_TRUSTED_PROXIES" => self.trusted_proxies.clone(),
            "UPLOAD_INSTANCE_ID" => self.instance_id.clone(),
            "UPLOAD_DRAIN_SECS" => self.drain_secs.clone(),
            "UPLOAD_METRICS_ADDR" => self.metrics_addr.clone(),
            "UPLOAD_DEV_BUCKET_ADDR" => self.dev_bucket_addr.clone(),
            "UPLOAD_DEV_DATA_DIR" => self.dev_data_dir.clone(),
            _ if ENV_ONLY.contains(&name) => std::env::var(name).ok(),
            _ => None,
        };
        value.filter(|v| !v.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Probe {
        #[command(flatten)]
        settings: Settings,
    }

    #[test]
    fn flags_are_read_by_their_variable_names() {
        let probe = Probe::try_parse_from([
            "server",
            "--bucket",
            "uploads",
            "--max-bytes",
            "1048576",
            "--sts-mode",
            "",
        ])
        .unwrap();
        assert_eq!(probe.settings.get("UPLOAD_BUCKET").as_deref(), Some("uploads"));
        assert_eq!(probe.settings.get("UPLOAD_MAX_BYTES").as_deref(), Some("1048576"));
        assert_eq!(probe.settings.get("UPLOAD_STS_MODE"), None, "empty is unset");
        assert_eq!(probe.settings.get("NOT_A_SETTING"), None);
    }

    #[test]
    fn messages_name_the_flag_too() {
        assert_eq!(flag_hint("UPLOAD_MAX_BYTES"), " (--max-bytes)");
        assert_eq!(flag_hint("AWS_SECRET_ACCESS_KEY"), "");
    }

    #[test]
    fn secrets_have_no_flags() {
        assert!(Probe::try_parse_from(["server", "--secret-access-key", "x"]).is_err());
        assert!(Probe::try_parse_from(["server", "--access-code", "x"]).is_err());
    }
}
