//! Upload profiles (`UPLOAD_PROFILES`): two on one instance, each refusing what breaks its own
//! rules (type, size, metadata) before signing; a form signed under one and used for a file
//! that breaks it refused by the bucket itself (the dev bucket here; Garage with `--ignored`,
//! as `scripts/test.sh` runs it); the profile's keys, listing and metadata; who may use which
//! profile (roles, a token's `profile` claim); and the HTTP statuses of an unknown or forbidden
//! profile.

mod common;

use std::sync::Arc;

use app::service::{Narrowing, Requester, UploadRequest, UploaderId, User};
use app::wire::UploadError;
use axum::body::Body;
use common::buckets::{etag_of, post_form, text_file, Bucket};
use common::router::{app_with, body_text};
use http::StatusCode;
use server::config::{table, Profiles};
use server::state::State;
use server::uploads::Uploads;
use tower::ServiceExt;

const PROFILES: &str = r#"
[profiles.avatars]
types = ["image/*"]
max_bytes = 5_000
files_per_minute = 3

[profiles.daily]
types = ["text/plain"]
files_per_day = 2

[profiles.invoices]
types = ["application/pdf"]
min_bytes = 10
max_bytes = 20_000
roles = ["accounting"]

[profiles.invoices.metadata.invoice-id]
required = true
max_len = 12
chars = "digits"

[profiles.invoices.metadata.kind]
values = ["paid", "due"]
"#;

/// The profiles file, in a directory removed when the test ends.
fn profiles_file() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("profiles.toml");
    std::fs::write(&path, PROFILES).unwrap();
    let path = path.to_str().unwrap().to_owned();
    (dir, path)
}

fn who(roles: &[&str], profile: Option<&str>) -> Requester {
    Requester {
        uploader: UploaderId::parse(&"a".repeat(32)).unwrap(),
        user: Some(User {
            issuer: "https://app.example".into(),
            subject: "ada".into(),
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
            narrowing: Narrowing { profile: profile.map(str::to_owned), ..Default::default() },
        }),
        ip: None,
        scope: None,
        new_visitor: false,
        cross_site: false,
    }
}

fn file(profile: &str, name: &str, size: u64, content_type: &str) -> UploadRequest {
    UploadRequest {
        profile: profile.into(),
        content_type: content_type.into(),
        ..text_file(name, size)
    }
}

fn with(mut request: UploadRequest, metadata: &[(&str, &str)]) -> UploadRequest {
    request.metadata = metadata.iter().map(|(n, v)| ((*n).into(), (*v).into())).collect();
    request
}

/// The service over `bucket` with the test's profiles.
async fn service(bucket: &Bucket, profiles: &str) -> Uploads {
    let mut config = bucket.config.clone();
    let settings = [("UPLOAD_PROFILES", profiles)];
    config.profiles = Arc::new(Profiles::from_lookup(&table(&settings), &config.limits).unwrap());
    Uploads::new(config)
        .with_objects(bucket.objects().await)
        .with_state(Arc::new(State::in_memory()))
}

