//! Every server function that asks the bucket spends a budget first, per uploader and per
//! address: a burst from one address meets 429 with `Retry-After`, and the bucket requests it
//! caused are counted and bounded. `sign_parts` spends the receipt's own budget of part
//! signatures instead (a 10 000-part file goes through); forged and foreign receipts are counted
//! apart from real mismatches, and budgeted.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use app::service::UploaderId;
use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::{routing::any, Router};
use common::router::{app_over, body_text, session_key};
use http::{header, Request, StatusCode};
use server::config::{table, Config};
use server::metrics::Metrics;
use server::uploads::receipt::{Multipart, Receipt};
use server::uploads::{Objects, Uploads};
use tower::ServiceExt;

/// A "bucket" that knows no upload (S3's NoSuchUpload, which the SDK does not retry), counting
/// the requests it gets.
async fn counting_bucket() -> (String, Arc<AtomicUsize>) {
    let asked = Arc::new(AtomicUsize::new(0));
    let counter = asked.clone();
    let bucket = Router::new().fallback(any(move || {
        counter.fetch_add(1, Ordering::SeqCst);
        async {
            (
                StatusCode::NOT_FOUND,
                [(header::CONTENT_TYPE, "application/xml")],
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>NoSuchUpload</Code>\
                 <Message>The specified upload does not exist.</Message></Error>",
            )
        }
    }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, bucket).await.unwrap() });
    (endpoint, asked)
}

/// The app over that bucket: 5 files a minute per uploader, 10 per address (so 20 and 40
/// calls).
async fn app_on(endpoint: &str, metrics: Arc<Metrics>) -> Router {
    let settings = [
        ("UPLOAD_BUCKET", "uploads"),
        ("AWS_REGION", "garage"),
        ("AWS_ACCESS_KEY_ID", "GK0123456789abcdef01234567"),
        ("AWS_SECRET_ACCESS_KEY", common::router::SECRET),
        ("AWS_ENDPOINT_URL_S3", endpoint),
        ("UPLOAD_FILES_PER_MINUTE", "5"),
        ("UPLOAD_SIGNS_PER_MINUTE_PER_IP", "10"),
    ];
    let config = Config::from_lookup(table(&settings)).unwrap();
    let sdk = server::aws::sdk_config(&config).await;
    let client = server::aws::s3_client(&sdk, &config);
    let uploads =
        Uploads::new(config).with_objects(Objects::S3 { client, bucket: "uploads".into() });
    let from: SocketAddr = "192.0.2.44:4000".parse().unwrap();
    app_over(uploads, metrics).layer(MockConnectInfo(from))
}

fn uploader(n: u32) -> UploaderId {
    UploaderId::parse(&format!("{n:032x}")).unwrap()
}

/// A multipart receipt for `who`: `size` bytes in parts of 8 MiB.
fn receipt(who: &UploaderId, size: u64) -> String {
    let multipart = Multipart { upload_id: "a".repeat(32), part_size: 8 << 20 };
    Receipt::for_multipart(
        who,
        format!("uploads/{}/d/", who.as_str()),
        "big.bin".into(),
        size,
        "application/octet-stream".into(),
        multipart,
        time::OffsetDateTime::now_utc(),
    )
    .seal(&session_key().key)
}

fn call(function: &str, who: Option<&UploaderId>, body: String, json: bool) -> Request<Body> {
    let content_type = if json { "application/json" } else { "application/x-www-form-urlencoded" };
    let mut request = Request::post(format!("/api/{function}"))
        .header(header::CONTENT_TYPE, content_type)
        .header(header::ACCEPT, "application/json");
    if let Some(who) = who {
        request = request.header(header::COOKIE, format!("uploader={}", session_key().seal(who)));
    }
    request.body(Body::from(body)).unwrap()
}

/// `n` calls in a row: their statuses, and whether every 429 said when to come back.
async fn burst(
    app: &Router,
    n: usize,
    request: impl Fn(usize) -> Request<Body>,
) -> (Vec<StatusCode>, bool) {
    let mut statuses = Vec::new();
    let mut all_say_when = true;
    for i in 0..n {
        let res = app.clone().oneshot(request(i)).await.unwrap();
        if res.status() == StatusCode::TOO_MANY_REQUESTS {
            all_say_when &= res.headers().get(header::RETRY_AFTER).is_some_and(|v| v != "0");
        }
        statuses.push(res.status());
    }
    (statuses, all_say_when)
}

fn limited(statuses: &[StatusCode]) -> usize {
    statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count()
}

#[tokio::test]
async fn each_call_that_asks_the_bucket_spends_the_uploaders_budget() {
    let me = uploader(1);
    for function in ["my_uploads", "list_parts", "complete_multipart", "abort_multipart"] {
        let (endpoint, asked) = counting_bucket().await;
        let app = app_on(&endpoint, Arc::default()).await;
        let body = if function == "my_uploads" {
            String::new()
        } else {
            format!("receipt={}", receipt(&me, 20 << 20))
        };
        let (statuses, say_when) =
            burst(&app, 100, |_| call(function, Some(&me), body.clone(), false)).await;
        // Twenty calls a minute (four per file of five); the rest wait, and are told how long.
        assert_eq!(limited(&statuses), 80, "{function}: {statuses:?}");
        assert!(statuses[..20].iter().all(|s| *s != StatusCode::TOO_MANY_REQUESTS), "{function}");
        assert!(say_when, "{function}: every 429 has a Retry-After");
        // Completing and aborting ask twice (the parts, then whether the object is there; the
        // abort, then whether parts are left); the rest once.
        let most = if function.ends_with("_multipart") { 40 } else { 20 };
        let requests = asked.load(Ordering::SeqCst);
        assert!(requests > 0 && requests <= most, "{function}: {requests} bucket requests");
    }
}

