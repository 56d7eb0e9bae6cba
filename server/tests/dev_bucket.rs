//! The dev bucket over real HTTP on loopback, driven byte by byte with a raw TCP client so that
//! a test decides exactly what is sent and when the connection drops.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderValue;
use server::devbucket::{self, DevBucket, Store};
use server::policy::{Credentials, FormSpec, OnSuccess, PolicySigner, SizeRule};
use time::OffsetDateTime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const BOUNDARY: &str = "----devbuckettest";

struct Running {
    addr: std::net::SocketAddr,
    data: PathBuf,
    signer: PolicySigner,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(self.data.parent().unwrap());
    }
}

async fn start() -> Running {
    start_as(None).await
}

/// The dev bucket answering as `emulated` does (`UPLOAD_DEV_EMULATE`).
async fn start_as(emulated: Option<devbucket::emulate::Emulated>) -> Running {
    // The data directory sits inside a sandbox directory, so that a write escaping it would show.
    let sandbox =
        std::env::temp_dir().join(format!("dev-bucket-test-{}", uuid::Uuid::new_v4().simple()));
    let data = sandbox.join("data");
    std::fs::create_dir_all(&data).unwrap();
    let credentials = Credentials::new("DEVTESTKEY", "d".repeat(64));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let dev = Arc::new(
        DevBucket::new(
            format!("http://{addr}"),
            credentials.clone(),
            Store::new(&data),
            Default::default(),
        )
        .emulating(emulated),
    );
    let router = devbucket::router(dev, vec![HeaderValue::from_static("http://127.0.0.1:3000")]);
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    Running { addr, data, signer: PolicySigner::new(credentials, devbucket::DEV_REGION) }
}

impl Running {
    fn form(&self, key: &str, size: u64) -> Vec<(String, String)> {
        self.form_with(key, size, |_| {})
    }

    fn form_with(
        &self,
        key: &str,
        size: u64,
        change: impl FnOnce(&mut FormSpec),
    ) -> Vec<(String, String)> {
        let mut spec = FormSpec::new(devbucket::DEV_BUCKET, key, SizeRule::Exact(size));
        spec.content_type = Some("application/octet-stream".into());
        spec.on_success = Some(OnSuccess::Status(201));
        change(&mut spec);
        self.signer.sign(&spec, OffsetDateTime::now_utc()).unwrap().fields
    }

    /// Opens a connection and sends the request head, the fields, and the file part's head.
    async fn begin_upload(&self, fields: &[(String, String)], file_len: u64) -> TcpStream {
        self.begin_upload_from(fields, file_len, "").await
    }

    /// The same, as a browser page at `origin` sends it (empty: no Origin header).
    async fn begin_upload_from(
        &self,
        fields: &[(String, String)],
        file_len: u64,
        origin: &str,
    ) -> TcpStream {
        self.begin_upload_named(fields, file_len, origin, "f.bin").await
    }

    /// The same, with the file part named `file_name`.
    async fn begin_upload_named(
        &self,
        fields: &[(String, String)],
        file_len: u64,
        origin: &str,
        file_name: &str,
    ) -> TcpStream {
        let mut head = String::new();
        for (name, value) in fields {
            head.push_str(&format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"));
        }
        head.push_str(&format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\n\r\n"
        ));
        let tail_len = format!("\r\n--{BOUNDARY}--\r\n").len() as u64;
        let mut stream = TcpStream::connect(self.addr).await.unwrap();
        let request = format!(
            "POST /{} HTTP/1.1\r\nHost: {}\r\n{}Content-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{head}",
            devbucket::DEV_BUCKET,
            self.addr,
            if origin.is_empty() { String::new() } else { format!("Origin: {origin}\r\n") },
            head.len() as u64 + file_len + tail_len
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        stream
    }

    /// A whole upload; returns the status line and body of the answer.
    async fn upload(&self, fields: &[(String, String)], file: &[u8]) -> (u16, String) {
        self.upload_named(fields, "f.bin", file).await
    }

    /// A whole upload of a file part named `file_name`.
    async fn upload_named(
        &self,
        fields: &[(String, String)],
        file_name: &str,
        file: &[u8],
    ) -> (u16, String) {
        let mut stream = self.begin_upload_named(fields, file.len() as u64, "", file_name).await;
        // The server may refuse before reading everything; a failed write is then expected.
        let _ = stream.write_all(file).await;
        let _ = stream.write_all(format!("\r\n--{BOUNDARY}--\r\n").as_bytes()).await;
        read_answer(&mut stream).await
    }

    fn temp_files(&self) -> Vec<PathBuf> {
        files_under(&self.data.join(".tmp"))
    }
}

async fn read_answer(stream: &mut TcpStream) -> (u16, String) {
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw).await;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, text)
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return vec![] };
    entries
        .flatten()
        .flat_map(|e| if e.path().is_dir() { files_under(&e.path()) } else { vec![e.path()] })
        .collect()
}

async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..100 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting until {what}");
}

#[tokio::test]
async fn stores_a_whole_upload_and_serves_it_back() {
    let dev = start().await;
    let body: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let (status, answer) = dev.upload(&dev.form("docs/a b.bin", body.len() as u64), &body).await;
    assert_eq!(status, 201, "{answer}");
    assert!(answer.contains("<Key>docs/a b.bin</Key>"), "{answer}");
    assert_eq!(std::fs::read(dev.data.join("dev-uploads/docs/a b.bin")).unwrap(), body);
    assert!(dev.temp_files().is_empty());

    let mut stream = TcpStream::connect(dev.addr).await.unwrap();
    let get = format!(
        "GET /dev-uploads/docs/a%20b.bin HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        dev.addr
    );
    stream.write_all(get.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("content-type: application/octet-stream"), "{head}");
    assert_eq!(&raw[split + 4..], &body[..]);
}

