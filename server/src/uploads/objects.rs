//! The server's own look at the bucket: HEAD an object (to confirm it), list an uploader's
//! objects (ListObjectsV2), remove one that is not what was signed, and a link to view one
//! (presigned GET for S3; the dev bucket serves objects as they are). The multipart calls are
//! in `multipart/bucket.rs`.

use std::time::Duration;

use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::types::ChecksumMode;
use time::OffsetDateTime;

use crate::devbucket::Store;
use crate::policy::Bucket;

/// What the bucket says about a stored object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectHead {
    pub size: u64,
    pub content_type: String,
    /// As the bucket quotes it.
    pub etag: String,
    /// Base64, when the bucket keeps one.
    pub checksum_sha256: Option<String>,
    pub last_modified: Option<OffsetDateTime>,
}

/// One object as a listing shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub key: String,
    pub size: u64,
    pub etag: String,
    pub last_modified: OffsetDateTime,
}

fn from_aws_time(t: &aws_smithy_types::DateTime) -> Option<OffsetDateTime> {
    let nanos = i128::from(t.secs()) * 1_000_000_000 + i128::from(t.subsec_nanos());
    OffsetDateTime::from_unix_timestamp_nanos(nanos).ok()
}

/// The answer to a read that named the object's ETag (`If-Match`) when the object has another
/// one: it was replaced since it was looked at (a form can be POSTed again until its policy
/// expires), and what was checked is not what is there.
pub const CHANGED: &str = "the object changed while it was checked";

/// Whether the dev bucket's object, with ETag `have`, is the one `want` names (quotes or not).
fn same_etag(want: Option<&str>, have: &str) -> bool {
    want.is_none_or(|want| want.trim_matches('"') == have.trim_matches('"'))
}

/// An SDK error that is S3's answer to a failed `If-Match` (412 PreconditionFailed).
fn precondition_failed<E: aws_sdk_s3::error::ProvideErrorMetadata>(
    err: &aws_sdk_s3::error::SdkError<E, aws_smithy_runtime_api::http::Response>,
) -> bool {
    err.raw_response().is_some_and(|r| r.status().as_u16() == 412)
        || err.as_service_error().and_then(|e| e.code()) == Some("PreconditionFailed")
}

/// How long a "view" link from "Your uploads" works.
pub const VIEW_LINK_LIFETIME: Duration = Duration::from_secs(3600);

#[derive(Clone)]
pub enum Objects {
    S3 { client: aws_sdk_s3::Client, bucket: String },
    Dev { store: Store, bucket: Bucket },
}

/// What a call over `bytes` inside the bucket (a copy, a completion) may take: the client's
/// 10 s are for the calls a signature waits on, and a store copies or joins gigabytes in
/// minutes (AWS: a completion "could take several minutes"). A minute, and a second per 10 MiB,
/// as the claim on an upload's check lasts.
pub(super) fn taking_long(bytes: u64) -> aws_sdk_s3::config::Builder {
    let secs = 60 + bytes / (10 << 20);
    let timeouts = aws_sdk_s3::config::timeout::TimeoutConfig::builder()
        .operation_timeout(std::time::Duration::from_secs(secs))
        .build();
    aws_sdk_s3::config::Builder::default().timeout_config(timeouts)
}

