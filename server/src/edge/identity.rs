//! Who is asking, as `UPLOAD_AUTH` says uploaders are named ([`crate::auth`]), handed with the
//! client's address to the server functions as one [`Identity`] in the request's extensions (the
//! server functions read it with `Identity::of`):
//! - `anonymous`: every browser gets an uploader id in a signed, HttpOnly, SameSite=Lax cookie
//!   (Secure behind https); on the no-JavaScript return page, a return token names the one
//!   upload it is for. The signature stops a visitor from choosing someone else's prefix.
//! - `token`: a `Bearer` token (never a cookie for it), else the session cookie a token was
//!   exchanged for; a token that does not hold is answered 401 here, before anything else.
//! - `proxy`: the authenticating proxy's header, from its addresses only (401 from others).
//!
//! In the last two modes a request that names nobody gets no id: its server functions answer
//! 401 with the reason, and the page says how to sign in.
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
use http::header::{AUTHORIZATION, CONTENT_TYPE, SET_COOKIE, WWW_AUTHENTICATE};

use app::service::{Identity, Requester, UploaderId, User};
use app::wire::{NoUser, UploadError};

use super::client::TrustedProxies;
use super::cookies;
use crate::auth::{session, uploader_id, Auth, Mode};
use crate::metrics::Metrics;
use crate::seal::{Purpose, ReturnPass, SessionKey};

pub const COOKIE_NAME: &str = "uploader";
/// The cookie's name behind https: the `__Host-` prefix makes browsers refuse it unless it was
/// set by this host, over https, for the whole site, so no other site or port can plant one.
pub const SECURE_COOKIE_NAME: &str = "__Host-uploader";

