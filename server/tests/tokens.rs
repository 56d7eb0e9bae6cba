//! Uploaders named by the application's tokens (`UPLOAD_AUTH=token`) and by an authenticating
//! proxy's header (`UPLOAD_AUTH=proxy`). Keys and tokens are made by PyJWT, as an application
//! would make them (`mint_tokens.py`, in the project's `.venv`); the JWKS is served over HTTP
//! on loopback, and taken away mid-test.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use app::wire::NoUser;
use axum::body::Body;
use common::router::{app_with, body_text, sign_request};
use http::{header, Request, StatusCode};
use serde_json::Value;
use server::auth::jwks::Jwks;
use server::auth::token::{Keys, TokenVerifier, VerifyingKey};
use tower::ServiceExt;

const ISSUER: &str = "https://app.example";
const AUDIENCE: &str = "uploads";
const HS_SECRET: &str = "0123456789abcdef0123456789abcdef-hs256";

/// What `mint_tokens.py` made; `None` (the test skips) without the project's Python.
fn minted() -> Option<Value> {
    let python = common::tools::python()?;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/mint_tokens.py");
    let now = time::OffsetDateTime::now_utc().unix_timestamp().to_string();
    let out = std::process::Command::new(python)
        .args([script, &now, HS_SECRET, ISSUER, AUDIENCE])
        .output()
        .expect("python runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    Some(serde_json::from_slice(&out.stdout).unwrap())
}

fn token<'a>(minted: &'a Value, name: &str) -> &'a str {
    minted["tokens"][name].as_str().unwrap_or_else(|| panic!("no token {name}"))
}

fn verifier(keys: Keys) -> TokenVerifier {
    TokenVerifier { keys, issuer: ISSUER.into(), audience: AUDIENCE.into() }
}

/// An issuer's JWKS on loopback: the document it serves, how often it was asked, and a switch
/// that stops it (connections are then refused).
struct Issuer {
    url: reqwest::Url,
    document: Arc<Mutex<String>>,
    fetches: Arc<AtomicUsize>,
    server: tokio::task::JoinHandle<()>,
}

