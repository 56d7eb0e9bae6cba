//! The bucket's side of a multipart upload, as the service asks it: create, list the parts,
//! complete, abort. S3 through the SDK; the dev bucket through its store (the parts themselves
//! always go from the browser to the bucket).

use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::types::{ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart};

use crate::devbucket::parts::Pending;
use crate::policy::error::code;
use crate::uploads::objects::taking_long;
use crate::uploads::Objects;
use app::wire::StoredPart;

/// What went wrong asking the bucket.
#[derive(Debug, thiserror::Error)]
pub enum BucketError {
    /// The upload is not (or no longer) there: completed, aborted, or cleaned up.
    #[error("the bucket has no such upload")]
    NoSuchUpload,
    /// The bucket refused the request (its code and message) or could not be asked.
    #[error("{0}")]
    Other(String),
}

fn other(err: impl std::fmt::Display) -> BucketError {
    BucketError::Other(err.to_string())
}

/// Sorts an SDK error: NoSuchUpload, or anything else in words.
fn sdk<E, R>(err: aws_sdk_s3::error::SdkError<E, R>) -> BucketError
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    if err.as_service_error().and_then(|e| e.code()) == Some(code::NO_SUCH_UPLOAD) {
        return BucketError::NoSuchUpload;
    }
    BucketError::Other(DisplayErrorContext(&err).to_string())
}

fn dev(err: crate::policy::S3Error) -> BucketError {
    if err.code == code::NO_SUCH_UPLOAD {
        BucketError::NoSuchUpload
    } else {
        BucketError::Other(err.to_string())
    }
}

impl Objects {
    /// `CreateMultipartUpload` (with SHA-256 checksums for every part when `sha256`): the
    /// upload id.
    pub async fn create_multipart(
        &self,
        key: &str,
        content_type: &str,
        metadata: &[(String, String)],
        sha256: bool,
    ) -> Result<String, BucketError> {
        match self {
            Objects::S3 { client, bucket } => {
                let mut create = client
                    .create_multipart_upload()
                    .bucket(bucket)
                    .key(key)
                    .content_type(content_type)
                    .set_checksum_algorithm(sha256.then_some(ChecksumAlgorithm::Sha256));
                for (name, value) in metadata {
                    create = create.metadata(name, value);
                }
                let answer = create.send().await.map_err(sdk)?;
                answer.upload_id.ok_or_else(|| other("the bucket answered without an upload id"))
            }
            Objects::Dev { store, bucket, .. } => {
                let pending = Pending {
                    bucket: bucket.name.clone(),
                    key: key.into(),
                    content_type: content_type.into(),
                    metadata: metadata.to_vec(),
                };
                store.create_multipart(&pending).await.map_err(dev)
            }
        }
    }

    /// `ListParts`, every page: the parts the bucket has, by number.
    pub async fn list_parts(
        &self,
        key: &str,
        upload_id: &str,
    ) -> Result<Vec<StoredPart>, BucketError> {
        match self {
            Objects::S3 { client, bucket } => {
                let mut parts = Vec::new();
                let mut marker: Option<String> = None;
                loop {
                    let page = client
                        .list_parts()
                        .bucket(bucket)
                        .key(key)
                        .upload_id(upload_id)
                        .set_part_number_marker(marker.clone())
                        .send()
                        .await
                        .map_err(sdk)?;
                    for part in page.parts.unwrap_or_default() {
                        parts.push(StoredPart {
                            number: part.part_number.unwrap_or_default().max(0) as u64,
                            size: part.size.unwrap_or_default().max(0) as u64,
                            etag: part.e_tag.unwrap_or_default(),
                            checksum_sha256: part.checksum_sha256,
                        });
                    }
                    match (page.is_truncated, page.next_part_number_marker) {
                        (Some(true), Some(next)) if Some(&next) != marker.as_ref() => {
                            marker = Some(next)
                        }
                        _ => break,
                    }
                }
                parts.sort_by_key(|p| p.number);
                Ok(parts)
            }
            Objects::Dev { store, bucket, .. } => {
                let parts = store.list_parts(&bucket.name, key, upload_id).await.map_err(dev)?;
                Ok(parts
                    .into_iter()
                    .map(|p| StoredPart {
                        number: p.number,
                        size: p.size,
                        etag: p.etag,
                        checksum_sha256: p.checksum_sha256,
                    })
                    .collect())
            }
        }
    }

    /// `CompleteMultipartUpload` with `parts` (ascending): the object's ETag.
    pub async fn complete_multipart(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[StoredPart],
    ) -> Result<String, BucketError> {
        match self {
            Objects::S3 { client, bucket } => {
                let completed: Vec<CompletedPart> = parts
                    .iter()
                    .map(|p| {
                        CompletedPart::builder()
                            .part_number(i32::try_from(p.number).unwrap_or(i32::MAX))
                            .e_tag(&p.etag)
                            .set_checksum_sha256(p.checksum_sha256.clone())
                            .build()
                    })
                    .collect();
                let upload = CompletedMultipartUpload::builder().set_parts(Some(completed)).build();
                let answer = client
                    .complete_multipart_upload()
                    .bucket(bucket)
                    .key(key)
                    .upload_id(upload_id)
                    .multipart_upload(upload)
                    .customize()
                    .config_override(taking_long(parts.iter().map(|p| p.size).sum()))
                    .send()
                    .await
                    .map_err(sdk)?;
                Ok(answer.e_tag.unwrap_or_default())
            }
            Objects::Dev { store, bucket, .. } => {
                let chosen: Vec<(u64, String)> =
                    parts.iter().map(|p| (p.number, p.etag.clone())).collect();
                Ok(store
                    .complete_multipart(&bucket.name, key, upload_id, &chosen)
                    .await
                    .map_err(dev)?
                    .etag)
            }
        }
    }

    /// `AbortMultipartUpload`: the bucket drops the parts. Gone already is fine.
    pub async fn abort_multipart(&self, key: &str, upload_id: &str) -> Result<(), BucketError> {
        let result = match self {
            Objects::S3 { client, bucket } => client
                .abort_multipart_upload()
                .bucket(bucket)
                .key(key)
                .upload_id(upload_id)
                .send()
                .await
                .map(drop)
                .map_err(sdk),
            Objects::Dev { store, bucket, .. } => {
                store.abort_multipart(&bucket.name, key, upload_id).await.map_err(dev)
            }
        };
        match result {
            Err(BucketError::NoSuchUpload) => Ok(()),
            other => other,
        }
    }
}
