//! What reaches the log lines, through the server's own writer (`server::logging::OneLine`) and
//! the text format it uses: every event stays on one line whatever a client put in its fields
//! (a forged `upload_confirmed` line cannot be made), and a client's huge value makes no huge line.

use std::io::Write;
use std::sync::{Arc, Mutex};

use app::service::{Requester, UploadRequest, UploaderId};
use app::wire::UploadReport;
use axum::body::Body;
use http::{header, Request};
use server::config::{table, Config};
use server::devbucket::store::ObjectMeta;
use server::devbucket::{self, DevBucket, Store};
use server::logging::OneLine;
use server::policy::{Bucket, Credentials};
use server::uploads::{Objects, Uploads};
use tower::ServiceExt;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    /// Installs the server's log format for this thread, writing here.
    fn install(&self) -> tracing::subscriber::DefaultGuard {
        let sink = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || OneLine(sink.clone()))
            .finish();
        tracing::subscriber::set_default(subscriber)
    }

    fn lines(&self) -> Vec<String> {
        String::from_utf8(self.0.lock().unwrap().clone())
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

const ME: &str = "0123456789abcdef0123456789abcdef";

fn me() -> Requester {
    Requester {
        uploader: UploaderId::parse(ME).unwrap(),
        user: None,
        ip: None,
        scope: None,
        new_visitor: false,
        cross_site: false,
    }
}

fn uploads() -> Uploads {
    let config = Config::from_lookup(table(&[
        ("UPLOAD_BUCKET", "uploads"),
        ("AWS_REGION", "garage"),
        ("AWS_ACCESS_KEY_ID", "GK0123456789abcdef01234567"),
        ("AWS_SECRET_ACCESS_KEY", "s3cr3t"),
        ("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9"),
        ("UPLOAD_CHECKSUM_MAX_BYTES", "0"),
    ]))
    .unwrap();
    Uploads::new(config)
}

#[tokio::test]
async fn a_huge_file_name_is_refused_and_logged_in_a_few_hundred_bytes() {
    let captured = Captured::default();
    let _guard = captured.install();
    let request = UploadRequest {
        profile: String::new(),
        file_name: format!("{}.txt", "n".repeat(2 << 20)),
        size: 1,
        content_type: "t".repeat(1 << 20),
        access_code: String::new(),
        checksum_sha256: None,
        content_md5: None,
        metadata: Default::default(),
    };
    assert!(uploads().sign_upload(&me(), request).await.is_err());
    let lines = captured.lines();
    assert!(lines.iter().any(|l| l.contains("policy_refused")), "{lines:?}");
    for line in &lines {
        assert!(line.len() < 2048, "a {} byte log line", line.len());
    }
}

#[tokio::test]
async fn cr_and_lf_in_a_reported_etag_never_start_a_log_line() {
    let dir = std::env::temp_dir().join(format!("logs-test-{}", uuid::Uuid::new_v4().simple()));
    let store = Store::new(&dir);
    let objects = Objects::Dev {
        store: store.clone(),
        bucket: Bucket::new("b", "garage", Some("http://127.0.0.1:9".into())),
    };
    let uploads = uploads().with_objects(objects);
    let request = UploadRequest {
        profile: String::new(),
        file_name: "a.txt".into(),
        size: 5,
        content_type: "text/plain".into(),
        access_code: String::new(),
        checksum_sha256: None,
        content_md5: None,
        metadata: Default::default(),
    };
    let signed = uploads.sign_upload(&me(), request).await.unwrap();
    // The object as the bucket would have stored it.
    let mut temp = store.begin().await.unwrap();
    temp.write(b"hello").await.unwrap();
    let meta = ObjectMeta {
        content_type: "text/plain".into(),
        etag: "\"abc\"".into(),
        size: 5,
        metadata: vec![],
        checksum_sha256: None,
    };
    store.commit(temp, &store.paths("b", &signed.key).unwrap(), &signed.key, &meta).await.unwrap();

    let captured = Captured::default();
    let _guard = captured.install();
    let forged =
        "\r\n2026-11-29T00:00:00.000000Z  INFO audit: event=\"upload_confirmed\" uploader=someone";
    let report =
        UploadReport { key: signed.key, etag: format!("\"abd\"{forged}"), receipt: signed.receipt };
    assert!(uploads.confirm_upload(&me(), report).await.is_err());
    let lines = captured.lines();
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(lines[0].contains("receipt_refused") && lines[0].contains("ETag"), "{lines:?}");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn cr_and_lf_in_a_key_never_start_a_log_line() {
    let captured = Captured::default();
    let _guard = captured.install();
    let forged =
        "\r\n2026-11-29T00:00:00.000000Z  INFO audit: event=\"upload_confirmed\" uploader=someone";
    let key = format!("uploads/{ME}/d/x.txt{forged}");
    let report = UploadReport { key, etag: format!("\"0123\"{forged}"), receipt: String::new() };
    assert!(uploads().confirm_upload(&me(), report).await.is_err());
    let lines = captured.lines();
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(lines[0].contains("receipt_refused"));
    assert!(!lines.iter().any(|l| l.contains("INFO")
        && l.contains("upload_confirmed")
        && !l.contains("receipt_refused")));
}

#[tokio::test]
async fn cr_and_lf_in_a_dev_bucket_form_field_never_start_a_log_line() {
    let captured = Captured::default();
    let _guard = captured.install();
    let dir = std::env::temp_dir().join(format!("logs-test-{}", uuid::Uuid::new_v4().simple()));
    let dev = Arc::new(DevBucket::new(
        "http://127.0.0.1:9".into(),
        Credentials::new("DEVTESTKEY", "d".repeat(64)),
        Store::new(&dir),
        Default::default(),
    ));
    let forged = "x\r\n2026-11-29T00:00:00Z  INFO audit: event=\"dev_bucket_stored\" key=forged";
    let mut body = String::new();
    for (name, value) in [
        ("key", "a.txt"),
        ("x-amz-credential", forged),
        ("x-amz-algorithm", "AWS4-HMAC-SHA256"),
        ("x-amz-date", "20261129T000000Z"),
        ("policy", "e30="),
        ("x-amz-signature", "00"),
    ] {
        body.push_str(&format!(
            "--B\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    }
    body.push_str("--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\r\nhello\r\n--B--\r\n");
    let req = Request::post(format!("/{}", devbucket::DEV_BUCKET))
        .header(header::CONTENT_TYPE, "multipart/form-data; boundary=B")
        .body(Body::from(body))
        .unwrap();
    let res = devbucket::router(dev, vec![]).oneshot(req).await.unwrap();
    assert!(res.status().is_client_error(), "{}", res.status());
    let lines = captured.lines();
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(lines[0].contains("dev_bucket_refused"), "{lines:?}");
    let _ = std::fs::remove_dir_all(dir);
}
