//! Where the dev bucket keeps objects: `<root>/<bucket>/<key>`, with each object's headers in
//! `<root>/.meta/<bucket>/<key>.json` (bucket names cannot start with a dot, so neither tree can
//! collide with a bucket). Writes go to `<root>/.tmp/` first and are renamed into place, so an
//! object is either whole or absent; a temp file that is not committed is removed on drop.

use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;

use crate::policy::{error, S3Error};

/// S3's limit on key length, in bytes.
const MAX_KEY_BYTES: usize = 1024;
/// The usual file-system limit on one path segment.
const MAX_SEGMENT_BYTES: usize = 255;

/// What is kept beside an object and sent back with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectMeta {
    pub content_type: String,
    /// Quoted hex MD5, as S3 gives for single-part objects.
    pub etag: String,
    pub size: u64,
    /// `x-amz-meta-*` fields, names without the prefix.
    pub metadata: Vec<(String, String)>,
    /// The SHA-256 the upload was checked against (base64), when the form carried one.
    #[serde(default)]
    pub checksum_sha256: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

/// Where one object and its headers are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectPaths {
    pub object: PathBuf,
    pub meta: PathBuf,
}

/// A file being written; removed on drop unless committed.
pub struct TempObject {
    path: PathBuf,
    file: Option<tokio::fs::File>,
    committed: bool,
}

impl TempObject {
    pub async fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.file.as_mut().expect("open until committed").write_all(bytes).await
    }
}

impl Drop for TempObject {
    fn drop(&mut self) {
        if !self.committed {
            // Runs when a refusal returns early and when the client disconnects (the request's
            // future is dropped mid-stream).
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// The dev bucket stores keys as paths, so it refuses keys that cannot be one safely. (S3 itself
/// accepts `../` in keys as plain text; this is a deliberate difference.)
pub fn key_segments(key: &str) -> Result<Vec<&str>, S3Error> {
    let refuse = |why: &str| Err(error::invalid_argument(format!("The dev bucket cannot store the key {key:?}: {why}.")));
    if key.is_empty() {
        return refuse("it is empty");
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(error::key_too_long(key.len(), MAX_KEY_BYTES));
    }
    if key.chars().any(|c| c.is_control()) || key.contains('\\') {
        return refuse("it holds control characters or backslashes");
    }
    let segments: Vec<&str> = key.split('/').collect();
    for segment in &segments {
        match *segment {
            "" => return refuse("it has an empty path segment (a leading, trailing or double slash)"),
            "." | ".." => return refuse("it has a '.' or '..' segment"),
            s if s.len() > MAX_SEGMENT_BYTES => return refuse("one of its segments is over 255 bytes"),
            _ => {}
        }
    }
    Ok(segments)
}

impl Store {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the object `key` of `bucket` and its headers live (or would), checked once.
    pub fn paths(&self, bucket: &str, key: &str) -> Result<ObjectPaths, S3Error> {
        let (mut object, mut meta) = (self.root.join(bucket), self.root.join(".meta").join(bucket));
        for segment in key_segments(key)? {
            object.push(segment);
            meta.push(segment);
        }
        let mut name = meta.file_name().expect("a validated key has a last segment").to_os_string();
        name.push(".json");
        meta.set_file_name(name);
        // Defence in depth: validated segments cannot climb out, and this proves it.
        debug_assert!(object.starts_with(&self.root) && meta.starts_with(&self.root));
        Ok(ObjectPaths { object, meta })
    }

    /// A new temp file under `<root>/.tmp/`.
    pub async fn begin(&self) -> io::Result<TempObject> {
        let dir = self.root.join(".tmp");
        tokio::fs::create_dir_all(&dir).await?;
        let path = dir.join(uuid::Uuid::new_v4().simple().to_string());
        let file = tokio::fs::File::create(&path).await?;
        Ok(TempObject { path, file: Some(file), committed: false })
    }

    /// Moves a fully written temp file into place, metadata first, then the object by rename.
    pub async fn commit(&self, mut temp: TempObject, paths: &ObjectPaths, key: &str, meta: &ObjectMeta) -> Result<(), S3Error> {
        let ObjectPaths { object, meta: meta_path } = paths;
        let internal = |e: io::Error| conflict_or_internal(key, e);
        let mut file = temp.file.take().expect("open until committed");
        file.flush().await.map_err(internal)?;
        file.sync_all().await.map_err(internal)?;
        drop(file);
        for dir in [object.parent(), meta_path.parent()].into_iter().flatten() {
            tokio::fs::create_dir_all(dir).await.map_err(internal)?;
        }
        let meta_json = serde_json::to_vec(meta).expect("metadata serializes");
        let meta_temp = meta_path.with_extension("json.tmp");
        tokio::fs::write(&meta_temp, meta_json).await.map_err(internal)?;
        tokio::fs::rename(&meta_temp, meta_path).await.map_err(internal)?;
        tokio::fs::rename(&temp.path, object).await.map_err(internal)?;
        temp.committed = true;
        Ok(())
    }

    /// An object's file and headers, or S3's NoSuchKey.
    pub async fn open(&self, bucket: &str, key: &str) -> Result<(tokio::fs::File, ObjectMeta), S3Error> {
        // An unstorable key, a missing sidecar or a directory: all simply "no such key".
        let paths = self.paths(bucket, key).map_err(|_| error::no_such_key())?;
        let meta = tokio::fs::read(&paths.meta).await.map_err(|_: io::Error| error::no_such_key())?;
        let meta: ObjectMeta = serde_json::from_slice(&meta).map_err(|_| error::no_such_key())?;
        let file = tokio::fs::File::open(&paths.object).await.map_err(|_: io::Error| error::no_such_key())?;
        if !file.metadata().await.map_err(|_: io::Error| error::no_such_key())?.is_file() {
            return Err(error::no_such_key());
        }
        Ok((file, meta))
    }
}

/// One object as the store lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub key: String,
    pub size: u64,
    pub etag: String,
    pub modified: time::OffsetDateTime,
}

/// Walks `dir` (the metadata tree of `prefix`) for objects, in key order, at most `max`.
fn list_tree(root: &Path, bucket: &str, prefix: &str, max: usize) -> io::Result<Vec<Entry>> {
    // Only whole-directory prefixes (`a/b/`) are listed this way, which is all the service asks.
    let meta_root = root.join(".meta").join(bucket);
    let start = match key_segments(prefix.trim_end_matches('/')) {
        Ok(segments) => segments.iter().fold(meta_root.clone(), |path, s| path.join(s)),
        Err(_) => return Ok(Vec::new()),
    };
    let mut keys = Vec::new();
    let mut pending = vec![start];
    // Bounded: a prefix holding more than this many entries is listed in part.
    let mut budget = 100_000usize;
    while let Some(dir) = pending.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(err) if err.kind() == io::ErrorKind::NotFound => continue,
            Err(err) => return Err(err),
        };
        for entry in entries {
            budget = budget.saturating_sub(1);
            if budget == 0 {
                break;
            }
            let path = entry?.path();
            if path.is_dir() {
                pending.push(path);
            } else if let Some(relative) = path.strip_prefix(&meta_root).ok().and_then(|p| p.to_str()) {
                if let Some(key) = relative.strip_suffix(".json") {
                    keys.push(key.replace(std::path::MAIN_SEPARATOR, "/"));
                }
            }
        }
    }
    // S3 lists in UTF-8 byte order.
    keys.sort_unstable();
    let mut listed = Vec::new();
    for key in keys {
        if listed.len() == max {
            break;
        }
        let Ok(meta) = std::fs::read(meta_root.join(&key).with_extension_json()) else { continue };
        let Ok(meta) = serde_json::from_slice::<ObjectMeta>(&meta) else { continue };
        let Ok(stat) = std::fs::metadata(root.join(bucket).join(&key)) else { continue };
        let modified = stat.modified().map(time::OffsetDateTime::from).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        listed.push(Entry { key, size: stat.len(), etag: meta.etag, modified });
    }
    Ok(listed)
}

