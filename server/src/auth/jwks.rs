//! The token issuer's public keys, from its JWKS URL (`UPLOAD_TOKEN_JWKS_URL`): fetched when a
//! token names a key id not yet known (at most once a [`Jwks::min_refresh`], so a flood of
//! made-up ids costs the issuer one request a minute), and again when the set is older than
//! [`MAX_AGE`] and in use. A failed fetch keeps the keys already known: tokens signed with
//! them go on working while the issuer's host is down.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk};
use jsonwebtoken::{Algorithm, DecodingKey};
use tokio::sync::Mutex;

use super::key::VerifyingKey;

/// A known set is fetched again, when used, after this long (keys are revoked by leaving it).
pub const MAX_AGE: Duration = Duration::from_secs(3600);
/// How long one fetch may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest JWKS document read.
const MAX_BYTES: usize = 256 * 1024;

pub struct Jwks {
    url: reqwest::Url,
    client: reqwest::Client,
    /// At most one fetch per this long (one minute; shorter in tests).
    min_refresh: Duration,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    keys: HashMap<String, VerifyingKey>,
    /// When the set in `keys` was fetched.
    fetched: Option<Instant>,
    /// When a fetch was last tried, whatever came of it.
    tried: Option<Instant>,
}

impl Jwks {
    pub fn new(url: reqwest::Url, min_refresh: Duration) -> Self {
        let client = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a client with a timeout builds");
        Self { url, client, min_refresh, state: Mutex::new(State::default()) }
    }

    /// The key with id `kid`, fetching the set again if it is unknown or old (within the
    /// refresh limit).
    pub async fn key(&self, kid: &str) -> Option<VerifyingKey> {
        let mut state = self.state.lock().await;
        let known = state.keys.get(kid).cloned();
        let stale = state.fetched.is_none_or(|at| at.elapsed() >= MAX_AGE);
        let may_fetch = state.tried.is_none_or(|at| at.elapsed() >= self.min_refresh);
        if (known.is_none() || stale) && may_fetch {
            state.tried = Some(Instant::now());
            match self.fetch().await {
                Ok(keys) => {
                    tracing::info!(event = "jwks_fetched", url = %self.url, keys = keys.len());
                    state.keys = keys;
                    state.fetched = Some(Instant::now());
                }
                Err(err) => {
                    tracing::warn!(event = "jwks_unavailable", url = %self.url, known = state.keys.len(), error = %err);
                }
            }
            return state.keys.get(kid).cloned();
        }
        known
    }

    async fn fetch(&self) -> Result<HashMap<String, VerifyingKey>, String> {
        let response = self
            .client
            .get(self.url.clone())
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|err| err.without_url().to_string())?;
        if response.content_length().is_some_and(|len| len > MAX_BYTES as u64) {
            return Err("the JWKS is too large".into());
        }
        let body = response.bytes().await.map_err(|err| err.without_url().to_string())?;
        if body.len() > MAX_BYTES {
            return Err("the JWKS is too large".into());
        }
        parse(&body)
    }
}

/// The usable keys of a JWKS document, by id. Keys of other kinds (or without an id) are
/// skipped rather than failing the set: an issuer may publish keys for other uses.
pub fn parse(body: &[u8]) -> Result<HashMap<String, VerifyingKey>, String> {
    #[derive(serde::Deserialize)]
    struct Document {
        keys: Vec<serde_json::Value>,
    }
    let document: Document =
        serde_json::from_slice(body).map_err(|err| format!("not a JWKS: {err}"))?;
    Ok(document
        .keys
        .into_iter()
        .filter_map(|value| serde_json::from_value::<Jwk>(value).ok())
        .filter_map(|jwk| Some((jwk.common.key_id.clone()?, verifying_key(&jwk)?)))
        .collect())
}

/// The algorithm is the key's type's: Ed25519 EdDSA, P-256 ES256, RSA RS256. Symmetric keys
/// are never taken from a JWKS. A key whose own `alg` says otherwise is skipped.
fn verifying_key(jwk: &Jwk) -> Option<VerifyingKey> {
    let algorithm = match &jwk.algorithm {
        AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519 => {
            Algorithm::EdDSA
        }
        AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P256 => Algorithm::ES256,
        AlgorithmParameters::RSA(_) => Algorithm::RS256,
        _ => return None,
    };
    if let Some(declared) = &jwk.common.key_algorithm {
        if format!("{declared:?}") != format!("{algorithm:?}") {
            return None;
        }
    }
    let key = DecodingKey::from_jwk(jwk).ok()?;
    Some(VerifyingKey { key, algorithm })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_asymmetric_keys_with_ids_are_taken() {
        let body = br#"{"keys":[
            {"kty":"OKP","crv":"Ed25519","kid":"ed","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
            {"kty":"oct","kid":"secret","k":"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"},
            {"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
            {"kty":"OKP","crv":"Ed25519","kid":"mislabelled","alg":"RS256","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
            {"kty":"XYZ","kid":"odd"}
        ]}"#;
        let keys = parse(body).unwrap();
        assert_eq!(keys.keys().collect::<Vec<_>>(), ["ed"]);
        assert_eq!(keys["ed"].algorithm, Algorithm::EdDSA);
        assert!(parse(b"<html>").is_err());
    }
}