fn refused(result: Result<impl std::fmt::Debug, UploadError>) -> String {
    match result {
        Err(UploadError::Refused(message)) => message,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// Each profile's limits, refused by the server before anything is signed, in the page's words.
#[tokio::test]
async fn each_profile_refuses_what_breaks_its_own_rules() {
    let bucket = Bucket::dev().await;
    let (_dir, profiles) = profiles_file();
    let uploads = service(&bucket, &profiles).await;
    let accountant = who(&["accounting"], None);
    let sign = |request| uploads.sign_upload(&accountant, request);

    assert!(refused(sign(file("avatars", "a.html", 100, "text/html")).await)
        .contains("files of type text/html are not accepted here (allowed: image/*)"));
    assert!(refused(sign(file("avatars", "a.png", 6_000, "image/png")).await).contains("at most"));
    // The same file is fine under the default profile, which is the global settings.
    assert!(sign(file("", "a.html", 6_000, "text/html")).await.is_ok());

    let pdf = |size| file("invoices", "i.pdf", size, "application/pdf");
    assert_eq!(refused(sign(pdf(1_000)).await), "invoice-id is required");
    assert_eq!(
        refused(sign(with(pdf(1_000), &[("invoice-id", "12a")])).await),
        "invoice-id: digits only"
    );
    assert_eq!(
        refused(sign(with(pdf(1_000), &[("invoice-id", "1234567890123")])).await),
        "invoice-id is at most 12 characters"
    );
    assert_eq!(
        refused(sign(with(pdf(1_000), &[("invoice-id", "42"), ("kind", "late")])).await),
        "kind must be one of: paid, due"
    );
    assert!(refused(sign(with(pdf(5), &[("invoice-id", "42")])).await).contains("at least 10 B"));
    assert!(refused(sign(with(pdf(1_000), &[("invoice-id", "42"), ("profile", "avatars")])).await)
        .contains("is the service's"));
    let signed = sign(with(pdf(1_000), &[("invoice-id", "42"), ("kind", "paid")])).await.unwrap();
    assert!(
        signed.key.starts_with(&format!("uploads/{}/invoices/ffff", "a".repeat(32))),
        "{}",
        signed.key
    );
    let field = |name: &str| signed.fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
    assert_eq!(field("x-amz-meta-profile"), Some("invoices"));
    assert_eq!(field("x-amz-meta-invoice-id"), Some("42"));

    // Each profile has its own budget of files a minute, every request to sign counted (the
    // two refused above too): the avatars' 3 are spent apart from the default's.
    assert!(sign(file("avatars", "3.png", 10, "image/png")).await.is_ok());
    assert!(matches!(
        sign(file("avatars", "4.png", 10, "image/png")).await,
        Err(UploadError::TooManyRequests { .. })
    ));
    assert!(sign(file("", "fine.txt", 10, "text/plain")).await.is_ok());

    // A day's files: refusals spend none of them; past them, wait hours, not a minute. No
    // plain form there: one is signed for every page view.
    assert!(refused(sign(file("daily", "a.png", 10, "image/png")).await).contains("not accepted"));
    assert!(sign(file("daily", "1.txt", 10, "text/plain")).await.is_ok());
    assert!(sign(file("daily", "2.txt", 10, "text/plain")).await.is_ok());
    match sign(file("daily", "3.txt", 10, "text/plain")).await {
        Err(UploadError::TooManyRequests { retry_after_secs }) => {
            assert!(retry_after_secs > 3600, "{retry_after_secs}");
        }
        other => panic!("expected 429, got {other:?}"),
    }
    let plain = uploads.page_form(&accountant, "daily", "http://127.0.0.1:9/".into()).await;
    assert_eq!(plain, Ok(None));
    assert!(uploads
        .page_form(&accountant, "", "http://127.0.0.1:9/".into())
        .await
        .unwrap()
        .is_some());
}

/// Who may use which profile: roles, and a token that names one profile.
#[tokio::test]
async fn roles_and_a_tokens_profile_decide_who_signs_for_which() {
    let bucket = Bucket::dev().await;
    let (_dir, profiles) = profiles_file();
    let uploads = service(&bucket, &profiles).await;
    let invoice =
        || with(file("invoices", "i.pdf", 100, "application/pdf"), &[("invoice-id", "42")]);
    let forbidden = |result: Result<_, UploadError>| match result {
        Err(UploadError::Forbidden(message)) => message,
        other => panic!("expected forbidden, got {other:?}"),
    };
    let staff = who(&["staff"], None);
    assert!(forbidden(uploads.sign_upload(&staff, invoice()).await).contains("for other users"));
    let anonymous = Requester { user: None, ..staff.clone() };
    assert!(forbidden(uploads.sign_upload(&anonymous, invoice()).await).contains("other users"));
    assert!(uploads.sign_upload(&who(&["staff", "accounting"], None), invoice()).await.is_ok());

    // A token for the avatars may sign avatars only: never the default, never invoices, even
    // with the role.
    let avatars_only = who(&["accounting"], Some("avatars"));
    let message = forbidden(uploads.sign_upload(&avatars_only, invoice()).await);
    assert_eq!(message, "your sign-in is for the upload profile \"avatars\", not \"invoices\"");
    forbidden(uploads.sign_upload(&avatars_only, file("", "a.txt", 10, "text/plain")).await);
    assert!(matches!(uploads.my_uploads(&avatars_only, "").await, Err(UploadError::Forbidden(_))));
    assert!(uploads
        .sign_upload(&avatars_only, file("avatars", "a.png", 10, "image/png"))
        .await
        .is_ok());

    match uploads.sign_upload(&staff, file("videos", "v.mp4", 10, "video/mp4")).await {
        Err(UploadError::NotFound(message)) => {
            assert_eq!(message, "there is no upload profile \"videos\" here");
        }
        other => panic!("expected not found, got {other:?}"),
    }
    // What the page is told of a profile: its limits and fields, for this user.
    let target = uploads.upload_target(Some(&avatars_only), "avatars").unwrap();
    assert_eq!((target.profile.name.as_str(), target.profile.max_bytes), ("avatars", 5_000));
    let target = uploads.upload_target(None, "invoices").unwrap();
    assert_eq!(target.profile.fields[0].name, "invoice-id");
}

/// A form signed under a profile binds its rules: the bucket refuses a file that breaks them,
/// stores the one that keeps them under the profile's keys with `x-amz-meta-profile`, and "Your
/// uploads" of each profile lists that profile's alone.
async fn the_bucket_enforces_each_profiles_form(bucket: Bucket) {
    let (_dir, profiles) = profiles_file();
    let uploads = service(&bucket, &profiles).await;
    let me = who(&[], None);
    let picture = b"\x89PNG\r\n\x1a\n fake picture";
    let signed = uploads
        .sign_upload(&me, file("avatars", "me.png", picture.len() as u64, "image/png"))
        .await
        .unwrap();
    // The form used for a page declared as a picture's type it is not: the policy says image/png.
    let mut as_html = signed.fields.clone();
    for (name, value) in &mut as_html {
        if name.eq_ignore_ascii_case("content-type") {
            *value = "text/html".into();
        }
    }
    let (status, answer) =
        post_form(&signed.url, &as_html, "me.png", b"<script>1</script>\n").await;
    assert!(matches!(status, 400 | 403), "{status} {answer}");
    // Without the profile's metadata, or naming another profile: the policy binds it.
    let without: Vec<_> =
        signed.fields.iter().filter(|(n, _)| n != "x-amz-meta-profile").cloned().collect();
    let (status, answer) = post_form(&signed.url, &without, "me.png", picture).await;
    assert!(matches!(status, 400 | 403), "{status} {answer}");
    let mut other = signed.fields.clone();
    other
        .iter_mut()
        .filter(|(n, _)| n == "x-amz-meta-profile")
        .for_each(|(_, v)| *v = "invoices".into());
    let (status, answer) = post_form(&signed.url, &other, "me.png", picture).await;
    assert!(matches!(status, 400 | 403), "{status} {answer}");
    // A bigger file than the one signed for.
    let (status, answer) = post_form(&signed.url, &signed.fields, "me.png", &[b'x'; 6_000]).await;
    assert!(matches!(status, 400 | 403), "{status} {answer}");
    // The file signed for.
    let (status, answer) = post_form(&signed.url, &signed.fields, "me.png", picture).await;
    assert_eq!(status, 201, "{answer}");
    let report = app::wire::UploadReport {
        key: signed.key.clone(),
        etag: etag_of(&answer),
        receipt: signed.receipt.clone(),
    };
    uploads.confirm_upload(&me, report).await.unwrap();

    // One file under the default profile too: each listing has its own.
    let plain = uploads.sign_upload(&me, file("", "notes.txt", 5, "text/plain")).await.unwrap();
    let (status, answer) = post_form(&plain.url, &plain.fields, "notes.txt", b"hello").await;
    assert_eq!(status, 201, "{answer}");
    let names =
        |list: Vec<app::wire::StoredUpload>| list.into_iter().map(|u| u.name).collect::<Vec<_>>();
    assert_eq!(names(uploads.my_uploads(&me, "avatars").await.unwrap()), ["me.png"]);
    assert_eq!(names(uploads.my_uploads(&me, "").await.unwrap()), ["notes.txt"]);
    assert!(uploads.my_uploads(&me, "invoices").await.is_err(), "invoices are for accounting");
}

#[tokio::test]
async fn the_dev_bucket_enforces_each_profiles_form() {
    the_bucket_enforces_each_profiles_form(Bucket::dev().await).await;
}

/// On Garage (`scripts/test.sh` runs the ignored tests with the cluster up).
#[tokio::test]
#[ignore = "needs the Garage cluster scripts/test.sh starts"]
async fn garage_enforces_each_profiles_form() {
    the_bucket_enforces_each_profiles_form(Bucket::garage()).await;
}

/// Over HTTP: an unknown profile is a 404 and a forbidden one a 403, with the reason, for the
/// page's target and for signing alike; the page of a profile is served at `/p/NAME`.
#[tokio::test]
async fn unknown_and_forbidden_profiles_answer_404_and_403() {
    let (_dir, profiles) = profiles_file();
    let app = app_with(&[("UPLOAD_PROFILES", &profiles)]);
    let call = |path: &str, form: &str| {
        http::Request::post(path)
            .header(http::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(http::header::ACCEPT, "application/json")
            .body(Body::from(form.to_owned()))
            .unwrap()
    };
    let sign = "access_code=&file_name=i.pdf&size=100&content_type=application%2Fpdf&profile=";
    for (path, form, status, says) in [
        (
            "/api/upload_target",
            "profile=videos".to_owned(),
            StatusCode::NOT_FOUND,
            "no upload profile \\\"videos\\\"",
        ),
        ("/api/sign_upload", format!("{sign}videos"), StatusCode::NOT_FOUND, "no upload profile"),
        ("/api/sign_upload", format!("{sign}invoices"), StatusCode::FORBIDDEN, "for other users"),
        ("/api/upload_target", "profile=avatars".to_owned(), StatusCode::OK, "\"max_bytes\":5000"),
        ("/api/upload_target", String::new(), StatusCode::OK, "\"name\":\"default\""),
    ] {
        let res = app.clone().oneshot(call(path, &form)).await.unwrap();
        let answered = res.status();
        let body = body_text(res).await;
        assert_eq!(answered, status, "{path} {form}: {body}");
        assert!(body.contains(says), "{path} {form}: {body}");
    }
    let page = |path: &str| {
        http::Request::get(path).header("accept", "text/html").body(Body::empty()).unwrap()
    };
    let (head, html) = common::router::render(app.clone(), page("/p/avatars")).await;
    assert_eq!(head.status, StatusCode::OK);
    assert!(html.contains("avatars") && html.contains("image/*"), "{html}");
    let (head, html) = common::router::render(app, page("/p/videos")).await;
    assert_eq!(head.status, StatusCode::NOT_FOUND, "{html}");
    assert!(html.contains("no upload profile"), "{html}");
}

/// `/embed/NAME?origin=`: served for the origins its profile may be embedded on, framed by
/// exactly that origin; anything else unframeable, as every other page is.
#[tokio::test]
async fn the_embeddable_uploader_is_framed_by_its_listed_origin_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("profiles.toml");
    let narrowed =
        "[profiles.avatars]\ntypes = [\"image/*\"]\nembed_origins = [\"https://app.example\"]\n";
    std::fs::write(&path, format!("{narrowed}[profiles.docs]\n")).unwrap();
    let path = path.to_str().unwrap();
    let origins = "https://app.example, https://admin.example/";
    let app = app_with(&[("UPLOAD_PROFILES", path), ("UPLOAD_EMBED_ORIGINS", origins)]);
    let get = |uri: &str| {
        let req =
            http::Request::get(uri).header("accept", "text/html").body(Body::empty()).unwrap();
        common::router::render(app.clone(), req)
    };
    let framing = |head: &http::response::Parts| {
        let value = |name| head.headers.get(name).map(|v| v.to_str().unwrap().to_owned());
        (value(http::header::CONTENT_SECURITY_POLICY), value(http::header::X_FRAME_OPTIONS))
    };
    let none = (Some("frame-ancestors 'none'".to_owned()), Some("DENY".to_owned()));

    let (head, html) = get("/embed/avatars?origin=https%3A%2F%2Fapp.example").await;
    assert_eq!(head.status, StatusCode::OK, "{html}");
    assert_eq!(framing(&head), (Some("frame-ancestors https://app.example".into()), None));
    // The global list, for a profile that does not narrow it (an origin written as a person
    // might: browsers write it lowercase, without the slash or the default port).
    for written in ["https://ADMIN.example/", "https://admin.example:443"] {
        let (head, _) = get(&format!("/embed/docs?origin={written}")).await;
        assert_eq!(framing(&head), (Some("frame-ancestors https://admin.example".into()), None));
    }
    for (uri, status) in [
        // Listed globally, but the avatars narrow the list.
        ("/embed/avatars?origin=https://admin.example", StatusCode::FORBIDDEN),
        ("/embed/avatars?origin=https://evil.example", StatusCode::FORBIDDEN),
        ("/embed/avatars?origin=https://app.example.evil.example", StatusCode::FORBIDDEN),
        ("/embed/avatars", StatusCode::BAD_REQUEST),
        // Two: the page might read the other one.
        (
            "/embed/avatars?origin=https://app.example&origin=https://evil.example",
            StatusCode::BAD_REQUEST,
        ),
        (
            "/embed/avatars?origin=https://evil.example&origin=https://app.example",
            StatusCode::BAD_REQUEST,
        ),
        ("/embed/videos?origin=https://app.example", StatusCode::NOT_FOUND),
        ("/", StatusCode::OK),
        ("/p/avatars", StatusCode::OK),
    ] {
        let (head, body) = get(uri).await;
        assert_eq!(head.status, status, "{uri}: {body}");
        assert_eq!(framing(&head), none, "{uri}");
    }
}
