//! Who uploads (`UPLOAD_AUTH`): read and checked at start, with a message naming what is
//! missing for the chosen mode.

use std::sync::Arc;
use std::time::Duration;

use http::HeaderName;

use super::read::{invalid, missing, number, ConfigError, Lookup};
use super::settings::Setting;
use crate::auth::jwks::Jwks;
use crate::auth::proxy::ProxyAuth;
use crate::auth::token::{Keys, TokenVerifier, VerifyingKey};
use crate::auth::{Auth, Mode};
use crate::edge::client::TrustedProxies;

/// How often a JWKS may be fetched for an unknown key id.
const JWKS_MIN_REFRESH: Duration = Duration::from_secs(60);

/// The identity settings.
pub fn auth(get: &impl Lookup) -> Result<Auth, ConfigError> {
    let mode = match get(Setting::Auth).as_deref() {
        None | Some("anonymous") => Mode::Anonymous,
        Some("token") => Mode::Token(token(get)?),
        Some("proxy") => Mode::Proxy(proxy(get)?),
        Some(other) => {
            return Err(invalid(
                Setting::Auth,
                format!("expected anonymous, token or proxy, got {other:?}"),
            ))
        }
    };
    let sign_in_url = match get(Setting::SignInUrl) {
        None => None,
        Some(url) => match reqwest::Url::parse(&url) {
            Ok(parsed) if matches!(parsed.scheme(), "https" | "http") => Some(url),
            _ => {
                return Err(invalid(
                    Setting::SignInUrl,
                    format!("expected an http(s) URL, got {url:?}"),
                ))
            }
        },
    };
    let ttl = number(
        get,
        Setting::SessionTtlSecs,
        8 * 3600,
        60..=7 * 24 * 3600,
        "whole seconds from 60 to 604800",
    )?;
    Ok(Auth {
        mode,
        sign_in_url,
        session_ttl: Duration::from_secs(ttl),
        admin_role: get(Setting::AdminRole),
    })
}

/// Whether `url` names this machine (`localhost`, `127.0.0.0/8`, `::1`).
fn is_loopback(url: &reqwest::Url) -> bool {
    let host = url.host_str().unwrap_or_default();
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost" || bare.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn token(get: &impl Lookup) -> Result<TokenVerifier, ConfigError> {
    const KEYS: &str = "UPLOAD_AUTH=token needs the keys tokens are checked with: \
                        UPLOAD_TOKEN_JWKS_URL, UPLOAD_TOKEN_PUBLIC_KEY_FILE or \
                        UPLOAD_TOKEN_HS256_SECRET (one of them)";
    let given = [Setting::TokenJwksUrl, Setting::TokenPublicKeyFile, Setting::TokenHs256Secret]
        .into_iter()
        .filter(|setting| get(*setting).is_some())
        .collect::<Vec<_>>();
    let keys = match given.as_slice() {
        [] => return Err(missing(Setting::TokenJwksUrl, KEYS)),
        [Setting::TokenJwksUrl] => {
            let raw = get(Setting::TokenJwksUrl).unwrap_or_default();
            // Over plain http anyone on the way could serve their own keys and mint any user:
            // https, but for an issuer on this machine.
            let url = reqwest::Url::parse(&raw)
                .ok()
                .filter(|url| {
                    url.scheme() == "https" || (url.scheme() == "http" && is_loopback(url))
                })
                .ok_or_else(|| {
                    let expected = "expected an https URL (http only on loopback)";
                    invalid(Setting::TokenJwksUrl, format!("{expected}, got {raw:?}"))
                })?;
            Keys::Set(Arc::new(Jwks::new(url, JWKS_MIN_REFRESH)))
        }
        [Setting::TokenPublicKeyFile] => {
            let path = get(Setting::TokenPublicKeyFile).unwrap_or_default();
            let pem = std::fs::read(&path).map_err(|err| {
                invalid(Setting::TokenPublicKeyFile, format!("cannot read {path:?}: {err}"))
            })?;
            Keys::Fixed(
                VerifyingKey::from_pem(&pem)
                    .map_err(|reason| invalid(Setting::TokenPublicKeyFile, reason))?,
            )
        }
        [Setting::TokenHs256Secret] => {
            let secret = get(Setting::TokenHs256Secret).unwrap_or_default();
            Keys::Fixed(
                VerifyingKey::hs256(secret.as_bytes())
                    .map_err(|reason| invalid(Setting::TokenHs256Secret, reason))?,
            )
        }
        _ => {
            return Err(invalid(
                given[1],
                format!(
                    "set only one of {}",
                    given.iter().map(|s| s.variable()).collect::<Vec<_>>().join(", ")
                ),
            ))
        }
    };
    let audience = get(Setting::TokenAudience).ok_or_else(|| {
        missing(Setting::TokenAudience, "UPLOAD_AUTH=token needs the audience (`aud`) tokens are for: this service's name at the application")
    })?;
    let issuer = get(Setting::TokenIssuer).ok_or_else(|| {
        missing(
            Setting::TokenIssuer,
            "UPLOAD_AUTH=token needs the issuer (`iss`) of the tokens: the application's name",
        )
    })?;
    Ok(TokenVerifier { keys, issuer, audience })
}

