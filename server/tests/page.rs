//! The rendered page over HTTP, without a socket: each page view carries a plain form signed
//! for the visitor (for browsers without JavaScript), within the address's signing budget.
//! A test binary of its own, on a multi-thread runtime as the server runs: rendering runs on
//! tasks leptos spawns, and beside the router tests' many short-lived runtimes in one process
//! it stalled.

mod common;

use axum::body::Body;
use http::{header, Request, StatusCode};
use common::router::{app, app_with, body_text, session_key, SECRET};
use tower::ServiceExt;

// Rendering streams from tasks leptos spawns: they need a runtime with worker threads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_views_sign_plain_forms_within_the_address_budget() {
    use axum::extract::connect_info::MockConnectInfo;
    let addr: std::net::SocketAddr = "192.0.2.9:50000".parse().unwrap();
    let app = app_with(&[("UPLOAD_SIGNS_PER_MINUTE_PER_IP", "2")]).layer(MockConnectInfo(addr));
    let mut offered = vec![];
    for _ in 0..3 {
        let res = app.clone().oneshot(Request::get("/").header(header::HOST, "upload.example").body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let html = tokio::time::timeout(std::time::Duration::from_secs(20), body_text(res)).await.expect("the page renders");
        assert!(!html.contains(SECRET));
        if html.contains("class=\"plain-form\"") {
            // Signed for ${filename} under a fresh directory, coming back to this site.
            assert!(html.contains("${filename}"), "{html}");
            assert!(html.contains("http://upload.example/uploaded?session="), "{html}");
        }
        offered.push(html.contains("class=\"plain-form\""));
    }
    // A new visitor each time: the plain form costs a signature, so the address's budget ends it.
    assert_eq!(offered, [true, true, false]);
}

// Rendering streams from tasks leptos spawns: they need a runtime with worker threads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_return_token_names_its_uploader_on_the_return_page_only_until_it_expires() {
    use server::seal::ReturnPass;
    let key = session_key().key;
    let id = app::service::UploaderId::parse("00112233445566778899aabbccddeeff").unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let token = |expires| ReturnPass { uploader: id.clone(), directory: format!("uploads/{}/d/", id.as_str()), expires }.seal(&key);
    // The page names the uploader by a valid token: no cookie of its own is minted.
    let minted = |path: String| {
        let app = app();
        async move { app.oneshot(Request::get(path).body(Body::empty()).unwrap()).await.unwrap().headers().contains_key(header::SET_COOKIE) }
    };
    assert!(!minted(format!("/uploaded?session={}", token(now + 60))).await, "a valid token names its uploader");
    assert!(minted(format!("/uploaded?session={}", token(now - 1))).await, "an expired token names nobody");
    assert!(minted(format!("/?session={}", token(now + 60))).await, "only on the return page");
}
