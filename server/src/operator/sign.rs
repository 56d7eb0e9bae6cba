//! `server sign`: prints a signed POST form (with `UPLOAD_METHOD=put`, a presigned PUT) from a
//! shell, as JSON or as a curl command, through
//! the same upload service (and audit log) the app uses.

use app::rules::MAX_POST_BYTES;
use app::service::UploaderId;
use app::wire::UploadMethod;
use serde::Serialize;

use crate::cli::SignArgs;
use crate::policy::{rfc3339, SizeRule};
use crate::uploads::Uploads;

#[derive(Serialize)]
struct PutJson {
    method: &'static str,
    url: String,
    headers: Vec<(String, String)>,
    expires_at: String,
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
    let from_key = key
        .strip_prefix("uploads/")
        .and_then(|rest| rest.split_once('/'))
        .and_then(|(id, _)| UploaderId::parse(id));
    match from_key {
        Some(id) => Ok(id),
        None if !sts => Ok(UploaderId::parse(&"0".repeat(32)).expect("32 hex digits")),
        None => {
            Err("with STS credentials, --key must be under uploads/<uploader-id>/ (32 hex digits)"
                .into())
        }
    }
}

/// Runs `server sign`: the output on success, or a message for stderr.
pub async fn sign(uploads: &Uploads, args: SignArgs) -> Result<String, String> {
    let size = match (args.size, args.max_size, &args.curl) {
        (Some(n), _, _) => SizeRule::Exact(n),
        (None, Some(max), _) => SizeRule::Range { min: 1, max },
        (None, None, Some(file)) => {
            let len =
                std::fs::metadata(file).map_err(|e| format!("{}: {e}", file.display()))?.len();
            SizeRule::Exact(len)
        }
        (None, None, None) => return Err("give --size N, --max-size N or --curl FILE".into()),
    };
    if matches!(size, SizeRule::Exact(n) | SizeRule::Range { max: n, .. } if n > MAX_POST_BYTES) {
        return Err(format!("one POST carries at most 5 GiB ({MAX_POST_BYTES} bytes)"));
    }
    if let Some(sum) = &args.checksum_sha256 {
        app::rules::checksum_sha256(sum)
            .map_err(|_| "--checksum-sha256 must be the base64 of a 32-byte SHA-256 digest")?;
    }

    let uploader = uploader_of(&args.key, uploads.credentials_per_uploader())?;
    let mut spec = uploads.spec(args.key, args.content_type, size);
    spec.metadata = args.metadata;
    spec.checksum_sha256 = args.checksum_sha256;
    spec.expires_in = std::time::Duration::from_secs(args.expires_in);
    let now = args.now.unwrap_or_else(|| uploads.now());
    let policy_signer = uploads.policy_signer(&uploader, now).await.map_err(|e| e.to_string())?;
    if uploads.config().method == UploadMethod::Put {
        let put = uploads.sign_put(&policy_signer, &spec, now, "cli").map_err(|e| e.to_string())?;
        return Ok(match args.curl {
            None => serde_json::to_string_pretty(&PutJson {
                method: "PUT",
                url: put.url,
                headers: put.headers,
                expires_at: rfc3339(put.expires_at),
            })
            .expect("strings always serialize"),
            Some(file) => curl_put(&put.url, &put.headers, &file.to_string_lossy()),
        });
    }
    let form = uploads.sign_form(&policy_signer, &spec, now, "cli").map_err(|e| e.to_string())?;

    Ok(match args.curl {
        None => serde_json::to_string_pretty(&FormJson {
            url: uploads.config().bucket.post_url(),
            fields: form.fields.clone(),
            expires_at: rfc3339(form.expires_at()),
        })
        .expect("strings always serialize"),
        Some(file) => {
            curl_command(&uploads.config().bucket.post_url(), &form.fields, &file.to_string_lossy())
        }
    })
}

/// A PUT of `file` with its signed headers (curl sets `Content-Length` from the file).
fn curl_put(url: &str, headers: &[(String, String)], file: &str) -> String {
    let mut cmd = String::from("curl --fail-with-body -sS -X PUT");
    for (name, value) in headers {
        cmd.push_str(&format!(" \\\n  -H {}", shell_quote(&format!("{name}: {value}"))));
    }
    cmd.push_str(&format!(" \\\n  --upload-file {}", shell_quote(file)));
    cmd.push_str(&format!(" \\\n  {}", shell_quote(url)));
    cmd
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
        let cmd = curl_command(
            "http://h/b",
            &[("key".into(), "a b".into()), ("policy".into(), "@x".into())],
            "f.txt",
        );
        let key = cmd.find("'key=a b'").unwrap();
        let policy = cmd.find("'policy=@x'").unwrap();
        let file = cmd.find("-F 'file=@f.txt'").unwrap();
        assert!(key < policy && policy < file, "{cmd}");
        assert!(cmd.ends_with("'http://h/b'"));
    }

    #[test]
    fn curl_puts_the_file_with_its_signed_headers() {
        let cmd =
            curl_put("http://h/b/k?X=1", &[("content-type".into(), "text/plain".into())], "f.txt");
        assert!(cmd.starts_with("curl --fail-with-body -sS -X PUT"), "{cmd}");
        assert!(cmd.contains("-H 'content-type: text/plain'"), "{cmd}");
        assert!(cmd.contains("--upload-file 'f.txt'"), "{cmd}");
        assert!(cmd.ends_with("'http://h/b/k?X=1'"), "{cmd}");
    }
}
