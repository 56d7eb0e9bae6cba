//! `PUT /<bucket>/<key>` without `partNumber`: one whole object with a presigned URL (what
//! `UPLOAD_METHOD=put` signs), handled as S3 handles it. The URL was checked by the policy
//! core's verifier ([`super::put_part`] routes both kinds of PUT); the body goes to disk
//! through the one intake ([`super::intake`]) while its length and checksums are checked, and
//! only a whole, matching object is kept, with the headers the PUT carried.

use app::rules::MAX_POST_BYTES;
use axum::body::Body;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::bucket::{set_header, DevBucket};
use super::intake::{expected_digests, Digests, Unreceived, SHA256_HEADER};
use super::store::ObjectMeta;
use crate::policy::{error, S3Error};

/// Stores the body of a verified PUT at `key`. `signed` are the headers its signature covers.
pub async fn store(
    dev: &DevBucket,
    bucket: &str,
    key: &str,
    headers: &HeaderMap,
    signed: &[String],
    body: Body,
) -> Result<Response, S3Error> {
    if bucket != dev.bucket.name {
        return Err(error::no_such_bucket(bucket));
    }
    // S3 refuses a presigned request with `x-amz-*` headers its signature does not cover: the
    // holder of a URL cannot add metadata or a checksum of their own.
    let unsigned: Vec<String> = headers
        .keys()
        .map(|name| name.as_str().to_owned())
        .filter(|name| name.starts_with("x-amz-") && !signed.contains(name))
        .collect();
    if !unsigned.is_empty() {
        return Err(error::headers_not_signed(&unsigned));
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let paths = dev.store.paths(bucket, key)?;
    let declared = header("content-length")
        .and_then(|v| v.parse::<u64>().ok())
        .ok_or_else(error::missing_content_length)?;
    if declared > MAX_POST_BYTES {
        return Err(error::entity_too_large(declared, MAX_POST_BYTES));
    }
    let expected = expected_digests(headers)?;
    let digests = Digests { md5: true, sha256: expected.sha256.is_some() };
    let received = match dev.store.receive(body.into_data_stream(), declared, digests).await {
        Ok(received) if received.size == declared => received,
        // Shorter or longer than declared, or a client gone mid-body: dropping the temp file
        // removes what was written.
        Ok(_) | Err(Unreceived::Body(_) | Unreceived::OverLimit { .. }) => {
            return Err(error::incomplete_body())
        }
        Err(Unreceived::Disk(err)) => return Err(err),
    };
    expected.check(&received)?;
    let checksum_sha256 = received.sha256_base64();
    let etag = received.etag().expect("the MD5 was asked for");
    let meta = ObjectMeta {
        content_type: header("content-type").unwrap_or("binary/octet-stream").to_owned(),
        etag: etag.clone(),
        size: received.size,
        metadata: headers
            .iter()
            .filter_map(|(name, value)| {
                let name = name.as_str().strip_prefix("x-amz-meta-")?;
                Some((name.to_owned(), value.to_str().ok()?.to_owned()))
            })
            .collect(),
        checksum_sha256: checksum_sha256.clone(),
    };
    dev.store.commit(received.temp, &paths, key, &meta).await?;
    tracing::info!(target: "audit", event = "dev_bucket_stored", bucket, key = %key, size = meta.size, etag = %etag);
    let mut answer = HeaderMap::new();
    set_header(&mut answer, header::ETAG, &etag);
    if let Some(sum) = &checksum_sha256 {
        set_header(&mut answer, header::HeaderName::from_static(SHA256_HEADER), sum);
    }
    Ok((StatusCode::OK, answer).into_response())
}
