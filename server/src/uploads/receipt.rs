//! The receipt: what one signature allowed, sealed by the server and carried by the browser from
//! `sign_upload` to `confirm_upload` (or in the no-JavaScript form's redirect), so that any
//! instance holding the session key checks any upload without remembering anything.

use app::service::UploaderId;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::policy::{FormSpec, SizeRule};
use crate::seal::{Purpose, SessionKey};

/// An upload may start up to 10 minutes after signing and take a long while (5 GiB on a slow
/// line); after a day, a receipt is no longer accepted.
pub const RECEIPT_LIFETIME: Duration = Duration::days(1);
/// Receipts are a few hundred bytes; anything much longer is not one of ours.
const MAX_RECEIPT_BYTES: usize = 4096;

/// What one policy allowed. Short field names: it travels in every confirm and in a URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// The uploader it was signed for.
    #[serde(rename = "u")]
    pub uploader: String,
    /// The key's directory, with its trailing slash: `uploads/<uploader>/<id>/`.
    #[serde(rename = "d")]
    pub directory: String,
    /// The file name, or `None` when the form let the browser choose it (`${filename}`).
    #[serde(rename = "n")]
    pub name: Option<String>,
    /// Smallest and largest size allowed, in bytes.
    #[serde(rename = "s")]
    pub size: (u64, u64),
    #[serde(rename = "t")]
    pub content_type: Option<String>,
    /// Base64 SHA-256 the policy bound, if any.
    #[serde(rename = "c")]
    pub checksum_sha256: Option<String>,
    /// The ETag the object must have (hex, no quotes; `-<parts>` for parts), where MD5s were
    /// bound (`UPLOAD_CHECKSUM=md5`): a PUT's ETag is its `Content-MD5` in hex.
    #[serde(rename = "g", default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// Unix seconds after which the receipt is refused.
    #[serde(rename = "e")]
    pub expires: i64,
    /// For a multipart upload: the bucket's upload id and the part size.
    #[serde(rename = "m", default, skip_serializing_if = "Option::is_none")]
    pub multipart: Option<Multipart>,
}

/// What a multipart receipt adds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Multipart {
    #[serde(rename = "i")]
    pub upload_id: String,
    #[serde(rename = "p")]
    pub part_size: u64,
}

/// Why a receipt was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unaccepted {
    /// Not sealed by this service for receipts (forged, altered, or another kind of token).
    NotOurs,
    /// Ours, for another uploader.
    OtherUploader,
    /// Ours, too old.
    Expired,
}

/// A base64 MD5 (`Content-MD5`) in hex, as an ETag gives it.
fn md5_hex(base64: &str) -> Option<String> {
    let bytes = base64::engine::general_purpose::STANDARD.decode(base64).ok()?;
    (bytes.len() == 16).then(|| hex::encode(bytes))
}

impl Receipt {
    /// A signed form's receipt: what `spec` binds, in `directory` (`name` is `None` when the
    /// form lets the browser choose it), for `uploader`, from `now`.
    pub fn for_form(
        uploader: &UploaderId,
        directory: String,
        name: Option<String>,
        spec: &FormSpec,
        now: OffsetDateTime,
    ) -> Self {
        Self {
            uploader: uploader.as_str().to_owned(),
            directory,
            name,
            size: Self::size_of(spec.size),
            content_type: spec.content_type.clone(),
            checksum_sha256: spec.checksum_sha256.clone(),
            etag: spec.content_md5.as_deref().and_then(md5_hex),
            expires: (now + RECEIPT_LIFETIME).unix_timestamp(),
            multipart: None,
        }
    }

    /// A multipart upload's receipt: the file `name` of exactly `size` bytes of `content_type`
    /// in `directory`, the bucket's upload and the part size, for `uploader`, from `now`.
    /// (Every part carries its own checksum: the whole file has none to bind.)
    pub fn for_multipart(
        uploader: &UploaderId,
        directory: String,
        name: String,
        size: u64,
        content_type: String,
        multipart: Multipart,
        now: OffsetDateTime,
    ) -> Self {
        Self {
            uploader: uploader.as_str().to_owned(),
            directory,
            name: Some(name),
            size: (size, size),
            content_type: Some(content_type),
            checksum_sha256: None,
            etag: None,
            expires: (now + RECEIPT_LIFETIME).unix_timestamp(),
            multipart: Some(multipart),
        }
    }

