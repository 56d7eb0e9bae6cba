//! What the server hands the browser to carry and later believes: values sealed with the session
//! key (HMAC-SHA256), each for one purpose, so that any instance holding the same key opens what
//! another sealed, and a value sealed for one purpose never opens for another.

use std::fmt;

use app::service::UploaderId;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

/// What a sealed value is for. The purpose is MACed before the value; every payload that is
/// opened is first parsed (ids are hex only, receipts base64url only), so no purpose prefix
/// can make a value of one kind pass for another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// The uploader cookie. Empty, as it was before other purposes existed, so cookies
    /// already handed out stay valid.
    Cookie,
    /// The no-JavaScript form's return token ([`ReturnPass`]).
    Return,
    /// An upload receipt (see `uploads::receipt`).
    Receipt,
    /// A multipart upload's receipt: carried to every call for that upload, and never taken
    /// for a POST's receipt (or the other way round).
    Multipart,
    /// A signed-in user's session cookie (`auth::session`).
    Session,
}

impl Purpose {
    fn label(self) -> &'static str {
        match self {
            Purpose::Cookie => "",
            Purpose::Return => "return:",
            Purpose::Receipt => "receipt:",
            Purpose::Multipart => "multipart:",
            Purpose::Session => "session:",
        }
    }
}

/// The key uploader cookies, return tokens and receipts are sealed with: `UPLOAD_SESSION_SECRET`,
/// the same on every instance. Zeroized on drop, never printed, never put in a shared store.
pub struct SessionKey(Zeroizing<[u8; 32]>);

impl SessionKey {
    /// From 64 hex digits.
    pub fn from_hex(hex_key: &str) -> Option<Self> {
        let bytes = Zeroizing::new(hex::decode(hex_key).ok()?);
        let key: [u8; 32] = bytes.as_slice().try_into().ok()?;
        Some(Self(Zeroizing::new(key)))
    }

    /// A key of this process only (sealed values then end with it).
    pub fn random() -> Self {
        let mut key = Zeroizing::new([0u8; 32]);
        key[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        key[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        Self(key)
    }

    fn mac(&self, purpose: Purpose, payload: &str) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&*self.0)
            .expect("HMAC takes keys of any length");
        mac.update(purpose.label().as_bytes());
        mac.update(payload.as_bytes());
        mac
    }

    /// `<payload>.<hex HMAC of purpose and payload>`. The payload must not contain `.`'s
    /// meaning to change: the MAC is split off at the last `.`.
    pub fn seal(&self, purpose: Purpose, payload: &str) -> String {
        format!("{payload}.{}", hex::encode(self.mac(purpose, payload).finalize().into_bytes()))
    }

    /// The payload of `sealed`, if it was sealed for `purpose` under this key (checked in
    /// constant time), written exactly as [`SessionKey::seal`] writes it: lowercase hex only,
    /// so that no sealed value has a second spelling (found by the receipts' fuzz target).
    pub fn open<'a>(&self, purpose: Purpose, sealed: &'a str) -> Option<&'a str> {
        let (payload, signature) = sealed.rsplit_once('.')?;
        if !signature.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return None;
        }
        self.mac(purpose, payload).verify_slice(&hex::decode(signature).ok()?).ok()?;
        Some(payload)
    }
}

/// The no-JavaScript form's return token: on the page the bucket redirects to, it names the
/// uploader (the redirect from another site comes without the SameSite=Strict cookie), for the
/// one upload directory of its form, until it expires. It is a bearer credential in a URL, so
/// it is worth little: one upload's verdict, for an hour or so.
#[derive(Clone, PartialEq, Eq)]
pub struct ReturnPass {
    pub uploader: UploaderId,
    /// The form's directory, `uploads/<uploader>/<id>/`.
    pub directory: String,
    /// Unix seconds after which it names nobody.
    pub expires: i64,
}

impl fmt::Debug for ReturnPass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReturnPass")
            .field("directory", &self.directory)
            .field("expires", &self.expires)
            .finish_non_exhaustive()
    }
}

