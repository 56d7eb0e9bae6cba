//! Temporary credentials from a real STS-speaking server on loopback: moto's, from the
//! project's `.venv` (`scripts/setup.sh test`). moto stands in for AWS STS, which cannot run
//! here; it is used for STS only (it accepts forged POST signatures). A recording proxy
//! between the upload service and moto shows what each STS request carried.

mod common;

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use app::service::{Requester, UploadRequest, UploaderId};
use app::wire::UploadError;
use server::config::{table, Config};
use server::credentials::{session_policy, Source, Sts, StsMode};
use server::metrics::Metrics;
use server::policy::{verify, Context, Part};
use server::uploads::Uploads;
use time::OffsetDateTime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const BUCKET: &str = "uploads-bucket";
const ROLE: &str = "arn:aws:iam::123456789012:role/uploader";
const ALICE: &str = "a11ce000000000000000000000000000";
const BOB: &str = "b0b00000000000000000000000000000";

struct Moto {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// moto on a port of its own; `None` (the test skips) where moto is not installed.
async fn start_moto() -> Option<Moto> {
    let bin = common::tools::moto_server()?;
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new(bin)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("moto_server starts");
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    // Dropped (and so killed) if it never answers.
    let moto = Moto { child, addr };
    for _ in 0..200 {
        if TcpStream::connect(addr).await.is_ok() {
            return Some(moto);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("moto_server did not start on {addr}");
}

/// Forwards connections to `upstream`, keeping every byte the client sent.
async fn recording_proxy(upstream: SocketAddr) -> (SocketAddr, Arc<Mutex<Vec<u8>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let sent = Arc::new(Mutex::new(Vec::new()));
    let record = sent.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let record = record.clone();
            tokio::spawn(async move {
                let server = TcpStream::connect(upstream).await.unwrap();
                let (mut client_read, mut client_write) = client.into_split();
                let (mut server_read, mut server_write) = server.into_split();
                let upstream_copy = async {
                    let mut buf = [0u8; 8192];
                    while let Ok(n @ 1..) = client_read.read(&mut buf).await {
                        record.lock().unwrap().extend_from_slice(&buf[..n]);
                        if server_write.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                    let _ = server_write.shutdown().await;
                };
                let downstream_copy = async {
                    let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
                    let _ = client_write.shutdown().await;
                };
                tokio::join!(upstream_copy, downstream_copy);
            });
        }
    });
    (addr, sent)
}

/// The form bodies of the requests recorded so far.
fn sts_requests(sent: &Mutex<Vec<u8>>) -> Vec<Vec<(String, String)>> {
    let bytes = sent.lock().unwrap().clone();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let mut requests = Vec::new();
    let mut rest = text.as_str();
    while let Some(end) = rest.find("\r\n\r\n") {
        let head = &rest[..end];
        let length = head
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-length:")
                    .map(|v| v.trim().parse::<usize>().unwrap())
            })
            .unwrap_or(0);
        let body = &rest[end + 4..end + 4 + length];
        requests.push(serde_urlencoded::from_str(body).unwrap());
        rest = &rest[end + 4 + length..];
    }
    requests
}

fn field<'a>(request: &'a [(String, String)], name: &str) -> Option<&'a str> {
    request.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

fn sts_client(endpoint: SocketAddr) -> aws_sdk_sts::Client {
    let config = aws_sdk_sts::Config::builder()
        .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
        .region(aws_sdk_sts::config::Region::new("us-east-1"))
        .endpoint_url(format!("http://{endpoint}"))
        .credentials_provider(aws_credential_types::Credentials::new(
            "AKIDBASEKEY",
            "base-secret",
            None,
            None,
            "test",
        ))
        .build();
    aws_sdk_sts::Client::from_conf(config)
}

fn config() -> Config {
    config_with(&[])
}

/// The test configuration, `extra` settings first (the first of a name wins).
fn config_with(extra: &[(&str, &str)]) -> Config {
    let base = [
        ("UPLOAD_BUCKET", BUCKET),
        ("AWS_REGION", "us-east-1"),
        ("UPLOAD_ROLE_ARN", ROLE),
        ("UPLOAD_STS_DURATION_SECS", "900"),
        ("UPLOAD_CHECKSUM_MAX_BYTES", "0"),
    ];
    let all: Vec<(&str, &str)> = extra.iter().chain(&base).copied().collect();
    Config::from_lookup(table(&all)).unwrap()
}

/// The upload service signing with STS at `endpoint`, its clock `offset` seconds ahead of the real one (moto
/// dates its credentials by the real clock).
fn uploads_on(
    endpoint: SocketAddr,
    mode: StsMode,
    offset: Arc<AtomicI64>,
    metrics: Arc<Metrics>,
) -> Uploads {
    uploads_with(config(), endpoint, mode, offset, metrics)
}

