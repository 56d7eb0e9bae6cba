//! The server's own look at the bucket, to confirm uploads: HEAD an object, and a link to
//! view it (presigned GET for S3; the dev bucket serves objects as they are).

use std::time::Duration;

use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::types::ChecksumMode;

use crate::devbucket::Store;

/// What the bucket says about a stored object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectHead {
    pub size: u64,
    pub content_type: String,
    /// As the bucket quotes it.
    pub etag: String,
    /// Base64, when the bucket keeps one.
    pub checksum_sha256: Option<String>,
}

/// How long a "view" link from "Your uploads" works.
pub const VIEW_LINK_LIFETIME: Duration = Duration::from_secs(3600);

pub enum Objects {
    S3 { client: aws_sdk_s3::Client, bucket: String },
    Dev { store: Store, bucket: String, endpoint: String },
}

impl Objects {
    /// The object's headers; `None` when it is not there.
    pub async fn head(&self, key: &str) -> Result<Option<ObjectHead>, String> {
        match self {
            Objects::S3 { client, bucket } => {
                let answer = client.head_object().bucket(bucket).key(key).checksum_mode(ChecksumMode::Enabled).send().await;
                match answer {
                    Ok(head) => Ok(Some(ObjectHead {
                        size: head.content_length.unwrap_or_default().max(0) as u64,
                        content_type: head.content_type.unwrap_or_default(),
                        etag: head.e_tag.unwrap_or_default(),
                        checksum_sha256: head.checksum_sha256,
                    })),
                    Err(err) if err.as_service_error().is_some_and(|e| e.is_not_found()) => Ok(None),
                    Err(err) => Err(DisplayErrorContext(&err).to_string()),
                }
            }
            Objects::Dev { store, bucket, .. } => match store.open(bucket, key).await {
                // The file's own length, not the sidecar's: a file changed on disk shows.
                Ok((file, meta)) => Ok(Some(ObjectHead {
                    size: file.metadata().await.map_err(|err| err.to_string())?.len(),
                    content_type: meta.content_type,
                    etag: meta.etag,
                    checksum_sha256: meta.checksum_sha256,
                })),
                Err(_) => Ok(None),
            },
        }
    }

    /// A link that shows the object in a browser.
    pub async fn view_url(&self, key: &str) -> Result<String, String> {
        match self {
            Objects::S3 { client, bucket } => {
                let presigning = PresigningConfig::expires_in(VIEW_LINK_LIFETIME).map_err(|err| err.to_string())?;
                let request = client.get_object().bucket(bucket).key(key).presigned(presigning).await;
                request.map(|r| r.uri().to_owned()).map_err(|err| DisplayErrorContext(&err).to_string())
            }
            Objects::Dev { bucket, endpoint, .. } => Ok(crate::devbucket::object_url(endpoint, bucket, key)),
        }
    }
}