impl Objects {
    /// The object's headers; `None` when it is not there.
    pub async fn head(&self, key: &str) -> Result<Option<ObjectHead>, String> {
        match self {
            Objects::S3 { client, bucket } => {
                let answer = client
                    .head_object()
                    .bucket(bucket)
                    .key(key)
                    .checksum_mode(ChecksumMode::Enabled)
                    .send()
                    .await;
                match answer {
                    Ok(head) => Ok(Some(ObjectHead {
                        size: head.content_length.unwrap_or_default().max(0) as u64,
                        content_type: head.content_type.unwrap_or_default(),
                        etag: head.e_tag.unwrap_or_default(),
                        checksum_sha256: head.checksum_sha256,
                        last_modified: head.last_modified.as_ref().and_then(from_aws_time),
                    })),
                    Err(err) if err.as_service_error().is_some_and(|e| e.is_not_found()) => {
                        Ok(None)
                    }
                    Err(err) => Err(DisplayErrorContext(&err).to_string()),
                }
            }
            Objects::Dev { store, bucket } => match store.open(&bucket.name, key).await {
                // The file's own length, not the sidecar's: a file changed on disk shows.
                Ok((file, meta)) => {
                    let stat = file.metadata().await.map_err(|err| err.to_string())?;
                    Ok(Some(ObjectHead {
                        size: stat.len(),
                        content_type: meta.content_type,
                        etag: meta.etag,
                        checksum_sha256: meta.checksum_sha256,
                        last_modified: stat.modified().ok().map(OffsetDateTime::from),
                    }))
                }
                Err(_) => Ok(None),
            },
        }
    }

