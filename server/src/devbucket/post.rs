//! `POST /<bucket>`: a browser-based upload, handled as S3 handles it. The form is read as a
//! stream: fields are collected (at most 20 KB), the policy is verified the moment the file
//! part begins, and the file goes to disk through the one intake ([`super::intake`]) while its
//! size is checked, so nothing is buffered in memory and reading stops as soon as the size
//! limit is passed.

use std::sync::Arc;

use app::rules::MAX_POST_BYTES;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use time::OffsetDateTime;

use super::bucket::{respond, set_header, DevBucket};
use super::intake::{Digests, Unreceived};
use super::store::ObjectMeta;
use crate::policy::error;
use crate::policy::{
    post_response_xml, verify_fields, Accepted, Context, S3Error, MAX_PRE_DATA_BYTES,
};

pub async fn upload(
    State(dev): State<Arc<DevBucket>>,
    Path(bucket): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = receive(&dev, &bucket, &headers, body, OffsetDateTime::now_utc()).await;
    respond(&dev, &bucket, result)
}

/// What the fields before the file may take of the stream, beyond S3's 20 KB for their names
/// and values: part headers and boundaries, and what the parser reads ahead of the file part.
const PRE_DATA_SLACK: usize = 64 * 1024;

/// The request body as the multipart parser sees it: it stops with an error once more than
/// `limit` bytes were handed over while `file_started` is unset, so that no part header,
/// however long, and no flood of small parts makes the parser buffer or scan without end
/// before the signature is checked.
fn bounded_until_file(
    body: Body,
    limit: usize,
    file_started: Arc<std::sync::atomic::AtomicBool>,
) -> impl futures::Stream<Item = Result<axum::body::Bytes, PreDataExceeded>> {
    use futures::StreamExt;
    use std::sync::atomic::Ordering;
    let mut read = 0usize;
    body.into_data_stream().map(move |chunk| {
        let chunk = chunk.map_err(|_| PreDataExceeded(false))?;
        // What was handed over before this chunk: a chunk may hold the last fields and the
        // start of the file (a browser sends an in-memory file's form in one piece), and the
        // parser only finds the file part once it has the chunk. So the parser gets at most
        // `limit` bytes and one chunk (hyper's, a few hundred KB at most) without a file.
        if read > limit && !file_started.load(Ordering::SeqCst) {
            return Err(PreDataExceeded(true));
        }
        read = read.saturating_add(chunk.len());
        Ok(chunk)
    })
}

/// `true`: the fields before the file were too large; `false`: the body could not be read.
#[derive(Debug)]
struct PreDataExceeded(bool);

impl std::fmt::Display for PreDataExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0 { "pre-data exceeded" } else { "body read failed" })
    }
}

impl std::error::Error for PreDataExceeded {}

fn multer_error(err: multer::Error) -> S3Error {
    if let multer::Error::StreamReadFailed(inner) = &err {
        if inner.downcast_ref::<PreDataExceeded>().is_some_and(|e| e.0) {
            return error::pre_data_too_large();
        }
    }
    match err {
        multer::Error::IncompleteStream
        | multer::Error::IncompleteFieldData { .. }
        | multer::Error::StreamReadFailed(_) => error::incomplete_body(),
        _ => error::malformed_post(),
    }
}

async fn receive(
    dev: &DevBucket,
    bucket: &str,
    headers: &HeaderMap,
    body: Body,
    now: OffsetDateTime,
) -> Result<Response, S3Error> {
    if bucket != dev.bucket.name {
        return Err(error::no_such_bucket(bucket));
    }
    if let Some(store) = dev.emulated {
        return Err(store.refuse_post());
    }
    let content_type =
        headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let boundary = multer::parse_boundary(content_type).map_err(|_| error::not_multipart())?;
    let file_started = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stream =
        bounded_until_file(body, MAX_PRE_DATA_BYTES + PRE_DATA_SLACK, file_started.clone());
    // Every part's header is bounded by the stream's budget; a value is read in chunks.
    let mut form = multer::Multipart::new(stream, boundary.clone());

    let mut fields: Vec<(String, String)> = Vec::new();
    let mut pre_data = 0usize;
    while let Some(mut part) = form.next_field().await.map_err(multer_error)? {
        let name = part.name().unwrap_or_default().to_owned();
        // Every part counts, named or not: its boundary and headers, then its name and value.
        pre_data += boundary.len()
            + 8
            + part.headers().iter().map(|(n, v)| n.as_str().len() + v.len() + 4).sum::<usize>();
        if pre_data > MAX_PRE_DATA_BYTES {
            return Err(error::pre_data_too_large());
        }
        if name.eq_ignore_ascii_case("file") {
            file_started.store(true, std::sync::atomic::Ordering::SeqCst);
            let file_name = part.file_name().unwrap_or_default().to_owned();
            let cx = Context { bucket, region: &dev.bucket.region, now };
            let accepted = verify_fields(fields, &file_name, cx, |id| dev.credentials_of(id))?;
            return store(dev, bucket, accepted, part).await;
        }
        // Read the value in chunks, so that an endless field is cut off at 20 KB.
        let mut value = Vec::new();
        while let Some(chunk) = part.chunk().await.map_err(multer_error)? {
            pre_data += chunk.len();
            if pre_data + name.len() > MAX_PRE_DATA_BYTES {
                return Err(error::pre_data_too_large());
            }
            value.extend_from_slice(&chunk);
        }
        pre_data += name.len();
        let value = String::from_utf8(value).map_err(|_| {
            error::invalid_argument(format!("The form field '{name}' is not UTF-8."))
        })?;
        fields.push((name, value));
    }
    // Fields after the file are never read: S3 ignores them too.
    Err(error::no_file())
}

