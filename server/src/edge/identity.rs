//! Who is asking: gives every browser an anonymous uploader id in a signed, HttpOnly,
//! SameSite=Strict cookie (Secure behind https), and hands it, with the client's address and
//! the return token, to the server functions as one [`Identity`] in the request's extensions
//! (the server functions read it with `Identity::of`). The signature stops a visitor from
//! choosing someone else's upload prefix.

use std::fmt;
use std::sync::Arc;

use axum::{
    extract::{ConnectInfo, FromRequestParts, Request, State},
    middleware::Next,
    response::Response,
};
use cookie::{Cookie, SameSite};
use hmac::{Hmac, KeyInit, Mac};
use http::header::{COOKIE, SET_COOKIE};
use sha2::Sha256;
use zeroize::Zeroizing;

use app::service::{Identity, Requester, ReturnToken, UploaderId};

pub const COOKIE_NAME: &str = "uploader";
/// What a sealed id is for. The cookie's is empty, as it was before return tokens existed, so
/// cookies already handed out stay valid.
const COOKIE_PURPOSE: &str = "";
const RETURN_PURPOSE: &str = "return:";

/// The key uploader cookies are signed with. Zeroized on drop, never printed.
pub struct SessionKey(Zeroizing<[u8; 32]>);

impl SessionKey {
    /// From `UPLOAD_SESSION_SECRET` (64 hex digits), so sessions survive restarts and are shared
    /// by several servers; without it, a random key (sessions then end with the process).
    pub fn from_hex(hex_key: &str) -> Option<Self> {
        let bytes = hex::decode(hex_key).ok()?;
        let key: [u8; 32] = bytes.try_into().ok()?;
        Some(Self(Zeroizing::new(key)))
    }

    pub fn random() -> Self {
        let mut key = Zeroizing::new([0u8; 32]);
        key[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        key[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        Self(key)
    }

    /// The HMAC of `purpose` followed by the id. Ids are hex only, so no purpose prefix can
    /// make one token pass for another kind.
    fn mac(&self, purpose: &str, id: &UploaderId) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&*self.0).expect("HMAC takes keys of any length");
        mac.update(purpose.as_bytes());
        mac.update(id.as_str().as_bytes());
        mac
    }

    /// `<id>.<hex HMAC of purpose and id>`.
    fn seal_for(&self, purpose: &str, id: &UploaderId) -> String {
        format!("{}.{}", id.as_str(), hex::encode(self.mac(purpose, id).finalize().into_bytes()))
    }

    /// The id in `value`, if it was sealed for `purpose` under this key (checked in constant time).
    fn open_for(&self, purpose: &str, value: &str) -> Option<UploaderId> {
        let (id, signature) = value.split_once('.')?;
        let id = UploaderId::parse(id)?;
        self.mac(purpose, &id).verify_slice(&hex::decode(signature).ok()?).ok()?;
        Some(id)
    }

    /// The cookie value for `id`.
    pub fn seal(&self, id: &UploaderId) -> String {
        self.seal_for(COOKIE_PURPOSE, id)
    }

    /// The id in a cookie value, if its signature is ours.
    pub fn open(&self, value: &str) -> Option<UploaderId> {
        self.open_for(COOKIE_PURPOSE, value)
    }

    /// The return token for `id`: sealed for another purpose than the cookie, so it cannot
    /// be used as one.
    pub fn seal_return(&self, id: &UploaderId) -> String {
        self.seal_for(RETURN_PURPOSE, id)
    }

    /// The id in a return token, if its signature is ours.
    pub fn open_return(&self, value: &str) -> Option<UploaderId> {
        self.open_for(RETURN_PURPOSE, value)
    }
}

impl fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionKey(<redacted>)")
    }
}

fn from_cookies(key: &SessionKey, request: &Request) -> Option<UploaderId> {
    request
        .headers()
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .filter(|cookie| cookie.name() == COOKIE_NAME)
        .find_map(|cookie| key.open(cookie.value()))
}

fn behind_https(request: &Request) -> bool {
    request.uri().scheme_str() == Some("https")
        || request.headers().get("x-forwarded-proto").is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"))
}

/// The page a no-JavaScript upload returns to, and the query parameter naming its uploader.
pub const RETURN_PATH: &str = "/uploaded";
const RETURN_PARAM: &str = "session=";

/// On the return page only, the uploader named by a valid return token: a bucket on another
/// site redirects there without the SameSite=Strict cookie.
fn from_return_token(key: &SessionKey, request: &Request) -> Option<UploaderId> {
    if request.method() != http::Method::GET || request.uri().path() != RETURN_PATH {
        return None;
    }
    let query = request.uri().query()?;
    query.split('&').find_map(|pair| pair.strip_prefix(RETURN_PARAM)).and_then(|token| key.open_return(token))
}

/// axum middleware: reuse the browser's id, or mint one and set the cookie on the response.
pub async fn assign(State(key): State<Arc<SessionKey>>, request: Request, next: Next) -> Response {
    let secure = behind_https(&request);
    let (id, minted) = match from_cookies(&key, &request) {
        Some(id) => (id, false),
        None => match from_return_token(&key, &request) {
            // The token names the uploader for this page; it does not become a cookie.
            Some(id) => (id, false),
            None => {
                let fresh = uuid::Uuid::new_v4().simple().to_string();
                (UploaderId::parse(&fresh).expect("a simple uuid is 32 lowercase hex digits"), true)
            }
        },
    };
    // The address through the extractor, which knows both real connections and test mocks.
    let (mut parts, body) = request.into_parts();
    let ip = ConnectInfo::<std::net::SocketAddr>::from_request_parts(&mut parts, &()).await.ok().map(|ConnectInfo(addr)| addr.ip());
    let identity = Identity { requester: Requester { uploader: id.clone(), ip }, return_token: ReturnToken(key.seal_return(&id)) };
    identity.attach(&mut parts.extensions);
    let request = Request::from_parts(parts, body);
    let mut response = next.run(request).await;
    if minted {
        let cookie = Cookie::build((COOKIE_NAME, key.seal(&id)))
            .path("/")
            .http_only(true)
            .secure(secure)
            .same_site(SameSite::Strict)
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

    #[test]
    fn cookies_open_only_under_their_key() {
        let key = SessionKey::random();
        let id = UploaderId::parse("0123456789abcdef0123456789abcdef").unwrap();
        let sealed = key.seal(&id);
        assert_eq!(key.open(&sealed), Some(id.clone()));
        assert_eq!(SessionKey::random().open(&sealed), None);
        let forged = sealed.replacen("0123", "1123", 1);
        assert_eq!(key.open(&forged), None);
        assert_eq!(key.open(id.as_str()), None);
        assert!(!format!("{key:?}").contains(&sealed[33..]));
    }

    #[test]
    fn return_tokens_and_cookies_are_not_interchangeable() {
        let key = SessionKey::random();
        let id = UploaderId::parse("0123456789abcdef0123456789abcdef").unwrap();
        assert_eq!(key.open_return(&key.seal_return(&id)), Some(id.clone()));
        assert_eq!(key.open(&key.seal_return(&id)), None);
        assert_eq!(key.open_return(&key.seal(&id)), None);
    }

    #[test]
    fn session_secrets_are_32_bytes_of_hex() {
        assert!(SessionKey::from_hex(&"ab".repeat(32)).is_some());
        assert!(SessionKey::from_hex(&"ab".repeat(31)).is_none());
        assert!(SessionKey::from_hex("not hex").is_none());
    }
}
