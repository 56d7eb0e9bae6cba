//! Tokens an application signs for its users (`UPLOAD_AUTH=token`): a JWT with `sub`, `exp`,
//! `iss` and `aud`, checked against the configured issuer and audience with 60 s of leeway. The
//! algorithm is the key's, never the token's: a token's `alg` only has to agree with it (so
//! `alg: none`, or an HS256 token "signed" with an RSA public key, is refused).

use std::sync::Arc;

use app::service::{Narrowing, User};
use app::wire::NoUser;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::Validation;
use serde::Deserialize;

use super::jwks::Jwks;
pub use super::key::VerifyingKey;

/// Clock skew allowed between the application and this service.
pub const LEEWAY_SECS: u64 = 60;

/// Where the keys come from.
pub enum Keys {
    /// One key, from a PEM file or an HS256 secret.
    Fixed(VerifyingKey),
    /// The issuer's JWKS, by `kid`.
    Set(Arc<Jwks>),
}

/// Checks tokens for one issuer and audience.
pub struct TokenVerifier {
    pub keys: Keys,
    pub issuer: String,
    pub audience: String,
}

/// The claims read; `sub`, `exp`, `iss` and `aud` are required (checked by the validation).
#[derive(Deserialize)]
struct Claims {
    sub: String,
    iss: String,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    profile: Option<String>,
    #[serde(default)]
    max_bytes: Option<u64>,
    #[serde(default)]
    files_per_minute: Option<u32>,
}

impl TokenVerifier {
    /// The user a token names, or why it names nobody.
    pub async fn verify(&self, token: &str) -> Result<User, NoUser> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| NoUser::Malformed)?;
        let key = match &self.keys {
            Keys::Fixed(key) => key.clone(),
            Keys::Set(jwks) => {
                let kid = header.kid.as_deref().ok_or(NoUser::UnknownKey)?;
                jwks.key(kid).await.ok_or(NoUser::UnknownKey)?
            }
        };
        if header.alg != key.algorithm {
            return Err(NoUser::BadSignature);
        }
        let mut validation = Validation::new(key.algorithm);
        validation.leeway = LEEWAY_SECS;
        validation.validate_nbf = true;
        validation.set_audience(&[&self.audience]);
        validation.set_issuer(&[&self.issuer]);
        validation.set_required_spec_claims(&["sub", "exp", "iss", "aud"]);
        let claims = jsonwebtoken::decode::<Claims>(token, &key.key, &validation)
            .map_err(|err| refusal(err.kind()))?
            .claims;
        if claims.sub.is_empty()
            || claims.sub.len() > 256
            || claims.sub.chars().any(char::is_control)
        {
            return Err(NoUser::Malformed);
        }
        let roles = super::roles::bounded(claims.roles.iter().map(String::as_str))?;
        Ok(User {
            issuer: claims.iss,
            subject: claims.sub,
            roles,
            narrowing: Narrowing {
                profile: claims.profile,
                max_bytes: claims.max_bytes,
                files_per_minute: claims.files_per_minute,
            },
        })
    }
}

fn refusal(kind: &ErrorKind) -> NoUser {
    match kind {
        ErrorKind::ExpiredSignature => NoUser::Expired,
        ErrorKind::ImmatureSignature => NoUser::NotYetValid,
        ErrorKind::InvalidAudience => NoUser::WrongAudience,
        ErrorKind::InvalidIssuer => NoUser::WrongIssuer,
        ErrorKind::InvalidSignature | ErrorKind::InvalidAlgorithm => NoUser::BadSignature,
        _ => NoUser::Malformed,
    }
}