/// What the identity middleware needs: the key ids are sealed with, whose forwarding headers
/// to believe, and how uploaders are named.
pub struct Sessions {
    pub key: Arc<SessionKey>,
    pub proxies: TrustedProxies,
    pub auth: Arc<Auth>,
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
    let mut ids = cookies::values(headers, name).into_iter().filter_map(|value| key.open(&value));
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

/// How this request names its uploader, before the cookie question.
enum Named {
    /// An anonymous browser: its cookie's id, a return token's, or a fresh one to set.
    Anonymous { id: UploaderId, scope: Option<String>, minted: bool },
    /// A user of the application (token, session or proxy header).
    User(User),
    /// Nobody, where uploads need a user: every server function answers 401 for this reason.
    Nobody(NoUser),
}

/// A `Bearer` token in the `Authorization` header (the query string is never read: it
/// reaches logs).
fn bearer(headers: &http::HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(|c: char| c.is_ascii_whitespace())?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// What the session cookies say (see [`session`]).
enum Session {
    /// None of ours.
    None,
    /// Ours, all ended.
    Ended,
    /// One user, in every live one.
    User(User),
    /// Live ones naming different users: one was planted (another port of this host over
    /// http, where cookies cannot be `__Host-`). Neither is believed.
    Conflict,
}

fn session(key: &Sessions, headers: &http::HeaderMap, secure: bool) -> Session {
    let name = if secure { session::SECURE_COOKIE_NAME } else { session::COOKIE_NAME };
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let opened: Vec<Result<User, ()>> = cookies::values(headers, name)
        .iter()
        .filter_map(|value| session::open(&key.key, value, now))
        .collect();
    if opened.is_empty() {
        return Session::None;
    }
    let mut live = opened.into_iter().filter_map(Result::ok);
    let Some(first) = live.next() else { return Session::Ended };
    let id = uploader_id(&first);
    if live.all(|other| uploader_id(&other) == id) {
        Session::User(first)
    } else {
        Session::Conflict
    }
}

/// Who a request in `token` or `proxy` mode names: `Err` is refused at once (a token that
/// does not hold, a header from outside the proxy), `Nobody` waits for a server function.
async fn user(
    key: &Sessions,
    peer: Option<std::net::IpAddr>,
    headers: &http::HeaderMap,
    secure: bool,
) -> Result<Named, NoUser> {
    match &key.auth.mode {
        Mode::Anonymous => unreachable!("anonymous browsers are named by their cookie"),
        Mode::Token(verifier) => {
            let session = session(key, headers, secure);
            let Some(token) = bearer(headers) else {
                return Ok(match session {
                    Session::User(user) => Named::User(user),
                    Session::Ended => Named::Nobody(NoUser::Expired),
                    Session::None => Named::Nobody(NoUser::Missing),
                    Session::Conflict => Named::Nobody(NoUser::OtherUser),
                });
            };
            // A token wins over a cookie; a cookie naming someone else is a mix-up, refused.
            let user = verifier.verify(token).await?;
            match session {
                Session::User(other) if uploader_id(&other) != uploader_id(&user) => {
                    Err(NoUser::OtherUser)
                }
                Session::Conflict => Err(NoUser::OtherUser),
                _ => Ok(Named::User(user)),
            }
        }
        Mode::Proxy(proxy) => Ok(match proxy.user(peer, headers)? {
            Some(user) => Named::User(user),
            None => Named::Nobody(NoUser::Missing),
        }),
    }
}

/// The 401 for a request that names nobody: `WWW-Authenticate`, and the reason as the server
/// functions' JSON error, so the page reads it as it reads theirs.
fn refuse(auth: &Auth, reason: NoUser) -> Response {
    let body = serde_json::to_string(&UploadError::SignIn(auth.sign_in(reason)))
        .expect("an error serializes");
    let mut response = Response::new(axum::body::Body::from(body));
    *response.status_mut() = http::StatusCode::UNAUTHORIZED;
    let headers = response.headers_mut();
    headers.insert(WWW_AUTHENTICATE, app::wire::www_authenticate(reason));
    headers.insert(CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    response
}

/// axum middleware: names the uploader (see [`Named`]); for an anonymous browser, reuses its
/// id or mints one and sets the cookie on the response.
pub async fn assign(
    State((key, metrics)): State<(Arc<Sessions>, Arc<Metrics>)>,
    request: Request,
    next: Next,
) -> Response {
    // The address through the extractor, which knows both real connections and test mocks.
    let (mut parts, body) = request.into_parts();
    let peer = ConnectInfo::<std::net::SocketAddr>::from_request_parts(&mut parts, &())
        .await
        .ok()
        .map(|ConnectInfo(addr)| addr.ip());
    let ip = peer.map(|peer| key.proxies.client(peer, &parts.headers));
    let secure = key.proxies.https(peer, parts.uri.scheme_str(), &parts.headers);
    let carried = from_cookies(&key, &parts.headers, secure);
    let named = if matches!(key.auth.mode, Mode::Anonymous) {
        match (&carried, from_return_token(&key, &parts)) {
            (Cookies::Names(id), _) => {
                Named::Anonymous { id: id.clone(), scope: None, minted: false }
            }
            // The token names the uploader for this page and one upload; it does not become a
            // cookie.
            (_, Some(pass)) => {
                Named::Anonymous { id: pass.uploader, scope: Some(pass.directory), minted: false }
            }
            (_, None) => {
                let fresh = uuid::Uuid::new_v4().simple().to_string();
                let id =
                    UploaderId::parse(&fresh).expect("a simple uuid is 32 lowercase hex digits");
                Named::Anonymous { id, scope: None, minted: true }
            }
        }
    } else {
        match user(&key, peer, &parts.headers, secure).await {
            Ok(named) => named,
            Err(reason) => {
                metrics.user_refused(reason);
                tracing::warn!(target: "audit", event = "user_refused", ip = ?ip, path = parts.uri.path(), reason = reason.as_str());
                return refuse(&key.auth, reason);
            }
        }
    };
    let cross_site = parts
        .headers
        .get("sec-fetch-site")
        .is_some_and(|site| site.as_bytes().eq_ignore_ascii_case(b"cross-site"));
    let mut mint = None;
    let requester = match named {
        Named::Anonymous { id, scope, minted } => {
            if minted {
                mint = Some(id.clone());
            }
            Ok(Requester { uploader: id, user: None, ip, scope, new_visitor: minted, cross_site })
        }
        Named::User(user) => Ok(Requester {
            uploader: uploader_id(&user),
            user: Some(user),
            ip,
            scope: None,
            new_visitor: false,
            cross_site,
        }),
        Named::Nobody(reason) => {
            if parts.uri.path().starts_with(SERVER_FUNCTIONS) {
                metrics.user_refused(reason);
            }
            Err(key.auth.sign_in(reason))
        }
    };
    Identity { requester, https: secure }.attach(&mut parts.extensions);
    let request = Request::from_parts(parts, body);
    let mut response = next.run(request).await;
    // Never over a cookie of ours that opens (the conflict case included: replacing one of the
    // two would hand the visitor whichever the planter chose).
    if let (Some(id), Cookies::Unknown) = (mint, &carried) {
        let name = if secure { SECURE_COOKIE_NAME } else { COOKIE_NAME };
        let cookie = cookies::set(name, &key.seal(&id), secure, cookie::time::Duration::days(365));
        if let Ok(value) = cookie.parse() {
            response.headers_mut().append(SET_COOKIE, value);
        }
    }
    response
}

/// Where the server functions are served: a request there that names nobody is a 401.
const SERVER_FUNCTIONS: &str = "/api/";

#[cfg(test)]
mod tests {
    use super::*;

    fn sessions() -> Sessions {
        Sessions {
            key: Arc::new(SessionKey::random()),
            proxies: TrustedProxies::default(),
            auth: Arc::new(Auth::anonymous()),
        }
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
