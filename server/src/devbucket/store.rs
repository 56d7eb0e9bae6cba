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

    /// Appends the files at `paths`, one after the other, and says how many bytes that was.
    /// `std::io::copy` between files is `copy_file_range` on Linux: the kernel moves the bytes
    /// (a reflink where the file system can), none pass through this process.
    pub async fn append_files(&mut self, paths: Vec<PathBuf>) -> io::Result<u64> {
        let file = self.file.take().expect("open until committed");
        let mut into = file.into_std().await;
        let (into, appended) = tokio::task::spawn_blocking(move || {
            let appended = paths.into_iter().try_fold(0, |appended, path| {
                let mut from = std::fs::File::open(path)?;
                Ok::<_, io::Error>(appended + std::io::copy(&mut from, &mut into)?)
            });
            (into, appended)
        })
        .await
        .map_err(io::Error::other)?;
        // The file stays open whatever happened, so the temp object is always usable.
        self.file = Some(tokio::fs::File::from_std(into));
        appended
    }

    /// Flushes the file to disk and moves it to `to` (replacing what is there).
    pub async fn persist(mut self, to: &Path) -> io::Result<()> {
        let mut file = self.file.take().expect("open until committed");
        file.flush().await?;
        file.sync_all().await?;
        drop(file);
        tokio::fs::rename(&self.path, to).await?;
        self.committed = true;
        Ok(())
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

/// Longest file name written for one key segment (file systems allow 255 bytes); a longer
/// segment continues in a directory level of its own.
const MAX_NAME_ON_DISK: usize = 200;
/// Marks a name on disk that continues in the next level (`%` never appears unencoded).
const CONTINUED: &str = "%+";

/// The file names on disk for a key: one or more per `/`-separated segment, so that every key
/// S3 accepts can be stored (backslashes, `$`, `%`, control characters, `.` and `..` segments,
/// empty segments, any UTF-8 up to 1024 bytes) without a name ever leaving the bucket's
/// directory. Ordinary names stay as they are: `%` is written `%25`, a backslash `%5C`, a control
/// character `%XX`, an empty segment `%`, `.` and `..` as `%2E` and `%2E%2E`.
pub fn key_segments(key: &str) -> Result<Vec<String>, S3Error> {
    if key.is_empty() {
        return Err(error::invalid_argument("A key must not be empty."));
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(error::key_too_long(key.len(), MAX_KEY_BYTES));
    }
    let mut names = Vec::new();
    for segment in key.split('/') {
        let encoded = match segment {
            "" => "%".to_owned(),
            "." => "%2E".to_owned(),
            ".." => "%2E%2E".to_owned(),
            _ => {
                let mut out = String::with_capacity(segment.len());
                for c in segment.chars() {
                    match c {
                        '%' | '\\' => out.push_str(&format!("%{:02X}", c as u32)),
                        c if c.is_control() => {
                            let mut utf8 = [0; 4];
                            for byte in c.encode_utf8(&mut utf8).bytes() {
                                out.push_str(&format!("%{byte:02X}"));
                            }
                        }
                        c => out.push(c),
                    }
                }
                out
            }
        };
        let mut rest = encoded.as_str();
        while rest.len() > MAX_NAME_ON_DISK {
            // Cut on a character boundary, never inside a `%XX`.
            let mut cut = MAX_NAME_ON_DISK;
            let bytes = rest.as_bytes();
            while !rest.is_char_boundary(cut) || bytes[cut - 1] == b'%' || bytes[cut - 2] == b'%' {
                cut -= 1;
            }
            names.push(format!("{}{CONTINUED}", &rest[..cut]));
            rest = &rest[cut..];
        }
        // What is left of a long segment may be `.` or `..` on its own (found by fuzzing):
        // never a name a path would climb with.
        names.push(match rest {
            "." => "%2E".to_owned(),
            ".." => "%2E%2E".to_owned(),
            rest => rest.to_owned(),
        });
    }
    Ok(names)
}

/// The key a path under the bucket's directory stands for (the inverse of [`key_segments`]).
pub fn key_of(names: &[&str]) -> Option<String> {
    // Bytes first: a character written as several `%XX` may be split across continued names.
    let mut key = Vec::new();
    let mut continued = false;
    for (i, name) in names.iter().enumerate() {
        if i > 0 && !continued {
            key.push(b'/');
        }
        let (name, more) = match name.strip_suffix(CONTINUED) {
            Some(head) => (head, true),
            None => (*name, false),
        };
        continued = more;
        if name == "%" {
            continue;
        }
        let raw = name.as_bytes();
        let mut at = 0;
        while at < raw.len() {
            if raw[at] == b'%' {
                let hex = std::str::from_utf8(raw.get(at + 1..at + 3)?).ok()?;
                key.push(u8::from_str_radix(hex, 16).ok()?);
                at += 3;
            } else {
                key.push(raw[at]);
                at += 1;
            }
        }
    }
    String::from_utf8(key).ok()
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
        for name in key_segments(key)? {
            object.push(&name);
            meta.push(&name);
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
    pub async fn commit(
        &self,
        mut temp: TempObject,
        paths: &ObjectPaths,
        key: &str,
        meta: &ObjectMeta,
    ) -> Result<(), S3Error> {
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
    pub async fn open(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<(tokio::fs::File, ObjectMeta), S3Error> {
        // An unstorable key, a missing sidecar or a directory: all simply "no such key".
        let paths = self.paths(bucket, key).map_err(|_| error::no_such_key())?;
        let meta =
            tokio::fs::read(&paths.meta).await.map_err(|_: io::Error| error::no_such_key())?;
        let meta: ObjectMeta = serde_json::from_slice(&meta).map_err(|_| error::no_such_key())?;
        let file = tokio::fs::File::open(&paths.object)
            .await
            .map_err(|_: io::Error| error::no_such_key())?;
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
    // The directory the prefix is in (`a/b/` of `a/b/ff`) is walked; keys outside the prefix
    // are left out below, as S3 lists any prefix.
    let meta_root = root.join(".meta").join(bucket);
    let directory = prefix.rsplit_once('/').map_or("", |(directory, _)| directory);
    let start = match directory {
        "" => meta_root.clone(),
        directory => match key_segments(directory) {
            Ok(names) => names.iter().fold(meta_root.clone(), |path, name| path.join(name)),
            Err(_) => return Ok(Vec::new()),
        },
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
            } else if let Some(relative) =
                path.strip_prefix(&meta_root).ok().and_then(|p| p.to_str())
            {
                if let Some(on_disk) = relative.strip_suffix(".json") {
                    let names: Vec<&str> = on_disk.split(std::path::MAIN_SEPARATOR).collect();
                    if let Some(key) = key_of(&names).filter(|key| key.starts_with(prefix)) {
                        keys.push(key);
                    }
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
        let Ok(names) = key_segments(&key) else { continue };
        let meta_path = names
            .iter()
            .fold(meta_root.clone(), |path, name| path.join(name))
            .with_extension_json();
        let object_path = names.iter().fold(root.join(bucket), |path, name| path.join(name));
        let Ok(meta) = std::fs::read(meta_path) else { continue };
        let Ok(meta) = serde_json::from_slice::<ObjectMeta>(&meta) else { continue };
        let Ok(stat) = std::fs::metadata(object_path) else { continue };
        let modified = stat
            .modified()
            .map(time::OffsetDateTime::from)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
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
        tokio::task::spawn_blocking(move || list_tree(&root, &bucket, &prefix, max))
            .await
            .map_err(io::Error::other)?
    }

    /// Copies the object `from` to `to` with its headers (CopyObject), through a temp file
    /// like any write: the copy is whole or absent. `false` (nothing copied) when `from` no
    /// longer has the ETag `if_match` (`x-amz-copy-source-if-match`).
    pub async fn copy(
        &self,
        bucket: &str,
        from: &str,
        to: &str,
        if_match: &str,
    ) -> Result<bool, S3Error> {
        let (mut file, meta) = self.open(bucket, from).await?;
        if meta.etag.trim_matches('"') != if_match.trim_matches('"') {
            return Ok(false);
        }
        let paths = self.paths(bucket, to)?;
        let mut temp = self.begin().await.map_err(io_failed)?;
        let into = temp.file.as_mut().expect("open until committed");
        tokio::io::copy(&mut file, into).await.map_err(io_failed)?;
        self.commit(temp, &paths, to, &meta).await?;
        Ok(true)
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
        io::ErrorKind::NotADirectory
        | io::ErrorKind::IsADirectory
        | io::ErrorKind::AlreadyExists
        | io::ErrorKind::DirectoryNotEmpty => error::invalid_argument(format!(
            "The dev bucket cannot store {key:?}: it collides with another object's path."
        )),
        _ => io_failed(err),
    }
}

/// The dev bucket's own failure to read or write its disk: logged, and S3's internal error.
pub fn io_failed(err: io::Error) -> S3Error {
    tracing::error!(error = %err, "dev bucket I/O failed");
    error::internal_error()
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
    fn every_key_s3_takes_maps_inside_the_bucket_and_back() {
        let store = Store::new("/data");
        let long = "é".repeat(512);
        let (dots, dot) = (format!("{}..", "a".repeat(200)), format!("{}.", "b".repeat(200)));
        for key in [
            "../etc/passwd",
            "a/../../b",
            "./a",
            "/absolute",
            "a//b",
            "trailing/",
            "nul\0byte",
            "back\\slash",
            "tab\there",
            "$dollar/${x}",
            "100%/%2E%2E",
            "..",
            ".",
            "/",
            "a%+/b",
            long.as_str(),
            dots.as_str(),
            dot.as_str(),
        ] {
            let paths = store.paths("b", key).unwrap_or_else(|e| panic!("{key:?}: {e}"));
            assert!(
                paths.object.starts_with("/data/b/") && paths.meta.starts_with("/data/.meta/b/"),
                "{key:?}: {paths:?}"
            );
            assert!(
                paths.object.components().all(|c| matches!(
                    c,
                    std::path::Component::RootDir | std::path::Component::Normal(_)
                )),
                "{key:?}: {paths:?}"
            );
            let names = key_segments(key).unwrap();
            assert!(
                names.iter().all(|n| !n.is_empty()
                    && n.len() <= 255
                    && !n.contains('/')
                    && n != "."
                    && n != ".."),
                "{names:?}"
            );
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            assert_eq!(key_of(&names).as_deref(), Some(key), "{names:?}");
        }
        assert_eq!(store.paths("b", "").unwrap_err().code, "InvalidArgument");
        assert_eq!(store.paths("b", &"k".repeat(1025)).unwrap_err().code, "KeyTooLongError");
    }
}
