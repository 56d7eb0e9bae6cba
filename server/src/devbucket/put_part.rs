//! `PUT /<bucket>/<key>?partNumber=N&uploadId=ID`: one part of a multipart upload, with a
//! presigned URL, handled as S3 handles it (a PUT without them is a whole object:
//! [`super::put_object`]). The URL is checked by the policy core's
//! [`verify_presigned`]; the body goes to disk through the one intake ([`super::intake`]) while
//! its length and SHA-256 are checked, and only a whole, matching part is kept.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use time::OffsetDateTime;

use super::bucket::{respond, set_header, DevBucket};
use super::intake::{expected_digests, Digests, Unreceived, SHA256_HEADER};
use super::parts::{PartMeta, MAX_PART_NUMBER, MAX_PART_SIZE};
use super::put_object;
use crate::policy::{error, verify_presigned, Received, S3Error};

pub async fn upload_part(
    State(dev): State<Arc<DevBucket>>,
    Path((bucket, key)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result =
        receive(&dev, &bucket, &key, &uri, &headers, body, OffsetDateTime::now_utc()).await;
    respond(&dev, &bucket, result)
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
    let signed = {
        let path = format!("/{bucket}/{key}");
        let received = Received { method: "PUT", path: &path, query: &query, header: &header };
        verify_presigned(&received, &dev.bucket.region, now, |id| dev.credentials_of(id))?
    };
    if let Some(refusal) = dev.emulated.and_then(|store| store.refuse_put(headers)) {
        return Err(refusal);
    }
    let param = |name: &str| query.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    let (number, upload_id) = match (param("partNumber"), param("uploadId")) {
        (Some(number), Some(upload_id)) => (number, upload_id),
        (None, None) => return put_object::store(dev, bucket, key, headers, &signed, body).await,
        _ => {
            return Err(error::invalid_argument("A part's PUT names both partNumber and uploadId."))
        }
    };

    if bucket != dev.bucket.name {
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
    let expected = expected_digests(headers)?;
    let declared = header("content-length")
        .and_then(|v| v.parse::<u64>().ok())
        .ok_or_else(error::missing_content_length)?;
    if declared > MAX_PART_SIZE {
        return Err(error::entity_too_large(declared, MAX_PART_SIZE));
    }

    let digests = Digests { md5: true, sha256: expected.sha256.is_some() };
    let received = dev.store.receive(body.into_data_stream(), declared, digests).await;
    // Shorter or longer than declared, or a client that went away mid-part: dropping the temp
    // file removes what was written.
    let received = match received {
        Ok(received) if received.size == declared => received,
        Ok(_) | Err(Unreceived::Body(_) | Unreceived::OverLimit { .. }) => {
            return Err(error::incomplete_body())
        }
        Err(Unreceived::Disk(err)) => return Err(err),
    };
    expected.check(&received)?;
    let etag = received.etag().expect("the MD5 was asked for");
    let part =
        PartMeta { number, size: received.size, etag, checksum_sha256: received.sha256_base64() };
    dev.store.commit_part(&upload_id, received.temp, &part).await?;
    tracing::info!(target: "audit", event = "dev_bucket_part_stored", bucket, key = %key, part = number, size = part.size);
    let mut answer = HeaderMap::new();
    set_header(&mut answer, header::ETAG, &part.etag);
    if let Some(sum) = &part.checksum_sha256 {
        set_header(&mut answer, header::HeaderName::from_static(SHA256_HEADER), sum);
    }
    Ok((StatusCode::OK, answer).into_response())
}
