//! The rendered page over HTTP, without a socket: each page view carries a plain form signed
//! for the visitor (for browsers without JavaScript), within the address's signing budget.
//! On a multi-thread runtime as the server runs: rendering runs on tasks leptos spawns. Tests
//! here build routers while others render: the route list is made once per process for that
//! (`edge::routes`), and every page view is bounded, so a stall fails with its name.

mod common;

use axum::body::Body;
use common::router::{app_with, render, SECRET};
use http::{header, Request, StatusCode};

// Rendering streams from tasks leptos spawns: they need a runtime with worker threads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_views_sign_plain_forms_within_the_address_budget() {
    use axum::extract::connect_info::MockConnectInfo;
    let addr: std::net::SocketAddr = "192.0.2.9:50000".parse().unwrap();
    let app = app_with(&[
        ("UPLOAD_SIGNS_PER_MINUTE_PER_IP", "2"),
        ("UPLOAD_PUBLIC_ORIGIN", "http://upload.example"),
    ])
    .layer(MockConnectInfo(addr));
    let mut offered = vec![];
    for _ in 0..3 {
        let (res, html) = render(
            app.clone(),
            Request::get("/").header(header::HOST, "upload.example").body(Body::empty()).unwrap(),
        )
        .await;
        assert_eq!(res.status, StatusCode::OK);
        // No other site may frame the page (clickjacking).
        assert_eq!(res.headers[header::CONTENT_SECURITY_POLICY], "frame-ancestors 'none'");
        assert_eq!(res.headers[header::X_FRAME_OPTIONS], "DENY");
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_reached_from_another_site_signs_no_plain_form_and_keeps_the_cookie() {
    let id = app::service::UploaderId::parse("00112233445566778899aabbccddeeff").unwrap();
    let cookie = format!("uploader={}", common::router::session_key().seal(&id));
    let app = app_with(&[("UPLOAD_PUBLIC_ORIGIN", "http://upload.example")]);
    let view = |site: &'static str| {
        Request::get("/")
            .header(header::HOST, "upload.example")
            .header(header::COOKIE, cookie.clone())
            .header("sec-fetch-site", site)
            .body(Body::empty())
            .unwrap()
    };
    for (site, offered) in [("cross-site", false), ("same-origin", true), ("none", true)] {
        let (res, html) = render(app.clone(), view(site)).await;
        assert_eq!(res.status, StatusCode::OK);
        assert!(res.headers.get(header::SET_COOKIE).is_none(), "{site}: the cookie is kept");
        assert_eq!(html.contains("class=\"plain-form\""), offered, "{site}");
    }
}
