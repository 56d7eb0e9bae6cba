//! The dev bucket's multipart uploads, as S3 keeps them: `<root>/.multipart/<upload id>/` holds
//! `upload.json` (bucket, key, type, metadata) and each part as `<n>.json` (its size, ETag,
//! SHA-256 and the file its bytes are in, `<n>.<put id>`). A part is written to a temp file and
//! renamed into place, then its record, so it is whole or absent, and a part sent again replaces
//! the one before. Uploads unfinished a day after they started are removed, as the lifecycle
//! rule removes them from a real bucket. Completing joins the parts
//! into one object through the one intake ([`super::intake`]), commits it like any other and
//! removes the directory; aborting removes it.

use std::path::PathBuf;

use base64::Engine;
use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::store::{io_failed, ObjectMeta, Store, TempObject};
use crate::policy::{error, S3Error};

/// S3's part numbers.
pub const MAX_PART_NUMBER: u64 = 10_000;
/// S3's smallest part, but for the last.
pub const MIN_PART_SIZE: u64 = 5 << 20;
/// S3's largest part (5 GiB).
/// <https://docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html>
pub const MAX_PART_SIZE: u64 = 5 << 30;

/// An upload under way: what `CreateMultipartUpload` said the object will be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    pub bucket: String,
    pub key: String,
    pub content_type: String,
    pub metadata: Vec<(String, String)>,
}

/// One part the bucket has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartMeta {
    pub number: u64,
    pub size: u64,
    /// Quoted hex MD5.
    pub etag: String,
    /// Base64, when the part came with one (an upload with SHA-256 checksums).
    #[serde(default)]
    pub checksum_sha256: Option<String>,
}

/// A part as kept on disk: what it is, and the file its bytes are in. The file is named for the
/// PUT that sent it, so two PUTs of one number at once never share one: whichever record is
/// renamed into place last names its own bytes, and the other's file is left unnamed (removed
/// with the upload).
#[derive(Serialize, Deserialize)]
struct Kept {
    #[serde(flatten)]
    part: PartMeta,
    file: String,
}

