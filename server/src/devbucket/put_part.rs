//! `PUT /<bucket>/<key>?partNumber=N&uploadId=ID`: one part of a multipart upload, with a
//! presigned URL, handled as S3 handles it. The URL is checked by the policy core's
//! [`verify_presigned`]; the body is streamed to a temp file while its length and SHA-256 are
//! checked, and only a whole, matching part is kept.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use futures::StreamExt;
use md5::{Digest, Md5};
use sha2::Sha256;
use time::OffsetDateTime;

use super::parts::{PartMeta, MAX_PART_NUMBER};
use super::{s3_error, set_header, DevBucket};
use crate::logging::clip;
use crate::policy::{error, verify_presigned, Received, S3Error, MAX_POST_OBJECT_SIZE};

const CHECKSUM_HEADER: &str = "x-amz-checksum-sha256";

pub async fn upload_part(
    State(dev): State<Arc<DevBucket>>,
    Path((bucket, key)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match receive(&dev, &bucket, &key, &uri, &headers, body, OffsetDateTime::now_utc()).await {
        Ok(response) => response,
        Err(err) => {
            dev.metrics.dev_refused(err.code);
            tracing::warn!(target: "audit", event = "dev_bucket_refused", bucket = ?clip(&bucket), code = err.code, reason = ?clip(&err.message));
            s3_error(err)
        }
    }
}

fn internal(err: std::io::Error) -> S3Error {
    tracing::error!(error = %err, "dev bucket part write failed");
    error::internal_error()
}

async fn receive(
    dev: &DevBucket,
    bucket: &str,
    key: &str,
    uri: &Uri,
    headers: &HeaderMap,
    body: Body,
    now: OffsetDateTime,
) -> Result<Response, S3Error> {
    let query: Vec<(String, String)> = serde_urlencoded::from_str(uri.query().unwrap_or_default())
        .map_err(|_| error::invalid_argument("The query string is malformed."))?;
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    // Authentication before anything else is looked at.
    {
        let path = format!("/{bucket}/{key}");
        let received = Received { method: "PUT", path: &path, query: &query, header: &header };
        let credentials =
            |id: &str| (id == dev.credentials.access_key_id()).then(|| dev.credentials.clone());
        verify_presigned(&received, &dev.region, now, credentials)?;
    }
    let param = |name: &str| query.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    let (Some(number), Some(upload_id)) = (param("partNumber"), param("uploadId")) else {
        return Err(S3Error::not_implemented("The dev bucket takes PUT only for parts of a multipart upload (partNumber and uploadId)."));
    };

    if bucket != dev.bucket {
        return Err(error::no_such_bucket(bucket));
    }
    let number = match number.parse::<u64>() {
        Ok(n @ 1..=MAX_PART_NUMBER) => n,
        _ => {
            return Err(error::invalid_argument(format!(
                "Part number must be an integer between 1 and {MAX_PART_NUMBER}, inclusive"
            )))
        }
    };
    dev.store.pending(bucket, key, &upload_id).await?;
    // Every upload the service starts has SHA-256 checksums: each part must say its own.
    let expected = header(CHECKSUM_HEADER).ok_or_else(|| {
        error::invalid_argument(
            "x-amz-checksum-sha256 is missing: this upload checks SHA-256 for every part.",
        )
    })?;
    app::rules::checksum_sha256(&expected)
        .map_err(|_| error::invalid_checksum_value(CHECKSUM_HEADER))?;
    let declared = header("content-length")
        .and_then(|v| v.parse::<u64>().ok())
        .ok_or_else(error::missing_content_length)?;
    if declared > MAX_POST_OBJECT_SIZE {
        return Err(error::entity_too_large(declared, MAX_POST_OBJECT_SIZE));
    }

    let mut temp = dev.store.begin().await.map_err(internal)?;
    let (mut md5, mut sha256, mut size) = (Md5::new(), Sha256::new(), 0u64);
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        // A client that goes away mid-part: dropping `temp` removes what was written.
        let chunk = chunk.map_err(|_| error::incomplete_body())?;
        size += chunk.len() as u64;
        if size > declared {
            return Err(error::incomplete_body());
        }
        md5.update(&chunk);
        sha256.update(&chunk);
        temp.write(&chunk).await.map_err(internal)?;
    }
    if size != declared {
        return Err(error::incomplete_body());
    }
    let actual = base64::engine::general_purpose::STANDARD.encode(sha256.finalize());
    if actual != expected {
        return Err(error::bad_digest("x-amz-checksum-sha256"));
    }
    let part = PartMeta {
        number,
        size,
        etag: format!("\"{}\"", hex::encode(md5.finalize())),
        checksum_sha256: actual,
    };
    dev.store.commit_part(&upload_id, temp, &part).await?;
    tracing::info!(target: "audit", event = "dev_bucket_part_stored", bucket, key = %key, part = number, size);
    let mut answer = HeaderMap::new();
    set_header(&mut answer, header::ETAG, &part.etag);
    set_header(
        &mut answer,
        header::HeaderName::from_static(CHECKSUM_HEADER),
        &part.checksum_sha256,
    );
    Ok((StatusCode::OK, answer).into_response())
}
