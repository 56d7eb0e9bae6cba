//! Copying an object inside the bucket, as promotion and quarantine do (`uploads::promote`):
//! S3's `CopyObject` up to the part size (`UPLOAD_COPY_PART_BYTES`, at most S3's 5 GiB), and
//! above it a multipart upload whose parts are `UploadPartCopy`s of the source's ranges, a few
//! at a time. The bytes never leave the bucket. The dev bucket copies the file on its disk.

use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::types::ChecksumAlgorithm;
use futures::{StreamExt, TryStreamExt};

use super::objects::{taking_long, CHANGED};
use super::Objects;
use crate::policy::uri_encoded;
use app::wire::StoredPart;

/// Part copies under way at once (S3 runs them server-side; more mostly queues).
const COPIES_IN_FLIGHT: usize = 4;

/// S3's most parts in one upload.
const MAX_PARTS: u64 = 10_000;

/// An SDK error in words; S3's answer to a failed `x-amz-copy-source-if-match` as [`CHANGED`].
fn sdk<E>(err: aws_sdk_s3::error::SdkError<E, aws_smithy_runtime_api::http::Response>) -> String
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    let failed = err.raw_response().is_some_and(|r| r.status().as_u16() == 412)
        || err.as_service_error().and_then(|e| e.code()) == Some("PreconditionFailed");
    if failed {
        CHANGED.into()
    } else {
        DisplayErrorContext(&err).to_string()
    }
}

/// The byte ranges (first, last) of `size` bytes in parts of `part` bytes.
pub fn copy_ranges(size: u64, part: u64) -> Vec<(u64, u64)> {
    let part = part.max(1);
    (0..size.div_ceil(part)).map(|i| (i * part, ((i + 1) * part).min(size) - 1)).collect()
}

impl Objects {
    /// Copies the object at `from` (`size` bytes, ETag `etag`) to `to`, with its type and
    /// metadata, asking the bucket for a SHA-256 of the copy; [`CHANGED`] (and nothing copied)
    /// when the object at `from` is no longer the one with `etag`. Copies of more than `part`
    /// bytes go in parts (larger ones where 10 000 would not do).
    pub async fn copy(
        &self,
        from: &str,
        etag: &str,
        to: &str,
        size: u64,
        part: u64,
    ) -> Result<(), String> {
        match self {
            Objects::S3 { client, bucket } => {
                let source = format!("{bucket}/{}", uri_encoded(from, true));
                if size <= part {
                    return client
                        .copy_object()
                        .bucket(bucket)
                        .key(to)
                        .copy_source(source)
                        .copy_source_if_match(etag)
                        .checksum_algorithm(ChecksumAlgorithm::Sha256)
                        .customize()
                        .config_override(taking_long(size))
                        .send()
                        .await
                        .map(drop)
                        .map_err(sdk);
                }
                let part = part.max(size.div_ceil(MAX_PARTS));
                self.copy_in_parts(client, bucket, (from, etag), to, size, part).await
            }
            Objects::Dev { store, bucket } => {
                match store.copy(&bucket.name, from, to, etag).await {
                    Ok(true) => Ok(()),
                    Ok(false) => Err(CHANGED.into()),
                    Err(err) => Err(err.to_string()),
                }
            }
        }
    }

    /// A multipart upload to `to` of the ranges of `from` (as long as it has ETag `etag`);
    /// aborted if any part fails.
    async fn copy_in_parts(
        &self,
        client: &aws_sdk_s3::Client,
        bucket: &str,
        (from, etag): (&str, &str),
        to: &str,
        size: u64,
        part: u64,
    ) -> Result<(), String> {
        // UploadPartCopy copies bytes only: the type and metadata go on the new upload.
        let head = client.head_object().bucket(bucket).key(from).if_match(etag).send().await;
        let head = head.map_err(sdk)?;
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
                        .copy_source_if_match(etag)
                        .copy_source_range(format!("bytes={first}-{last}"))
                        .customize()
                        .config_override(taking_long(last - first + 1))
                        .send()
                        .await
                        .map_err(sdk)?;
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
