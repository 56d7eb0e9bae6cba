//! What the server hands the browser to carry and later believes: values sealed with the session
//! key (HMAC-SHA256), each for one purpose, so that any instance holding the same key opens what
//! another sealed, and a value sealed for one purpose never opens for another.

use std::fmt;

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
    /// The no-JavaScript form's return token.
    Return,
    /// An upload receipt (see `uploads::receipt`).
    Receipt,
}

impl Purpose {
    fn label(self) -> &'static str {
        match self {
            Purpose::Cookie => "",
            Purpose::Return => "return:",
            Purpose::Receipt => "receipt:",
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
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&*self.0).expect("HMAC takes keys of any length");
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
    /// constant time).
    pub fn open<'a>(&self, purpose: Purpose, sealed: &'a str) -> Option<&'a str> {
        let (payload, signature) = sealed.rsplit_once('.')?;
        self.mac(purpose, payload).verify_slice(&hex::decode(signature).ok()?).ok()?;
        Some(payload)
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
