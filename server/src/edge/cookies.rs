//! How this site reads and sets its cookies, the anonymous uploader's and the signed-in
//! user's session alike, decided once: for the whole site, HttpOnly, `SameSite=Lax` (why Lax:
//! [`super::identity`]), and Secure behind https (where their names take the `__Host-` prefix).

use cookie::{Cookie, SameSite};
use http::header::COOKIE;
use http::HeaderMap;

/// The values of every cookie named `name` the request carries (a browser may send several).
pub fn values(headers: &HeaderMap, name: &str) -> Vec<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .filter(|cookie| cookie.name() == name)
        .map(|cookie| cookie.value().to_owned())
        .collect()
}

/// The `Set-Cookie` value for `name=value`, kept `max_age` (zero: cleared).
pub fn set(name: &str, value: &str, secure: bool, max_age: cookie::time::Duration) -> String {
    Cookie::build((name, value))
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .max_age(max_age)
        .build()
        .to_string()
}