fn uploads_with(
    config: Config,
    endpoint: SocketAddr,
    mode: StsMode,
    offset: Arc<AtomicI64>,
    metrics: Arc<Metrics>,
) -> Uploads {
    let sts_config = config.sts.clone().unwrap();
    assert_eq!(sts_config.duration, Duration::from_secs(900));
    let ahead = server::aws::refresh_ahead(&config);
    let sts = Sts::new(
        sts_client(endpoint),
        mode,
        sts_config.duration,
        BUCKET,
        "us-east-1",
        ahead,
        metrics.clone(),
    );
    let clock =
        move || OffsetDateTime::now_utc() + time::Duration::seconds(offset.load(Ordering::SeqCst));
    Uploads::with_source(config, Source::Sts(sts)).with_clock(Arc::new(clock)).with_metrics(metrics)
}

/// What the session policy STS was sent means, read as IAM reads it: one statement allowing
/// `s3:PutObject` and nothing else, on the uploader's prefix and nowhere else.
fn assert_grants_put_under_only(policy: &str, uploader: &str) {
    let doc: serde_json::Value = serde_json::from_str(policy).expect("the session policy is JSON");
    let statements = doc["Statement"].as_array().expect("a Statement list");
    assert_eq!(statements.len(), 1, "{policy}");
    let statement = &statements[0];
    assert_eq!(statement["Effect"], "Allow", "{policy}");
    let list = |v: &serde_json::Value| -> Vec<String> {
        match v {
            serde_json::Value::String(s) => vec![s.clone()],
            serde_json::Value::Array(a) => {
                a.iter().map(|x| x.as_str().unwrap().to_owned()).collect()
            }
            other => panic!("unexpected {other}"),
        }
    };
    // Uploading only: a POST or a part (PutObject), and a multipart upload's parts listed or dropped.
    assert_eq!(
        list(&statement["Action"]),
        ["s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
        "{policy}"
    );
    assert_eq!(
        list(&statement["Resource"]),
        [
            format!("arn:aws:s3:::{BUCKET}/uploads/{uploader}/*"),
            format!("arn:aws:s3:::{BUCKET}/uploads/.staging/{uploader}/*")
        ],
        "{policy}"
    );
    assert!(
        statement.get("NotAction").is_none() && statement.get("NotResource").is_none(),
        "{policy}"
    );
}

/// The session policy for `uploader`: their prefix, and their staging prefix.
fn scoped_to(uploader: &str) -> String {
    let (own, staging) = (format!("uploads/{uploader}/"), format!("uploads/.staging/{uploader}/"));
    session_policy("aws", BUCKET, &[&own, &staging])
}

fn who(id: &str) -> Requester {
    Requester {
        uploader: UploaderId::parse(id).unwrap(),
        user: None,
        ip: None,
        scope: None,
        new_visitor: false,
        cross_site: false,
    }
}

fn request() -> UploadRequest {
    UploadRequest {
        profile: String::new(),
        file_name: "cat.png".into(),
        size: 42,
        content_type: "image/png".into(),
        access_code: String::new(),
        checksum_sha256: None,
        content_md5: None,
        metadata: Default::default(),
    }
}

fn value<'a>(fields: &'a [(String, String)], name: &str) -> &'a str {
    field(fields, name).unwrap_or_else(|| panic!("no {name} in {fields:?}"))
}

