//! Aborting a multipart upload leaves nothing: S3 may keep a part that was still arriving while
//! it aborted (AWS advises listing and aborting again), so the service lists the parts after
//! each abort and aborts again while the bucket still lists the upload, three times at most.
//! AWS's race cannot be made to happen on loopback; a stand-in bucket answers as S3 does when
//! it happens (ListParts still listing a part after the abort).

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use app::service::{Requester, UploaderId};
use app::wire::UploadError;
use axum::extract::Request;
use axum::{routing::any, Router};
use http::{header, Method, StatusCode};
use server::config::{table, Config};
use server::uploads::receipt::{Multipart, Receipt};
use server::uploads::{Objects, Uploads};

const ME: &str = "0123456789abcdef0123456789abcdef";

const ONE_PART: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListPartsResult>\
<Bucket>uploads</Bucket><Key>k</Key><UploadId>u</UploadId><IsTruncated>false</IsTruncated>\
<Part><PartNumber>1</PartNumber><ETag>\"0123456789abcdef0123456789abcdef\"</ETag><Size>5</Size></Part>\
</ListPartsResult>";
const NO_SUCH_UPLOAD: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error>\
<Code>NoSuchUpload</Code><Message>The specified upload does not exist.</Message></Error>";

/// A bucket whose ListParts still lists a part after the first `listed` aborts (forever when
/// `None`), counting aborts and listings.
async fn racing_bucket(listed: Option<usize>) -> (String, Arc<AtomicUsize>, Arc<AtomicUsize>) {
    let (aborts, lists) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (a, l) = (aborts.clone(), lists.clone());
    let bucket = Router::new().fallback(any(move |request: Request| {
        let (a, l) = (a.clone(), l.clone());
        async move {
            if request.method() == Method::DELETE {
                a.fetch_add(1, Ordering::SeqCst);
                return (StatusCode::NO_CONTENT, [(header::CONTENT_TYPE, "application/xml")], "");
            }
            l.fetch_add(1, Ordering::SeqCst);
            let aborted = a.load(Ordering::SeqCst);
            if listed.is_none_or(|n| aborted <= n) {
                (StatusCode::OK, [(header::CONTENT_TYPE, "application/xml")], ONE_PART)
            } else {
                (StatusCode::NOT_FOUND, [(header::CONTENT_TYPE, "application/xml")], NO_SUCH_UPLOAD)
            }
        }
    }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, bucket).await.unwrap() });
    (endpoint, aborts, lists)
}

async fn uploads_on(endpoint: &str) -> (Uploads, Arc<server::seal::SessionKey>) {
    let settings = [
        ("UPLOAD_BUCKET", "uploads"),
        ("AWS_REGION", "garage"),
        ("AWS_ACCESS_KEY_ID", "GK0123456789abcdef01234567"),
        ("AWS_SECRET_ACCESS_KEY", common::router::SECRET),
        ("AWS_ENDPOINT_URL_S3", endpoint),
    ];
    let config = Config::from_lookup(table(&settings)).unwrap();
    let sdk = server::aws::sdk_config(&config).await;
    let client = server::aws::s3_client(&sdk, &config);
    let key = Arc::new(server::seal::SessionKey::from_hex(&"3c".repeat(32)).unwrap());
    let uploads = Uploads::new(config)
        .with_objects(Objects::S3 { client, bucket: "uploads".into() })
        .with_session_key(key.clone());
    (uploads, key)
}

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

fn receipt(uploads: &Uploads, key: &server::seal::SessionKey) -> String {
    Receipt::for_multipart(
        &UploaderId::parse(ME).unwrap(),
        format!("uploads/{ME}/d/"),
        "big.bin".into(),
        20 << 20,
        "application/octet-stream".into(),
        Multipart { upload_id: "a".repeat(32), part_size: 8 << 20 },
        uploads.now(),
    )
    .seal(key)
}

#[tokio::test]
async fn a_part_left_by_the_first_abort_is_aborted_again() {
    let (endpoint, aborts, lists) = racing_bucket(Some(1)).await;
    let (uploads, key) = uploads_on(&endpoint).await;
    uploads.abort_multipart(&me(), receipt(&uploads, &key)).await.unwrap();
    // Abort, list (a part is still there), abort again, list (gone).
    assert_eq!((aborts.load(Ordering::SeqCst), lists.load(Ordering::SeqCst)), (2, 2));
}

#[tokio::test]
async fn a_bucket_that_keeps_listing_parts_is_aborted_three_times_and_the_page_is_told() {
    let (endpoint, aborts, lists) = racing_bucket(None).await;
    let (uploads, key) = uploads_on(&endpoint).await;
    let err = uploads.abort_multipart(&me(), receipt(&uploads, &key)).await.unwrap_err();
    assert!(
        matches!(&err, UploadError::Unavailable(m) if m.contains("removed within a day")),
        "{err:?}"
    );
    assert_eq!((aborts.load(Ordering::SeqCst), lists.load(Ordering::SeqCst)), (3, 3));
}

#[tokio::test]
async fn a_clean_abort_is_checked_once() {
    let (endpoint, aborts, lists) = racing_bucket(Some(0)).await;
    let (uploads, key) = uploads_on(&endpoint).await;
    uploads.abort_multipart(&me(), receipt(&uploads, &key)).await.unwrap();
    assert_eq!((aborts.load(Ordering::SeqCst), lists.load(Ordering::SeqCst)), (1, 1));
}
