//! Standard Webhooks signatures: `v1,` and the base64 HMAC-SHA256, under a `whsec_` secret, of
//! `<webhook-id>.<webhook-timestamp>.<body>`. During a rotation several secrets are configured:
//! each signs, and every signature goes in the one header, so a receiver holding either verifies.
//! Pure.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

/// The prefix of a Standard Webhooks secret.
const PREFIX: &str = "whsec_";
/// The lengths the standard allows a secret's key, in bytes.
const KEY_BYTES: std::ops::RangeInclusive<usize> = 24..=64;

/// One secret's key. Its `Debug` shows nothing of it.
pub struct Secret(Zeroizing<Vec<u8>>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

impl Secret {
    /// A `whsec_<base64>` secret; the error says what is wrong without repeating it.
    pub fn parse(text: &str) -> Result<Self, String> {
        let encoded = text.strip_prefix(PREFIX).ok_or("a secret starts with whsec_")?;
        let key = Zeroizing::new(
            STANDARD.decode(encoded).map_err(|_| "after whsec_, a secret is base64".to_owned())?,
        );
        if !KEY_BYTES.contains(&key.len()) {
            return Err(format!(
                "a secret's key is 24 to 64 bytes (whsec_ and 32 random bytes in base64, e.g. \
                 whsec_$(openssl rand -base64 32)), this one has {}",
                key.len()
            ));
        }
        Ok(Self(key))
    }

    fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

/// The secrets of one endpoint: one, or several (space-separated) during a rotation.
#[derive(Debug)]
pub struct Secrets(Vec<Secret>);

impl Secrets {
    /// From `UPLOAD_WEBHOOK_SECRET`: secrets separated by spaces.
    pub fn parse(text: &str) -> Result<Self, String> {
        let secrets = text
            .split_whitespace()
            .enumerate()
            .map(|(i, s)| Secret::parse(s).map_err(|e| format!("secret {}: {e}", i + 1)))
            .collect::<Result<Vec<_>, _>>()?;
        if secrets.is_empty() {
            return Err("no secret".into());
        }
        Ok(Self(secrets))
    }

    /// The `webhook-signature` header's value: a signature by each secret, space-separated.
    pub fn signature(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let signatures: Vec<String> = self.0.iter().map(|s| s.sign(id, timestamp, body)).collect();
        signatures.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The Standard Webhooks libraries' own test vector (their tests' secret, id, timestamp,
    // payload and signature).
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TIMESTAMP: i64 = 1_614_265_330;
    const PAYLOAD: &[u8] = br#"{"test": 2432232314}"#;
    const SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    #[test]
    fn signs_as_the_standards_libraries_do() {
        let secrets = Secrets::parse(SECRET).unwrap();
        assert_eq!(secrets.signature(ID, TIMESTAMP, PAYLOAD), SIGNATURE);
        assert_ne!(secrets.signature(ID, TIMESTAMP + 1, PAYLOAD), SIGNATURE);
    }

    #[test]
    fn during_a_rotation_every_secret_signs() {
        let new = "whsec_".to_owned() + &STANDARD.encode([7u8; 32]);
        let both = Secrets::parse(&format!("{SECRET}  {new}")).unwrap();
        let header = both.signature(ID, TIMESTAMP, PAYLOAD);
        let parts: Vec<&str> = header.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0], SIGNATURE);
        assert_eq!(parts[1], Secrets::parse(&new).unwrap().signature(ID, TIMESTAMP, PAYLOAD));
    }

    #[test]
    fn a_bad_secret_is_refused_without_being_repeated() {
        for bad in ["", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_!!", "whsec_c2hvcnQ="] {
            let err = Secrets::parse(bad).unwrap_err();
            assert!(bad.len() < 8 || !err.contains(&bad[6..]), "{err}");
        }
        assert!(Secrets::parse(&format!("{SECRET} whsec_c2hvcnQ="))
            .unwrap_err()
            .starts_with("secret 2:"));
        assert_eq!(format!("{:?}", Secrets::parse(SECRET).unwrap()), "Secrets([Secret(..)])");
    }
}