#[tokio::test]
async fn assume_role_is_scoped_to_the_uploader_and_refreshed_before_expiry() {
    let Some(moto) = start_moto().await else { return };
    let (proxy, sent) = recording_proxy(moto.addr).await;
    let offset = Arc::new(AtomicI64::new(0));
    let metrics = Arc::new(Metrics::new());
    let uploads = uploads_on(
        proxy,
        StsMode::AssumeRole { role_arn: ROLE.into() },
        offset.clone(),
        metrics.clone(),
    );

    let first = uploads.sign_upload(&who(ALICE), request()).await.unwrap();
    let requests = sts_requests(&sent);
    assert_eq!(requests.len(), 1, "{requests:?}");
    let call = &requests[0];
    assert_eq!(field(call, "Action"), Some("AssumeRole"));
    assert_eq!(field(call, "RoleArn"), Some(ROLE));
    assert_eq!(field(call, "DurationSeconds"), Some("900"));
    assert_eq!(field(call, "RoleSessionName"), Some(format!("upload-{ALICE}").as_str()));
    assert_eq!(field(call, "Policy"), Some(scoped_to(ALICE).as_str()));
    assert_grants_put_under_only(field(call, "Policy").unwrap(), ALICE);

    // The form carries the session token, and verifies with the temporary secret only.
    let token = value(&first.fields, "x-amz-security-token").to_owned();
    let access_key = value(&first.fields, "x-amz-credential").split('/').next().unwrap().to_owned();
    assert!(access_key.starts_with("ASIA"), "{access_key}");
    let temp =
        uploads.policy_signer(&UploaderId::parse(ALICE).unwrap(), uploads.now()).await.unwrap();
    assert_eq!(temp.credentials().session_token(), Some(token.as_str()));
    let mut parts: Vec<Part> = first.fields.iter().map(|(n, v)| Part::field(n, v)).collect();
    parts.push(Part::File { file_name: "cat.png".into(), size: 42 });
    let cx = Context { bucket: BUCKET, region: "us-east-1", now: uploads.now() };
    assert!(verify(&parts, cx, |id| (id == access_key).then(|| temp.credentials().clone())).is_ok());
    // The policy ends a margin before the credentials do.
    let expires =
        OffsetDateTime::parse(&first.expires_at, &time::format_description::well_known::Rfc3339)
            .unwrap();
    assert!(expires <= temp.credentials().expires_at().unwrap() - time::Duration::seconds(60));

    // Still fresh 100 s later: no new call.
    offset.store(100, Ordering::SeqCst);
    uploads.sign_upload(&who(ALICE), request()).await.unwrap();
    assert_eq!(sts_requests(&sent).len(), 1);

    // 500 s in, 400 s are left: less than the longest policy and its margin, so a new call.
    offset.store(500, Ordering::SeqCst);
    let later = uploads.sign_upload(&who(ALICE), request()).await.unwrap();
    assert_eq!(sts_requests(&sent).len(), 2);
    assert_ne!(value(&later.fields, "x-amz-security-token"), token);

    // Another uploader gets credentials of its own, for its own prefix.
    uploads.sign_upload(&who(BOB), request()).await.unwrap();
    let requests = sts_requests(&sent);
    assert_eq!(requests.len(), 3);
    assert_eq!(field(&requests[2], "Policy"), Some(scoped_to(BOB).as_str()));
    assert_grants_put_under_only(field(&requests[2], "Policy").unwrap(), BOB);
    assert!(metrics.encode().contains("sts_calls_total{call=\"AssumeRole\",outcome=\"ok\"} 3"));
}

#[tokio::test]
async fn concurrent_signatures_share_one_sts_call() {
    let Some(moto) = start_moto().await else { return };
    let (proxy, sent) = recording_proxy(moto.addr).await;
    let uploads = uploads_on(
        proxy,
        StsMode::AssumeRole { role_arn: ROLE.into() },
        Arc::default(),
        Arc::default(),
    );
    let alice = who(ALICE);
    let all =
        futures::future::join_all((0..8).map(|_| uploads.sign_upload(&alice, request()))).await;
    assert!(all.iter().all(Result::is_ok), "{all:?}");
    assert_eq!(sts_requests(&sent).len(), 1);
}

#[tokio::test]
async fn federation_tokens_are_named_for_the_uploader() {
    let Some(moto) = start_moto().await else { return };
    let (proxy, sent) = recording_proxy(moto.addr).await;
    let uploads = uploads_on(proxy, StsMode::Federation, Arc::default(), Arc::default());
    let signed = uploads.sign_upload(&who(ALICE), request()).await.unwrap();
    assert!(field(&signed.fields, "x-amz-security-token").is_some());
    let requests = sts_requests(&sent);
    assert_eq!(field(&requests[0], "Action"), Some("GetFederationToken"));
    assert_eq!(field(&requests[0], "Name"), Some(ALICE));
    assert_eq!(field(&requests[0], "DurationSeconds"), Some("900"));
    assert_eq!(field(&requests[0], "Policy"), Some(scoped_to(ALICE).as_str()));
    assert_grants_put_under_only(field(&requests[0], "Policy").unwrap(), ALICE);
}

#[tokio::test]
async fn sts_down_means_temporarily_unavailable() {
    // A port nothing listens on.
    let dead: SocketAddr = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let metrics = Arc::new(Metrics::new());
    let uploads = uploads_on(
        dead,
        StsMode::AssumeRole { role_arn: ROLE.into() },
        Arc::default(),
        metrics.clone(),
    );
    let err = uploads.sign_upload(&who(ALICE), request()).await.unwrap_err();
    assert!(
        matches!(&err, UploadError::Unavailable(m) if m.contains("temporarily unavailable")),
        "{err:?}"
    );
    assert_eq!(err.status(), http::StatusCode::SERVICE_UNAVAILABLE);
    let text = metrics.encode();
    assert!(text.contains("sts_calls_total{call=\"AssumeRole\",outcome=\"error\"} 1"), "{text}");
    assert!(text.contains("uploads_refused_total{reason=\"credentials\"} 1"), "{text}");
}

