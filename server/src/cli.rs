//! The server binary's command line: `server` (or `server serve`) runs the app; `server sign`
//! prints a signed POST form from a shell, through the same signer the app uses.

use std::path::PathBuf;

use base64::Engine;
use clap::{Args, Parser, Subcommand};
use serde::Serialize;
use time::{format_description::well_known::Rfc3339, OffsetDateTime};

use crate::config::Config;
use crate::policy::{rfc3339, SizeRule, MAX_POST_OBJECT_SIZE};
use crate::signer::S3Signer;

#[derive(Debug, Parser)]
#[command(name = "server", version, about = "Direct-to-S3 browser uploads: serves the app and signs POST policies.")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the app (the default).
    Serve,
    /// Print a signed POST form for the configured bucket (the AWS_* and UPLOAD_BUCKET
    /// variables), as JSON or as a curl command.
    Sign(SignArgs),
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

/// Runs `server sign`: the output on success, or a message for stderr.
pub fn sign(config: Config, args: SignArgs) -> Result<String, String> {
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
        let ok = base64::engine::general_purpose::STANDARD.decode(sum).is_ok_and(|d| d.len() == 32);
        if !ok {
            return Err("--checksum-sha256 must be the base64 of a 32-byte SHA-256 digest".into());
        }
    }

    let signer = S3Signer::new(config);
    let mut spec = signer.spec(args.key, args.content_type, size);
    spec.metadata = args.metadata;
    spec.checksum_sha256 = args.checksum_sha256;
    spec.expires_in = std::time::Duration::from_secs(args.expires_in);
    let now = args.now.unwrap_or_else(|| signer.now());
    let form = signer.sign_form(&spec, now, "cli").map_err(|e| e.to_string())?;

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