#[tokio::test]
async fn fresh_cookies_from_one_address_share_its_budget_and_no_cookie_asks_nothing() {
    let (endpoint, asked) = counting_bucket().await;
    let app = app_on(&endpoint, Arc::default()).await;
    // A new uploader (with a receipt of its own) for every call: the address's 40 bound them.
    let (statuses, say_when) = burst(&app, 100, |i| {
        let who = uploader(100 + i as u32);
        call("list_parts", Some(&who), format!("receipt={}", receipt(&who, 20 << 20)), false)
    })
    .await;
    assert_eq!(limited(&statuses), 60, "{statuses:?}");
    assert!(say_when);
    assert_eq!(asked.load(Ordering::SeqCst), 40);
    // Without a cookie there are no uploads to list: the bucket is not asked at all.
    let (endpoint, asked) = counting_bucket().await;
    let app = app_on(&endpoint, Arc::default()).await;
    let (statuses, _) = burst(&app, 100, |_| call("my_uploads", None, String::new(), false)).await;
    assert!(statuses.iter().all(|s| *s == StatusCode::OK), "{statuses:?}");
    assert_eq!(asked.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn parts_are_signed_within_the_receipts_own_budget() {
    let (endpoint, _) = counting_bucket().await;
    let metrics = Arc::new(Metrics::new());
    let app = app_on(&endpoint, metrics.clone()).await;
    let me = uploader(2);
    // Three parts: each may be signed three times over, plus one call's worth (16): 25.
    let sealed = receipt(&me, 20 << 20);
    let sum = "A".repeat(43) + "=";
    let body = |n: usize| {
        let number = n % 3 + 1;
        let length = if number == 3 { 4 << 20 } else { 8 << 20 };
        serde_json::json!({
            "receipt": sealed,
            "parts": [{ "number": number, "length": length, "checksum_sha256": sum }],
        })
        .to_string()
    };
    let (statuses, _) = burst(&app, 100, |n| call("sign_parts", Some(&me), body(n), true)).await;
    let signed = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    assert_eq!(signed, 25, "{statuses:?}");
    let res = app.clone().oneshot(call("sign_parts", Some(&me), body(0), true)).await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(body_text(res).await.contains("part signatures are spent"));
    assert!(metrics.encode().contains("upload_calls_limited_total{call=\"sign_parts\"} 76"));
    // A 10 000-part file has its budget sized by its receipt: 16 parts a call go through all
    // the way (here its first 20 000 part signatures, well past any per-call budget).
    let huge = receipt(&me, 10_000 * (8 << 20));
    let mut signed = 0;
    for call_no in 0..1250u64 {
        let parts: Vec<_> = (1..=16)
            .map(|i| {
                let number = (call_no * 16 + i - 1) % 10_000 + 1;
                serde_json::json!({ "number": number, "length": 8 << 20, "checksum_sha256": sum })
            })
            .collect();
        let body = serde_json::json!({ "receipt": huge, "parts": parts }).to_string();
        let res = app.clone().oneshot(call("sign_parts", Some(&me), body, true)).await.unwrap();
        signed += usize::from(res.status() == StatusCode::OK);
    }
    assert_eq!(signed, 1250);
}

#[tokio::test]
async fn forged_and_foreign_receipts_are_counted_apart_page_nobody_and_are_budgeted() {
    let (endpoint, asked) = counting_bucket().await;
    let metrics = Arc::new(Metrics::new());
    let app = app_on(&endpoint, metrics.clone()).await;
    let (me, someone) = (uploader(3), uploader(4));
    let theirs = receipt(&someone, 20 << 20);
    let forged = format!("{}x", receipt(&me, 20 << 20));
    let (statuses, say_when) = burst(&app, 40, |i| {
        let (function, sealed) =
            if i % 2 == 0 { ("abort_multipart", &theirs) } else { ("confirm_upload", &forged) };
        let key = format!("uploads/{}/d/big.bin", me.as_str());
        let etag = "0".repeat(32);
        let body = if function == "confirm_upload" {
            format!("key={key}&etag={etag}&receipt={sealed}")
        } else {
            format!("receipt={sealed}")
        };
        call(function, Some(&me), body, false)
    })
    .await;
    // Ten a minute per address are answered as what they are (409); the rest wait.
    assert_eq!(statuses[..10], [StatusCode::CONFLICT; 10], "{statuses:?}");
    assert_eq!(limited(&statuses), 30, "{statuses:?}");
    assert!(say_when);
    let text = metrics.encode();
    assert!(text.contains("uploads_mismatched_total 0"), "nothing in the bucket differs: {text}");
    let refused =
        |reason: &str| format!("uploads_receipts_refused_total{{reason=\"{reason}\"}} 20");
    assert!(
        text.contains(&refused("other_uploader")) && text.contains(&refused("not_ours")),
        "{text}"
    );
    assert_eq!(asked.load(Ordering::SeqCst), 0, "no forged receipt reaches the bucket");
}
