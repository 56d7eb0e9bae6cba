//! Gives every browser an anonymous uploader id in an HttpOnly cookie, and hands it to the
//! server functions through the request's extensions.

use axum::{extract::Request, middleware::Next, response::Response};
use cookie::{Cookie, SameSite};
use http::header::{COOKIE, SET_COOKIE};

use app::signing::UploaderId;

pub const COOKIE_NAME: &str = "uploader";

fn from_cookies(request: &Request) -> Option<UploaderId> {
    request
        .headers()
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|cookie| cookie.name() == COOKIE_NAME)
        .and_then(|cookie| UploaderId::parse(cookie.value()))
}

/// axum middleware: reuse the browser's id, or mint one and set the cookie on the response.
pub async fn assign(mut request: Request, next: Next) -> Response {
    let (id, minted) = match from_cookies(&request) {
        Some(id) => (id, false),
        None => {
            let fresh = uuid::Uuid::new_v4().simple().to_string();
            (UploaderId::parse(&fresh).expect("a simple uuid is 32 lowercase hex digits"), true)
        }
    };
    request.extensions_mut().insert(id.clone());
    let mut response = next.run(request).await;
    if minted {
        let cookie = Cookie::build((COOKIE_NAME, id.as_str().to_owned()))
            .path("/")
            .http_only(true)
            .same_site(SameSite::Strict)
            .max_age(cookie::time::Duration::days(365))
            .build();
        if let Ok(value) = cookie.to_string().parse() {
            response.headers_mut().append(SET_COOKIE, value);
        }
    }
    response
}