#[tokio::test]
async fn answers_with_204_by_default_303_for_a_redirect_and_keeps_metadata() {
    let dev = start().await;
    let fields = dev.form_with("plain.txt", 2, |spec| {
        spec.on_success = None;
        spec.content_type = Some("text/plain".into());
        spec.metadata = vec![("origin".into(), "test suite".into())];
    });
    let (status, answer) = dev.upload(&fields, b"hi").await;
    assert_eq!(status, 204, "{answer}");
    let head = answer.to_ascii_lowercase();
    assert!(head.contains("etag: \"49f68a5c8493ec2c0bf489821c21fc3b\""), "{answer}");

    let fields = dev.form_with("${filename}", 2, |spec| {
        spec.on_success = Some(OnSuccess::Redirect("http://127.0.0.1:3000/done?from=form".into()));
    });
    let (status, answer) = dev.upload(&fields, b"hi").await;
    assert_eq!(status, 303, "{answer}");
    let location =
        answer.lines().find(|l| l.to_ascii_lowercase().starts_with("location:")).unwrap();
    assert_eq!(
        location.split_once(':').unwrap().1.trim(),
        "http://127.0.0.1:3000/done?from=form&bucket=dev-uploads&key=f.bin&etag=%2249f68a5c8493ec2c0bf489821c21fc3b%22"
    );

    let mut stream = TcpStream::connect(dev.addr).await.unwrap();
    let request = format!(
        "HEAD /dev-uploads/plain.txt HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        dev.addr
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let (status, answer) = read_answer(&mut stream).await;
    let answer = answer.to_ascii_lowercase();
    assert_eq!(status, 200, "{answer}");
    assert!(
        answer.contains("content-type: text/plain")
            && answer.contains("x-amz-meta-origin: test suite"),
        "{answer}"
    );
}

#[tokio::test]
async fn a_client_that_disconnects_halfway_leaves_nothing() {
    let dev = start().await;
    let size = 8 * 1024 * 1024u64;
    let fields = dev.form("half/gone.bin", size);
    let mut stream = dev.begin_upload(&fields, size).await;
    stream.write_all(&vec![7u8; (size / 2) as usize]).await.unwrap();
    // Make sure the server really started writing before the client goes away.
    eventually("a temp file exists", || !dev.temp_files().is_empty()).await;
    drop(stream);
    eventually("the temp file is removed", || dev.temp_files().is_empty()).await;
    assert!(files_under(&dev.data).is_empty(), "{:?}", files_under(&dev.data));
}

#[tokio::test]
async fn every_key_s3_stores_is_stored_and_never_outside_the_data_directory() {
    let dev = start().await;
    let store = Store::new(&dev.data);
    let long = format!("long/{}", "é".repeat(500));
    let keys = [
        "../escape.txt",
        "a/../../escape.txt",
        "/escape.txt",
        "nul\0.txt",
        "dir//x",
        "trailing/",
        "back\\slash$.txt",
        "100%.txt",
        long.as_str(),
    ];
    for key in keys {
        let (status, answer) = dev.upload(&dev.form(key, 5), b"hello").await;
        assert_eq!(status, 201, "{key:?}: {answer}");
        let (mut file, meta) =
            store.open(devbucket::DEV_BUCKET, key).await.unwrap_or_else(|e| panic!("{key:?}: {e}"));
        let mut body = Vec::new();
        file.read_to_end(&mut body).await.unwrap();
        assert_eq!((body.as_slice(), meta.size), (&b"hello"[..], 5), "{key:?}");
    }
    // Each key is its own object, and the listing names them as they were sent.
    let listed = store.list(devbucket::DEV_BUCKET, "", 100).await.unwrap();
    let mut want: Vec<&str> = keys.to_vec();
    want.sort_unstable();
    assert_eq!(listed.iter().map(|e| e.key.as_str()).collect::<Vec<_>>(), want);
    // Nothing outside the data directory; over 1024 bytes is S3's own refusal.
    let sandbox = dev.data.parent().unwrap();
    assert!(
        files_under(sandbox).iter().all(|f| f.starts_with(&dev.data)),
        "{:?}",
        files_under(sandbox)
    );
    let (status, answer) = dev.upload(&dev.form(&"k".repeat(1025), 5), b"hello").await;
    assert_eq!(status, 400, "{answer}");
    assert!(answer.contains("KeyTooLongError"), "{answer}");
}

#[tokio::test]
async fn reading_stops_past_the_size_limit() {
    let dev = start().await;
    let fields = dev.form("big.bin", 1024);
    // Announce 64 MiB, send it in the background, and get the refusal long before the end.
    let mut stream = dev.begin_upload(&fields, 64 * 1024 * 1024).await;
    let (mut reader, mut writer) = stream.split();
    let sender = async {
        let chunk = vec![1u8; 64 * 1024];
        let mut sent = 0usize;
        while sent < 64 * 1024 * 1024 && writer.write_all(&chunk).await.is_ok() {
            sent += chunk.len();
        }
        sent
    };
    let mut raw = Vec::new();
    let (sent, _) = tokio::join!(sender, reader.read_to_end(&mut raw));
    let answer = String::from_utf8_lossy(&raw);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("<Code>EntityTooLarge</Code>"), "{answer}");
    assert!(sent < 64 * 1024 * 1024, "the server read all {sent} bytes");
    eventually("no temp file is left", || dev.temp_files().is_empty()).await;
    assert!(!dev.data.join("dev-uploads/big.bin").exists());
}

#[tokio::test]
async fn cors_lets_the_app_upload_and_read_the_answer_but_no_other_site() {
    let dev = start().await;
    let preflight = |origin: &str| {
        format!(
            "OPTIONS /dev-uploads HTTP/1.1\r\nHost: {}\r\nOrigin: {origin}\r\nAccess-Control-Request-Method: POST\r\nConnection: close\r\n\r\n",
            dev.addr
        )
    };
    let mut stream = TcpStream::connect(dev.addr).await.unwrap();
    stream.write_all(preflight("http://127.0.0.1:3000").as_bytes()).await.unwrap();
    let (status, answer) = read_answer(&mut stream).await;
    let answer = answer.to_ascii_lowercase();
    assert_eq!(status, 200, "{answer}");
    assert!(answer.contains("access-control-allow-origin: http://127.0.0.1:3000"), "{answer}");
    assert!(
        answer.contains("access-control-allow-methods:") && answer.contains("post"),
        "{answer}"
    );

    let mut stream = TcpStream::connect(dev.addr).await.unwrap();
    stream.write_all(preflight("http://evil.example").as_bytes()).await.unwrap();
    let (_, answer) = read_answer(&mut stream).await;
    assert!(!answer.to_ascii_lowercase().contains("access-control-allow-origin"), "{answer}");

    // The answer to the upload itself exposes ETag and Location to the page.
    let fields = dev.form("cors.bin", 3);
    let mut stream = dev.begin_upload_from(&fields, 3, "http://127.0.0.1:3000").await;
    stream.write_all(b"abc").await.unwrap();
    stream.write_all(format!("\r\n--{BOUNDARY}--\r\n").as_bytes()).await.unwrap();
    let (status, answer) = read_answer(&mut stream).await;
    let answer = answer.to_ascii_lowercase();
    assert_eq!(status, 201, "{answer}");
    let exposed = answer
        .lines()
        .find(|l| l.starts_with("access-control-expose-headers:"))
        .unwrap_or_default()
        .to_owned();
    assert!(exposed.contains("etag") && exposed.contains("location"), "{answer}");
}