/// Streams the file part to disk through the one intake, checking its size and checksum, then
/// commits it with its headers.
async fn store(
    dev: &DevBucket,
    bucket: &str,
    accepted: Accepted,
    part: multer::Field<'_>,
) -> Result<Response, S3Error> {
    let key = accepted.key.clone();
    // Before reading the file: a key the dev bucket cannot store is refused at once.
    let paths = dev.store.paths(bucket, &key)?;
    let max = accepted.size_range.map_or(MAX_POST_BYTES, |(_, max)| max.min(MAX_POST_BYTES));
    let expected_sha256 = expected_checksum(&accepted)?;
    let digests = Digests { md5: true, sha256: expected_sha256.is_some() };
    let received = dev.store.receive(part, max, digests).await.map_err(|err| match err {
        Unreceived::Body(err) => multer_error(err),
        // Reading stopped there; dropping the temp file removes what was written.
        Unreceived::OverLimit { size } => error::entity_too_large(size, max),
        Unreceived::Disk(err) => err,
    })?;
    accepted.check_size(received.size)?;
    let checksum_sha256 = received.sha256_base64();
    if checksum_sha256 != expected_sha256 {
        return Err(error::bad_digest("x-amz-checksum-sha256"));
    }
    let etag = received.etag().expect("the MD5 was asked for");
    let meta = ObjectMeta {
        content_type: accepted.field("Content-Type").unwrap_or("binary/octet-stream").to_owned(),
        etag: etag.clone(),
        size: received.size,
        metadata: accepted
            .fields
            .iter()
            .filter_map(|(n, v)| {
                Some((n.to_ascii_lowercase().strip_prefix("x-amz-meta-")?.to_owned(), v.clone()))
            })
            .collect(),
        checksum_sha256,
    };
    dev.store.commit(received.temp, &paths, &key, &meta).await?;
    tracing::info!(target: "audit", event = "dev_bucket_stored", bucket, key = %key, size = meta.size, etag = %etag);
    Ok(success(dev, bucket, &key, &etag, &accepted))
}

/// The SHA-256 the form says the file has, if it says one. A checksum field that is present is
/// checked, whatever else the form carries: S3 does not need the algorithm field to check the
/// value it is given.
fn expected_checksum(accepted: &Accepted) -> Result<Option<String>, S3Error> {
    const FIELD: &str = "x-amz-checksum-sha256";
    match (accepted.field("x-amz-checksum-algorithm"), accepted.field(FIELD)) {
        (Some(a), _) if !a.eq_ignore_ascii_case("SHA256") => Err(error::invalid_argument(format!(
            "The dev bucket does not support checksum algorithm {a}."
        ))),
        (Some(_), None) => Err(error::invalid_argument("x-amz-checksum-sha256 is missing.")),
        (_, Some(value)) => {
            app::rules::checksum_sha256(value).map_err(|_| error::invalid_checksum_value(FIELD))?;
            Ok(Some(value.to_owned()))
        }
        (None, None) => Ok(None),
    }
}

/// S3's answer to a stored upload: a 303 to `success_action_redirect`, or the status asked
/// for by `success_action_status` (201 with an XML body; 200 or 204 empty; 204 by default).
fn success(dev: &DevBucket, bucket: &str, key: &str, etag: &str, accepted: &Accepted) -> Response {
    let location = dev.bucket.object_url(key);
    let mut headers = HeaderMap::new();
    set_header(&mut headers, header::ETAG, etag);
    set_header(&mut headers, header::LOCATION, &location);

    let redirect = accepted.field("success_action_redirect").or_else(|| accepted.field("redirect"));
    if let Some(url) = redirect.filter(|u| u.starts_with("http://") || u.starts_with("https://")) {
        let query = serde_urlencoded::to_string([("bucket", bucket), ("key", key), ("etag", etag)])
            .expect("strings encode");
        let separator = if url.contains('?') { '&' } else { '?' };
        set_header(&mut headers, header::LOCATION, &format!("{url}{separator}{query}"));
        return (StatusCode::SEE_OTHER, headers).into_response();
    }
    match accepted.field("success_action_status") {
        Some("201") => {
            set_header(&mut headers, header::CONTENT_TYPE, "application/xml");
            (StatusCode::CREATED, headers, post_response_xml(&location, bucket, key, etag))
                .into_response()
        }
        Some("200") => (StatusCode::OK, headers).into_response(),
        _ => (StatusCode::NO_CONTENT, headers).into_response(),
    }
}