/// Upload ids are ours: 32 lowercase hex digits, so one can name a directory as it is.
fn valid_id(upload_id: &str) -> bool {
    upload_id.len() == 32 && upload_id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A part's record, if it is there and reads.
async fn read_kept(path: &std::path::Path) -> Option<Kept> {
    serde_json::from_slice(&tokio::fs::read(path).await.ok()?).ok()
}

impl Store {
    fn uploads_dir(&self) -> PathBuf {
        self.root().join(".multipart")
    }

    fn upload_dir(&self, upload_id: &str) -> Result<PathBuf, S3Error> {
        if !valid_id(upload_id) {
            return Err(error::no_such_upload());
        }
        Ok(self.uploads_dir().join(upload_id))
    }

    /// `CreateMultipartUpload`: a fresh upload id for `key`.
    pub async fn create_multipart(&self, pending: &Pending) -> Result<String, S3Error> {
        self.paths(&pending.bucket, &pending.key)?;
        let upload_id = uuid::Uuid::new_v4().simple().to_string();
        let dir = self.upload_dir(&upload_id)?;
        tokio::fs::create_dir_all(&dir).await.map_err(io_failed)?;
        tokio::fs::write(dir.join("upload.json"), serde_json::to_vec(pending).expect("serializes"))
            .await
            .map_err(io_failed)?;
        Ok(upload_id)
    }

    /// The upload `upload_id` of `key` in `bucket`, or S3's NoSuchUpload.
    pub async fn pending(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<Pending, S3Error> {
        let dir = self.upload_dir(upload_id)?;
        let json =
            tokio::fs::read(dir.join("upload.json")).await.map_err(|_| error::no_such_upload())?;
        let pending: Pending =
            serde_json::from_slice(&json).map_err(|_| error::no_such_upload())?;
        if pending.bucket != bucket || pending.key != key {
            return Err(error::no_such_upload());
        }
        Ok(pending)
    }

    /// Puts a fully written part in place (replacing one sent before under its number).
    pub async fn commit_part(
        &self,
        upload_id: &str,
        temp: TempObject,
        part: &PartMeta,
    ) -> Result<(), S3Error> {
        let dir = self.upload_dir(upload_id)?;
        // Aborted meanwhile: the directory is gone, and so is the part (dropping `temp`).
        if tokio::fs::metadata(&dir).await.is_err() {
            return Err(error::no_such_upload());
        }
        let this_put = uuid::Uuid::new_v4().simple().to_string();
        let kept = Kept { part: part.clone(), file: format!("{}.{this_put}", part.number) };
        let record = dir.join(format!("{}.json", part.number));
        let staged = dir.join(format!("{}.json.{this_put}.tmp", part.number));
        temp.persist(&dir.join(&kept.file)).await.map_err(io_failed)?;
        tokio::fs::write(&staged, serde_json::to_vec(&kept).expect("serializes"))
            .await
            .map_err(io_failed)?;
        // The part this one replaces keeps its file, unnamed, until the upload ends: a
        // completion that read its record a moment ago can still join it.
        tokio::fs::rename(&staged, &record).await.map_err(io_failed)?;
        Ok(())
    }

    /// `ListParts`: the parts the upload has, by number.
    pub async fn list_parts(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<Vec<PartMeta>, S3Error> {
        Ok(self.kept_parts(bucket, key, upload_id).await?.into_iter().map(|k| k.part).collect())
    }

    /// The parts the upload has, by number, with their files.
    async fn kept_parts(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<Vec<Kept>, S3Error> {
        self.pending(bucket, key, upload_id).await?;
        let dir = self.upload_dir(upload_id)?;
        let mut parts = Vec::new();
        let mut entries = tokio::fs::read_dir(&dir).await.map_err(|_| error::no_such_upload())?;
        while let Some(entry) = entries.next_entry().await.map_err(io_failed)? {
            let name = entry.file_name();
            let Some(number) = name
                .to_str()
                .and_then(|n| n.strip_suffix(".json"))
                .and_then(|n| n.parse::<u64>().ok())
            else {
                continue;
            };
            if let Some(kept) = read_kept(&entry.path()).await {
                if kept.part.number == number && kept.file.starts_with(&format!("{number}.")) {
                    parts.push(kept);
                }
            }
        }
        parts.sort_by_key(|k| k.part.number);
        Ok(parts)
    }

    /// Removes the multipart uploads started more than `age` ago, as the lifecycle rule the
    /// real bucket gets (`server lifecycle`) aborts them: how many were removed.
    pub async fn sweep_multipart(&self, age: std::time::Duration) -> usize {
        let mut removed = 0;
        for id in self.multipart_uploads().await {
            let Ok(dir) = self.upload_dir(&id) else { continue };
            let started = tokio::fs::metadata(dir.join("upload.json"))
                .await
                .and_then(|meta| meta.modified())
                .ok();
            let old = started.and_then(|at| at.elapsed().ok()).is_some_and(|elapsed| elapsed > age);
            if old && tokio::fs::remove_dir_all(&dir).await.is_ok() {
                tracing::info!(event = "dev_bucket_upload_expired", upload_id = %id, "an unfinished multipart upload was removed, as the lifecycle rule does");
                removed += 1;
            }
        }
        removed
    }

    /// `CompleteMultipartUpload` with `chosen` (part number and ETag, ascending): joins those
    /// parts into the object, with S3's multipart ETag and composite SHA-256 (`<hash>-<parts>`),
    /// and forgets the upload.
    pub async fn complete_multipart(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        chosen: &[(u64, String)],
    ) -> Result<ObjectMeta, S3Error> {
        let pending = self.pending(bucket, key, upload_id).await?;
        if chosen.is_empty() {
            return Err(error::malformed_xml("You must specify at least one part"));
        }
        if chosen.windows(2).any(|pair| pair[0].0 >= pair[1].0) {
            return Err(error::invalid_part_order());
        }
        let have = self.kept_parts(bucket, key, upload_id).await?;
        let mut parts = Vec::with_capacity(chosen.len());
        let mut files = Vec::with_capacity(chosen.len());
        for (number, etag) in chosen {
            let Kept { part, file } = have
                .iter()
                .find(|k| k.part.number == *number)
                .ok_or_else(|| error::invalid_part(format!("part {number} was not uploaded")))?;
            if part.etag.trim_matches('"') != etag.trim_matches('"') {
                return Err(error::invalid_part(format!(
                    "part {number} has ETag {}, not {etag}",
                    part.etag
                )));
            }
            parts.push(part.clone());
            files.push(file.clone());
        }
        if let Some(small) = parts[..parts.len() - 1].iter().find(|p| p.size < MIN_PART_SIZE) {
            return Err(error::entity_too_small(small.size, MIN_PART_SIZE));
        }
        let dir = self.upload_dir(upload_id)?;
        let paths = self.paths(bucket, key)?;
        // S3's multipart ETag and composite checksum: digests of the parts' digests (decoded
        // first: a part whose recorded digests do not decode is not worth joining).
        // The composite checksum only when every part has one (an upload with checksums).
        let (mut etags, mut digests) = (Md5::new(), Sha256::new());
        let every_sha256 = parts.iter().all(|p| p.checksum_sha256.is_some());
        for part in &parts {
            etags.update(
                hex::decode(part.etag.trim_matches('"')).map_err(|_| error::internal_error())?,
            );
            if let Some(sum) = part.checksum_sha256.as_deref().filter(|_| every_sha256) {
                digests.update(
                    base64::engine::general_purpose::STANDARD
                        .decode(sum)
                        .map_err(|_| error::internal_error())?,
                );
            }
        }
        // The object's bytes: the parts' files one after the other, joined by the kernel (no
        // byte passes through this process: a 5 GiB completion was a 5 GiB read and write).
        // Each part was checked when it came.
        let files: Vec<PathBuf> = files.iter().map(|file| dir.join(file)).collect();
        let mut temp = self.begin().await.map_err(io_failed)?;
        let size = temp.append_files(files).await.map_err(io_failed)?;
        let count = parts.len();
        let meta = ObjectMeta {
            content_type: pending.content_type,
            etag: format!("\"{}-{count}\"", hex::encode(etags.finalize())),
            size,
            metadata: pending.metadata,
            checksum_sha256: every_sha256.then(|| {
                format!(
                    "{}-{count}",
                    base64::engine::general_purpose::STANDARD.encode(digests.finalize())
                )
            }),
        };
        self.commit(temp, &paths, key, &meta).await?;
        let _ = tokio::fs::remove_dir_all(&dir).await;
        Ok(meta)
    }

    /// `AbortMultipartUpload`: the upload and every part are gone.
    pub async fn abort_multipart(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<(), S3Error> {
        self.pending(bucket, key, upload_id).await?;
        tokio::fs::remove_dir_all(self.upload_dir(upload_id)?).await.map_err(io_failed)
    }

    /// The ids of the uploads under way (`ListMultipartUploads`, for tests and the doctor).
    pub async fn multipart_uploads(&self) -> Vec<String> {
        let mut ids = Vec::new();
        if let Ok(mut entries) = tokio::fs::read_dir(self.uploads_dir()).await {
            while let Ok(Some(entry)) = entries.next_entry().await {
                ids.extend(entry.file_name().to_str().filter(|id| valid_id(id)).map(str::to_owned));
            }
        }
        ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devbucket::intake::Digests;

    fn sha(bytes: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(Sha256::digest(bytes))
    }

    async fn put(store: &Store, id: &str, number: u64, bytes: &[u8]) -> PartMeta {
        let body = futures::stream::once(async { Ok::<_, std::io::Error>(bytes.to_vec().into()) });
        let received = store.receive(body, u64::MAX, Digests::default()).await.unwrap();
        let part = PartMeta {
            number,
            size: bytes.len() as u64,
            etag: format!("\"{}\"", hex::encode(Md5::digest(bytes))),
            checksum_sha256: Some(sha(bytes)),
        };
        store.commit_part(id, received.temp, &part).await.unwrap();
        part
    }

    #[tokio::test]
    async fn parts_join_in_order_with_s3s_etag_and_composite_checksum() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        let pending = Pending {
            bucket: "b".into(),
            key: "k/x.bin".into(),
            content_type: "text/plain".into(),
            metadata: vec![],
        };
        let id = store.create_multipart(&pending).await.unwrap();
        let (one, two) = (vec![1u8; MIN_PART_SIZE as usize], b"tail".to_vec());
        put(&store, &id, 2, b"wrong").await;
        let p2 = put(&store, &id, 2, &two).await;
        let p1 = put(&store, &id, 1, &one).await;
        let p3 = put(&store, &id, 3, b"x").await;
        assert_eq!(
            store.list_parts("b", "k/x.bin", &id).await.unwrap(),
            vec![p1.clone(), p2.clone(), p3.clone()]
        );
        assert_eq!(store.list_parts("b", "other", &id).await.unwrap_err().code, "NoSuchUpload");
        let code = |r: Result<ObjectMeta, S3Error>| r.unwrap_err().code;
        assert_eq!(
            code(
                store
                    .complete_multipart(
                        "b",
                        "k/x.bin",
                        &id,
                        &[(2, p2.etag.clone()), (1, p1.etag.clone())]
                    )
                    .await
            ),
            "InvalidPartOrder"
        );
        assert_eq!(
            code(store.complete_multipart("b", "k/x.bin", &id, &[(1, p2.etag.clone())]).await),
            "InvalidPart"
        );
        assert_eq!(
            code(
                store
                    .complete_multipart(
                        "b",
                        "k/x.bin",
                        &id,
                        &[(2, p2.etag.clone()), (3, p3.etag.clone())]
                    )
                    .await
            ),
            "EntityTooSmall"
        );
        let meta = store
            .complete_multipart("b", "k/x.bin", &id, &[(1, p1.etag.clone()), (2, p2.etag.clone())])
            .await
            .unwrap();
        let mut digests = base64::engine::general_purpose::STANDARD
            .decode(p1.checksum_sha256.as_ref().unwrap())
            .unwrap();
        digests.extend(
            base64::engine::general_purpose::STANDARD
                .decode(p2.checksum_sha256.as_ref().unwrap())
                .unwrap(),
        );
        assert_eq!(meta.checksum_sha256, Some(format!("{}-2", sha(&digests))));
        assert!(meta.etag.ends_with("-2\""), "{}", meta.etag);
        let stored = std::fs::read(dir.path().join("b/k/x.bin")).unwrap();
        assert_eq!(stored, [one, two].concat());
        assert!(store.multipart_uploads().await.is_empty(), "completed uploads are forgotten");
        assert_eq!(store.list_parts("b", "k/x.bin", &id).await.unwrap_err().code, "NoSuchUpload");
    }

    #[tokio::test]
    async fn an_aborted_upload_leaves_nothing_and_ids_are_never_paths() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        let pending = Pending {
            bucket: "b".into(),
            key: "k".into(),
            content_type: "x/y".into(),
            metadata: vec![],
        };
        let id = store.create_multipart(&pending).await.unwrap();
        put(&store, &id, 1, b"bytes").await;
        assert_eq!(store.multipart_uploads().await, vec![id.clone()]);
        store.abort_multipart("b", "k", &id).await.unwrap();
        assert!(store.multipart_uploads().await.is_empty());
        assert!(std::fs::read_dir(dir.path().join(".multipart")).unwrap().next().is_none());
        for bad in ["../../etc", "", "ABCDEF0123456789ABCDEF0123456789"] {
            assert_eq!(store.list_parts("b", "k", bad).await.unwrap_err().code, "NoSuchUpload");
        }
    }

    #[tokio::test]
    async fn two_puts_of_one_part_at_once_keep_one_whole_part() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        let pending = Pending {
            bucket: "b".into(),
            key: "k".into(),
            content_type: "x/y".into(),
            metadata: vec![],
        };
        let id = store.create_multipart(&pending).await.unwrap();
        for round in 0..20u8 {
            // Both bodies are written before either is committed, then the commits race.
            let (a, b) = (vec![round; 1000], vec![round + 100; 3000]);
            let receive = |bytes: Vec<u8>| {
                let store = store.clone();
                async move {
                    let body =
                        futures::stream::once(async move { Ok::<_, std::io::Error>(bytes.into()) });
                    store.receive(body, u64::MAX, Digests::default()).await.unwrap()
                }
            };
            let (ta, tb) = (receive(a.clone()).await, receive(b.clone()).await);
            let meta = |bytes: &[u8]| PartMeta {
                number: 1,
                size: bytes.len() as u64,
                etag: format!("\"{}\"", hex::encode(Md5::digest(bytes))),
                checksum_sha256: Some(sha(bytes)),
            };
            let (ma, mb) = (meta(&a), meta(&b));
            let (ra, rb) = tokio::join!(
                store.commit_part(&id, ta.temp, &ma),
                store.commit_part(&id, tb.temp, &mb)
            );
            ra.unwrap();
            rb.unwrap();
            let kept = store.kept_parts("b", "k", &id).await.unwrap();
            assert_eq!(kept.len(), 1);
            let bytes =
                std::fs::read(dir.path().join(".multipart").join(&id).join(&kept[0].file)).unwrap();
            // The record and the bytes are one PUT's, whichever won.
            assert_eq!(kept[0].part, meta(&bytes), "round {round}");
            assert!(bytes == a || bytes == b);
        }
    }

    #[tokio::test]
    async fn unfinished_uploads_are_removed_after_their_lifetime_as_the_lifecycle_rule_does() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        let pending = Pending {
            bucket: "b".into(),
            key: "k".into(),
            content_type: "x/y".into(),
            metadata: vec![],
        };
        let (old, new) = (
            store.create_multipart(&pending).await.unwrap(),
            store.create_multipart(&pending).await.unwrap(),
        );
        put(&store, &old, 1, b"bytes").await;
        // Started two days ago.
        let started = std::time::SystemTime::now() - std::time::Duration::from_secs(2 * 86_400);
        std::fs::File::options()
            .write(true)
            .open(dir.path().join(".multipart").join(&old).join("upload.json"))
            .unwrap()
            .set_modified(started)
            .unwrap();
        let day = std::time::Duration::from_secs(86_400);
        assert_eq!(store.sweep_multipart(day).await, 1);
        assert_eq!(store.multipart_uploads().await, vec![new.clone()]);
        assert_eq!(store.list_parts("b", "k", &old).await.unwrap_err().code, "NoSuchUpload");
        assert_eq!(store.sweep_multipart(day).await, 0, "a fresh one stays");
    }
}
