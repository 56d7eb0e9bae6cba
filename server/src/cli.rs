//! The server binary's command line: `server` (or `server serve`) runs the app; the operator
//! commands (`sign`, `cors`, `lifecycle`, `doctor`, `iam-policy`, in [`crate::operator`]) help
//! from a shell.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use time::{format_description::well_known::Rfc3339, OffsetDateTime};

#[derive(Debug, Parser)]
#[command(
    name = "server",
    version,
    about = "Direct-to-S3 browser uploads: serves the app and signs POST policies."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub settings: crate::config::Settings,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the app (the default).
    Serve,
    /// Print a signed POST form for the configured bucket (the AWS_* and UPLOAD_BUCKET
    /// variables), as JSON or as a curl command.
    Sign(SignArgs),
    /// Apply the CORS rule browser uploads need to the configured bucket (POST from the given
    /// origins, PUT of parts with their checksum header, ETag/Location/x-amz-request-id exposed);
    /// other rules are kept.
    Cors(CorsArgs),
    /// Apply the lifecycle rule that aborts multipart uploads under uploads/ left unfinished
    /// (a closed tab, a crash) after --days; other rules are kept.
    Lifecycle(LifecycleArgs),
    /// Check the set-up from here: credentials, the bucket, the clock, CORS for the app's
    /// origin; print what to fix. Exits 1 when something is wrong.
    Doctor(DoctorArgs),
    /// Print the IAM policies the configured bucket and credential mode need, as JSON: the base
    /// credentials' and, with UPLOAD_ROLE_ARN, the role's permissions and trust policy.
    IamPolicy(IamPolicyArgs),
    /// An endpoint's outbox of events (UPLOAD_WEBHOOK_URL's, or a profile's with --webhook),
    /// in Redis or UPLOAD_STATE_DIR: list what waits or was given up, send events again, enable
    /// the endpoint after a 410.
    Webhooks(WebhooksArgs),
}

#[derive(Debug, Args)]
pub struct WebhooksArgs {
    #[command(subcommand)]
    pub action: WebhooksAction,
    /// The endpoint: `default` (UPLOAD_WEBHOOK_URL) or a profile's endpoint by its name.
    /// (Not `--endpoint`: that is the bucket's, AWS_ENDPOINT_URL_S3, read by every command.)
    #[arg(id = "webhook", long, global = true, default_value = "default", value_name = "NAME")]
    pub endpoint: String,
}

#[derive(Debug, Subcommand)]
pub enum WebhooksAction {
    /// The events waiting for delivery, oldest first, one JSON line each (id, type, key,
    /// attempts, queued_at); with --dead, those given up after UPLOAD_WEBHOOK_RETRY_SECS.
    List {
        #[arg(long)]
        dead: bool,
        /// At most this many.
        #[arg(long, default_value_t = 1000)]
        max: usize,
    },
    /// Send events again, with their own webhook-id: one by its id (a dead letter, or any
    /// event still in the verdicts' log), or every event whose verdict came at or after --since
    /// (of the profiles whose events go to the endpoint, as UPLOAD_PROFILES says).
    Replay {
        /// The event's webhook-id (evt_...).
        #[arg(required_unless_present = "since", conflicts_with = "since")]
        id: Option<String>,
        /// Every event since this time (RFC 3339).
        #[arg(long, value_name = "RFC3339", value_parser = parse_time)]
        since: Option<OffsetDateTime>,
    },
    /// Enable the endpoint again after it answered 410 Gone: the events that waited go.
    Enable,
}

#[derive(Debug, Args)]
pub struct IamPolicyArgs {
    /// Print only this document, ready for `aws iam put-role-policy --policy-document`:
    /// base_credentials, role_permissions or role_trust.
    #[arg(long, value_name = "NAME")]
    pub document: Option<String>,
    /// Who runs the server, named in the role's trust policy (default: the role's account).
    #[arg(long, value_name = "ARN")]
    pub principal: Option<String>,
    /// The account federated users belong to (UPLOAD_STS_MODE=federation).
    #[arg(long, value_name = "ID")]
    pub account_id: Option<String>,
}

#[derive(Debug, Args)]
pub struct CorsArgs {
    /// The app's origin, e.g. https://upload.example.com; repeatable.
    #[arg(long = "origin", value_name = "URL", required = true, value_parser = parse_origin)]
    pub origins: Vec<String>,
}

#[derive(Debug, Args)]
pub struct LifecycleArgs {
    /// Days after which an unfinished upload is aborted and its parts deleted.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(i32).range(1..=365))]
    pub days: i32,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// The app's origin to check CORS for (default: http://LEPTOS_SITE_ADDR).
    #[arg(long, value_name = "URL", value_parser = parse_origin)]
    pub origin: Option<String>,
}

/// An origin is a scheme and a host (and port), nothing after.
pub fn parse_origin(raw: &str) -> Result<String, String> {
    let trimmed = raw.trim_end_matches('/');
    let rest = trimmed.strip_prefix("https://").or_else(|| trimmed.strip_prefix("http://"));
    match rest {
        Some(host) if !host.is_empty() && !host.contains(['/', '?', '#', ' ']) => {
            Ok(trimmed.to_owned())
        }
        _ => Err(format!("expected an origin such as https://upload.example.com, got {raw:?}")),
    }
}

#[derive(Debug, Args)]
pub struct SignArgs {
    /// The object key; `${filename}` in it stands for the uploaded file's name.
    #[arg(long)]
    pub key: String,
    /// The Content-Type to bind (and store).
    #[arg(long)]
    pub content_type: Option<String>,
    /// Bind this exact size in bytes.
    #[arg(long, conflicts_with = "max_size")]
    pub size: Option<u64>,
    /// Accept any size from 1 byte to this.
    #[arg(long)]
    pub max_size: Option<u64>,
    /// Seconds the form stays valid (at most 600, and never past the credentials' expiry).
    #[arg(long, default_value_t = 300)]
    pub expires_in: u64,
    /// User metadata, as NAME=VALUE (sent as x-amz-meta-NAME); repeatable.
    #[arg(long = "meta", value_name = "NAME=VALUE", value_parser = parse_meta)]
    pub metadata: Vec<(String, String)>,
    /// Base64 SHA-256 of the file: the bucket will refuse any other bytes.
    #[arg(long, value_name = "BASE64")]
    pub checksum_sha256: Option<String>,
    /// Sign as of this time instead of now (RFC 3339), for reproducible output.
    #[arg(long, value_name = "RFC3339", value_parser = parse_time)]
    pub now: Option<OffsetDateTime>,
    /// Print a curl command that uploads FILE instead of JSON (its size is bound when neither
    /// --size nor --max-size is given).
    #[arg(long, value_name = "FILE")]
    pub curl: Option<PathBuf>,
}

fn parse_meta(raw: &str) -> Result<(String, String), String> {
    let (name, value) = raw.split_once('=').ok_or("expected NAME=VALUE")?;
    Ok((name.to_owned(), value.to_owned()))
}

fn parse_time(raw: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(raw, &Rfc3339)
        .map_err(|e| format!("expected an RFC 3339 time such as 2026-11-28T12:00:00Z ({e})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_scheme_and_host_only() {
        assert_eq!(
            parse_origin("https://upload.example.com/").unwrap(),
            "https://upload.example.com"
        );
        assert_eq!(parse_origin("http://127.0.0.1:3000").unwrap(), "http://127.0.0.1:3000");
        for bad in ["upload.example.com", "https://", "https://a.example/path", "ftp://a.example"] {
            assert!(parse_origin(bad).is_err(), "{bad}");
        }
    }
}
