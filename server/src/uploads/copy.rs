//! Copying an object inside the bucket, as promotion and quarantine do (`uploads::promote`):
//! S3's `CopyObject` up to the part size (`UPLOAD_COPY_PART_BYTES`, at most S3's 5 GiB), and
//! above it a multipart upload whose parts are `UploadPartCopy`s of the source's ranges, a few
//! at a time. The bytes never leave the bucket. The dev bucket copies the file on its disk.

use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::types::ChecksumAlgorithm;
use futures::{StreamExt, TryStreamExt};

use super::Objects;
use crate::policy::uri_encoded;
use app::wire::StoredPart;

/// Part copies under way at once (S3 runs them server-side; more mostly queues).
const COPIES_IN_FLIGHT: usize = 4;

/// The byte ranges (first, last) of `size` bytes in parts of `part` bytes.
pub fn copy_ranges(size: u64, part: u64) -> Vec<(u64, u64)> {
    let part = part.max(1);
    (0..size.div_ceil(part)).map(|i| (i * part, ((i + 1) * part).min(size) - 1)).collect()
}

impl Objects {
    /// Copies the object at `from` (`size` bytes) to `to`, with its type and metadata, asking
    /// the bucket for a SHA-256 of the copy. Copies of more than `part` bytes go in parts.
    pub async fn copy(&self, from: &str, to: &str, size: u64, part: u64) -> Result<(), String> {
        match self {
            Objects::S3 { client, bucket } => {
                let source = format!("{bucket}/{}", uri_encoded(from, true));
                if size <= part {
                    return client
                        .copy_object()
                        .bucket(bucket)
                        .key(to)
                        .copy_source(source)
                        .checksum_algorithm(ChecksumAlgorithm::Sha256)
                        .send()
                        .await
                        .map(drop)
                        .map_err(|err| DisplayErrorContext(&err).to_string());
                }
                self.copy_in_parts(client, bucket, from, to, size, part).await
            }
            Objects::Dev { store, bucket } => {
                store.copy(&bucket.name, from, to).await.map_err(|err| err.to_string())
            }
        }
    }

    /// A multipart upload to `to` of `from`'s ranges; aborted if any part fails.
    async fn copy_in_parts(
        &self,
        client: &aws_sdk_s3::Client,
        bucket: &str,
        from: &str,
        to: &str,
        size: u64,
        part: u64,
    ) -> Result<(), String> {
        let sdk = |err: aws_sdk_s3::error::SdkError<_, _>| DisplayErrorContext(&err).to_string();
        // UploadPartCopy copies bytes only: the type and metadata go on the new upload.
        let head = client.head_object().bucket(bucket).key(from).send().await.map_err(sdk)?;
        let metadata: Vec<(String, String)> =
            head.metadata.unwrap_or_default().into_iter().collect();
        let content_type = head.content_type.unwrap_or_default();
        let upload_id = self
            .create_multipart(to, &content_type, &metadata, true)
            .await
            .map_err(|err| err.to_string())?;
        let source = format!("{bucket}/{}", uri_encoded(from, true));
        let ranges = copy_ranges(size, part);
        let copies =
            futures::stream::iter(ranges.into_iter().enumerate()).map(|(i, (first, last))| {
                let (source, upload_id) = (source.clone(), upload_id.clone());
                async move {
                    let number = i as u64 + 1;
                    let answer = client
                        .upload_part_copy()
                        .bucket(bucket)
                        .key(to)
                        .upload_id(upload_id)
                        .part_number(i32::try_from(number).map_err(|e| e.to_string())?)
                        .copy_source(source)
                        .copy_source_range(format!("bytes={first}-{last}"))
                        .send()
                        .await
                        .map_err(|err| DisplayErrorContext(&err).to_string())?;
                    let result =
                        answer.copy_part_result.ok_or("the bucket answered with no part")?;
                    Ok::<_, String>(StoredPart {
                        number,
                        size: last - first + 1,
                        etag: result.e_tag.unwrap_or_default(),
                        checksum_sha256: result.checksum_sha256,
                    })
                }
            });
        let parts: Result<Vec<StoredPart>, String> =
            copies.buffered(COPIES_IN_FLIGHT).try_collect().await;
        let joined = match parts {
            Ok(parts) => {
                self.complete_multipart(to, &upload_id, &parts).await.map_err(|e| e.to_string())
            }
            Err(err) => Err(err),
        };
        if let Err(err) = joined {
            // Nothing half-copied stays: the parts are dropped (gone already is fine).
            let _ = self.abort_multipart(to, &upload_id).await;
            return Err(err);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_cover_every_byte_once() {
        assert_eq!(copy_ranges(10, 4), [(0, 3), (4, 7), (8, 9)]);
        assert_eq!(copy_ranges(8, 4), [(0, 3), (4, 7)]);
        assert_eq!(copy_ranges(3, 4), [(0, 2)]);
        assert!(copy_ranges(0, 4).is_empty());
        let six_gib = 6u64 << 30;
        let ranges = copy_ranges(six_gib, 5 << 30);
        assert_eq!(ranges, [(0, (5 << 30) - 1), (5 << 30, six_gib - 1)]);
    }
}