    /// The first `max` objects under `prefix`, in key order (ListObjectsV2: one page is enough
    /// for `max` up to 1000).
    pub async fn list(&self, prefix: &str, max: usize) -> Result<Vec<Listed>, String> {
        match self {
            Objects::S3 { client, bucket } => {
                let max_keys = i32::try_from(max.min(1000)).unwrap_or(1000);
                let page = client
                    .list_objects_v2()
                    .bucket(bucket)
                    .prefix(prefix)
                    .max_keys(max_keys)
                    .send()
                    .await;
                let page = page.map_err(|err| DisplayErrorContext(&err).to_string())?;
                Ok(page
                    .contents
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|object| {
                        Some(Listed {
                            key: object.key?,
                            size: object.size.unwrap_or_default().max(0) as u64,
                            etag: object.e_tag.unwrap_or_default(),
                            last_modified: object.last_modified.as_ref().and_then(from_aws_time)?,
                        })
                    })
                    .take(max)
                    .collect())
            }
            Objects::Dev { store, bucket } => {
                let entries =
                    store.list(&bucket.name, prefix, max).await.map_err(|err| err.to_string())?;
                Ok(entries
                    .into_iter()
                    .map(|e| Listed {
                        key: e.key,
                        size: e.size,
                        etag: e.etag,
                        last_modified: e.modified,
                    })
                    .collect())
            }
        }
    }

    /// Whether the bucket answers at all (HeadBucket; the dev bucket: its directory is there).
    pub async fn reachable(&self) -> Result<(), String> {
        match self {
            Objects::S3 { client, bucket } => client
                .head_bucket()
                .bucket(bucket)
                .send()
                .await
                .map(drop)
                .map_err(|err| DisplayErrorContext(&err).to_string()),
            Objects::Dev { store, .. } => match tokio::fs::metadata(store.root()).await {
                Ok(meta) if meta.is_dir() => Ok(()),
                _ => Err(format!("{} is not a directory", store.root().display())),
            },
        }
    }

    /// The object's first `max` bytes (fewer when it is shorter): a ranged GET, so a big
    /// object costs what a small one does. `None` when it is not there; [`CHANGED`] when
    /// `if_match` names another ETag than it has.
    pub async fn first_bytes(
        &self,
        key: &str,
        max: u64,
        if_match: Option<&str>,
    ) -> Result<Option<Vec<u8>>, String> {
        match self {
            Objects::S3 { client, bucket } => {
                let answer = client
                    .get_object()
                    .bucket(bucket)
                    .key(key)
                    .range(format!("bytes=0-{}", max.saturating_sub(1)))
                    .set_if_match(if_match.map(str::to_owned))
                    .send()
                    .await;
                match answer {
                    Ok(object) => {
                        // A store that ignores the range sends it all: only the start is read.
                        use tokio::io::AsyncReadExt;
                        let mut bytes = Vec::new();
                        let mut body = object.body.into_async_read().take(max);
                        body.read_to_end(&mut bytes).await.map_err(|err| err.to_string())?;
                        Ok(Some(bytes))
                    }
                    Err(err) if err.as_service_error().is_some_and(|e| e.is_no_such_key()) => {
                        Ok(None)
                    }
                    Err(err) if precondition_failed(&err) => Err(CHANGED.into()),
                    Err(err) => Err(DisplayErrorContext(&err).to_string()),
                }
            }
            Objects::Dev { store, bucket } => match store.open(&bucket.name, key).await {
                Ok((_, meta)) if !same_etag(if_match, &meta.etag) => Err(CHANGED.into()),
                Ok((file, _)) => {
                    use tokio::io::AsyncReadExt;
                    let mut bytes = Vec::new();
                    file.take(max).read_to_end(&mut bytes).await.map_err(|e| e.to_string())?;
                    Ok(Some(bytes))
                }
                Err(_) => Ok(None),
            },
        }
    }

    /// The whole object, read as it is consumed (the memory it takes is a buffer, whatever its
    /// size); `None` when it is not there; [`CHANGED`] when `if_match` names another ETag.
    pub async fn read(
        &self,
        key: &str,
        if_match: Option<&str>,
    ) -> Result<Option<Box<dyn tokio::io::AsyncRead + Send + Unpin>>, String> {
        match self {
            Objects::S3 { client, bucket } => {
                let get = client.get_object().bucket(bucket).key(key);
                match get.set_if_match(if_match.map(str::to_owned)).send().await {
                    Ok(object) => Ok(Some(Box::new(object.body.into_async_read()))),
                    Err(err) if err.as_service_error().is_some_and(|e| e.is_no_such_key()) => {
                        Ok(None)
                    }
                    Err(err) if precondition_failed(&err) => Err(CHANGED.into()),
                    Err(err) => Err(DisplayErrorContext(&err).to_string()),
                }
            }
            Objects::Dev { store, bucket } => match store.open(&bucket.name, key).await {
                Ok((_, meta)) if !same_etag(if_match, &meta.etag) => Err(CHANGED.into()),
                Ok((file, _)) => Ok(Some(Box::new(file))),
                Err(_) => Ok(None),
            },
        }
    }

    /// Removes an object (gone already is fine).
    pub async fn delete(&self, key: &str) -> Result<(), String> {
        match self {
            Objects::S3 { client, bucket } => client
                .delete_object()
                .bucket(bucket)
                .key(key)
                .send()
                .await
                .map(drop)
                .map_err(|err| DisplayErrorContext(&err).to_string()),
            Objects::Dev { store, bucket } => {
                store.delete(&bucket.name, key).await.map_err(|err| err.to_string())
            }
        }
    }

    /// A link that shows the object in a browser: inline as a passive type where its name says
    /// it is one ([`app::rules::inline_type`]), as a download otherwise, whatever type it was
    /// uploaded with (the link overrides the type and disposition the bucket answers with).
    pub async fn view_url(&self, key: &str) -> Result<String, String> {
        match self {
            Objects::S3 { client, bucket } => {
                let presigning = PresigningConfig::expires_in(VIEW_LINK_LIFETIME)
                    .map_err(|err| err.to_string())?;
                let name = key.rsplit('/').next().unwrap_or_default();
                let get = client.get_object().bucket(bucket).key(key);
                let get = match app::rules::inline_type(name) {
                    Some(shown_as) => get.response_content_type(shown_as),
                    None => get
                        .response_content_type("application/octet-stream")
                        .response_content_disposition("attachment"),
                };
                let request = get.presigned(presigning).await;
                request
                    .map(|r| r.uri().to_owned())
                    .map_err(|err| DisplayErrorContext(&err).to_string())
            }
            Objects::Dev { bucket, .. } => Ok(bucket.object_url(key)),
        }
    }
}