    /// The key the receipt names: its directory and name (the directory alone for a form that
    /// lets the browser choose the name).
    pub fn key(&self) -> String {
        format!("{}{}", self.directory, self.name.as_deref().unwrap_or_default())
    }

    pub fn size_rule(&self) -> SizeRule {
        match self.size {
            (min, max) if min == max => SizeRule::Exact(min),
            (min, max) => SizeRule::Range { min, max },
        }
    }

    fn size_of(rule: SizeRule) -> (u64, u64) {
        match rule {
            SizeRule::Exact(n) => (n, n),
            SizeRule::Range { min, max } => (min, max),
        }
    }

    /// Whether `key` is the one this receipt was signed for (any name in its directory, when
    /// the browser chose the name).
    pub fn covers(&self, key: &str) -> bool {
        key.strip_prefix(&self.directory)
            .is_some_and(|rest| !rest.is_empty() && !rest.contains('/'))
    }

    /// A POST's receipt or a multipart upload's: sealed for different purposes.
    fn purpose(&self) -> Purpose {
        if self.multipart.is_some() {
            Purpose::Multipart
        } else {
            Purpose::Receipt
        }
    }

    /// The receipt as the browser carries it: base64url JSON, sealed (URL-safe as it is).
    pub fn seal(&self, key: &SessionKey) -> String {
        let json = serde_json::to_vec(self).expect("a receipt serializes");
        key.seal(self.purpose(), &URL_SAFE_NO_PAD.encode(json))
    }

    /// The POST receipt in `sealed`, if this service sealed it for `uploader` and it has not
    /// expired at `now`.
    pub fn open(
        key: &SessionKey,
        sealed: &str,
        uploader: &UploaderId,
        now: OffsetDateTime,
    ) -> Result<Self, Unaccepted> {
        Self::open_for(Purpose::Receipt, key, sealed, uploader, now)
    }

    /// The same for a multipart upload's receipt.
    pub fn open_multipart(
        key: &SessionKey,
        sealed: &str,
        uploader: &UploaderId,
        now: OffsetDateTime,
    ) -> Result<(Self, Multipart), Unaccepted> {
        let receipt = Self::open_for(Purpose::Multipart, key, sealed, uploader, now)?;
        let multipart = receipt.multipart.clone().ok_or(Unaccepted::NotOurs)?;
        Ok((receipt, multipart))
    }

