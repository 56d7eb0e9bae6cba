//! The one path a body takes to disk. Every write the dev bucket takes (a POST's file, a part's
//! PUT, the parts of a completed upload joined into one object) streams through
//! [`Store::receive`] into a temp file, hashed on the way, and stops reading the moment more
//! than its limit has arrived. Nothing is buffered beyond one chunk, and what is not committed
//! is removed when its [`TempObject`] is dropped (a refusal, a client gone mid-body).

use axum::body::Bytes;
use base64::Engine;
use futures::{Stream, StreamExt};
use md5::{Digest, Md5};
use sha2::Sha256;

use super::store::{io_failed, Store, TempObject};
use crate::policy::{error, S3Error};

/// Which digests of the bytes [`Store::receive`] computes as they go by.
#[derive(Debug, Clone, Copy, Default)]
pub struct Digests {
    /// For the ETag of a single-part object or of a part.
    pub md5: bool,
    /// For `x-amz-checksum-sha256`.
    pub sha256: bool,
}

/// The digests a PUT's headers say its body has (base64): `x-amz-checksum-sha256` and
/// `Content-MD5`, each checked when present, as S3 checks them.
#[derive(Debug, Default)]
pub struct Expected {
    pub sha256: Option<String>,
    pub md5: Option<String>,
}

/// What `headers` say the body's digests are; a value that is no digest is refused at once.
pub fn expected_digests(headers: &axum::http::HeaderMap) -> Result<Expected, S3Error> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let sha256 = header(SHA256_HEADER)
        .map(|v| {
            app::rules::checksum_sha256(v).map_err(|_| error::invalid_checksum_value(SHA256_HEADER))
        })
        .transpose()?;
    // S3: 400 InvalidDigest for a Content-MD5 that is not the base64 of 16 bytes.
    let md5 = header("content-md5")
        .map(|v| app::rules::content_md5(v).map_err(|_| error::invalid_digest()))
        .transpose()?;
    Ok(Expected { sha256, md5 })
}

impl Expected {
    /// Refuses `received` when it is not what the headers said (S3's 400 BadDigest).
    pub fn check(&self, received: &ReceivedBody) -> Result<(), S3Error> {
        if self.sha256.is_some() && received.sha256_base64() != self.sha256 {
            return Err(error::bad_digest(SHA256_HEADER));
        }
        let md5 = received.md5.map(|d| base64::engine::general_purpose::STANDARD.encode(d));
        if self.md5.is_some() && md5 != self.md5 {
            return Err(error::bad_digest("Content-MD5"));
        }
        Ok(())
    }
}

/// The header a PUT (and the answer to one) carries a SHA-256 in.
pub const SHA256_HEADER: &str = "x-amz-checksum-sha256";

/// A body received whole, in a temp file not yet committed.
pub struct ReceivedBody {
    pub temp: TempObject,
    pub size: u64,
    pub md5: Option<[u8; 16]>,
    pub sha256: Option<[u8; 32]>,
}

impl ReceivedBody {
    /// The ETag S3 gives it as one object or one part: its MD5 in hex, quoted.
    pub fn etag(&self) -> Option<String> {
        self.md5.map(|md5| format!("\"{}\"", hex::encode(md5)))
    }

    /// Its SHA-256 as `x-amz-checksum-sha256` carries it (base64).
    pub fn sha256_base64(&self) -> Option<String> {
        self.sha256.map(|sha| base64::engine::general_purpose::STANDARD.encode(sha))
    }
}

/// Why a body was not received whole.
#[derive(Debug)]
pub enum Unreceived<E> {
    /// The body failed (the client went away, the form broke): its stream's error.
    Body(E),
    /// More than the limit arrived; reading stopped at `size` bytes.
    OverLimit { size: u64 },
    /// The disk failed (logged): S3's internal error.
    Disk(S3Error),
}

impl Store {
    /// Streams `body` into a temp file, computing `digests`, until it ends or passes `limit`
    /// bytes.
    pub async fn receive<E>(
        &self,
        body: impl Stream<Item = Result<Bytes, E>>,
        limit: u64,
        digests: Digests,
    ) -> Result<ReceivedBody, Unreceived<E>> {
        let mut temp = self.begin().await.map_err(|err| Unreceived::Disk(io_failed(err)))?;
        let mut md5 = digests.md5.then(Md5::new);
        let mut sha256 = digests.sha256.then(Sha256::new);
        let mut size = 0u64;
        let mut body = std::pin::pin!(body);
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(Unreceived::Body)?;
            size += chunk.len() as u64;
            if size > limit {
                return Err(Unreceived::OverLimit { size });
            }
            if let Some(md5) = &mut md5 {
                md5.update(&chunk);
            }
            if let Some(sha256) = &mut sha256 {
                sha256.update(&chunk);
            }
            temp.write(&chunk).await.map_err(|err| Unreceived::Disk(io_failed(err)))?;
        }
        Ok(ReceivedBody {
            temp,
            size,
            md5: md5.map(|md5| md5.finalize().into()),
            sha256: sha256.map(|sha256| sha256.finalize().into()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(parts: &[&'static [u8]]) -> impl Stream<Item = Result<Bytes, std::io::Error>> {
        futures::stream::iter(parts.iter().map(|p| Ok(Bytes::from_static(p))).collect::<Vec<_>>())
    }

    #[tokio::test]
    async fn a_body_is_hashed_on_its_way_to_disk_and_stops_at_its_limit() {
        let dir = std::env::temp_dir().join(format!("intake-{}", uuid::Uuid::new_v4().simple()));
        let store = Store::new(&dir);
        let all = Digests { md5: true, sha256: true };
        let got = store.receive(chunks(&[b"hel", b"lo"]), 5, all).await.unwrap();
        assert_eq!(got.size, 5);
        assert_eq!(got.etag().unwrap(), format!("\"{}\"", hex::encode(Md5::digest(b"hello"))));
        assert_eq!(got.sha256, Some(Sha256::digest(b"hello").into()));
        drop(got);
        let over = store.receive(chunks(&[b"hel", b"lo!"]), 5, Digests::default()).await;
        assert!(matches!(over, Err(Unreceived::OverLimit { size: 6 })), "{:?}", over.err());
        let none = store.receive(chunks(&[b"x"]), 5, Digests::default()).await.unwrap();
        assert_eq!((none.md5, none.sha256), (None, None));
        drop(none);
        assert_eq!(std::fs::read_dir(dir.join(".tmp")).unwrap().count(), 0, "nothing is left");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
