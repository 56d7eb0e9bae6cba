//! The router over HTTP, without a socket: health, the `sign_upload` server function, the
//! uploader cookie, and refusals.

mod common;

use axum::body::Body;
use common::router::{
    app, app_and_metrics, app_with, body_text, session_key, sign_request, SECRET,
};
use http::{header, Request, StatusCode};
use tower::ServiceExt;

#[tokio::test]
async fn healthz_answers_ok() {
    let res = app().oneshot(Request::get("/healthz").body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(body_text(res).await, "ok");
}

#[tokio::test]
async fn sign_upload_returns_an_ordered_form_and_sets_the_uploader_cookie() {
    let res = app()
        .oneshot(sign_request(
            "access_code=&file_name=cat.png&size=42&content_type=image%2Fpng",
            None,
        ))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let cookie = res
        .headers()
        .get(header::SET_COOKIE)
        .expect("a new browser gets a cookie")
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.starts_with("uploader="), "{cookie}");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(!cookie.contains("Secure"), "plain http: {cookie}");
    let sealed = cookie["uploader=".len()..].split(';').next().unwrap().to_owned();
    let id = session_key().open(&sealed).expect("the cookie is signed").as_str().to_owned();

    let body = body_text(res).await;
    assert!(!body.contains(SECRET), "the secret must never reach a browser");
    let signed: app::wire::SignedUpload = serde_json::from_str(&body).unwrap();
    assert_eq!(signed.url, "http://127.0.0.1:3900/uploads");
    assert!(
        signed.key.starts_with(&format!("uploads/{id}/")) && signed.key.ends_with("/cat.png"),
        "{}",
        signed.key
    );
    let names: Vec<&str> = signed.fields.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "key",
            "Content-Type",
            "success_action_status",
            "x-amz-meta-profile",
            "x-amz-credential",
            "x-amz-algorithm",
            "x-amz-date",
            "policy",
            "x-amz-signature"
        ]
    );
}

#[tokio::test]
async fn metadata_is_bound_and_bad_metadata_refused() {
    let form = "access_code=&file_name=a.txt&size=1&content_type=text%2Fplain&metadata[file-last-modified]=2026-11-28T12%3A00%3A00.000Z";
    let res = app().oneshot(sign_request(form, None)).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let signed: app::wire::SignedUpload = serde_json::from_str(&body_text(res).await).unwrap();
    assert!(
        signed
            .fields
            .contains(&("x-amz-meta-file-last-modified".into(), "2026-11-28T12:00:00.000Z".into())),
        "{:?}",
        signed.fields
    );

    let res = app()
        .oneshot(sign_request(
            "access_code=&file_name=a.txt&size=1&content_type=&metadata[Bad%20Name]=x",
            None,
        ))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(body_text(res).await.contains("is not a usable metadata name"));
}

#[tokio::test]
async fn a_known_browser_keeps_its_prefix() {
    let id = "00112233445566778899aabbccddeeff";
    let sealed = session_key().seal(&app::service::UploaderId::parse(id).unwrap());
    let res = app()
        .oneshot(sign_request(
            "access_code=&file_name=a.txt&size=1&content_type=text%2Fplain",
            Some(&format!("other=1; uploader={sealed}")),
        ))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().get(header::SET_COOKIE).is_none());
    let signed: app::wire::SignedUpload = serde_json::from_str(&body_text(res).await).unwrap();
    assert!(signed.key.starts_with(&format!("uploads/{id}/")), "{}", signed.key);
}

#[tokio::test]
async fn a_forged_uploader_cookie_is_replaced() {
    // Someone else's id without its signature, and a path: neither is accepted.
    for forged in ["uploader=00112233445566778899aabbccddeeff", "uploader=..%2F..%2Fsomeone-else"] {
        let res = app()
            .oneshot(sign_request(
                "access_code=&file_name=a.txt&size=1&content_type=",
                Some(forged),
            ))
            .await
            .unwrap();
        let signed: app::wire::SignedUpload = serde_json::from_str(&body_text(res).await).unwrap();
        assert!(
            !signed.key.starts_with("uploads/00112233445566778899aabbccddeeff/"),
            "{}",
            signed.key
        );
    }
    let res = app()
        .oneshot(sign_request(
            "access_code=&file_name=a.txt&size=1&content_type=",
            Some("uploader=..%2F..%2Fsomeone-else"),
        ))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let cookie = res
        .headers()
        .get(header::SET_COOKIE)
        .expect("a forged id is replaced")
        .to_str()
        .unwrap()
        .to_owned();
    let sealed = cookie["uploader=".len()..].split(';').next().unwrap().to_owned();
    let id = session_key().open(&sealed).expect("the new cookie is signed").as_str().to_owned();
    let signed: app::wire::SignedUpload = serde_json::from_str(&body_text(res).await).unwrap();
    assert!(signed.key.starts_with(&format!("uploads/{id}/")), "{}", signed.key);
}