    fn open_for(
        purpose: Purpose,
        key: &SessionKey,
        sealed: &str,
        uploader: &UploaderId,
        now: OffsetDateTime,
    ) -> Result<Self, Unaccepted> {
        if sealed.len() > MAX_RECEIPT_BYTES {
            return Err(Unaccepted::NotOurs);
        }
        let payload = key.open(purpose, sealed).ok_or(Unaccepted::NotOurs)?;
        let json = URL_SAFE_NO_PAD.decode(payload).map_err(|_| Unaccepted::NotOurs)?;
        let receipt: Receipt = serde_json::from_slice(&json).map_err(|_| Unaccepted::NotOurs)?;
        if receipt.purpose() != purpose {
            return Err(Unaccepted::NotOurs);
        }
        if receipt.uploader != uploader.as_str() {
            return Err(Unaccepted::OtherUploader);
        }
        if now.unix_timestamp() > receipt.expires {
            return Err(Unaccepted::Expired);
        }
        Ok(receipt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-29 12:00 UTC);

    fn me() -> UploaderId {
        UploaderId::parse("0123456789abcdef0123456789abcdef").unwrap()
    }

    fn receipt() -> Receipt {
        Receipt {
            uploader: me().as_str().into(),
            directory: format!("uploads/{}/abc/", me().as_str()),
            name: Some("cat.png".into()),
            size: (10, 10),
            content_type: Some("image/png".into()),
            checksum_sha256: None,
            etag: None,
            expires: (NOW + RECEIPT_LIFETIME).unix_timestamp(),
            multipart: None,
        }
    }

    #[test]
    fn a_multipart_receipt_opens_only_as_one() {
        let key = SessionKey::random();
        let multipart = Receipt {
            multipart: Some(Multipart { upload_id: "abc".into(), part_size: 8 << 20 }),
            ..receipt()
        };
        let sealed = multipart.seal(&key);
        assert_eq!(
            Receipt::open_multipart(&key, &sealed, &me(), NOW).map(|(r, _)| r),
            Ok(multipart.clone())
        );
        assert_eq!(Receipt::open(&key, &sealed, &me(), NOW), Err(Unaccepted::NotOurs));
        assert_eq!(
            Receipt::open_multipart(&key, &receipt().seal(&key), &me(), NOW),
            Err(Unaccepted::NotOurs)
        );
        let other = UploaderId::parse(&"f".repeat(32)).unwrap();
        assert_eq!(
            Receipt::open_multipart(&key, &sealed, &other, NOW),
            Err(Unaccepted::OtherUploader)
        );
    }

    #[test]
    fn a_receipt_opens_for_its_uploader_until_it_expires() {
        let key = SessionKey::random();
        let sealed = receipt().seal(&key);
        assert!(
            sealed.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)),
            "URL-safe: {sealed}"
        );
        assert_eq!(Receipt::open(&key, &sealed, &me(), NOW), Ok(receipt()));
        assert_eq!(Receipt::open(&key, &sealed, &me(), NOW + RECEIPT_LIFETIME), Ok(receipt()));
        assert_eq!(
            Receipt::open(&key, &sealed, &me(), NOW + RECEIPT_LIFETIME + Duration::SECOND),
            Err(Unaccepted::Expired)
        );
        let other = UploaderId::parse(&"f".repeat(32)).unwrap();
        assert_eq!(Receipt::open(&key, &sealed, &other, NOW), Err(Unaccepted::OtherUploader));
    }

    #[test]
    fn forged_and_foreign_receipts_are_not_ours() {
        let key = SessionKey::random();
        let sealed = receipt().seal(&key);
        // Under another key (another deployment), or altered: a bigger size, another uploader.
        assert_eq!(
            Receipt::open(&SessionKey::random(), &sealed, &me(), NOW),
            Err(Unaccepted::NotOurs)
        );
        let (payload, mac) = sealed.rsplit_once('.').unwrap();
        let mut bigger = receipt();
        bigger.size = (10, 1 << 40);
        let forged =
            format!("{}.{mac}", URL_SAFE_NO_PAD.encode(serde_json::to_vec(&bigger).unwrap()));
        assert_eq!(Receipt::open(&key, &forged, &me(), NOW), Err(Unaccepted::NotOurs));
        assert_eq!(Receipt::open(&key, payload, &me(), NOW), Err(Unaccepted::NotOurs));
        // Another purpose's seal on the same payload (a cookie, a return token) does not open.
        for purpose in [Purpose::Cookie, Purpose::Return] {
            let other = key.seal(purpose, payload);
            assert_eq!(Receipt::open(&key, &other, &me(), NOW), Err(Unaccepted::NotOurs));
        }
        // Sealed for receipts, but not a receipt.
        assert_eq!(
            Receipt::open(&key, &key.seal(Purpose::Receipt, "bm90IGpzb24"), &me(), NOW),
            Err(Unaccepted::NotOurs)
        );
        assert_eq!(Receipt::open(&key, &"a".repeat(5000), &me(), NOW), Err(Unaccepted::NotOurs));
    }

    #[test]
    fn a_receipt_covers_one_file_in_its_directory() {
        let r = receipt();
        assert!(r.covers(&format!("{}cat.png", r.directory)));
        assert!(
            r.covers(&format!("{}dog.png", r.directory)),
            "the name is compared when confirming"
        );
        assert!(!r.covers(&r.directory));
        assert!(!r.covers(&format!("{}sub/cat.png", r.directory)));
        assert!(!r.covers(&format!("uploads/{}/abd/cat.png", me().as_str())));
    }
}