/// Sends `head`, then `filler` over and over (declaring a 2 GiB body) until the server answers;
/// returns the answer and how many bytes were sent before it came.
async fn send_until_answered(
    running: &Running,
    head: &str,
    filler: &[u8],
) -> ((u16, String), usize) {
    let mut stream = TcpStream::connect(running.addr).await.unwrap();
    let request = format!(
        "POST /{} HTTP/1.1\r\nHost: {}\r\nContent-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{head}",
        devbucket::DEV_BUCKET,
        running.addr,
        2u64 << 30
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let mut sent = 0usize;
    let answer = tokio::spawn(async move {
        let mut raw = Vec::new();
        let _ = reader.read_to_end(&mut raw).await;
        raw
    });
    // Until the server answers (and closes) or 64 MiB have gone out.
    while !answer.is_finished() && sent < 64 << 20 {
        if writer.write_all(filler).await.is_err() {
            break;
        }
        sent += filler.len();
    }
    let raw = tokio::time::timeout(Duration::from_secs(10), answer)
        .await
        .expect("an answer in bounded time")
        .unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    ((status, text), sent)
}

#[tokio::test]
async fn an_endless_part_header_or_a_flood_of_nameless_parts_is_refused_early() {
    let running = start().await;
    // A part header that never ends: refused once the fields' budget is spent.
    let head = format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"key\"; x=\"");
    let ((status, answer), sent) = send_until_answered(&running, &head, &[b'a'; 16 * 1024]).await;
    assert_eq!(status, 400, "{answer}");
    assert!(answer.contains("<Code>MaxPostPreDataLengthExceeded</Code>"), "{answer}");
    assert!(sent < 32 << 20, "{sent} bytes went out before the answer");
    // Parts with no name and no value: each costs its boundary and headers.
    let nameless = format!("--{BOUNDARY}\r\nContent-Disposition: form-data\r\n\r\n\r\n");
    let ((status, answer), sent) =
        send_until_answered(&running, "", nameless.repeat(200).as_bytes()).await;
    assert_eq!(status, 400, "{answer}");
    assert!(answer.contains("<Code>MaxPostPreDataLengthExceeded</Code>"), "{answer}");
    assert!(sent < 32 << 20, "{sent} bytes went out before the answer");
    assert!(running.temp_files().is_empty());
}

mod confirm {
    use super::*;
    use app::service::{Requester, UploaderId};
    use app::wire::{UploadError, UploadReport};
    use common::buckets::etag_of;
    pub(super) use common::buckets::text_file;
    use md5::Digest;
    use server::config::{table, Config};
    use server::seal::{Purpose, SessionKey};
    use server::uploads::{Objects, Uploads};

    const ME: &str = "0123456789abcdef0123456789abcdef";

    const SECRET: &str = "5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e";

    /// An instance of the upload service for `running`; every instance shares the session key.
    fn uploads_for(running: &Running) -> Uploads {
        // These uploads are checked by size, type and ETag; checksums in tests/http.rs, the
        // PUT tests below and end2end.
        uploads_with(running, &[("UPLOAD_CHECKSUM_MAX_BYTES", "0")])
    }

    /// The same, with `extra` settings.
    pub(super) fn uploads_with(running: &Running, extra: &[(&str, &str)]) -> Uploads {
        let endpoint = format!("http://{}", running.addr);
        let secret = "d".repeat(64);
        let mut settings = vec![
            ("UPLOAD_DEV_ACCESS_KEY_ID", "DEVTESTKEY"),
            ("UPLOAD_DEV_SECRET_ACCESS_KEY", secret.as_str()),
        ];
        settings.extend_from_slice(extra);
        let config = Config::dev_bucket(table(&settings), endpoint).unwrap();
        let objects =
            Objects::Dev { store: Store::new(&running.data), bucket: config.bucket.clone() };
        Uploads::new(config)
            .with_objects(objects)
            .with_session_key(Arc::new(SessionKey::from_hex(SECRET).unwrap()))
    }

    pub(super) fn me() -> Requester {
        Requester {
            uploader: UploaderId::parse(ME).unwrap(),
            user: None,
            ip: None,
            scope: None,
            new_visitor: false,
            cross_site: false,
        }
    }

    /// Signs through the upload service and uploads `body` with the form it gave.
    async fn upload(running: &Running, uploads: &Uploads, name: &str, body: &[u8]) -> UploadReport {
        let signed = uploads.sign_upload(&me(), text_file(name, body.len() as u64)).await.unwrap();
        let (status, answer) = running.upload(&signed.fields, body).await;
        assert_eq!(status, 201, "{answer}");
        UploadReport { key: signed.key, etag: etag_of(&answer), receipt: signed.receipt }
    }

    fn listed(uploads: &[app::wire::StoredUpload]) -> Vec<&str> {
        uploads.iter().map(|u| u.name.as_str()).collect()
    }