async fn issuer(document: &Value) -> Issuer {
    let document = Arc::new(Mutex::new(document.to_string()));
    let fetches = Arc::new(AtomicUsize::new(0));
    let (served, counted) = (document.clone(), fetches.clone());
    let app = axum::Router::new().route(
        "/jwks.json",
        axum::routing::get(move || {
            counted.fetch_add(1, Ordering::SeqCst);
            let body = served.lock().unwrap().clone();
            async move { ([(header::CONTENT_TYPE, "application/json")], body) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/jwks.json", listener.local_addr().unwrap()).parse().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Issuer { url, document, fetches, server }
}

#[tokio::test]
async fn tokens_of_every_key_type_name_their_user_and_the_algorithm_is_the_keys() {
    let Some(minted) = minted() else { return };
    let issuer = issuer(&minted["jwks_a"]).await;
    let jwks = verifier(Keys::Set(Arc::new(Jwks::new(issuer.url.clone(), Duration::ZERO))));
    let ada = jwks.verify(token(&minted, "ed")).await.unwrap();
    assert_eq!((ada.issuer.as_str(), ada.subject.as_str()), (ISSUER, "ada"));
    assert_eq!(ada.roles, ["staff", "uploader"]);
    assert_eq!(ada.narrowing.max_bytes, Some(1000));
    assert_eq!(jwks.verify(token(&minted, "rsa")).await.unwrap().subject, "rita");
    // A JWKS names its keys: a token without a `kid` names none of them.
    assert_eq!(jwks.verify(token(&minted, "ed_no_kid")).await.err(), Some(NoUser::UnknownKey));
    // `none` is no algorithm at all.
    assert_eq!(jwks.verify(token(&minted, "alg_none")).await.err(), Some(NoUser::Malformed));

    let es_pem = minted["es256_pem"].as_str().unwrap().as_bytes();
    let es = verifier(Keys::Fixed(VerifyingKey::from_pem(es_pem).unwrap()));
    assert_eq!(es.verify(token(&minted, "es")).await.unwrap().subject, "esme");
    // Another key type's token, even a valid one, is refused by the key's algorithm.
    assert_eq!(es.verify(token(&minted, "rsa_pem")).await.err(), Some(NoUser::BadSignature));

    let rsa_pem = minted["rsa_pem"].as_str().unwrap().as_bytes();
    let rsa = verifier(Keys::Fixed(VerifyingKey::from_pem(rsa_pem).unwrap()));
    assert_eq!(rsa.verify(token(&minted, "rsa_pem")).await.unwrap().subject, "rita");
    // The classic confusion: HS256 "signed" with the RSA public key as its secret.
    let confused = rsa.verify(token(&minted, "hs_with_rsa_public_key")).await;
    assert_eq!(confused.err(), Some(NoUser::BadSignature));
    assert_eq!(rsa.verify(token(&minted, "alg_none")).await.err(), Some(NoUser::Malformed));
    issuer.server.abort();
}

#[tokio::test]
async fn each_refusal_names_its_reason() {
    let Some(minted) = minted() else { return };
    let hs = verifier(Keys::Fixed(VerifyingKey::hs256(HS_SECRET.as_bytes()).unwrap()));
    assert_eq!(hs.verify(token(&minted, "hs")).await.unwrap().subject, "ada");
    assert!(hs.verify(token(&minted, "within_leeway")).await.is_ok(), "60 s of leeway");
    for (name, reason) in [
        ("expired", NoUser::Expired),
        ("not_yet", NoUser::NotYetValid),
        ("wrong_aud", NoUser::WrongAudience),
        ("wrong_iss", NoUser::WrongIssuer),
        ("wrong_secret", NoUser::BadSignature),
        ("alg_none", NoUser::Malformed),
        ("no_sub", NoUser::Malformed),
        ("no_exp", NoUser::Malformed),
        ("hs_many_roles", NoUser::Malformed),
        ("garbage", NoUser::Malformed),
        ("ed", NoUser::BadSignature),
    ] {
        assert_eq!(hs.verify(token(&minted, name)).await.err(), Some(reason), "{name}");
    }
}

#[tokio::test]
async fn a_rotated_key_is_fetched_and_known_keys_outlive_the_issuer() {
    let Some(minted) = minted() else { return };
    let issuer = issuer(&minted["jwks_a"]).await;
    let min_refresh = Duration::from_millis(300);
    let jwks = verifier(Keys::Set(Arc::new(Jwks::new(issuer.url.clone(), min_refresh))));
    assert!(jwks.verify(token(&minted, "ed")).await.is_ok());
    assert_eq!(issuer.fetches.load(Ordering::SeqCst), 1);
    // A flood of tokens naming keys nobody published costs the issuer one fetch a period.
    for _ in 0..20 {
        assert_eq!(jwks.verify(token(&minted, "ed3")).await.err(), Some(NoUser::UnknownKey));
    }
    assert_eq!(issuer.fetches.load(Ordering::SeqCst), 1, "within the period: no fetch");
    // The issuer rotates: its new key is taken once the period allows a fetch.
    *issuer.document.lock().unwrap() = minted["jwks_b"].to_string();
    tokio::time::sleep(min_refresh).await;
    assert_eq!(jwks.verify(token(&minted, "ed2")).await.unwrap().subject, "eddie");
    assert_eq!(issuer.fetches.load(Ordering::SeqCst), 2);
    // The issuer's host goes down: the keys known keep working, unknown ones stay unknown.
    issuer.server.abort();
    let _ = issuer.server.await;
    tokio::time::sleep(min_refresh).await;
    assert_eq!(jwks.verify(token(&minted, "ed3")).await.err(), Some(NoUser::UnknownKey));
    assert!(jwks.verify(token(&minted, "ed")).await.is_ok());
    assert!(jwks.verify(token(&minted, "ed2")).await.is_ok());
}

#[tokio::test]
async fn a_caller_that_hangs_up_does_not_cancel_the_fetch_it_started() {
    let Some(minted) = minted() else { return };
    // An issuer slow to answer.
    let slow = axum::Router::new().route(
        "/jwks.json",
        axum::routing::get({
            let body = minted["jwks_a"].to_string();
            move || async move {
                tokio::time::sleep(Duration::from_millis(300)).await;
                ([(header::CONTENT_TYPE, "application/json")], body)
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/jwks.json", listener.local_addr().unwrap()).parse().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, slow).await.unwrap() });
    // One fetch a minute, as configured.
    let jwks = verifier(Keys::Set(Arc::new(Jwks::new(url, Duration::from_secs(60)))));
    let gave_up =
        tokio::time::timeout(Duration::from_millis(50), jwks.verify(token(&minted, "ed")));
    assert!(gave_up.await.is_err(), "the caller hangs up mid-fetch");
    // The fetch it started went on: the key is known, though no other fetch is allowed yet.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(jwks.verify(token(&minted, "ed")).await.unwrap().subject, "ada");
    server.abort();
}

/// The router with HS256 tokens, as `server --auth token` runs it.
fn token_app(extra: &[(&'static str, &'static str)]) -> axum::Router {
    let mut settings = vec![
        ("UPLOAD_AUTH", "token"),
        ("UPLOAD_TOKEN_HS256_SECRET", HS_SECRET),
        ("UPLOAD_TOKEN_ISSUER", ISSUER),
        ("UPLOAD_TOKEN_AUDIENCE", AUDIENCE),
        ("UPLOAD_SIGN_IN_URL", "https://app.example/sign-in"),
    ];
    settings.extend_from_slice(extra);
    app_with(&settings)
}

/// `sign_upload` for a 42-byte picture, with a Bearer token and a cookie when given, and
/// `query` after the path.
fn sign(auth: Option<&str>, cookie: Option<&str>, query: &str) -> Request<Body> {
    let form = "access_code=&file_name=cat.png&size=42&content_type=image%2Fpng";
    let mut req = sign_request(form, cookie);
    *req.uri_mut() = format!("/api/sign_upload{query}").parse().unwrap();
    if let Some(token) = auth {
        req.headers_mut().insert(header::AUTHORIZATION, format!("Bearer {token}").parse().unwrap());
    }
    req
}

/// The 401's reason and challenge.
async fn refusal(res: http::Response<Body>) -> (String, String) {
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let challenge = res.headers()[header::WWW_AUTHENTICATE].to_str().unwrap().to_owned();
    let body: Value = serde_json::from_str(&body_text(res).await).unwrap();
    assert_eq!(body["SignIn"]["sign_in_url"], "https://app.example/sign-in");
    (body["SignIn"]["reason"].as_str().unwrap().to_owned(), challenge)
}

#[tokio::test]
async fn a_bearer_call_signs_under_its_users_prefix_and_never_gets_a_cookie() {
    let Some(minted) = minted() else { return };
    let app = token_app(&[]);
    let res = app.clone().oneshot(sign(Some(token(&minted, "hs")), None, "")).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().get(header::SET_COOKIE).is_none(), "a Bearer call gets no cookie");
    let signed: Value = serde_json::from_str(&body_text(res).await).unwrap();
    // sha256("https://app.example\0ada"), its first 32 hex digits.
    let prefix = "uploads/0df398604d28e90148ff79336ea1ad04/";
    assert!(signed["key"].as_str().unwrap().starts_with(prefix), "{signed}");
    // Who uploaded is stored with the object, for the operator; the policy binds it.
    let fields = signed["fields"].as_array().unwrap();
    assert!(fields.contains(&serde_json::json!(["x-amz-meta-uploader", "ada"])), "{signed}");
    // And nobody may claim it in their own metadata.
    let claimed = app
        .clone()
        .oneshot({
            let mut req = sign(Some(token(&minted, "hs")), None, "");
            *req.body_mut() = Body::from(
                "access_code=&file_name=cat.png&size=42&content_type=image%2Fpng\
                 &metadata[uploader]=mallory",
            );
            req
        })
        .await
        .unwrap();
    assert_eq!(claimed.status(), StatusCode::BAD_REQUEST);

    for (name, reason) in
        [("expired", "expired"), ("wrong_aud", "wrong_audience"), ("garbage", "malformed")]
    {
        let res = app.clone().oneshot(sign(Some(token(&minted, name)), None, "")).await.unwrap();
        assert_eq!(
            refusal(res).await,
            (reason.to_owned(), "Bearer error=\"invalid_token\"".into())
        );
    }
    // No token at all; and a token in the query string is never read (it reaches logs).
    let query = format!("?access_token={}", token(&minted, "hs"));
    for req in [sign(None, None, ""), sign(None, None, &query)] {
        let res = app.clone().oneshot(req).await.unwrap();
        assert!(res.headers().get(header::SET_COOKIE).is_none(), "nobody is minted an id");
        assert_eq!(refusal(res).await, ("missing".to_owned(), "Bearer".into()));
    }
    // A page from another site still meets the cross-site guard first.
    let mut cross = sign(Some(token(&minted, "hs")), None, "");
    cross.headers_mut().insert("sec-fetch-site", "cross-site".parse().unwrap());
    cross.headers_mut().insert(header::ORIGIN, "https://evil.example".parse().unwrap());
    assert_eq!(app.clone().oneshot(cross).await.unwrap().status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_token_is_exchanged_once_for_a_session_that_signs_until_sign_out() {
    let Some(minted) = minted() else { return };
    let app = token_app(&[]);
    let exchange = |token: &str| {
        Request::post("/api/start_session")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "application/json")
            .body(Body::from(format!("token={token}")))
            .unwrap()
    };
    let res = app.clone().oneshot(exchange(token(&minted, "expired"))).await.unwrap();
    assert_eq!(refusal(res).await.0, "expired");
    let res = app.clone().oneshot(exchange(token(&minted, "hs"))).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let set = res.headers()[header::SET_COOKIE].to_str().unwrap().to_owned();
    assert!(set.starts_with("upload_session=") && set.contains("HttpOnly"), "{set}");
    assert!(set.contains("SameSite=Lax") && set.contains("Max-Age=28800"), "{set}");
    let cookie = set.split(';').next().unwrap().to_owned();

    // The session signs, under the same prefix as the token.
    let res = app.clone().oneshot(sign(None, Some(&cookie), "")).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let signed: Value = serde_json::from_str(&body_text(res).await).unwrap();
    assert!(signed["key"]
        .as_str()
        .unwrap()
        .starts_with("uploads/0df398604d28e90148ff79336ea1ad04/"));
    // A token naming someone else beside the cookie is a mix-up: refused.
    let res = app.clone().oneshot(sign(Some(token(&minted, "hs_bob")), Some(&cookie), "")).await;
    assert_eq!(refusal(res.unwrap()).await.0, "other_user");
    // Two live sessions naming different users (one planted): neither is believed.
    let bob = app.clone().oneshot(exchange(token(&minted, "hs_bob"))).await.unwrap().headers()
        [header::SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let both = format!("{bob}; {cookie}");
    let res = app.clone().oneshot(sign(None, Some(&both), "")).await.unwrap();
    assert_eq!(refusal(res).await.0, "other_user");
    // An API client (Bearer) is never given a cookie, a session included.
    let mut by_api = exchange(token(&minted, "hs"));
    by_api
        .headers_mut()
        .insert(header::AUTHORIZATION, format!("Bearer {}", token(&minted, "hs")).parse().unwrap());
    let res = app.clone().oneshot(by_api).await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.headers().get(header::SET_COOKIE).is_none());
    // An anonymous cookie names nobody here.
    let anonymous = format!(
        "uploader={}",
        common::router::session_key()
            .seal(&app::service::UploaderId::parse("00112233445566778899aabbccddeeff").unwrap(),)
    );
    let res = app.clone().oneshot(sign(None, Some(&anonymous), "")).await.unwrap();
    assert_eq!(refusal(res).await.0, "missing");

    let res = app
        .clone()
        .oneshot(
            Request::post("/api/end_session")
                .header(header::ACCEPT, "application/json")
                .header(header::COOKIE, &cookie)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let cleared = res.headers()[header::SET_COOKIE].to_str().unwrap();
    assert!(cleared.starts_with("upload_session=;") && cleared.contains("Max-Age=0"), "{cleared}");
}

#[tokio::test]
async fn a_token_narrows_the_largest_file_and_never_widens_it() {
    let Some(minted) = minted() else { return };
    let app = token_app(&[("UPLOAD_MAX_BYTES", "1000")]);
    // 42 bytes: above nora's 10, within the configured 1000.
    let res = app.clone().oneshot(sign(Some(token(&minted, "hs_narrow")), None, "")).await;
    assert_eq!(res.unwrap().status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        app.clone().oneshot(sign(Some(token(&minted, "hs")), None, "")).await.unwrap().status(),
        StatusCode::OK
    );
    // The page is told the narrowed limit; a token asking for more gets the configured one.
    let target = |name: &str| {
        let token = token(&minted, name).to_owned();
        let app = app.clone();
        async move {
            let req = Request::post("/api/upload_target")
                .header(header::ACCEPT, "application/json")
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .body(Body::empty())
                .unwrap();
            let info: Value =
                serde_json::from_str(&body_text(app.oneshot(req).await.unwrap()).await).unwrap();
            info["profile"]["max_bytes"].as_u64().unwrap()
        }
    };
    assert_eq!(target("hs_narrow").await, 10);
    assert_eq!(target("hs_wide").await, 1000);
    let res = app.clone().oneshot({
        let mut req = sign(Some(token(&minted, "hs_wide")), None, "");
        *req.body_mut() = Body::from("access_code=&file_name=big.bin&size=2000&content_type=");
        req
    });
    assert_eq!(res.await.unwrap().status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_proxys_header_names_the_user_from_the_proxy_only() {
    use axum::extract::connect_info::MockConnectInfo;
    let settings = [
        ("UPLOAD_AUTH", "proxy"),
        ("UPLOAD_AUTH_HEADER", "X-Auth-Request-User"),
        ("UPLOAD_AUTH_PROXIES", "127.0.0.1"),
    ];
    let named = || {
        let mut req = sign(None, None, "");
        req.headers_mut().insert("x-auth-request-user", "ada@example.com".parse().unwrap());
        req
    };
    let from_proxy = app_with(&settings)
        .layer(MockConnectInfo(std::net::SocketAddr::from(([127, 0, 0, 1], 40000))));
    let res = from_proxy.clone().oneshot(named()).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().get(header::SET_COOKIE).is_none());
    let signed: Value = serde_json::from_str(&body_text(res).await).unwrap();
    let id = &signed["key"].as_str().unwrap()[8..40];
    // sha256("proxy\0ada@example.com"), its first 32 hex digits.
    assert_eq!(id, "de0ee6e35331488e7143d3187ecbef4a");
    let res = from_proxy.oneshot(sign(None, None, "")).await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

    let straight = app_with(&settings)
        .layer(MockConnectInfo(std::net::SocketAddr::from(([192, 0, 2, 9], 40000))));
    let res = straight.oneshot(named()).await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let body: Value = serde_json::from_str(&body_text(res).await).unwrap();
    assert_eq!(body["SignIn"]["reason"], "untrusted_proxy");
}
