//! A key tokens are checked with, and the one algorithm it verifies: fixed by the key's type
//! when it is read, never taken from a token.

use jsonwebtoken::{Algorithm, DecodingKey};

/// A key and the one algorithm it verifies.
#[derive(Clone)]
pub struct VerifyingKey {
    pub key: DecodingKey,
    pub algorithm: Algorithm,
}

impl VerifyingKey {
    /// A public key in PEM (EdDSA, ES256 or RS256, told apart by the key itself).
    pub fn from_pem(pem: &[u8]) -> Result<Self, String> {
        type Parse = fn(&[u8]) -> jsonwebtoken::errors::Result<DecodingKey>;
        let tries: [(Parse, Algorithm); 3] = [
            (DecodingKey::from_ed_pem, Algorithm::EdDSA),
            (DecodingKey::from_ec_pem, Algorithm::ES256),
            (DecodingKey::from_rsa_pem, Algorithm::RS256),
        ];
        let key = tries
            .into_iter()
            .find_map(|(parse, algorithm)| parse(pem).ok().map(|key| Self { key, algorithm }))
            .ok_or_else(|| "expected a PEM public key: Ed25519, P-256 or RSA".to_owned())?;
        // An EC key of another curve (P-384...) would parse, and then refuse every token.
        if key.algorithm == Algorithm::ES256 && !names_p256(pem) {
            return Err("expected an EC key on the P-256 curve (ES256)".into());
        }
        Ok(key)
    }

    /// A shared secret for HS256 (at least 32 bytes: RFC 7518 asks for the hash's size).
    pub fn hs256(secret: &[u8]) -> Result<Self, String> {
        if secret.len() < 32 {
            return Err("expected at least 32 bytes of secret".into());
        }
        let key = DecodingKey::from_secret(secret).map_err(|err| err.to_string())?;
        Ok(Self { key, algorithm: Algorithm::HS256 })
    }
}

/// Whether a PEM's key names the P-256 curve (its OID, 1.2.840.10045.3.1.7, in the DER).
fn names_p256(pem: &[u8]) -> bool {
    use base64::Engine;
    const P256: [u8; 10] = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    let text = String::from_utf8_lossy(pem);
    let body: String =
        text.lines().filter(|line| !line.starts_with("-----")).map(str::trim).collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .is_ok_and(|der| der.windows(P256.len()).any(|window| window == P256))
}