impl ReturnPass {
    /// URL-safe: base64url and hex.
    pub fn seal(&self, key: &SessionKey) -> String {
        let payload = format!("{}:{}:{}", self.uploader.as_str(), self.expires, self.directory);
        key.seal(Purpose::Return, &URL_SAFE_NO_PAD.encode(payload))
    }

    /// The pass in `token`, if this service sealed it and it has not expired at `now` (unix
    /// seconds).
    pub fn open(key: &SessionKey, token: &str, now: i64) -> Option<Self> {
        let payload = URL_SAFE_NO_PAD.decode(key.open(Purpose::Return, token)?).ok()?;
        let payload = String::from_utf8(payload).ok()?;
        let mut parts = payload.splitn(3, ':');
        let uploader = UploaderId::parse(parts.next()?)?;
        let expires: i64 = parts.next()?.parse().ok()?;
        let directory = parts.next()?.to_owned();
        let mine = directory
            .strip_prefix("uploads/")
            .and_then(|rest| rest.strip_prefix(uploader.as_str()))
            .is_some_and(|rest| rest.starts_with('/'));
        (now <= expires && mine).then_some(Self { uploader, directory, expires })
    }
}

impl fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_value_opens_only_under_its_key_and_purpose() {
        let key = SessionKey::random();
        let sealed = key.seal(Purpose::Receipt, "payload");
        assert_eq!(key.open(Purpose::Receipt, &sealed), Some("payload"));
        assert_eq!(SessionKey::random().open(Purpose::Receipt, &sealed), None);
        assert_eq!(key.open(Purpose::Cookie, &sealed), None);
        assert_eq!(key.open(Purpose::Return, &sealed), None);
        assert_eq!(key.open(Purpose::Receipt, &sealed.replacen("pay", "Pay", 1)), None);
        assert_eq!(key.open(Purpose::Receipt, "payload"), None);
        // One spelling only: the same MAC in uppercase hex is not the sealed value.
        let (payload, mac) = sealed.rsplit_once('.').unwrap();
        let shouted = format!("{payload}.{}", mac.to_ascii_uppercase());
        assert_ne!(shouted, sealed);
        assert_eq!(key.open(Purpose::Receipt, &shouted), None);
    }

    #[test]
    fn a_return_pass_names_its_uploader_and_directory_until_it_expires() {
        let key = SessionKey::random();
        let uploader = UploaderId::parse("0123456789abcdef0123456789abcdef").unwrap();
        let pass = ReturnPass {
            uploader: uploader.clone(),
            directory: format!("uploads/{}/d1/", uploader.as_str()),
            expires: 1000,
        };
        let token = pass.seal(&key);
        assert!(token.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)), "{token}");
        assert_eq!(ReturnPass::open(&key, &token, 1000), Some(pass.clone()));
        assert_eq!(ReturnPass::open(&key, &token, 1001), None, "expired");
        assert_eq!(ReturnPass::open(&SessionKey::random(), &token, 0), None);
        // The old kind of token (the id alone) and a cookie value name nobody.
        assert_eq!(ReturnPass::open(&key, &key.seal(Purpose::Return, uploader.as_str()), 0), None);
        assert_eq!(ReturnPass::open(&key, &key.seal(Purpose::Cookie, uploader.as_str()), 0), None);
        // A directory outside the uploader's prefix is never named, even when sealed.
        let other =
            ReturnPass { directory: "uploads/ffffffffffffffffffffffffffffffff/d/".into(), ..pass };
        assert_eq!(ReturnPass::open(&key, &other.seal(&key), 0), None);
        assert!(!format!("{other:?}").contains(uploader.as_str()));
    }

    #[test]
    fn the_key_is_32_bytes_of_hex_and_never_printed() {
        let key = SessionKey::from_hex(&"ab".repeat(32)).unwrap();
        assert_eq!(&key.0[..], &[0xab; 32][..]);
        assert!(SessionKey::from_hex(&"ab".repeat(31)).is_none());
        assert!(SessionKey::from_hex("not hex").is_none());
        assert_eq!(format!("{key:?}"), "SessionKey(<redacted>)");
    }
}