#[tokio::test]
async fn refusals_carry_a_readable_reason() {
    let res = app()
        .oneshot(sign_request(
            "access_code=&file_name=empty.txt&size=0&content_type=text%2Fplain",
            None,
        ))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let err: app::wire::UploadError = serde_json::from_str(&body_text(res).await).unwrap();
    assert_eq!(err, app::wire::UploadError::Refused("empty files cannot be uploaded".into()));
}

/// A request as it arrives from `peer`, forwarded for `xff` (if any) as `proto` (if any).
fn from_peer(peer: &str, xff: Option<&str>, proto: Option<&str>) -> Request<Body> {
    let mut req = sign_request("access_code=&file_name=a.txt&size=1&content_type=", None);
    req.extensions_mut()
        .insert(axum::extract::ConnectInfo(peer.parse::<std::net::SocketAddr>().unwrap()));
    if let Some(xff) = xff {
        req.headers_mut().insert("x-forwarded-for", xff.parse().unwrap());
    }
    if let Some(proto) = proto {
        req.headers_mut().insert("x-forwarded-proto", proto.parse().unwrap());
    }
    req
}

#[tokio::test]
async fn the_cookie_is_secure_behind_https_as_a_trusted_proxy_says_and_only_then() {
    let proxied = || app_with(&[("UPLOAD_TRUSTED_PROXIES", "127.0.0.1/32")]);
    let cookie = |res: http::Response<Body>| {
        res.headers().get(header::SET_COOKIE).unwrap().to_str().unwrap().to_owned()
    };
    let trusted =
        proxied().oneshot(from_peer("127.0.0.1:5000", None, Some("https"))).await.unwrap();
    let secure = cookie(trusted);
    assert!(
        secure.starts_with("__Host-uploader=")
            && secure.contains("Secure")
            && secure.contains("Path=/"),
        "{secure}"
    );
    // Anyone else saying so is not believed; nor is anyone without trusted proxies configured.
    let stranger =
        proxied().oneshot(from_peer("192.0.2.1:5000", None, Some("https"))).await.unwrap();
    assert!(!cookie(stranger).contains("Secure"));
    let unconfigured =
        app().oneshot(from_peer("127.0.0.1:5000", None, Some("https"))).await.unwrap();
    assert!(!cookie(unconfigured).contains("Secure"));
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_client_has_its_own_budget_and_cannot_pick_another() {
    let app = app_with(&[
        ("UPLOAD_TRUSTED_PROXIES", "127.0.0.1"),
        ("UPLOAD_SIGNS_PER_MINUTE_PER_IP", "2"),
    ]);
    let status = |req: Request<Body>| {
        let app = app.clone();
        async move { app.oneshot(req).await.unwrap().status() }
    };
    // Two clients behind the proxy: two budgets, not one shared by everyone.
    for _ in 0..2 {
        assert_eq!(
            status(from_peer("127.0.0.1:5000", Some("203.0.113.1"), None)).await,
            StatusCode::OK
        );
    }
    assert_eq!(
        status(from_peer("127.0.0.1:5000", Some("203.0.113.1"), None)).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        status(from_peer("127.0.0.1:5000", Some("203.0.113.2"), None)).await,
        StatusCode::OK
    );
    // A client forging hops left of what the proxy appended still spends its own budget.
    assert_eq!(
        status(from_peer("127.0.0.1:5000", Some("198.51.100.9, 203.0.113.1"), None)).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // A client that is not the proxy cannot choose its address with the header.
    for _ in 0..2 {
        assert_eq!(
            status(from_peer("192.0.2.50:5000", Some("203.0.113.77"), None)).await,
            StatusCode::OK
        );
    }
    assert_eq!(
        status(from_peer("192.0.2.50:5000", Some("203.0.113.78"), None)).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // IPv6 clients are limited per /64.
    for _ in 0..2 {
        assert_eq!(status(from_peer("[2001:db8:7::1]:5000", None, None)).await, StatusCode::OK);
    }
    assert_eq!(
        status(from_peer("[2001:db8:7::2]:5000", None, None)).await,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn every_answer_names_the_instance_and_readyz_says_ready() {
    let res = app().oneshot(Request::get("/readyz").body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(res.headers()["x-upload-instance"], "test-1");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(body_text(res).await, "ready");
    let refused = app()
        .oneshot(sign_request("access_code=&file_name=&size=0&content_type=", None))
        .await
        .unwrap();
    assert_eq!(refused.headers()["x-upload-instance"], "test-1");
}

#[tokio::test]
async fn other_sites_cannot_obtain_policies_through_a_visitor() {
    let with = |headers: &[(&str, &str)]| {
        let mut req = sign_request("access_code=&file_name=a.txt&size=1&content_type=", None);
        req.headers_mut().insert(header::HOST, "127.0.0.1:3000".parse().unwrap());
        for (name, value) in headers {
            req.headers_mut().insert(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        req
    };
    for cross in [
        vec![("origin", "http://evil.example")],
        vec![("origin", "http://127.0.0.1:3000.evil.example")],
        vec![("origin", "null")],
        vec![("sec-fetch-site", "cross-site"), ("origin", "http://evil.example")],
        vec![("sec-fetch-site", "same-site")],
    ] {
        let res = app().oneshot(with(&cross)).await.unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{cross:?}");
        assert!(!body_text(res).await.contains("x-amz-signature"));
    }
    for same in
        [vec![("origin", "http://127.0.0.1:3000"), ("sec-fetch-site", "same-origin")], vec![]]
    {
        let res = app().oneshot(with(&same)).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{same:?}");
    }
}

#[tokio::test]
async fn each_uploader_is_rate_limited_with_retry_after() {
    let app = app_with(&[("UPLOAD_FILES_PER_MINUTE", "2")]);
    let first = app
        .clone()
        .oneshot(sign_request("access_code=&file_name=a&size=1&content_type=", None))
        .await
        .unwrap();
    let cookie = first
        .headers()
        .get(header::SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let again = || {
        app.clone()
            .oneshot(sign_request("access_code=&file_name=a&size=1&content_type=", Some(&cookie)))
    };
    assert_eq!(again().await.unwrap().status(), StatusCode::OK);
    let limited = again().await.unwrap();
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 =
        limited.headers().get(header::RETRY_AFTER).unwrap().to_str().unwrap().parse().unwrap();
    assert!((1..=30).contains(&retry), "{retry}");
    let err: app::wire::UploadError = serde_json::from_str(&body_text(limited).await).unwrap();
    assert_eq!(err, app::wire::UploadError::TooManyRequests { retry_after_secs: retry });
    // A new browser has its own budget.
    let other = app
        .clone()
        .oneshot(sign_request("access_code=&file_name=a&size=1&content_type=", None))
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::OK);
}

#[tokio::test]
async fn fresh_cookies_do_not_escape_the_per_address_limit() {
    use axum::extract::connect_info::MockConnectInfo;
    let addr: std::net::SocketAddr = "192.0.2.7:50000".parse().unwrap();
    let app = app_with(&[("UPLOAD_SIGNS_PER_MINUTE_PER_IP", "3")]).layer(MockConnectInfo(addr));
    let mut statuses = vec![];
    for _ in 0..4 {
        // No cookie: every request is a "new browser".
        statuses.push(
            app.clone()
                .oneshot(sign_request("access_code=&file_name=a&size=1&content_type=", None))
                .await
                .unwrap()
                .status(),
        );
    }
    assert_eq!(
        statuses,
        [StatusCode::OK, StatusCode::OK, StatusCode::OK, StatusCode::TOO_MANY_REQUESTS]
    );
}

#[tokio::test]
async fn metrics_count_signatures_and_refusals_by_reason_on_their_own_address_only() {
    let (app, metrics) = app_and_metrics(&[]);
    app.clone()
        .oneshot(sign_request("access_code=&file_name=a.txt&size=1&content_type=", None))
        .await
        .unwrap();
    app.clone()
        .oneshot(sign_request("access_code=&file_name=a.txt&size=0&content_type=", None))
        .await
        .unwrap();
    // The public app does not serve them (the page renders a 404 for the path).
    let public = app.oneshot(Request::get("/metrics").body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(public.status(), StatusCode::NOT_FOUND);
    let res = metrics.oneshot(Request::get("/metrics").body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let text = body_text(res).await;
    assert!(text.contains("uploads_signed_total 1"), "{text}");
    assert!(text.contains("uploads_refused_total{reason=\"invalid_size\"} 1"), "{text}");
    assert!(text.contains("upload_signing_seconds_count 1"), "{text}");
    assert!(!text.contains(SECRET));
}

#[tokio::test]
async fn an_access_code_gates_signing_when_the_operator_sets_one() {
    let app = app_with(&[("UPLOAD_ACCESS_CODE", "blue heron at dawn")]);
    let ask = |code: &str| {
        app.clone().oneshot(sign_request(
            &format!("access_code={code}&file_name=a&size=1&content_type="),
            None,
        ))
    };
    let missing = ask("").await.unwrap();
    assert_eq!(missing.status(), StatusCode::FORBIDDEN);
    let err: app::wire::UploadError = serde_json::from_str(&body_text(missing).await).unwrap();
    assert_eq!(
        err,
        app::wire::UploadError::AccessCode("uploading here needs an access code".into())
    );
    assert_eq!(ask("red+heron").await.unwrap().status(), StatusCode::FORBIDDEN);
    assert_eq!(ask("blue+heron+at+dawn").await.unwrap().status(), StatusCode::OK);
}

/// A body that counts what is read of it: `total` bytes in 1 KiB chunks, or without end.
fn counted_body(
    total: Option<usize>,
    read: std::sync::Arc<std::sync::atomic::AtomicUsize>,
) -> Body {
    use std::sync::atomic::Ordering;
    let chunks = futures::stream::unfold(0usize, move |sent| {
        let read = read.clone();
        async move {
            if total.is_some_and(|t| sent >= t) {
                return None;
            }
            read.fetch_add(1024, Ordering::SeqCst);
            Some((Ok::<_, std::io::Error>(axum::body::Bytes::from(vec![b'a'; 1024])), sent + 1024))
        }
    });
    Body::from_stream(chunks)
}

#[tokio::test]
async fn an_oversized_server_function_body_is_answered_413_without_being_read() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    // Declared as 1 GiB: refused on the headers, not one byte read.
    let read = std::sync::Arc::new(AtomicUsize::new(0));
    let req = Request::post("/api/sign_upload")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::CONTENT_LENGTH, (1u64 << 30).to_string())
        .body(counted_body(Some(1 << 30), read.clone()))
        .unwrap();
    let res = app().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(read.load(Ordering::SeqCst), 0);
    let err: app::wire::UploadError = serde_json::from_str(&body_text(res).await).unwrap();
    assert_eq!(
        err,
        app::wire::UploadError::Refused("the request is too large (at most 16 KB)".into())
    );
    // Streamed without a length, and without end: reading stops just past 16 KB.
    let read = std::sync::Arc::new(AtomicUsize::new(0));
    let req = Request::post("/api/sign_upload")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(counted_body(None, read.clone()))
        .unwrap();
    let res = app().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(read.load(Ordering::SeqCst) <= 17 * 1024, "{} bytes read", read.load(Ordering::SeqCst));
    // Every server function is covered, and an ordinary body still passes.
    for function in ["confirm_upload", "my_uploads", "page_form", "upload_target"] {
        let req = Request::post(format!("/api/{function}"))
            .header(header::CONTENT_LENGTH, "20000")
            .body(Body::from(vec![b'a'; 20000]))
            .unwrap();
        assert_eq!(
            app().oneshot(req).await.unwrap().status(),
            StatusCode::PAYLOAD_TOO_LARGE,
            "{function}"
        );
    }
    let fine = app()
        .oneshot(sign_request("access_code=&file_name=a.txt&size=1&content_type=", None))
        .await
        .unwrap();
    assert_eq!(fine.status(), StatusCode::OK);
}

#[tokio::test]
async fn pages_send_no_referrer() {
    let res = app().oneshot(Request::get("/healthz").body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(res.headers()[header::REFERRER_POLICY], "no-referrer");
}

#[tokio::test]
async fn a_planted_second_uploader_cookie_steers_nothing() {
    let seal = |id: &str| session_key().seal(&app::service::UploaderId::parse(id).unwrap());
    let (mine, theirs) = ("00112233445566778899aabbccddeeff", "ffeeddccbbaa99887766554433221100");
    // Another port of this host (or a narrower path) planted a second, validly sealed cookie.
    let both = format!("uploader={}; uploader={}", seal(theirs), seal(mine));
    let res = app()
        .oneshot(sign_request("access_code=&file_name=a.txt&size=1&content_type=", Some(&both)))
        .await
        .unwrap();
    assert!(
        !res.headers().contains_key(header::SET_COOKIE),
        "neither is believed (a fresh id for this request), and neither is replaced"
    );
    let signed: app::wire::SignedUpload = serde_json::from_str(&body_text(res).await).unwrap();
    assert!(!signed.key.contains(theirs) && !signed.key.contains(mine), "{}", signed.key);
    // The same cookie twice is still one uploader.
    let twice = format!("uploader={}; uploader={}", seal(mine), seal(mine));
    let res = app()
        .oneshot(sign_request("access_code=&file_name=a.txt&size=1&content_type=", Some(&twice)))
        .await
        .unwrap();
    let signed: app::wire::SignedUpload = serde_json::from_str(&body_text(res).await).unwrap();
    assert!(signed.key.contains(mine), "{}", signed.key);
    // Behind https only the __Host- cookie counts: a plain one (which any port can set) does not.
    let proxied = app_with(&[("UPLOAD_TRUSTED_PROXIES", "127.0.0.1")]);
    let mut req = from_peer("127.0.0.1:5000", None, Some("https"));
    req.headers_mut().insert(header::COOKIE, format!("uploader={}", seal(theirs)).parse().unwrap());
    let res = proxied.clone().oneshot(req).await.unwrap();
    let signed: app::wire::SignedUpload = serde_json::from_str(&body_text(res).await).unwrap();
    assert!(!signed.key.contains(theirs), "{}", signed.key);
    let mut req = from_peer("127.0.0.1:5000", None, Some("https"));
    req.headers_mut()
        .insert(header::COOKIE, format!("__Host-uploader={}", seal(mine)).parse().unwrap());
    let signed: app::wire::SignedUpload =
        serde_json::from_str(&body_text(proxied.oneshot(req).await.unwrap()).await).unwrap();
    assert!(signed.key.contains(mine), "{}", signed.key);
}

#[tokio::test]
async fn with_checksums_on_a_file_within_the_limit_needs_its_sha256() {
    let app = || app_with(&[("UPLOAD_CHECKSUM_MAX_BYTES", "1000")]);
    let res = app()
        .oneshot(sign_request(
            "access_code=&file_name=a.txt&size=1000&content_type=text%2Fplain",
            None,
        ))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let err: app::wire::UploadError = serde_json::from_str(&body_text(res).await).unwrap();
    assert!(matches!(&err, app::wire::UploadError::Refused(m) if m.contains("SHA-256")), "{err:?}");
    // With it, the policy binds it; above the limit none is needed.
    let sha256 = "n4bQgYhMfWWaL%2BqgxVrQFaO%2FTxsrC4Is0V1sFbDwCgg%3D";
    let res = app().oneshot(sign_request(&format!("access_code=&file_name=a.txt&size=1000&content_type=text%2Fplain&checksum_sha256={sha256}"), None)).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let signed: app::wire::SignedUpload = serde_json::from_str(&body_text(res).await).unwrap();
    assert!(
        signed.fields.iter().any(|(n, v)| n == "x-amz-checksum-sha256"
            && v == "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg="),
        "{:?}",
        signed.fields
    );
    let res = app()
        .oneshot(sign_request(
            "access_code=&file_name=a.txt&size=1001&content_type=text%2Fplain",
            None,
        ))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn wrong_access_codes_spend_a_budget_of_their_own_not_the_address_signing_budget() {
    use axum::extract::connect_info::MockConnectInfo;
    let guesser: std::net::SocketAddr = "192.0.2.66:4000".parse().unwrap();
    let app = app_with(&[
        ("UPLOAD_ACCESS_CODE", "blue heron at dawn"),
        ("UPLOAD_SIGNS_PER_MINUTE_PER_IP", "3"),
    ])
    .layer(MockConnectInfo(guesser));
    let ask = |code: &str| {
        app.clone().oneshot(sign_request(
            &format!("access_code={code}&file_name=a&size=1&content_type="),
            None,
        ))
    };
    // Ten wrong codes a minute are answered 403.
    for _ in 0..10 {
        assert_eq!(ask("red+heron").await.unwrap().status(), StatusCode::FORBIDDEN);
    }
    // Yet the address's three signatures are all still there for the right code.
    for _ in 0..3 {
        assert_eq!(ask("blue+heron+at+dawn").await.unwrap().status(), StatusCode::OK);
    }
    assert_eq!(ask("blue+heron+at+dawn").await.unwrap().status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn past_its_wrong_codes_an_address_is_not_told_whether_a_code_is_right() {
    use axum::extract::connect_info::MockConnectInfo;
    let guesser: std::net::SocketAddr = "192.0.2.67:4000".parse().unwrap();
    let app =
        app_with(&[("UPLOAD_ACCESS_CODE", "blue heron at dawn")]).layer(MockConnectInfo(guesser));
    let ask = |code: &str| {
        app.clone().oneshot(sign_request(
            &format!("access_code={code}&file_name=a&size=1&content_type="),
            None,
        ))
    };
    let mut statuses = vec![];
    for _ in 0..11 {
        statuses.push(ask("red+heron").await.unwrap().status());
    }
    assert_eq!(statuses[..10], [StatusCode::FORBIDDEN; 10]);
    assert_eq!(statuses[10], StatusCode::TOO_MANY_REQUESTS);
    // Guessing is bounded, not just the answers to wrong guesses: the right code waits too.
    let right = ask("blue+heron+at+dawn").await.unwrap();
    assert_eq!(right.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = right.headers()[header::RETRY_AFTER].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
}

#[tokio::test]
async fn paths_with_dot_segments_are_not_found_not_a_server_error() {
    for path in ["/.", "/..", "/pkg/../Cargo.toml", "/./api/sign_upload"] {
        for method in [http::Method::GET, http::Method::POST] {
            let res = app()
                .oneshot(
                    Request::builder()
                        .method(method.clone())
                        .uri(path)
                        .body(Body::empty())
                        .unwrap(),
                )
                .await
                .unwrap();
            assert_eq!(res.status(), StatusCode::NOT_FOUND, "{method} {path}");
        }
    }
}

/// A site root on disk, removed when dropped.
struct Site(std::path::PathBuf);

impl Drop for Site {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A site as a release build leaves it: hashed names, each with its brotli and gzip copies.
fn built_site(hashed: bool) -> (Site, leptos::prelude::LeptosOptions) {
    let root =
        Site(std::env::temp_dir().join(format!("site-test-{}", uuid::Uuid::new_v4().simple())));
    let pkg = root.0.join("pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    let name = if hashed { "s3-uploader.Tq1x9Gm2.wasm" } else { "s3-uploader.wasm" };
    std::fs::write(pkg.join(name), b"\0asm plain").unwrap();
    std::fs::write(pkg.join(format!("{name}.br")), b"brotli bytes").unwrap();
    std::fs::write(pkg.join(format!("{name}.gz")), b"gzip bytes").unwrap();
    std::fs::write(root.0.join("favicon.svg"), b"<svg/>").unwrap();
    let options = leptos::prelude::LeptosOptions::builder()
        .output_name("s3-uploader")
        .site_root(root.0.to_str().unwrap())
        .hash_files(hashed)
        .build();
    (root, options)
}

fn get(path: &str, accept_encoding: &str) -> Request<Body> {
    Request::get(path).header(header::ACCEPT_ENCODING, accept_encoding).body(Body::empty()).unwrap()
}

#[tokio::test]
async fn hashed_assets_go_precompressed_and_are_kept_a_year_pages_never() {
    let (_root, options) = built_site(true);
    let app = common::router::app_serving(&[], options).0;
    let wasm = "/pkg/s3-uploader.Tq1x9Gm2.wasm";

    let res = app.clone().oneshot(get(wasm, "gzip, deflate, br")).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[header::CONTENT_ENCODING], "br");
    assert_eq!(res.headers()[header::CACHE_CONTROL], "public, max-age=31536000, immutable");
    assert_eq!(res.headers()[header::CONTENT_TYPE], "application/wasm");
    assert_eq!(body_text(res).await, "brotli bytes");

    let res = app.clone().oneshot(get(wasm, "gzip")).await.unwrap();
    assert_eq!(res.headers()[header::CONTENT_ENCODING], "gzip");
    assert_eq!(body_text(res).await, "gzip bytes");
    let res = app.clone().oneshot(get(wasm, "identity")).await.unwrap();
    assert!(res.headers().get(header::CONTENT_ENCODING).is_none());
    assert_eq!(body_text(res).await, "\0asm plain");

    let res = app.clone().oneshot(get("/favicon.svg", "br")).await.unwrap();
    assert_eq!(res.headers()[header::CACHE_CONTROL], "public, max-age=86400");
    // Pages and server functions carry what was made for one visitor.
    let res = app
        .clone()
        .oneshot(sign_request(
            "access_code=&file_name=cat.png&size=42&content_type=image%2Fpng",
            None,
        ))
        .await
        .unwrap();
    assert_eq!(res.headers()[header::CACHE_CONTROL], "no-store");
}

#[tokio::test]
async fn unhashed_assets_are_checked_again_before_use() {
    let (_root, options) = built_site(false);
    let app = common::router::app_serving(&[], options).0;
    let res = app.clone().oneshot(get("/pkg/s3-uploader.wasm", "br")).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[header::CACHE_CONTROL], "no-cache");
    assert!(
        res.headers().contains_key(header::LAST_MODIFIED),
        "so that the browser can ask whether it changed"
    );
    // A missing file is never kept: the next build may bring it. (Rendered as the 404 page,
    // which with hashed names would need cargo-leptos's hash file beside this test.)
    let res = app.oneshot(get("/pkg/s3-uploader.0ld.wasm", "br")).await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(res.headers()[header::CACHE_CONTROL], "no-store");
}

#[tokio::test]
async fn a_missing_file_asked_for_uncompressed_is_not_found_not_another_file() {
    // tower-http's ServeDir, asked for a missing file with `identity` among the codings, dropped
    // the name's last extension and looked again: `/pkg/..x` opened the folder `/pkg/.` (200,
    // then a body it could not send), `<file>.x` served `<file>` (the HTTP fuzz pass).
    let (_root, options) = built_site(false);
    let app = common::router::app_serving(&[], options).0;
    for path in ["/pkg/..x", "/pkg/..%3C", "/pkg/s3-uploader.wasm.x"] {
        for encoding in ["identity", "gzip, identity", "Identity;q=1, br;q=0.5"] {
            let res = app.clone().oneshot(get(path, encoding)).await.unwrap();
            assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path} ({encoding})");
        }
    }
    // What is there is still sent, as it is or compressed, as asked.
    let res = app.clone().oneshot(get("/pkg/s3-uploader.wasm", "identity")).await.unwrap();
    assert!(res.headers().get(header::CONTENT_ENCODING).is_none());
    assert_eq!(body_text(res).await, "\0asm plain");
    let res = app.oneshot(get("/pkg/s3-uploader.wasm", "identity, gzip")).await.unwrap();
    assert_eq!(body_text(res).await, "gzip bytes");
}

#[tokio::test]
async fn cacheable_answers_set_no_cookie_and_static_files_vary_on_encoding() {
    // Every kind of static file: the wasm (hashed, kept a year; unhashed, a day), its
    // precompressed copies, and a file of `public/`.
    for hashed in [true, false] {
        let (_root, options) = built_site(hashed);
        let app = common::router::app_serving(&[], options).0;
        let wasm = if hashed { "/pkg/s3-uploader.Tq1x9Gm2.wasm" } else { "/pkg/s3-uploader.wasm" };
        for path in [wasm, "/favicon.svg"] {
            for encoding in ["br", "gzip", "identity"] {
                let res = app.clone().oneshot(get(path, encoding)).await.unwrap();
                assert_eq!(res.status(), StatusCode::OK, "{path}");
                assert!(res.headers().get(header::CACHE_CONTROL).is_some(), "{path}: cacheable");
                assert!(
                    res.headers().get(header::SET_COOKIE).is_none(),
                    "{path}: a cache keeps it"
                );
                let vary: Vec<_> = res.headers().get_all(header::VARY).iter().collect();
                assert!(
                    vary.iter().any(|v| v
                        .to_str()
                        .unwrap()
                        .to_ascii_lowercase()
                        .contains("accept-encoding")),
                    "{path} {encoding}: {vary:?}"
                );
            }
        }
    }
    let (_root, options) = built_site(true);
    let app = common::router::app_serving(&[], options).0;
    // A page (never kept) still gives a new visitor its cookie.
    let res = app.oneshot(Request::get("/healthz").body(Body::empty()).unwrap()).await.unwrap();
    assert!(res.headers().get(header::SET_COOKIE).is_some());
}

#[tokio::test]
async fn no_site_may_frame_a_page() {
    // The page itself: page.rs (rendering it needs a runtime of its own).
    for path in ["/healthz", "/no-such-page", "/api/upload_target"] {
        let res = app().oneshot(Request::get(path).body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(res.headers()[header::CONTENT_SECURITY_POLICY], "frame-ancestors 'none'");
        assert_eq!(res.headers()[header::X_FRAME_OPTIONS], "DENY");
    }
}

fn with_host(host: &str, origin: Option<&str>) -> Request<Body> {
    let mut req = sign_request("access_code=&file_name=a.txt&size=1&content_type=", None);
    req.headers_mut().insert(header::HOST, host.parse().unwrap());
    if let Some(origin) = origin {
        req.headers_mut().insert(header::ORIGIN, origin.parse().unwrap());
    }
    req
}

#[tokio::test]
async fn only_the_sites_own_host_names_are_served() {
    // DNS rebinding: another name pointing at a loopback server, its Origin matching.
    let res = app().oneshot(with_host("evil.test", Some("http://evil.test"))).await.unwrap();
    assert_eq!(res.status(), StatusCode::MISDIRECTED_REQUEST);
    let res = app().oneshot(with_host("evil.test:3000", None)).await.unwrap();
    assert_eq!(res.status(), StatusCode::MISDIRECTED_REQUEST);
    // The listening address and its loopback names are the site's own.
    for own in ["127.0.0.1:3000", "localhost:3000", "[::1]:3000"] {
        let res = app().oneshot(with_host(own, Some(&format!("http://{own}")))).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{own}");
    }
    // Balancers probe by address: health and readiness answer whatever the name.
    for probe in ["/healthz", "/readyz"] {
        let mut req = Request::get(probe).body(Body::empty()).unwrap();
        req.headers_mut().insert(header::HOST, "10.0.0.7:3000".parse().unwrap());
        assert_eq!(app().oneshot(req).await.unwrap().status(), StatusCode::OK, "{probe}");
    }
    // UPLOAD_PUBLIC_ORIGIN names them; a trusted proxy's X-Forwarded-Host is believed, anyone
    // else's is not.
    let public = [
        ("UPLOAD_PUBLIC_ORIGIN", "https://upload.example.com"),
        ("UPLOAD_TRUSTED_PROXIES", "127.0.0.1"),
    ];
    let res = app_with(&public)
        .oneshot(with_host("upload.example.com", Some("https://upload.example.com")))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = app_with(&public).oneshot(with_host("127.0.0.1:3000", None)).await.unwrap();
    assert_eq!(res.status(), StatusCode::MISDIRECTED_REQUEST, "not a public name");
    for (peer, status) in
        [("127.0.0.1:5000", StatusCode::OK), ("192.0.2.9:5000", StatusCode::MISDIRECTED_REQUEST)]
    {
        let mut req = from_peer(peer, None, None);
        req.headers_mut().insert(header::HOST, "10.0.0.7:3000".parse().unwrap());
        req.headers_mut().insert("x-forwarded-host", "upload.example.com".parse().unwrap());
        assert_eq!(app_with(&public).oneshot(req).await.unwrap().status(), status, "{peer}");
    }
}

#[tokio::test]
async fn a_plain_form_is_offered_even_when_files_may_be_larger_than_one_post() {
    let id = app::service::UploaderId::parse("00112233445566778899aabbccddeeff").unwrap();
    let cookie = format!("uploader={}", session_key().seal(&id));
    let metrics_app = app_and_metrics(&[("UPLOAD_MAX_BYTES", "10737418240")]);
    let req = Request::post("/api/page_form")
        .header(header::COOKIE, cookie)
        .header(header::ACCEPT, "application/json")
        .body(Body::empty())
        .unwrap();
    let res = metrics_app.0.oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let form: Option<app::wire::SignedUpload> =
        serde_json::from_str(&body_text(res).await).unwrap();
    let form = form.expect("a plain form, for files up to what one POST carries");
    let policy = form.fields.iter().find(|(n, _)| n == "policy").unwrap().1.clone();
    use base64::Engine;
    let policy =
        String::from_utf8(base64::engine::general_purpose::STANDARD.decode(policy).unwrap())
            .unwrap();
    assert!(policy.contains("[\"content-length-range\",1,5368709120]"), "{policy}");
}
