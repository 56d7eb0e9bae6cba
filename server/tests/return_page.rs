//! The no-JavaScript form's return page over HTTP, without a socket: a return token names its
//! uploader there only, until it expires.

mod common;

use axum::body::Body;
use common::router::{app, render, session_key};
use http::{header, Request};

// Rendering streams from tasks leptos spawns: they need a runtime with worker threads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_return_token_names_its_uploader_on_the_return_page_only_until_it_expires() {
    use server::seal::ReturnPass;
    let key = session_key().key;
    let id = app::service::UploaderId::parse("00112233445566778899aabbccddeeff").unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let token = |expires| {
        ReturnPass {
            uploader: id.clone(),
            directory: format!("uploads/{}/d/", id.as_str()),
            expires,
        }
        .seal(&key)
    };
    // The page names the uploader by a valid token: no cookie of its own is minted.
    let minted = |path: String| {
        let app = app();
        async move {
            render(app, Request::get(path).body(Body::empty()).unwrap())
                .await
                .0
                .headers
                .contains_key(header::SET_COOKIE)
        }
    };
    assert!(
        !minted(format!("/uploaded?session={}", token(now + 60))).await,
        "a valid token names its uploader"
    );
    assert!(
        minted(format!("/uploaded?session={}", token(now - 1))).await,
        "an expired token names nobody"
    );
    assert!(minted(format!("/?session={}", token(now + 60))).await, "only on the return page");
}
