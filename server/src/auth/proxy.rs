//! A user named by the authenticating proxy in front (`UPLOAD_AUTH=proxy`: oauth2-proxy, nginx
//! `auth_request`, an ingress): its header is believed from its addresses only
//! (`UPLOAD_AUTH_PROXIES`). From anyone else the header is a forgery attempt (or a proxy that
//! was bypassed), refused, never ignored: ignoring it would hide the bypass.

use std::net::IpAddr;

use app::service::{Narrowing, User};
use app::wire::NoUser;
use http::{HeaderMap, HeaderName};

use crate::edge::client::TrustedProxies;

/// The issuer proxy users are derived under (their ids never meet a token issuer's).
pub const PROXY_ISSUER: &str = "proxy";

pub struct ProxyAuth {
    /// `UPLOAD_AUTH_HEADER`: the user's name.
    pub header: HeaderName,
    /// `UPLOAD_AUTH_ROLES_HEADER`: their roles, comma-separated.
    pub roles_header: Option<HeaderName>,
    /// `UPLOAD_AUTH_PROXIES` (default `UPLOAD_TRUSTED_PROXIES`).
    pub proxies: TrustedProxies,
}

impl ProxyAuth {
    /// The user the proxy names; `Ok(None)` when the header is absent.
    pub fn user(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> Result<Option<User>, NoUser> {
        let mut values = headers.get_all(&self.header).iter();
        let Some(value) = values.next() else { return Ok(None) };
        if !peer.is_some_and(|peer| self.proxies.trusts(peer)) {
            return Err(NoUser::UntrustedProxy);
        }
        // Two values: the proxy appended instead of replacing what the client sent.
        if values.next().is_some() {
            return Err(NoUser::Malformed);
        }
        let subject = value.to_str().map_err(|_| NoUser::Malformed)?.trim();
        if subject.is_empty() || subject.len() > 256 {
            return Err(NoUser::Malformed);
        }
        // The roles header likewise: a second value is one the proxy let the client keep.
        let roles = match &self.roles_header {
            None => Vec::new(),
            Some(name) => {
                let mut values = headers.get_all(name).iter();
                let first = values.next();
                if values.next().is_some() {
                    return Err(NoUser::Malformed);
                }
                let list = first.map(|v| v.to_str().map_err(|_| NoUser::Malformed)).transpose()?;
                super::roles::bounded(list.unwrap_or_default().split(','))?
            }
        };
        Ok(Some(User {
            issuer: PROXY_ISSUER.into(),
            subject: subject.to_owned(),
            roles,
            narrowing: Narrowing::default(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxy() -> ProxyAuth {
        ProxyAuth {
            header: HeaderName::from_static("x-auth-request-user"),
            roles_header: Some(HeaderName::from_static("x-auth-request-groups")),
            proxies: TrustedProxies::parse("10.0.0.0/8").unwrap(),
        }
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn the_header_is_believed_from_the_proxy_only() {
        let proxy = proxy();
        let named = headers(&[("x-auth-request-user", "ada"), ("x-auth-request-groups", "a, b")]);
        let from_proxy = Some("10.1.2.3".parse().unwrap());
        let user = proxy.user(from_proxy, &named).unwrap().unwrap();
        assert_eq!((user.issuer.as_str(), user.subject.as_str()), ("proxy", "ada"));
        assert_eq!(user.roles, ["a", "b"]);
        assert_eq!(
            proxy.user(Some("192.0.2.1".parse().unwrap()), &named),
            Err(NoUser::UntrustedProxy)
        );
        assert_eq!(proxy.user(None, &named), Err(NoUser::UntrustedProxy));
        assert_eq!(proxy.user(from_proxy, &headers(&[])), Ok(None));
        let twice = headers(&[("x-auth-request-user", "eve"), ("x-auth-request-user", "ada")]);
        assert_eq!(proxy.user(from_proxy, &twice), Err(NoUser::Malformed));
        // A roles header the client sent, kept beside the proxy's: refused, not read first.
        let kept = headers(&[
            ("x-auth-request-user", "ada"),
            ("x-auth-request-groups", "admin"),
            ("x-auth-request-groups", "uploader"),
        ]);
        assert_eq!(proxy.user(from_proxy, &kept), Err(NoUser::Malformed));
        assert_eq!(
            proxy.user(from_proxy, &headers(&[("x-auth-request-user", " ")])),
            Err(NoUser::Malformed)
        );
    }
}