fn proxy(get: &impl Lookup) -> Result<ProxyAuth, ConfigError> {
    let header_named = |setting: Setting| -> Result<Option<HeaderName>, ConfigError> {
        get(setting)
            .map(|name| {
                HeaderName::from_bytes(name.trim().as_bytes())
                    .map_err(|_| invalid(setting, format!("expected a header name, got {name:?}")))
            })
            .transpose()
    };
    let header = header_named(Setting::AuthHeader)?.ok_or_else(|| {
        missing(Setting::AuthHeader, "UPLOAD_AUTH=proxy needs the header the proxy names the user in (e.g. X-Auth-Request-User)")
    })?;
    // Its own list, not the balancers' (UPLOAD_TRUSTED_PROXIES, often a whole network): a hop
    // that only forwards would pass a client's header on, and the client would choose its user.
    let proxies = match get(Setting::AuthProxies) {
        Some(list) => {
            TrustedProxies::parse(&list).map_err(|reason| invalid(Setting::AuthProxies, reason))?
        }
        None => TrustedProxies::default(),
    };
    if proxies == TrustedProxies::default() {
        return Err(missing(
            Setting::AuthProxies,
            "UPLOAD_AUTH=proxy needs the authenticating proxy's addresses (CIDRs), the only \
             ones whose user header is believed",
        ));
    }
    Ok(ProxyAuth { header, roles_header: header_named(Setting::AuthRolesHeader)?, proxies })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::table;

    fn error(pairs: &[(&str, &str)]) -> String {
        match auth(&table(pairs)) {
            Ok(_) => panic!("{pairs:?} was accepted"),
            Err(err) => err.to_string(),
        }
    }

    #[test]
    fn each_mode_names_what_it_misses() {
        assert!(matches!(auth(&table(&[])).unwrap().mode, Mode::Anonymous));
        assert!(error(&[("UPLOAD_AUTH", "oidc")]).contains("expected anonymous, token or proxy"));
        let keys = error(&[("UPLOAD_AUTH", "token")]);
        assert!(keys.contains("UPLOAD_TOKEN_HS256_SECRET"), "{keys}");
        let secret = ("UPLOAD_TOKEN_HS256_SECRET", "0123456789abcdef0123456789abcdef");
        assert!(error(&[("UPLOAD_AUTH", "token"), secret]).contains("UPLOAD_TOKEN_AUDIENCE"));
        let aud = ("UPLOAD_TOKEN_AUDIENCE", "uploads");
        assert!(error(&[("UPLOAD_AUTH", "token"), secret, aud]).contains("UPLOAD_TOKEN_ISSUER"));
        let iss = ("UPLOAD_TOKEN_ISSUER", "https://app.example");
        assert!(auth(&table(&[("UPLOAD_AUTH", "token"), secret, aud, iss])).is_ok());
        let short = ("UPLOAD_TOKEN_HS256_SECRET", "short");
        assert!(error(&[("UPLOAD_AUTH", "token"), short, aud, iss]).contains("at least 32 bytes"));
        let jwks = ("UPLOAD_TOKEN_JWKS_URL", "https://app.example/jwks.json");
        let both = error(&[("UPLOAD_AUTH", "token"), secret, jwks, aud, iss]);
        assert!(both.contains("set only one of"), "{both}");
        assert!(auth(&table(&[("UPLOAD_AUTH", "token"), jwks, aud, iss])).is_ok());
        // Plain http only for an issuer on this machine.
        let local = ("UPLOAD_TOKEN_JWKS_URL", "http://127.0.0.1:8080/jwks.json");
        assert!(auth(&table(&[("UPLOAD_AUTH", "token"), local, aud, iss])).is_ok());
        let plain = ("UPLOAD_TOKEN_JWKS_URL", "http://app.example/jwks.json");
        assert!(error(&[("UPLOAD_AUTH", "token"), plain, aud, iss]).contains("https URL"));
        let pem = ("UPLOAD_TOKEN_PUBLIC_KEY_FILE", "/nonexistent.pem");
        assert!(error(&[("UPLOAD_AUTH", "token"), pem, aud, iss]).contains("cannot read"));

        assert!(error(&[("UPLOAD_AUTH", "proxy")]).contains("UPLOAD_AUTH_HEADER"));
        let header = ("UPLOAD_AUTH_HEADER", "X-Auth-Request-User");
        // The balancers' list is not the proxy's.
        let balancers = ("UPLOAD_TRUSTED_PROXIES", "10.0.0.0/8");
        let unnamed = error(&[("UPLOAD_AUTH", "proxy"), header, balancers]);
        assert!(unnamed.contains("UPLOAD_AUTH_PROXIES"), "{unnamed}");
        let proxy = ("UPLOAD_AUTH_PROXIES", "127.0.0.2");
        assert!(auth(&table(&[("UPLOAD_AUTH", "proxy"), header, proxy])).is_ok());
    }
}