    #[tokio::test]
    async fn an_upload_signed_by_one_instance_is_confirmed_by_another_and_listed_by_both() {
        let running = start().await;
        let (one, other) = (uploads_for(&running), uploads_for(&running));
        let report = upload(&running, &one, "hello.txt", b"hello").await;
        let stored = other.confirm_upload(&me(), report.clone()).await.unwrap();
        assert_eq!(
            (stored.name.as_str(), stored.size, stored.content_type.as_deref()),
            ("hello.txt", 5, Some("text/plain"))
        );
        assert_eq!(
            stored.view_url,
            format!("http://{}/{}/{}", running.addr, devbucket::DEV_BUCKET, report.key)
        );
        // A second upload: both instances list both, newest first, from the bucket itself.
        let later = upload(&running, &other, "later.txt", b"later").await;
        one.confirm_upload(&me(), later).await.unwrap();
        for instance in [&one, &other, &uploads_for(&running)] {
            let uploads = instance.my_uploads(&me(), "").await.unwrap();
            assert_eq!(listed(&uploads), ["later.txt", "hello.txt"]);
            assert_eq!(uploads[1].size, 5);
            assert!(uploads[1].stored_at.ends_with('Z'), "{}", uploads[1].stored_at);
        }
        // Nobody else's listing holds them.
        let stranger = Requester {
            uploader: UploaderId::parse(&"f".repeat(32)).unwrap(),
            user: None,
            ip: None,
            scope: None,
            new_visitor: false,
            cross_site: false,
        };
        assert!(one.my_uploads(&stranger, "").await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn receipts_that_are_forged_foreign_or_for_another_key_are_security_events() {
        let running = start().await;
        let uploads = uploads_for(&running);
        let report = upload(&running, &uploads, "mine.txt", b"mine").await;
        let mismatch = |err: UploadError, words: &str| {
            assert!(matches!(&err, UploadError::Mismatch(m) if m.contains(words)), "{err:?}")
        };

        // Sealed under another deployment's key.
        let elsewhere =
            Uploads::new(uploads.config().clone()).with_session_key(Arc::new(SessionKey::random()));
        let foreign = elsewhere.sign_upload(&me(), text_file("mine.txt", 4)).await.unwrap().receipt;
        mismatch(
            uploads
                .confirm_upload(&me(), UploadReport { receipt: foreign, ..report.clone() })
                .await
                .unwrap_err(),
            "not one this service issued",
        );
        // Altered by a byte, or no receipt at all.
        let mut altered = report.receipt.clone().into_bytes();
        altered[3] ^= 1;
        let altered = String::from_utf8(altered).unwrap();
        mismatch(
            uploads
                .confirm_upload(&me(), UploadReport { receipt: altered, ..report.clone() })
                .await
                .unwrap_err(),
            "not one this service issued",
        );
        mismatch(
            uploads
                .confirm_upload(&me(), UploadReport { receipt: String::new(), ..report.clone() })
                .await
                .unwrap_err(),
            "not one this service issued",
        );
        // Another purpose's seal under the same key: a cookie value is not a receipt.
        let key = SessionKey::from_hex(SECRET).unwrap();
        let payload = report.receipt.rsplit_once('.').unwrap().0;
        let cookie = key.seal(Purpose::Cookie, payload);
        mismatch(
            uploads
                .confirm_upload(&me(), UploadReport { receipt: cookie, ..report.clone() })
                .await
                .unwrap_err(),
            "not one this service issued",
        );
        // Someone else's receipt, used with their key or with mine.
        let stranger = Requester {
            uploader: UploaderId::parse(&"f".repeat(32)).unwrap(),
            user: None,
            ip: None,
            scope: None,
            new_visitor: false,
            cross_site: false,
        };
        let theirs = uploads.sign_upload(&stranger, text_file("theirs.txt", 3)).await.unwrap();
        mismatch(
            uploads
                .confirm_upload(
                    &me(),
                    UploadReport {
                        key: theirs.key.clone(),
                        etag: format!("\"{}\"", "e".repeat(32)),
                        receipt: theirs.receipt.clone(),
                    },
                )
                .await
                .unwrap_err(),
            "someone else",
        );
        mismatch(
            uploads
                .confirm_upload(&me(), UploadReport { receipt: theirs.receipt, ..report.clone() })
                .await
                .unwrap_err(),
            "issued to someone else",
        );
        // My receipt for another of my keys.
        let other = uploads.sign_upload(&me(), text_file("other.txt", 4)).await.unwrap();
        mismatch(
            uploads
                .confirm_upload(&me(), UploadReport { receipt: other.receipt, ..report.clone() })
                .await
                .unwrap_err(),
            "another key",
        );
        // After all that, the real one still confirms: none of them was a verdict on it.
        assert!(uploads.confirm_upload(&me(), report).await.is_ok());
    }

    #[tokio::test]
    async fn a_plain_form_posted_twenty_times_keeps_its_first_file_only() {
        let running = start().await;
        let uploads = uploads_for(&running);
        let form = uploads
            .page_form(&me(), "", "http://app.example/uploaded".into())
            .await
            .unwrap()
            .expect("a plain form");
        for i in 0..20 {
            let (status, _) =
                running.upload_named(&form.fields, &format!("copy-{i:02}.txt"), b"copy").await;
            assert_eq!(status, 303);
        }
        let directory = form.key.trim_end_matches("${filename}").to_owned();
        let on_disk = || {
            std::fs::read_dir(running.data.join(devbucket::DEV_BUCKET).join(&directory))
                .map_or(0, |d| d.count())
        };
        assert_eq!(on_disk(), 20);
        assert_eq!(listed(&uploads.my_uploads(&me(), "").await.unwrap()), ["copy-00.txt"]);
        assert_eq!(on_disk(), 1);
        // Its receipt confirms that first file; the form's later files are refused and removed.
        let (status, _) = running.upload_named(&form.fields, "late.txt", b"late").await;
        assert_eq!(status, 303);
        let etag = format!("\"{}\"", hex::encode(md5::Md5::digest(b"late")));
        let late = UploadReport {
            key: format!("{directory}late.txt"),
            etag,
            receipt: form.receipt.clone(),
        };
        let err = uploads.confirm_upload(&me(), late).await.unwrap_err();
        assert!(
            matches!(&err, UploadError::Refused(m) if m.contains("already used for another file")),
            "{err:?}"
        );
        assert_eq!(on_disk(), 1);
    }

    #[tokio::test]
    async fn a_plain_upload_whose_name_breaks_the_rules_is_removed() {
        let running = start().await;
        let uploads = uploads_for(&running);
        let form = uploads
            .page_form(&me(), "", "http://app.example/uploaded".into())
            .await
            .unwrap()
            .unwrap();
        let name = "invoice\u{202E}fdp.exe";
        let (status, _) = running.upload_named(&form.fields, name, b"x").await;
        assert_eq!(status, 303, "S3 stores such keys");
        let key = format!("{}{name}", form.key.trim_end_matches("${filename}"));
        let report = UploadReport {
            key: key.clone(),
            etag: format!("\"{}\"", hex::encode(md5::Md5::digest(b"x"))),
            receipt: form.receipt,
        };
        let err = uploads.confirm_upload(&me(), report).await.unwrap_err();
        assert!(
            matches!(&err, UploadError::Refused(m) if m.contains("not a usable file name")),
            "{err:?}"
        );
        assert!(!running.data.join(devbucket::DEV_BUCKET).join(&key).exists());
    }

    #[tokio::test]
    async fn a_return_token_confirms_only_the_upload_of_its_form() {
        let running = start().await;
        let uploads = uploads_for(&running);
        let report = upload(&running, &uploads, "mine.txt", b"mine").await;
        let elsewhere = Requester { scope: Some(format!("uploads/{ME}/another/")), ..me() };
        let err = uploads.confirm_upload(&elsewhere, report.clone()).await.unwrap_err();
        assert!(
            matches!(&err, UploadError::Mismatch(m) if m.contains("return link is for another upload")),
            "{err:?}"
        );
        assert!(
            uploads.my_uploads(&elsewhere, "").await.unwrap().is_empty(),
            "a return token lists nothing"
        );
        let directory = report.key.rsplit_once('/').unwrap().0.to_owned() + "/";
        let here = Requester { scope: Some(directory), ..me() };
        assert!(uploads.confirm_upload(&here, report).await.is_ok());
    }

    #[tokio::test]
    async fn an_expired_receipt_is_refused_without_asking_the_bucket() {
        let running = start().await;
        let signed_at = OffsetDateTime::now_utc();
        let uploads = uploads_for(&running).with_clock(Arc::new(move || signed_at));
        let report = upload(&running, &uploads, "late.txt", b"late").await;
        let a_day_later = uploads_for(&running).with_clock(Arc::new(move || {
            signed_at + time::Duration::days(1) + time::Duration::seconds(1)
        }));
        let err = a_day_later.confirm_upload(&me(), report).await.unwrap_err();
        assert!(matches!(&err, UploadError::Expired(m) if m.contains("too long ago")), "{err:?}");
    }

    #[tokio::test]
    async fn an_object_that_differs_from_its_policy_is_a_mismatch_and_is_removed() {
        let running = start().await;
        let uploads = uploads_for(&running);

        // Changed on disk after the upload: another size.
        let report = upload(&running, &uploads, "changed.txt", b"hello").await;
        let path = running.data.join(devbucket::DEV_BUCKET).join(&report.key);
        std::fs::write(&path, b"hello!").unwrap();
        let err = uploads.confirm_upload(&me(), report.clone()).await.unwrap_err();
        assert!(
            matches!(&err, UploadError::Mismatch(m) if m.contains("size is 6 bytes") && m.contains("(removed)")),
            "{err:?}"
        );
        assert!(!path.exists(), "an object that is not what was signed is removed");
        // One verdict per receipt: asking again does not query the bucket again. (Without a
        // shared store that holds per instance; tests/shared_store.rs shows it fleet-wide.)
        let err = uploads.confirm_upload(&me(), report).await.unwrap_err();
        assert!(
            matches!(&err, UploadError::AlreadyChecked(m) if m.contains("already checked")),
            "{err:?}"
        );

        // The browser reports an ETag the bucket does not have: the object itself is as signed.
        let report = upload(&running, &uploads, "etag.txt", b"hello").await;
        let err = uploads
            .confirm_upload(
                &me(),
                UploadReport { etag: format!("\"{}\"", "0".repeat(32)), ..report },
            )
            .await
            .unwrap_err();
        assert!(matches!(&err, UploadError::Mismatch(m) if m.contains("ETag")), "{err:?}");

        // Signed, never uploaded.
        let signed = uploads.sign_upload(&me(), text_file("never.txt", 3)).await.unwrap();
        let err = uploads
            .confirm_upload(
                &me(),
                UploadReport {
                    key: signed.key,
                    etag: format!("\"{}\"", "e".repeat(32)),
                    receipt: signed.receipt,
                },
            )
            .await
            .unwrap_err();
        assert!(matches!(&err, UploadError::Mismatch(m) if m.contains("no object")), "{err:?}");

        // A reported ETag that no bucket gives is refused before it is compared.
        let report = upload(&running, &uploads, "odd.txt", b"odd").await;
        let err = uploads
            .confirm_upload(&me(), UploadReport { etag: "\"x\"\r\nforged".into(), ..report })
            .await
            .unwrap_err();
        assert!(
            matches!(&err, UploadError::Mismatch(m) if m.contains("not one a bucket gives")),
            "{err:?}"
        );

        // Someone else's key.
        let other = format!("uploads/{}/x/a.txt", "f".repeat(32));
        let err = uploads
            .confirm_upload(
                &me(),
                UploadReport {
                    key: other,
                    etag: format!("\"{}\"", "e".repeat(32)),
                    receipt: String::new(),
                },
            )
            .await
            .unwrap_err();
        assert!(matches!(&err, UploadError::Mismatch(m) if m.contains("someone else")), "{err:?}");

        // What is left in the bucket is what the bucket stored as signed.
        assert_eq!(listed(&uploads.my_uploads(&me(), "").await.unwrap()), ["odd.txt", "etag.txt"]);
    }

    /// PUTs `body` to a presigned part URL over a raw connection, with `checksum` as its header.
    async fn put_part(running: &Running, url: &str, body: &[u8], checksum: &str) -> (u16, String) {
        put(running, url, &[("x-amz-checksum-sha256".into(), checksum.into())], body).await
    }

    /// PUTs `body` to a presigned URL over a raw connection, with `headers` (and its length).
    pub(super) async fn put(
        running: &Running,
        url: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> (u16, String) {
        let path = url.split_once(&running.addr.to_string()).expect("a URL of this bucket").1;
        let mut stream = TcpStream::connect(running.addr).await.unwrap();
        let headers: String = headers.iter().map(|(n, v)| format!("{n}: {v}\r\n")).collect();
        let head = format!(
            "PUT {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n{headers}Connection: close\r\n\r\n",
            running.addr,
            body.len()
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        // The bucket may refuse before reading the body; a failed write is then expected.
        let _ = stream.write_all(body).await;
        read_answer(&mut stream).await
    }

    pub(super) fn sha256_base64(bytes: &[u8]) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(bytes))
    }

    /// A file in two parts through the service and the dev bucket over HTTP, with every rule the
    /// bucket enforces on a part on the way; any instance answers any call.
    #[tokio::test]
    async fn a_file_in_parts_is_signed_put_completed_and_checked_by_any_instance() {
        use app::wire::PartToSign;
        let running = start().await;
        let (one, other) = (uploads_for(&running), uploads_for(&running));
        let file: Vec<u8> = (0..(9u32 << 20) + 10).map(|i| (i % 251) as u8).collect();
        let (first, second) = file.split_at(8 << 20);
        let started =
            one.start_multipart(&me(), text_file("big.txt", file.len() as u64)).await.unwrap();
        assert_eq!((started.part_size, started.parts), (8 << 20, 2));
        assert!(
            started.key.starts_with(&format!("uploads/{ME}/")) && started.key.ends_with("/big.txt"),
            "{}",
            started.key
        );

        let ask = |number: u64, bytes: &[u8]| PartToSign {
            number,
            length: bytes.len() as u64,
            checksum: Some(sha256_base64(bytes)),
        };
        // Only the parts the file has, each of the length it must have.
        let refused = other
            .sign_parts(
                &me(),
                started.receipt.clone(),
                vec![PartToSign { length: 5, ..ask(1, first) }],
            )
            .await;
        assert!(matches!(refused, Err(UploadError::Refused(_))), "{refused:?}");
        assert!(matches!(
            other.sign_parts(&me(), started.receipt.clone(), vec![ask(3, second)]).await,
            Err(UploadError::Refused(_))
        ));
        let urls = other
            .sign_parts(&me(), started.receipt.clone(), vec![ask(1, first), ask(2, second)])
            .await
            .unwrap();
        assert_eq!(urls.iter().map(|u| u.number).collect::<Vec<_>>(), [1, 2]);

        // The bucket: other bytes (BadDigest), another part number or upload (signature), another
        // length (the signed header), then the parts as signed.
        let (status, answer) =
            put_part(&running, &urls[1].url, &vec![0u8; second.len()], &sha256_base64(second))
                .await;
        assert!(status == 400 && answer.contains("BadDigest"), "{answer}");
        let (status, answer) = put_part(
            &running,
            &urls[1].url.replace("partNumber=2", "partNumber=3"),
            second,
            &sha256_base64(second),
        )
        .await;
        assert!(status == 403 && answer.contains("SignatureDoesNotMatch"), "{answer}");
        let (status, answer) =
            put_part(&running, &urls[1].url, &second[1..], &sha256_base64(&second[1..])).await;
        assert_eq!(status, 403, "{answer}");
        // Not complete while a part is missing.
        let early = one.complete_multipart(&me(), started.receipt.clone()).await;
        assert!(
            matches!(&early, Err(UploadError::Refused(m)) if m.contains("every part")),
            "{early:?}"
        );
        for (url, bytes) in [(&urls[0].url, first), (&urls[1].url, second)] {
            let (status, answer) = put_part(&running, url, bytes, &sha256_base64(bytes)).await;
            assert_eq!(status, 200, "{answer}");
        }
        let listed = one.list_parts(&me(), started.receipt.clone()).await.unwrap();
        assert_eq!(
            listed.iter().map(|p| (p.number, p.size)).collect::<Vec<_>>(),
            [(1, 8 << 20), (2, 10 + (1 << 20))]
        );

        // Someone else's receipt is no use; then the upload completes and is checked.
        let stranger = Requester { uploader: UploaderId::parse(&"f".repeat(32)).unwrap(), ..me() };
        assert!(matches!(
            one.complete_multipart(&stranger, started.receipt.clone()).await,
            Err(UploadError::Mismatch(_))
        ));
        let stored = other.complete_multipart(&me(), started.receipt.clone()).await.unwrap();
        assert_eq!(
            (stored.size, stored.content_type.as_deref()),
            (file.len() as u64, Some("text/plain"))
        );
        assert!(stored.etag.ends_with("-2\""), "{}", stored.etag);
        assert_eq!(
            std::fs::read(running.data.join(devbucket::DEV_BUCKET).join(&started.key)).unwrap(),
            file
        );
        assert!(Store::new(&running.data).multipart_uploads().await.is_empty());
    }

    #[tokio::test]
    async fn an_expired_part_url_is_refused_and_an_aborted_upload_leaves_nothing() {
        use app::wire::PartToSign;
        let running = start().await;
        let past = OffsetDateTime::now_utc() - time::Duration::minutes(10);
        let late = uploads_for(&running).with_clock(Arc::new(move || past));
        let started = late.start_multipart(&me(), text_file("old.txt", 4)).await.unwrap();
        let part = PartToSign { number: 1, length: 4, checksum: Some(sha256_base64(b"four")) };
        let urls = late.sign_parts(&me(), started.receipt.clone(), vec![part]).await.unwrap();
        let (status, answer) =
            put_part(&running, &urls[0].url, b"four", &sha256_base64(b"four")).await;
        assert!(status == 403 && answer.contains("Request has expired"), "{answer}");

        let uploads = uploads_for(&running);
        assert_eq!(Store::new(&running.data).multipart_uploads().await.len(), 1);
        uploads.abort_multipart(&me(), started.receipt.clone()).await.unwrap();
        assert!(Store::new(&running.data).multipart_uploads().await.is_empty());
        assert!(matches!(
            uploads.list_parts(&me(), started.receipt.clone()).await,
            Err(UploadError::Gone(_))
        ));
        // A POST's receipt is not a multipart one.
        let post = upload(&running, &uploads, "small.txt", b"small").await;
        assert!(matches!(
            uploads.list_parts(&me(), post.receipt).await,
            Err(UploadError::Mismatch(_))
        ));
    }
}

mod put_mode {
    //! `UPLOAD_METHOD=put`: a presigned PUT of the whole file, through the service and the dev
    //! bucket over HTTP.
    use super::confirm::{me, put, sha256_base64, text_file, uploads_with};
    use super::*;
    use app::wire::{UploadMethod, UploadReport};
    use md5::Digest;

    fn header_of(answer: &str, name: &str) -> Option<String> {
        answer.lines().find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    }

    #[tokio::test]
    async fn a_put_lands_byte_for_byte_and_the_bucket_refuses_anything_else_it_was_not_signed_for()
    {
        let running = start().await;
        let put_mode = [("UPLOAD_METHOD", "put")];
        let (one, other) = (uploads_with(&running, &put_mode), uploads_with(&running, &put_mode));
        let body = b"hello, put";
        let mut request = text_file("hello.txt", body.len() as u64);
        request.checksum_sha256 = Some(sha256_base64(body));
        request.metadata.insert("note".into(), "hi".into());
        let signed = one.sign_upload(&me(), request).await.unwrap();
        assert_eq!(signed.method, UploadMethod::Put, "a PUT store gets a PUT: {signed:?}");
        let headers = signed.headers.clone();
        let with = |name: &str, value: &str| -> Vec<(String, String)> {
            let mut changed: Vec<_> = headers.iter().filter(|(n, _)| n != name).cloned().collect();
            changed.push((name.into(), value.into()));
            changed
        };
        let refused = [
            ("another length", put(&running, &signed.url, &headers, b"hello, put!").await),
            (
                "another type",
                put(&running, &signed.url, &with("content-type", "text/html"), body).await,
            ),
            (
                "another key",
                put(&running, &signed.url.replace("/hello.txt?", "/other.txt?"), &headers, body)
                    .await,
            ),
            (
                "another checksum",
                put(
                    &running,
                    &signed.url,
                    &with("x-amz-checksum-sha256", &sha256_base64(b"x")),
                    body,
                )
                .await,
            ),
            (
                "other metadata",
                put(&running, &signed.url, &with("x-amz-meta-note", "bye"), body).await,
            ),
            (
                "metadata added",
                put(&running, &signed.url, &with("x-amz-meta-extra", "1"), body).await,
            ),
        ];
        for (what, (status, answer)) in &refused {
            assert_eq!(*status, 403, "{what}: {answer}");
        }
        assert!(refused[5].1 .1.contains("headers present in the request which were not signed"));
        // Other bytes of the signed length: the checksum refuses them.
        let (status, answer) = put(&running, &signed.url, &headers, b"HELLO, PUT").await;
        assert!(status == 400 && answer.contains("<Code>BadDigest</Code>"), "{answer}");
        assert!(
            files_under(&running.data.join(devbucket::DEV_BUCKET)).is_empty(),
            "nothing refused is stored"
        );
        assert!(running.temp_files().is_empty());

        let (status, answer) = put(&running, &signed.url, &headers, body).await;
        assert_eq!(status, 200, "{answer}");
        let etag = header_of(&answer, "etag").expect("an ETag");
        assert_eq!(etag, format!("\"{}\"", hex::encode(md5::Md5::digest(body))));
        let report = UploadReport { key: signed.key.clone(), etag, receipt: signed.receipt };
        let stored = other.confirm_upload(&me(), report).await.unwrap();
        assert_eq!((stored.size, stored.content_type.as_deref()), (10, Some("text/plain")));
        let (mut file, meta) =
            Store::new(&running.data).open(devbucket::DEV_BUCKET, &signed.key).await.unwrap();
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).await.unwrap();
        assert_eq!(bytes, body);
        let profile = ("profile".to_owned(), "default".to_owned());
        assert_eq!(meta.metadata, [("note".to_owned(), "hi".to_owned()), profile]);
        assert_eq!(meta.checksum_sha256, Some(sha256_base64(body)));
        // A browser form cannot PUT: no plain form is offered.
        assert_eq!(
            one.page_form(&me(), "", "http://127.0.0.1:3000/uploaded".into()).await,
            Ok(None)
        );
    }

    fn md5_base64(bytes: &[u8]) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(bytes))
    }

    /// `UPLOAD_CHECKSUM=md5` on a store that refuses checksum headers (the dev bucket as B2):
    /// every file and every part carries its Content-MD5, and the store refuses other bytes.
    #[tokio::test]
    async fn with_md5_a_store_that_refuses_checksum_headers_still_refuses_other_bytes() {
        use app::wire::{PartToSign, UploadError};
        let running = start_as(Some(devbucket::emulate::Emulated::B2)).await;
        let md5_mode = [("UPLOAD_METHOD", "put"), ("UPLOAD_CHECKSUM", "md5")];
        let (one, other) = (uploads_with(&running, &md5_mode), uploads_with(&running, &md5_mode));
        let body = b"hello, md5";
        // A SHA-256 is not what this service checks: refused, with what to send.
        let mut wrong = text_file("hello.txt", body.len() as u64);
        wrong.checksum_sha256 = Some(sha256_base64(body));
        let refused = one.sign_upload(&me(), wrong).await;
        assert!(
            matches!(&refused, Err(UploadError::Refused(m)) if m.contains("content_md5")),
            "{refused:?}"
        );
        let mut request = text_file("hello.txt", body.len() as u64);
        request.content_md5 = Some(md5_base64(body));
        let signed = one.sign_upload(&me(), request).await.unwrap();
        assert_eq!(signed.method, UploadMethod::Put, "{signed:?}");
        let headers = signed.headers.clone();
        assert!(headers.contains(&("content-md5".into(), md5_base64(body))), "{headers:?}");
        let (status, answer) = put(&running, &signed.url, &headers, b"HELLO, MD5").await;
        assert!(status == 400 && answer.contains("<Code>BadDigest</Code>"), "{answer}");
        // The store refuses a checksum header, as B2 has.
        let mut with_sha = headers.clone();
        with_sha.push(("x-amz-checksum-sha256".into(), sha256_base64(body)));
        let (status, answer) = put(&running, &signed.url, &with_sha, body).await;
        assert!(status == 400 && answer.contains("Unsupported header"), "{answer}");
        let (status, answer) = put(&running, &signed.url, &headers, body).await;
        assert_eq!(status, 200, "{answer}");
        let etag = header_of(&answer, "etag").unwrap();
        let report = UploadReport { key: signed.key, etag, receipt: signed.receipt };
        other.confirm_upload(&me(), report).await.unwrap();

        // In parts: each part's URL binds its Content-MD5.
        let file: Vec<u8> = (0..(9u32 << 20) + 10).map(|i| (i % 251) as u8).collect();
        let (first, second) = file.split_at(8 << 20);
        let started =
            one.start_multipart(&me(), text_file("big.txt", file.len() as u64)).await.unwrap();
        let ask = |number: u64, bytes: &[u8]| PartToSign {
            number,
            length: bytes.len() as u64,
            checksum: Some(md5_base64(bytes)),
        };
        let sha = PartToSign { checksum: Some(sha256_base64(first)), ..ask(1, first) };
        assert!(other.sign_parts(&me(), started.receipt.clone(), vec![sha]).await.is_err());
        let urls = other
            .sign_parts(&me(), started.receipt.clone(), vec![ask(1, first), ask(2, second)])
            .await
            .unwrap();
        let md5_of = |bytes: &[u8]| vec![("content-md5".to_owned(), md5_base64(bytes))];
        let mut damaged = first.to_vec();
        damaged[7] ^= 1;
        let (status, answer) = put(&running, &urls[0].url, &md5_of(first), &damaged).await;
        assert!(status == 400 && answer.contains("<Code>BadDigest</Code>"), "{answer}");
        for (url, bytes) in [(&urls[0].url, first), (&urls[1].url, second)] {
            let (status, answer) = put(&running, url, &md5_of(bytes), bytes).await;
            assert_eq!(status, 200, "{answer}");
        }
        let stored = one.complete_multipart(&me(), started.receipt).await.unwrap();
        assert!(stored.etag.trim_matches('"').ends_with("-2"), "{}", stored.etag);
        assert_eq!(stored.size, file.len() as u64);
    }
}

