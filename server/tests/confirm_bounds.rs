//! A bucket that keeps failing: confirming releases the verdict (it may be asked again), but a
//! client retrying without end cannot make the service ask the bucket without end: each look is
//! counted against the uploader's budget, then the answer is 429 without a look.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use app::service::{Requester, UploadRequest, UploaderId};
use app::wire::{UploadError, UploadReport};
use axum::{http::StatusCode, routing::any, Router};
use server::config::{table, Config};
use server::uploads::{Objects, Uploads};

#[tokio::test]
async fn confirms_against_a_failing_bucket_are_bounded() {
    // A "bucket" that answers every request 500, counting them.
    let asked = Arc::new(AtomicUsize::new(0));
    let counter = asked.clone();
    let failing = Router::new().fallback(any(move || {
        counter.fetch_add(1, Ordering::SeqCst);
        async { StatusCode::INTERNAL_SERVER_ERROR }
    }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, failing).await.unwrap() });

    let settings = [
        ("UPLOAD_BUCKET", "uploads"),
        ("AWS_REGION", "garage"),
        ("AWS_ACCESS_KEY_ID", "GK0123456789abcdef01234567"),
        ("AWS_SECRET_ACCESS_KEY", "s3cr3t"),
        ("AWS_ENDPOINT_URL_S3", endpoint.as_str()),
        ("UPLOAD_FILES_PER_MINUTE", "1"),
        ("UPLOAD_CHECKSUM_MAX_BYTES", "0"),
    ];
    let config = Config::from_lookup(table(&settings)).unwrap();
    let sdk = server::aws::sdk_config(&config).await;
    let client = server::aws::s3_client(&sdk, &config);
    let uploads =
        Uploads::new(config).with_objects(Objects::S3 { client, bucket: "uploads".into() });
    let me = Requester {
        uploader: UploaderId::parse("0123456789abcdef0123456789abcdef").unwrap(),
        user: None,
        ip: None,
        scope: None,
        new_visitor: false,
        cross_site: false,
    };
    let request = UploadRequest {
        profile: String::new(),
        file_name: "a.txt".into(),
        size: 1,
        content_type: "text/plain".into(),
        access_code: String::new(),
        checksum_sha256: None,
        content_md5: None,
        metadata: Default::default(),
    };
    let signed = uploads.sign_upload(&me, request).await.unwrap();
    let report = UploadReport {
        key: signed.key,
        etag: format!("\"{}\"", "0".repeat(32)),
        receipt: signed.receipt,
    };

    let mut answers = Vec::new();
    for _ in 0..10 {
        answers.push(uploads.confirm_upload(&me, report.clone()).await.unwrap_err());
    }
    let unavailable = answers.iter().filter(|e| matches!(e, UploadError::Unavailable(_))).count();
    let limited =
        answers.iter().filter(|e| matches!(e, UploadError::TooManyRequests { .. })).count();
    // Four looks a minute (four calls per file of the uploader's budget of one), each retried a
    // few times by the SDK.
    assert_eq!((unavailable, limited), (4, 6), "{answers:?}");
    let looks = asked.load(Ordering::SeqCst);
    assert!(looks > 0 && looks <= 4 * 3, "{looks} requests reached the bucket");
}