trait WithJson {
    fn with_extension_json(self) -> PathBuf;
}

impl WithJson for PathBuf {
    /// `a/b.txt` -> `a/b.txt.json` (the sidecar's name; `with_extension` would replace `.txt`).
    fn with_extension_json(self) -> PathBuf {
        let mut name = self.into_os_string();
        name.push(".json");
        name.into()
    }
}

impl Store {
    /// The objects under `prefix` in key order, as ListObjectsV2 gives them, at most `max`.
    pub async fn list(&self, bucket: &str, prefix: &str, max: usize) -> io::Result<Vec<Entry>> {
        let (root, bucket, prefix) = (self.root.clone(), bucket.to_owned(), prefix.to_owned());
        tokio::task::spawn_blocking(move || list_tree(&root, &bucket, &prefix, max)).await.map_err(io::Error::other)?
    }

    /// Removes an object and its headers; a key that is not there is not an error.
    pub async fn delete(&self, bucket: &str, key: &str) -> io::Result<()> {
        let Ok(paths) = self.paths(bucket, key) else { return Ok(()) };
        for path in [&paths.object, &paths.meta] {
            match tokio::fs::remove_file(path).await {
                Err(err) if err.kind() != io::ErrorKind::NotFound => return Err(err),
                _ => {}
            }
        }
        Ok(())
    }
}

/// A key whose path collides with another object's (`a` stored, then `a/b`) cannot be stored;
/// anything else is the server's own failure.
fn conflict_or_internal(key: &str, err: io::Error) -> S3Error {
    match err.kind() {
        io::ErrorKind::NotADirectory | io::ErrorKind::IsADirectory | io::ErrorKind::AlreadyExists | io::ErrorKind::DirectoryNotEmpty => {
            error::invalid_argument(format!("The dev bucket cannot store {key:?}: it collides with another object's path."))
        }
        _ => {
            tracing::error!(error = %err, "dev bucket write failed");
            error::internal_error()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_keys_map_below_the_bucket() {
        let store = Store::new("/data");
        let paths = store.paths("b", "uploads/u/x.png").unwrap();
        assert_eq!(paths.object, PathBuf::from("/data/b/uploads/u/x.png"));
        assert_eq!(paths.meta, PathBuf::from("/data/.meta/b/uploads/u/x.png.json"));
        assert!(store.paths("b", "résumé (final).pdf").is_ok());
    }

    #[test]
    fn hostile_keys_are_refused() {
        let store = Store::new("/data");
        for key in [
            "", "../etc/passwd", "a/../../b", "./a", "/absolute", "a//b", "trailing/", "nul\0byte", "back\\slash", "tab\there",
        ] {
            assert!(store.paths("b", key).is_err(), "{key:?}");
        }
        let long = "k".repeat(1025);
        assert_eq!(store.paths("b", &long).unwrap_err().code, "KeyTooLongError");
        assert!(store.paths("b", &"s".repeat(256)).is_err());
    }
}