/// A form for the dev bucket signed by boto3 (`generate_presigned_post`), with `extra` fields
/// each bound by an exact condition: forms our own signer never makes.
fn boto3_form(
    python: &Path,
    dev: &Running,
    key: &str,
    extra: &[(&str, &str)],
    size: u64,
) -> Vec<(String, String)> {
    let script = r#"
import json, sys, boto3
from botocore.config import Config
a = json.loads(sys.argv[1])
s3 = boto3.client("s3", region_name="us-east-1", endpoint_url=a["endpoint"], aws_access_key_id="DEVTESTKEY",
                  aws_secret_access_key="d" * 64, config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
fields = dict(a["extra"])
conditions = [{k: v} for k, v in a["extra"]] + [["content-length-range", a["size"], a["size"]]]
post = s3.generate_presigned_post(a["bucket"], a["key"], Fields=fields, Conditions=conditions, ExpiresIn=300)
print(json.dumps(list(post["fields"].items())))
"#;
    let args = serde_json::json!({ "endpoint": format!("http://{}", dev.addr), "bucket": devbucket::DEV_BUCKET, "key": key, "extra": extra, "size": size });
    let out = std::process::Command::new(python)
        .arg("-c")
        .arg(script)
        .arg(args.to_string())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test]
async fn a_checksum_field_is_checked_even_without_its_algorithm_field() {
    use base64::Engine;
    use sha2::Digest;
    let Some(python) = common::tools::python() else { return };
    let dev = start().await;
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let right = b64(&sha2::Sha256::digest(b"hello"));
    let wrong = b64(&sha2::Sha256::digest(b"other"));
    let cases = [
        (right.as_str(), 204, ""),
        (wrong.as_str(), 400, "<Code>BadDigest</Code>"),
        ("not-a-checksum", 400, "<Code>InvalidRequest</Code>"),
        ("aGVsbG8=", 400, "<Code>InvalidRequest</Code>"),
    ];
    for (i, (sum, status, code)) in cases.into_iter().enumerate() {
        let key = format!("sums/{i}.txt");
        let fields = boto3_form(&python, &dev, &key, &[("x-amz-checksum-sha256", sum)], 5);
        let (got, answer) = dev.upload(&fields, b"hello").await;
        assert_eq!(got, status, "{sum}: {answer}");
        assert!(answer.contains(code), "{sum}: {answer}");
        assert_eq!(
            dev.data.join(devbucket::DEV_BUCKET).join(&key).exists(),
            status == 204,
            "{sum}"
        );
    }
}

/// Found by scripts/bench.sh: Chromium sends an in-memory file's form in one large chunk; the
/// bound on what precedes the file counted the file's own bytes in that chunk and refused the
/// upload (MaxPostPreDataLengthExceeded), now and then, depending on how the body was cut.
#[tokio::test]
async fn a_form_that_arrives_in_one_chunk_with_its_file_is_stored() {
    use tower::ServiceExt;
    let dev = start().await;
    let file: Vec<u8> = (0..(1u32 << 20)).map(|i| (i % 253) as u8).collect();
    let mut body = Vec::new();
    for (name, value) in dev.form("one-chunk.bin", file.len() as u64) {
        body.extend_from_slice(format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes());
    }
    body.extend_from_slice(format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f.bin\"\r\n\r\n").as_bytes());
    body.extend_from_slice(&file);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    let dev_bucket = Arc::new(DevBucket::new(
        format!("http://{}", dev.addr),
        Credentials::new("DEVTESTKEY", "d".repeat(64)),
        Store::new(&dev.data),
        Default::default(),
    ));
    let request = axum::http::Request::post(format!("/{}", devbucket::DEV_BUCKET))
        .header("content-type", format!("multipart/form-data; boundary={BOUNDARY}"))
        // One chunk: the whole body at once.
        .body(axum::body::Body::from(body))
        .unwrap();
    let res = devbucket::router(dev_bucket, vec![]).oneshot(request).await.unwrap();
    let status = res.status();
    let answer = axum::body::to_bytes(res.into_body(), 1 << 16).await.unwrap();
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&answer));
    assert_eq!(std::fs::read(dev.data.join("dev-uploads/one-chunk.bin")).unwrap(), file);
}
