//! The session a token is exchanged for (`UPLOAD_AUTH=token`): the page takes the token from
//! its URL's fragment once, and the service answers a sealed, HttpOnly cookie naming the user
//! until the session's end. Sessions are stateless: a stolen cookie stays valid until then,
//! and signing out only clears the browser's copy.

use std::sync::Arc;

use app::service::{Narrowing, SessionStarted, SignInService, User};
use app::wire::UploadError;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

use super::{Auth, Mode};
use crate::edge::cookies;
use crate::logging::clip;
use crate::metrics::Metrics;
use crate::seal::{Purpose, SessionKey};

/// The session cookie's name, and behind https its `__Host-` form (set by this host only).
pub const COOKIE_NAME: &str = "upload_session";
pub const SECURE_COOKIE_NAME: &str = "__Host-upload_session";

/// What the cookie holds. Short field names: a cookie is sent with every request.
#[derive(Serialize, Deserialize)]
struct Payload {
    i: String,
    s: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    r: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    p: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    m: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    f: Option<u32>,
    /// Unix seconds after which it names nobody.
    e: i64,
}

/// The cookie value for `user`'s session ending at `expires` (unix seconds).
pub fn seal(key: &SessionKey, user: &User, expires: i64) -> String {
    let payload = Payload {
        i: user.issuer.clone(),
        s: user.subject.clone(),
        r: user.roles.clone(),
        p: user.narrowing.profile.clone(),
        m: user.narrowing.max_bytes,
        f: user.narrowing.files_per_minute,
        e: expires,
    };
    let json = serde_json::to_vec(&payload).expect("plain fields serialize");
    key.seal(Purpose::Session, &URL_SAFE_NO_PAD.encode(json))
}

/// The user a session cookie names, if this service sealed it; `Err(())` if it has ended.
#[allow(clippy::result_unit_err)]
pub fn open(key: &SessionKey, value: &str, now: i64) -> Option<Result<User, ()>> {
    let json = URL_SAFE_NO_PAD.decode(key.open(Purpose::Session, value)?).ok()?;
    let payload: Payload = serde_json::from_slice(&json).ok()?;
    if now > payload.e {
        return Some(Err(()));
    }
    Some(Ok(User {
        issuer: payload.i,
        subject: payload.s,
        roles: payload.r,
        narrowing: Narrowing {
            profile: payload.p,
            max_bytes: payload.m,
            files_per_minute: payload.f,
        },
    }))
}

/// The server's side of signing in and out ([`app::service::SignInService`]).
pub struct Desk {
    pub auth: Arc<Auth>,
    pub key: Arc<SessionKey>,
    pub metrics: Arc<Metrics>,
}

fn cookie_name(https: bool) -> &'static str {
    if https {
        SECURE_COOKIE_NAME
    } else {
        COOKIE_NAME
    }
}

impl SignInService for Desk {
    fn start_session<'a>(
        &'a self,
        token: &'a str,
        https: bool,
    ) -> BoxFuture<'a, Result<SessionStarted, UploadError>> {
        Box::pin(async move {
            let Mode::Token(verifier) = &self.auth.mode else {
                return Err(UploadError::Refused(
                    "this service does not sign people in with tokens (UPLOAD_AUTH is not token)"
                        .into(),
                ));
            };
            let user = verifier.verify(token).await.map_err(|reason| {
                self.metrics.user_refused(reason);
                tracing::warn!(target: "audit", event = "session_refused", reason = reason.as_str());
                UploadError::SignIn(self.auth.sign_in(reason))
            })?;
            let now = time::OffsetDateTime::now_utc().unix_timestamp();
            let ttl = self.auth.session_ttl;
            let expires_at = now + ttl.as_secs() as i64;
            let uploader = super::uploader_id(&user);
            self.metrics.session_started();
            tracing::info!(target: "audit", event = "session_started", uploader = uploader.as_str(), issuer = %user.issuer, subject = ?clip(&user.subject), roles = ?user.roles, admin = self.auth.is_admin(&user), expires_at);
            let max_age = cookie::time::Duration::seconds(ttl.as_secs() as i64);
            let sealed = seal(&self.key, &user, expires_at);
            let set_cookie = cookies::set(cookie_name(https), &sealed, https, max_age);
            Ok(SessionStarted { set_cookie, expires_at })
        })
    }

    fn has_sessions(&self) -> bool {
        matches!(self.auth.mode, Mode::Token(_))
    }

    fn end_session(&self, https: bool) -> Vec<String> {
        vec![cookies::set(cookie_name(https), "", https, cookie::time::Duration::ZERO)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_names_its_user_until_it_ends_and_under_its_key_only() {
        let key = SessionKey::random();
        let user = User {
            issuer: "https://app.example".into(),
            subject: "ada".into(),
            roles: vec!["staff".into()],
            narrowing: Narrowing { max_bytes: Some(5), ..Narrowing::default() },
        };
        let cookie = seal(&key, &user, 1_000);
        assert_eq!(open(&key, &cookie, 1_000), Some(Ok(user.clone())));
        assert_eq!(open(&key, &cookie, 1_001), Some(Err(())));
        assert_eq!(open(&SessionKey::random(), &cookie, 0), None);
        // Not an anonymous cookie, nor the other way round.
        assert_eq!(key.open(Purpose::Cookie, &cookie), None);
        assert_eq!(
            open(&key, &key.seal(Purpose::Cookie, "0123456789abcdef0123456789abcdef"), 0),
            None
        );
    }
}