#[tokio::test]
async fn page_views_without_a_cookie_make_no_sts_call() {
    let Some(moto) = start_moto().await else { return };
    let metrics = Arc::new(Metrics::new());
    let uploads = uploads_on(
        moto.addr,
        StsMode::AssumeRole { role_arn: ROLE.into() },
        Arc::default(),
        metrics.clone(),
    );
    let calls = || {
        metrics
            .encode()
            .lines()
            .find(|l| l.starts_with("sts_calls_total{call=\"AssumeRole\",outcome=\"ok\"}"))
            .unwrap()
            .to_owned()
    };
    // A flood of first views (no cookie yet): no plain form, no STS call.
    for n in 0..50 {
        let new = Requester { new_visitor: true, ..who(&format!("{n:032x}")) };
        assert_eq!(
            uploads.page_form(&new, "", "http://app.example/uploaded".into()).await.unwrap(),
            None
        );
    }
    assert!(calls().ends_with(" 0"), "{}", calls());
    // With its cookie, the visitor's next view carries a form, signed with its own credentials.
    let known = who(&format!("{:032x}", 7));
    assert!(uploads
        .page_form(&known, "", "http://app.example/uploaded".into())
        .await
        .unwrap()
        .is_some());
    assert!(calls().ends_with(" 1"), "{}", calls());
}

#[tokio::test]
async fn unknown_visitors_cost_no_sts_call_and_part_signatures_pay_for_the_fetches() {
    use server::uploads::receipt::{Multipart, Receipt};
    let Some(moto) = start_moto().await else { return };
    let metrics = Arc::new(Metrics::new());
    let uploads = uploads_with(
        config_with(&[("UPLOAD_SIGNS_PER_MINUTE_PER_IP", "20")]),
        moto.addr,
        StsMode::AssumeRole { role_arn: ROLE.into() },
        Arc::default(),
        metrics.clone(),
    );
    let calls = || {
        let text = metrics.encode();
        let line = text
            .lines()
            .find(|l| l.starts_with("sts_calls_total{call=\"AssumeRole\",outcome=\"ok\"}"))
            .unwrap()
            .to_owned();
        line.rsplit(' ').next().unwrap().parse::<u32>().unwrap()
    };
    // No cookie, or a page reached from another site: signing is refused before STS.
    for n in 0..20 {
        let new = Requester { new_visitor: true, ..who(&format!("{n:032x}")) };
        let err = uploads.sign_upload(&new, request()).await.unwrap_err();
        assert!(
            matches!(&err, UploadError::Refused(m) if m.contains("open the upload page")),
            "{err:?}"
        );
        let linked = Requester { cross_site: true, ..who(&format!("{n:032x}")) };
        assert!(uploads.sign_upload(&linked, request()).await.is_err());
    }
    assert_eq!(calls(), 0);
    // Receipts of 50 uploaders whose credentials are not cached, from one address: each fetch
    // spends a signature of the address's 20 a minute, so 20 are fetched and the rest are told
    // to wait; nothing more reaches STS.
    let key = Arc::new(server::seal::SessionKey::from_hex(&"5a".repeat(32)).unwrap());
    let uploads = uploads.with_session_key(key.clone());
    let ip: std::net::IpAddr = "192.0.2.50".parse().unwrap();
    let sum = "A".repeat(43) + "=";
    let (mut signed, mut waited) = (0, 0);
    for n in 0..50u32 {
        let id = UploaderId::parse(&format!("{:032x}", 1000 + n)).unwrap();
        let receipt = Receipt::for_multipart(
            &id,
            format!("uploads/{}/d/", id.as_str()),
            "big.bin".into(),
            8 << 20,
            "application/octet-stream".into(),
            Multipart { upload_id: "b".repeat(32), part_size: 8 << 20 },
            uploads.now(),
        )
        .seal(&key);
        let requester = Requester { ip: Some(ip), ..who(id.as_str()) };
        let part =
            app::wire::PartToSign { number: 1, length: 8 << 20, checksum: Some(sum.clone()) };
        match uploads.sign_parts(&requester, receipt, vec![part]).await {
            Ok(_) => signed += 1,
            Err(UploadError::TooManyRequests { .. }) => waited += 1,
            Err(err) => panic!("{err:?}"),
        }
    }
    // 20 at once (and one more every 3 s, which the loop does not last).
    assert_eq!((signed, waited), (20, 30));
    assert_eq!(calls(), 20, "one fetch per uploader signed for, each paid for");
}
