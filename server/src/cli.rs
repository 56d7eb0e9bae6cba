//! The server binary's command line: `server` (or `server serve`) runs the app; `server sign`
//! prints a signed POST form from a shell, through the same signer the app uses.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use serde::Serialize;
use time::{format_description::well_known::Rfc3339, OffsetDateTime};

use app::signing::UploaderId;

use crate::policy::{rfc3339, SizeRule, MAX_POST_OBJECT_SIZE};
use crate::signer::S3Signer;

#[derive(Debug, Parser)]
#[command(name = "server", version, about = "Direct-to-S3 browser uploads: serves the app and signs POST policies.")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub settings: crate::settings::Settings,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the app (the default).
    Serve,
    /// Print a signed POST form for the configured bucket (the AWS_* and UPLOAD_BUCKET
    /// variables), as JSON or as a curl command.
    Sign(SignArgs),
    /// Apply the CORS rule browser uploads need to the configured bucket (POST from the given
    /// origins, any header, ETag/Location/x-amz-request-id exposed); other rules are kept.
    Cors(CorsArgs),
    /// Check the set-up from here: credentials, the bucket, the clock, CORS for the app's
    /// origin; print what to fix. Exits 1 when something is wrong.
    Doctor(DoctorArgs),
}

#[derive(Debug, Args)]
pub struct CorsArgs {
    /// The app's origin, e.g. https://upload.example.com; repeatable.
    #[arg(long = "origin", value_name = "URL", required = true, value_parser = parse_origin)]
    pub origins: Vec<String>,
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
        Some(host) if !host.is_empty() && !host.contains(['/', '?', '#', ' ']) => Ok(trimmed.to_owned()),
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
    OffsetDateTime::parse(raw, &Rfc3339).map_err(|e| format!("expected an RFC 3339 time such as 2026-11-28T12:00:00Z ({e})"))
}

#[derive(Serialize)]
struct FormJson {
    url: String,
    fields: Vec<(String, String)>,
    expires_at: String,
}

/// The uploader a CLI-signed key belongs to: with STS, credentials are scoped to
/// `uploads/<uploader-id>/`, so the key must be under such a prefix.
fn uploader_of(key: &str, sts: bool) -> Result<UploaderId, String> {
    let from_key = key.strip_prefix("uploads/").and_then(|rest| rest.split_once('/')).and_then(|(id, _)| UploaderId::parse(id));
    match from_key {
        Some(id) => Ok(id),
        None if !sts => Ok(UploaderId::parse(&"0".repeat(32)).expect("32 hex digits")),
        None => Err("with STS credentials, --key must be under uploads/<uploader-id>/ (32 hex digits)".into()),
    }
}

/// Runs `server sign`: the output on success, or a message for stderr.
pub async fn sign(signer: &S3Signer, args: SignArgs) -> Result<String, String> {
    let size = match (args.size, args.max_size, &args.curl) {
        (Some(n), _, _) => SizeRule::Exact(n),
        (None, Some(max), _) => SizeRule::Range { min: 1, max },
        (None, None, Some(file)) => {
            let len = std::fs::metadata(file).map_err(|e| format!("{}: {e}", file.display()))?.len();
            SizeRule::Exact(len)
        }
        (None, None, None) => return Err("give --size N, --max-size N or --curl FILE".into()),
    };
    if matches!(size, SizeRule::Exact(n) | SizeRule::Range { max: n, .. } if n > MAX_POST_OBJECT_SIZE) {
        return Err(format!("one POST carries at most 5 GiB ({MAX_POST_OBJECT_SIZE} bytes)"));
    }
    if let Some(sum) = &args.checksum_sha256 {
        crate::validate::checksum_sha256(sum).map_err(|_| "--checksum-sha256 must be the base64 of a 32-byte SHA-256 digest")?;
    }

    let uploader = uploader_of(&args.key, signer.credentials_per_uploader())?;
    let mut spec = signer.spec(args.key, args.content_type, size);
    spec.metadata = args.metadata;
    spec.checksum_sha256 = args.checksum_sha256;
    spec.expires_in = std::time::Duration::from_secs(args.expires_in);
    let now = args.now.unwrap_or_else(|| signer.now());
    let policy_signer = signer.policy_signer(&uploader, now).await.map_err(|e| e.to_string())?;
    let form = signer.sign_form(&policy_signer, &spec, now, "cli").map_err(|e| e.to_string())?;

    Ok(match args.curl {
        None => serde_json::to_string_pretty(&FormJson {
            url: signer.post_url(),
            fields: form.fields.clone(),
            expires_at: rfc3339(form.expires_at()),
        })
        .expect("strings always serialize"),
        Some(file) => curl_command(&signer.post_url(), &form.fields, &file.to_string_lossy()),
    })
}

/// `--form-string` sends values verbatim (plain `-F` would read `@file` and `<file` in them).
fn curl_command(url: &str, fields: &[(String, String)], file: &str) -> String {
    let mut cmd = String::from("curl --fail-with-body -sS");
    for (name, value) in fields {
        cmd.push_str(&format!(" \\\n  --form-string {}", shell_quote(&format!("{name}={value}"))));
    }
    cmd.push_str(&format!(" \\\n  -F {}", shell_quote(&format!("file=@{file}"))));
    cmd.push_str(&format!(" \\\n  {}", shell_quote(url)));
    cmd
}

fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_scheme_and_host_only() {
        assert_eq!(parse_origin("https://upload.example.com/").unwrap(), "https://upload.example.com");
        assert_eq!(parse_origin("http://127.0.0.1:3000").unwrap(), "http://127.0.0.1:3000");
        for bad in ["upload.example.com", "https://", "https://a.example/path", "ftp://a.example"] {
            assert!(parse_origin(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cli_keys_name_their_uploader_when_sts_needs_one() {
        let id = "0123456789abcdef0123456789abcdef";
        assert_eq!(uploader_of(&format!("uploads/{id}/x/a.txt"), true).unwrap().as_str(), id);
        assert!(uploader_of("elsewhere/a.txt", true).is_err());
        assert!(uploader_of("elsewhere/a.txt", false).is_ok());
    }

    #[test]
    fn quoting_survives_single_quotes() {
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }

    #[test]
    fn curl_sends_fields_in_order_and_the_file_last() {
        let cmd = curl_command("http://h/b", &[("key".into(), "a b".into()), ("policy".into(), "@x".into())], "f.txt");
        let key = cmd.find("'key=a b'").unwrap();
        let policy = cmd.find("'policy=@x'").unwrap();
        let file = cmd.find("-F 'file=@f.txt'").unwrap();
        assert!(key < policy && policy < file, "{cmd}");
        assert!(cmd.ends_with("'http://h/b'"));
    }
}
