//! The token issuer's public keys, from its JWKS URL (`UPLOAD_TOKEN_JWKS_URL`): fetched when a
//! token names a key id not yet known (at most once a `min_refresh`, a minute, so a flood of
//! made-up ids costs the issuer one request a minute), and in the background when the set in
//! use is older than [`MAX_AGE`] (keys are revoked by leaving it). A failed fetch keeps the keys
//! already known: tokens signed with them go on working while the issuer's host is down.
//!
//! A token whose key is known never waits for a fetch. Fetches run one at a time on tasks of
//! their own, so a caller that hangs up mid-fetch does not cancel it (which would spend the
//! minute's fetch for nothing, and could keep the set from ever refreshing).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk};
use jsonwebtoken::{Algorithm, DecodingKey};
use tokio::sync::Mutex;

use super::key::VerifyingKey;

/// A known set is fetched again, in the background, once it is this old and used.
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
    /// The keys known, and when they were fetched: read by every token, never held across a
    /// fetch.
    known: RwLock<Known>,
    /// One fetch at a time: when the last one was started.
    gate: Mutex<Option<Instant>>,
}

#[derive(Default)]
struct Known {
    keys: HashMap<String, VerifyingKey>,
    fetched: Option<Instant>,
}

impl Jwks {
    pub fn new(url: reqwest::Url, min_refresh: Duration) -> Self {
        let client = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a client with a timeout builds");
        Self {
            url,
            client,
            min_refresh,
            known: RwLock::new(Known::default()),
            gate: Mutex::new(None),
        }
    }

    /// The key with id `kid`, and whether the set it came from is due for a refresh.
    fn lookup(&self, kid: &str) -> (Option<VerifyingKey>, bool) {
        let known = self.known.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        let stale = known.fetched.is_none_or(|at| at.elapsed() >= MAX_AGE);
        (known.keys.get(kid).cloned(), stale)
    }

    fn may_fetch(&self, last: Option<Instant>) -> bool {
        last.is_none_or(|at| at.elapsed() >= self.min_refresh)
    }

    /// The key with id `kid`: at once when it is known; otherwise after a fetch, if one may
    /// be made now.
    pub async fn key(self: &Arc<Self>, kid: &str) -> Option<VerifyingKey> {
        if let (Some(key), stale) = self.lookup(kid) {
            if stale {
                self.refresh_in_background();
            }
            return Some(key);
        }
        let mut last = self.gate.lock().await;
        // A fetch that finished while this one waited may have brought it.
        if let (Some(key), _) = self.lookup(kid) {
            return Some(key);
        }
        if !self.may_fetch(*last) {
            return None;
        }
        *last = Some(Instant::now());
        let _ = tokio::spawn(Arc::clone(self).fetch_and_keep()).await;
        drop(last);
        self.lookup(kid).0
    }

    fn refresh_in_background(self: &Arc<Self>) {
        let Ok(mut last) = self.gate.try_lock() else { return };
        if self.may_fetch(*last) {
            *last = Some(Instant::now());
            tokio::spawn(Arc::clone(self).fetch_and_keep());
        }
    }

    async fn fetch_and_keep(self: Arc<Self>) {
        // The host only: a URL may carry credentials.
        let host = self.url.host_str().unwrap_or_default().to_owned();
        match self.fetch().await {
            Ok(keys) => {
                tracing::info!(event = "jwks_fetched", host, keys = keys.len());
                let mut known =
                    self.known.write().unwrap_or_else(std::sync::PoisonError::into_inner);
                *known = Known { keys, fetched: Some(Instant::now()) };
            }
            Err(err) => {
                let known = self.known.read().map_or(0, |known| known.keys.len());
                tracing::warn!(event = "jwks_unavailable", host, known, error = %err);
            }
        }
    }

    async fn fetch(&self) -> Result<HashMap<String, VerifyingKey>, String> {
        let mut response = self
            .client
            .get(self.url.clone())
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|err| err.without_url().to_string())?;
        let mut body = Vec::new();
        while let Some(chunk) =
            response.chunk().await.map_err(|err| err.without_url().to_string())?
        {
            if body.len() + chunk.len() > MAX_BYTES {
                return Err("the JWKS is too large".into());
            }
            body.extend_from_slice(&chunk);
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
