//! The buckets the reconciler tests run against, on loopback: the embedded dev bucket, started
//! here, or Garage, the cluster `scripts/test.sh` started (named by the `AWS_*` and
//! `UPLOAD_BUCKET` settings it exports). Files go to them with curl, as any client sends them.

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use axum::http::HeaderValue;
use server::config::{table, Config};
use server::devbucket::{self, DevBucket, Store};
use server::policy::{Credentials, FormSpec, OnSuccess, PolicySigner, SizeRule};
use server::state::State;
use server::uploads::{Clock, Objects, Uploads};
use time::OffsetDateTime;

/// The settings every service here signs with, beside the bucket's: no hashing for forms (the
/// bucket checks size and type), files of 5 MiB and more in parts.
const SETTINGS: [(&str, &str); 2] =
    [("UPLOAD_CHECKSUM_MAX_BYTES", "0"), ("UPLOAD_MULTIPART_THRESHOLD", "5242880")];

pub struct Bucket {
    pub config: Config,
    /// The dev bucket's data directory (removed when dropped).
    dev: Option<PathBuf>,
}

impl Drop for Bucket {
    fn drop(&mut self) {
        if let Some(dir) = &self.dev {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

impl Bucket {
    /// A dev bucket of its own, on a free port.
    pub async fn dev() -> Self {
        let data =
            std::env::temp_dir().join(format!("reconcile-test-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(data.join(devbucket::DEV_BUCKET)).unwrap();
        let secret = "d".repeat(64);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let credentials = Credentials::new("DEVTESTKEY", secret.clone());
        let dev = Arc::new(DevBucket::new(
            endpoint.clone(),
            credentials,
            Store::new(&data),
            Default::default(),
        ));
        let router =
            devbucket::router(dev, vec![HeaderValue::from_static("http://127.0.0.1:3000")]);
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        let mut settings = vec![
            ("UPLOAD_DEV_ACCESS_KEY_ID", "DEVTESTKEY"),
            ("UPLOAD_DEV_SECRET_ACCESS_KEY", secret.as_str()),
        ];
        settings.extend(SETTINGS);
        let config = Config::dev_bucket(table(&settings), endpoint).unwrap();
        Self { config, dev: Some(data) }
    }

    /// The Garage cluster `scripts/test.sh` runs; the test fails, naming what is missing, without.
    pub fn garage() -> Self {
        let names = [
            "UPLOAD_BUCKET",
            "AWS_REGION",
            "AWS_ENDPOINT_URL_S3",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
        ];
        let values: Vec<String> = names
            .iter()
            .map(|n| {
                std::env::var(n).unwrap_or_else(|_| {
                    panic!("{n} is not set: run with Garage up (scripts/test.sh does)")
                })
            })
            .collect();
        let mut settings: Vec<(&str, &str)> =
            names.iter().copied().zip(values.iter().map(String::as_str)).collect();
        settings.extend(SETTINGS);
        Self { config: Config::from_lookup(table(&settings)).unwrap(), dev: None }
    }

    /// How the service reaches the bucket.
    pub async fn objects(&self) -> Objects {
        match &self.dev {
            Some(data) => {
                Objects::Dev { store: Store::new(data), bucket: self.config.bucket.clone() }
            }
            None => {
                let metrics = Arc::new(server::metrics::Metrics::new());
                let (_, client) =
                    server::aws::bucket_uploads(self.config.clone(), metrics).await.unwrap();
                Objects::S3 { client, bucket: self.config.bucket.name.clone() }
            }
        }
    }

    /// An instance of the service on this bucket, recording in `state`, reading `clock`.
    pub async fn uploads(&self, state: Arc<State>, clock: &TestClock) -> Uploads {
        Uploads::new(self.config.clone())
            .with_objects(self.objects().await)
            .with_state(state)
            .with_clock(clock.clock())
    }

    /// Where the dev bucket serves `key` to anyone (an S3 bucket serves nothing without a
    /// presigned link: `None`).
    pub fn public_url(&self, key: &str) -> Option<String> {
        self.dev.as_ref().map(|_| self.config.bucket.object_url(key))
    }

    /// The dev bucket's directory of its multipart uploads in progress, if this is the dev
    /// bucket.
    pub fn dev_store(&self) -> Option<Store> {
        self.dev.as_deref().map(Store::new)
    }

    /// A form for `key` signed with the bucket's own credentials (not through the service):
    /// any size to 1 MiB, as `content_type`.
    pub fn own_form(&self, key: &str, content_type: &str) -> Vec<(String, String)> {
        let credentials = self.config.credentials.clone().unwrap();
        let signer = PolicySigner::new(credentials, &self.config.bucket.region);
        let mut spec = FormSpec::new(
            self.config.bucket.name.clone(),
            key,
            SizeRule::Range { min: 0, max: 1 << 20 },
        );
        spec.content_type = Some(content_type.into());
        spec.on_success = Some(OnSuccess::Status(201));
        signer.sign(&spec, OffsetDateTime::now_utc()).unwrap().fields
    }
}

/// The services' clock: the real time, moved on by the test.
#[derive(Clone, Default)]
pub struct TestClock(Arc<AtomicI64>);

impl TestClock {
    pub fn clock(&self) -> Clock {
        let ahead = self.0.clone();
        Arc::new(move || {
            OffsetDateTime::now_utc() + time::Duration::seconds(ahead.load(Ordering::SeqCst))
        })
    }

    pub fn advance(&self, by: time::Duration) {
        self.0.fetch_add(by.whole_seconds(), Ordering::SeqCst);
    }
}

fn scratch(body: &[u8]) -> PathBuf {
    let path =
        std::env::temp_dir().join(format!("reconcile-file-{}", uuid::Uuid::new_v4().simple()));
    std::fs::write(&path, body).unwrap();
    path
}

/// Runs curl off the async threads (the dev bucket answers on them).
async fn curl(args: Vec<String>, body: PathBuf) -> (u16, String) {
    let out = tokio::task::spawn_blocking(move || {
        let out = Command::new("curl").args(&args).output().expect("curl runs");
        let _ = std::fs::remove_file(&body);
        out
    })
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (answer, status) = text.rsplit_once('\n').unwrap_or(("", &text));
    (status.trim().parse().unwrap_or(0), answer.to_owned())
}

/// POSTs `fields` and `body` as the file `file_name` to `url`, as a browser's form does;
/// answers the status and body (a redirect is not followed).
pub async fn post_form(
    url: &str,
    fields: &[(String, String)],
    file_name: &str,
    body: &[u8],
) -> (u16, String) {
    let file = scratch(body);
    let mut args: Vec<String> = vec!["-s".into(), "-w".into(), "\n%{http_code}".into()];
    for (name, value) in fields {
        args.extend(["--form-string".into(), format!("{name}={value}")]);
    }
    args.extend([
        "-F".into(),
        format!("file=@{};filename={file_name}", file.display()),
        url.into(),
    ]);
    curl(args, file).await
}

/// PUTs `body` to `url` with `headers`; answers the status and the response's headers.
pub async fn put(url: &str, headers: &[(String, String)], body: &[u8]) -> (u16, String) {
    let file = scratch(body);
    let mut args: Vec<String> = vec![
        "-s".into(),
        "-o".into(),
        "/dev/null".into(),
        "-D".into(),
        "-".into(),
        "-w".into(),
        "\n%{http_code}".into(),
        "-X".into(),
        "PUT".into(),
    ];
    for (name, value) in headers {
        args.extend(["-H".into(), format!("{name}: {value}")]);
    }
    args.extend(["--data-binary".into(), format!("@{}", file.display()), url.into()]);
    curl(args, file).await
}

/// What the page asks to sign for a text file of `size` bytes named `name`.
/// Signs `request` and POSTs `body` as its file, as a browser would: the report it would then
/// confirm with.
pub async fn sign_and_post(
    uploads: &Uploads,
    who: &app::service::Requester,
    request: app::service::UploadRequest,
    body: &[u8],
) -> app::wire::UploadReport {
    let name = request.file_name.clone();
    let signed = uploads.sign_upload(who, request).await.unwrap();
    let (status, answer) = post_form(&signed.url, &signed.fields, &name, body).await;
    assert_eq!(status, 201, "{name}: {answer}");
    app::wire::UploadReport { key: signed.key, etag: etag_of(&answer), receipt: signed.receipt }
}

/// Why a confirm refused the file (a mismatch); any other answer fails the test.
pub fn refused(answer: Result<app::wire::StoredUpload, app::wire::UploadError>) -> String {
    match answer {
        Err(app::wire::UploadError::Mismatch(problem)) => problem,
        other => panic!("expected the file to be refused, got {other:?}"),
    }
}

pub fn text_file(name: &str, size: u64) -> app::service::UploadRequest {
    app::service::UploadRequest {
        profile: String::new(),
        file_name: name.into(),
        size,
        content_type: "text/plain".into(),
        access_code: String::new(),
        checksum_sha256: None,
        content_md5: None,
        metadata: Default::default(),
    }
}

/// The ETag in a bucket's answer to a POST with `success_action_status=201`.
pub fn etag_of(answer: &str) -> String {
    let start = answer.find("<ETag>").expect("an ETag in the answer") + "<ETag>".len();
    let end = answer[start..].find("</ETag>").unwrap() + start;
    answer[start..end].replace("&quot;", "\"")
}

/// A new uploader, known to the service: anonymous, of no address.
pub fn someone() -> app::service::Requester {
    app::service::Requester {
        uploader: app::service::UploaderId::parse(&uuid::Uuid::new_v4().simple().to_string())
            .unwrap(),
        user: None,
        ip: None,
        scope: None,
        new_visitor: false,
        cross_site: false,
    }
}
