//! Who is asking: gives every browser an anonymous uploader id in a signed, HttpOnly,
//! SameSite=Lax cookie (Secure behind https), and hands it, with the client's address (and,
//! on the no-JavaScript return page, the one upload a return token names), to the server
//! functions as one [`Identity`] in the request's extensions (the server functions read it with
//! `Identity::of`). The signature stops a visitor from choosing someone else's upload prefix.
//!
//! Why Lax, settled once for every later feature: a link from another site must arrive with the
//! cookie (with Strict it did not, and the new id the server then set replaced the visitor's
//! own: "Your uploads" emptied and resuming failed). Lax never sends it with a cross-site POST,
//! which every server function is, and [`super::same_origin`] refuses those anyway; a page so
//! reached is marked [`Requester::cross_site`] and signs nothing that costs. A cookie that
//! opens is never replaced, and no cookie is set on an answer a cache may keep
//! ([`super::caching`]).

use std::sync::Arc;

use axum::{
    extract::{ConnectInfo, FromRequestParts, Request, State},
    middleware::Next,
    response::Response,
};
use cookie::{Cookie, SameSite};
use http::header::{COOKIE, SET_COOKIE};

use app::service::{Identity, Requester, UploaderId};

use super::client::TrustedProxies;
use crate::seal::{Purpose, ReturnPass, SessionKey};

pub const COOKIE_NAME: &str = "uploader";
/// The cookie's name behind https: the `__Host-` prefix makes browsers refuse it unless it was
/// set by this host, over https, for the whole site, so no other site or port can plant one.
pub const SECURE_COOKIE_NAME: &str = "__Host-uploader";

/// What the identity middleware needs: the key ids are sealed with, and whose forwarding
/// headers to believe.
pub struct Sessions {
    pub key: Arc<SessionKey>,
    pub proxies: TrustedProxies,
}

impl Sessions {
    /// The cookie value for `id`.
    pub fn seal(&self, id: &UploaderId) -> String {
        self.key.seal(Purpose::Cookie, id.as_str())
    }

    /// The id in a cookie value, if its seal is ours.
    pub fn open(&self, value: &str) -> Option<UploaderId> {
        self.key.open(Purpose::Cookie, value).and_then(UploaderId::parse)
    }
}

/// What the request's cookies say of the uploader.
#[derive(Debug, PartialEq, Eq)]
enum Cookies {
    /// One id (sent once or more), sealed by us.
    Names(UploaderId),
    /// Two different ones, both sealed by us: one was planted (by another port of this host, or
    /// with a narrower path, which browsers then send first). Neither is believed, so a
    /// visitor's uploads are never steered into someone else's prefix; and neither is replaced.
    Conflict,
    /// None that opens.
    Unknown,
}

fn from_cookies(key: &Sessions, headers: &http::HeaderMap, secure: bool) -> Cookies {
    let name = if secure { SECURE_COOKIE_NAME } else { COOKIE_NAME };
    let mut ids = headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .filter(|cookie| cookie.name() == name)
        .filter_map(|cookie| key.open(cookie.value()));
    let Some(first) = ids.next() else { return Cookies::Unknown };
    if ids.all(|other| other == first) {
        Cookies::Names(first)
    } else {
        Cookies::Conflict
    }
}

/// The page a no-JavaScript upload returns to, and the query parameter naming its uploader.
pub const RETURN_PATH: &str = "/uploaded";
const RETURN_PARAM: &str = "session=";

/// On the return page only, the uploader and directory named by a valid, unexpired return
/// token: the bucket's redirect is a navigation from another site, which a browser may make
/// without the cookie (a private window's third-party rules, a cookie not yet stored).
fn from_return_token(key: &Sessions, request: &http::request::Parts) -> Option<ReturnPass> {
    if request.method != http::Method::GET || request.uri.path() != RETURN_PATH {
        return None;
    }
    let query = request.uri.query()?;
    let token = query.split('&').find_map(|pair| pair.strip_prefix(RETURN_PARAM))?;
    ReturnPass::open(&key.key, token, time::OffsetDateTime::now_utc().unix_timestamp())
}

/// axum middleware: reuse the browser's id, or mint one and set the cookie on the response.
pub async fn assign(State(key): State<Arc<Sessions>>, request: Request, next: Next) -> Response {
    // The address through the extractor, which knows both real connections and test mocks.
    let (mut parts, body) = request.into_parts();
    let peer = ConnectInfo::<std::net::SocketAddr>::from_request_parts(&mut parts, &())
        .await
        .ok()
        .map(|ConnectInfo(addr)| addr.ip());
    let ip = peer.map(|peer| key.proxies.client(peer, &parts.headers));
    let secure = key.proxies.https(peer, parts.uri.scheme_str(), &parts.headers);
    let cookies = from_cookies(&key, &parts.headers, secure);
    let (id, scope, minted) = match (&cookies, from_return_token(&key, &parts)) {
        (Cookies::Names(id), _) => (id.clone(), None, false),
        // The token names the uploader for this page and one upload; it does not become a
        // cookie.
        (_, Some(pass)) => (pass.uploader, Some(pass.directory), false),
        (_, None) => {
            let fresh = uuid::Uuid::new_v4().simple().to_string();
            (
                UploaderId::parse(&fresh).expect("a simple uuid is 32 lowercase hex digits"),
                None,
                true,
            )
        }
    };
    let cross_site = parts
        .headers
        .get("sec-fetch-site")
        .is_some_and(|site| site.as_bytes().eq_ignore_ascii_case(b"cross-site"));
    let identity = Identity {
        requester: Requester { uploader: id.clone(), ip, scope, new_visitor: minted, cross_site },
        https: secure,
    };
    identity.attach(&mut parts.extensions);
    let request = Request::from_parts(parts, body);
    let mut response = next.run(request).await;
    // Never over a cookie of ours that opens (the conflict case included: replacing one of the
    // two would hand the visitor whichever the planter chose).
    if minted && cookies == Cookies::Unknown {
        let cookie =
            Cookie::build((if secure { SECURE_COOKIE_NAME } else { COOKIE_NAME }, key.seal(&id)))
                .path("/")
                .http_only(true)
                .secure(secure)
                .same_site(SameSite::Lax)
                .max_age(cookie::time::Duration::days(365))
                .build();
        if let Ok(value) = cookie.to_string().parse() {
            response.headers_mut().append(SET_COOKIE, value);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sessions() -> Sessions {
        Sessions { key: Arc::new(SessionKey::random()), proxies: TrustedProxies::default() }
    }

    #[test]
    fn cookies_open_only_under_their_key() {
        let key = sessions();
        let id = UploaderId::parse("0123456789abcdef0123456789abcdef").unwrap();
        let sealed = key.seal(&id);
        assert_eq!(key.open(&sealed), Some(id.clone()));
        assert_eq!(sessions().open(&sealed), None);
        let forged = sealed.replacen("0123", "1123", 1);
        assert_eq!(key.open(&forged), None);
        assert_eq!(key.open(id.as_str()), None);
    }

    #[test]
    fn return_tokens_are_not_cookies() {
        let key = sessions();
        let id = UploaderId::parse("0123456789abcdef0123456789abcdef").unwrap();
        let pass = ReturnPass {
            uploader: id.clone(),
            directory: format!("uploads/{}/d/", id.as_str()),
            expires: i64::MAX,
        };
        assert_eq!(key.open(&pass.seal(&key.key)), None);
    }
}
