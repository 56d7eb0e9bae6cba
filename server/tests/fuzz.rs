//! Fuzz targets, generated (proptest: stable Rust has no coverage-guided fuzzer here; each
//! target mixes structure-aware inputs, from signed forms and real field names, with raw
//! garbage). `FUZZ_CASES` sets the count per target (default 2 000 for `cargo test`;
//! `scripts/fuzz.sh` runs a million). Invariants: no panic; no server error (5xx) for bad
//! input; no key outside `uploads/<id>/`; nothing left behind by a refused upload; the reading
//! of a request bounded.

mod common;

use std::sync::Arc;

use app::rules;
use axum::body::Body;
use common::policy::{case, credentials, parts, sign, BUCKET, REGION};
use http::{header, Request, StatusCode};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use server::devbucket::store::{key_of, key_segments};
use server::devbucket::{self, DevBucket, Store};
use server::policy::{verify, Context, Part, ReceivedPolicy};
use tower::ServiceExt;

fn cases() -> u32 {
    std::env::var("FUZZ_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(2000)
}

fn runner() -> TestRunner {
    // No shrinking past what is useful, no persistence files: a failure prints its input.
    TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        max_shrink_iters: 256,
        ..Config::default()
    })
}

/// Field names S3 forms use, and some it does not.
fn field_name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("key".to_owned()),
        Just("policy".to_owned()),
        Just("x-amz-signature".to_owned()),
        Just("x-amz-credential".to_owned()),
        Just("x-amz-date".to_owned()),
        Just("x-amz-algorithm".to_owned()),
        Just("x-amz-security-token".to_owned()),
        Just("Content-Type".to_owned()),
        Just("success_action_status".to_owned()),
        Just("success_action_redirect".to_owned()),
        Just("x-amz-checksum-sha256".to_owned()),
        Just("x-amz-checksum-algorithm".to_owned()),
        Just("file".to_owned()),
        "x-amz-meta-[a-z_]{0,8}",
        ".{0,12}",
    ]
}

/// Values: base64 policy documents with odd content, dates, scopes, and anything.
fn field_value() -> impl Strategy<Value = String> {
    use base64::Engine;
    fn b64(s: String) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }
    prop_oneof![
        ".{0,40}",
        "[0-9]{8}T[0-9]{6}Z",
        "[A-Z0-9]{0,20}/[0-9]{8}/[a-z0-9-]{0,12}/s3/aws4_request",
        r#"\{"expiration": ?"[0-9T:.Z+ -]{0,30}", ?"conditions": ?\[.{0,40}\]\}"#.prop_map(b64),
        r#"\[("eq"|"starts-with"|"content-length-range"), ?"\$[a-z-]{0,10}", ?.{0,10}\]"#.prop_map(
            |c| b64(format!("{{\"expiration\":\"2030-01-01T00:00:00Z\",\"conditions\":[{c}]}}"))
        ),
        proptest::collection::vec(any::<u8>(), 0..64)
            .prop_map(|b| base64::engine::general_purpose::STANDARD.encode(b)),
    ]
}

#[test]
fn the_policy_parser_never_panics_on_any_document() {
    runner()
        .run(&prop_oneof![".{0,200}".boxed(), field_value().boxed()], |text| {
            let _ = ReceivedPolicy::parse(&text);
            Ok(())
        })
        .unwrap();
}

#[test]
fn the_verifier_answers_every_form_with_an_s3_error_or_acceptance() {
    let strategy = (
        case(),
        proptest::collection::vec(
            (any::<prop::sample::Index>(), field_name(), field_value()),
            0..6,
        ),
        any::<bool>(),
    );
    runner()
        .run(&strategy, |(case, edits, drop_file)| {
            // A signed form, then some of its fields replaced or new ones added.
            let mut fields = sign(&case).fields;
            for (at, name, value) in edits {
                if fields.is_empty() || at.index(2) == 0 {
                    fields.push((name, value));
                } else {
                    let i = at.index(fields.len());
                    fields[i] = (name, value);
                }
            }
            let mut parts = parts(&fields, case.size);
            if drop_file {
                parts.retain(|p| matches!(p, Part::Field { .. }));
            }
            let creds = credentials(&case.token);
            let lookup = |id: &str| (id == creds.access_key_id()).then(|| creds.clone());
            match verify(&parts, Context { bucket: BUCKET, region: REGION, now: case.now }, lookup)
            {
                Ok(accepted) => prop_assert!(!accepted.key.is_empty()),
                Err(err) => prop_assert!((400..500).contains(&err.status), "{err:?}"),
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn file_names_and_keys_stay_under_the_uploader_prefix_and_map_back() {
    let strategy = (".{0,300}", proptest::collection::vec(any::<char>(), 0..40));
    let store = Store::new("/data");
    runner()
        .run(&strategy, |(text, chars)| {
            let raw: String = chars.into_iter().collect();
            for name in [text.as_str(), raw.as_str()] {
                if let Ok(clean) = rules::file_name(name) {
                    let placeholder = clean.contains("${");
                    prop_assert!(
                        !clean.is_empty()
                            && !clean.contains('/')
                            && !clean.contains('\\')
                            && !placeholder,
                        "{:?}",
                        clean
                    );
                    prop_assert!(clean.len() <= rules::MAX_NAME_BYTES);
                    let key = format!("uploads/0123456789abcdef0123456789abcdef/d/{clean}");
                    prop_assert_eq!(key.rsplit('/').next(), Some(clean.as_str()));
                }
                // Every key the dev bucket is given maps inside the bucket and back.
                let key = format!("uploads/u/{name}");
                if let Ok(paths) = store.paths("b", &key) {
                    prop_assert!(
                        paths.object.starts_with("/data/b/")
                            && paths.meta.starts_with("/data/.meta/b/")
                    );
                    prop_assert!(paths.object.components().all(|c| matches!(
                        c,
                        std::path::Component::RootDir | std::path::Component::Normal(_)
                    )));
                    let names = key_segments(&key).unwrap();
                    let names: Vec<&str> = names.iter().map(String::as_str).collect();
                    prop_assert_eq!(key_of(&names), Some(key.clone()));
                } else {
                    prop_assert!(key.len() > 1024);
                }
            }
            Ok(())
        })
        .unwrap();
}

/// A server-function body: form-encoded arguments, real names and odd ones, odd encodings.
fn function_body() -> impl Strategy<Value = String> {
    let arg = prop_oneof![
        Just("file_name".to_owned()),
        Just("size".to_owned()),
        Just("content_type".to_owned()),
        Just("access_code".to_owned()),
        Just("checksum_sha256".to_owned()),
        Just("key".to_owned()),
        Just("etag".to_owned()),
        Just("receipt".to_owned()),
        "metadata\\[[a-zA-Z_ -]{0,10}\\]",
        ".{0,8}",
    ];
    let value = prop_oneof![
        ".{0,40}",
        "[0-9]{1,25}",
        "-?[0-9]{1,5}",
        "%[0-9A-Fa-f]{0,2}",
        Just("uploads/0123456789abcdef0123456789abcdef/d/a.txt".to_owned())
    ];
    proptest::collection::vec((arg, value), 0..8).prop_map(|pairs| {
        pairs.into_iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
    })
}

#[test]
fn server_functions_answer_bad_input_without_a_server_error() {
    let app = common::router::app();
    static FUNCTIONS: [&str; 6] =
        ["sign_upload", "confirm_upload", "my_uploads", "page_form", "upload_target", "nothing"];
    let strategy = (
        proptest::sample::select(&FUNCTIONS[..]),
        function_body(),
        ".{0,60}",
        prop_oneof![
            Just("application/x-www-form-urlencoded"),
            Just("application/json"),
            Just("text/plain")
        ],
    );
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runner()
        .run(&strategy, |(function, body, cookie, content_type)| {
            let mut request = Request::post(format!("/api/{function}"))
                .header(header::CONTENT_TYPE, content_type)
                .header(header::ACCEPT, "application/json");
            if let Ok(value) = http::HeaderValue::from_str(&format!("uploader={cookie}")) {
                request = request.header(header::COOKIE, value);
            }
            let response = runtime
                .block_on(app.clone().oneshot(request.body(Body::from(body.clone())).unwrap()))
                .unwrap();
            // 503 is this test app's honest answer where no bucket is configured to look at.
            let status = response.status();
            prop_assert!(
                !status.is_server_error() || status == StatusCode::SERVICE_UNAVAILABLE,
                "{status} for /api/{function} {body:?}"
            );
            Ok(())
        })
        .unwrap();
}

/// A multipart body: parts with real names and odd ones, broken boundaries and headers.
fn multipart_body() -> impl Strategy<Value = Vec<u8>> {
    let part = (prop::option::of(field_name()), prop::option::of(".{0,20}"), ".{0,60}", 0..3usize);
    proptest::collection::vec(part, 0..10).prop_map(|parts| {
        let mut body = Vec::new();
        for (name, file_name, value, shape) in parts {
            let disposition = match (name, file_name) {
                (Some(n), Some(f)) => {
                    format!("Content-Disposition: form-data; name=\"{n}\"; filename=\"{f}\"")
                }
                (Some(n), None) => format!("Content-Disposition: form-data; name=\"{n}\""),
                (None, _) => "Content-Disposition: form-data".to_owned(),
            };
            match shape {
                0 => body.extend_from_slice(
                    format!("--B\r\n{disposition}\r\n\r\n{value}\r\n").as_bytes(),
                ),
                1 => body.extend_from_slice(format!("--B\r\n{disposition}\r\n{value}").as_bytes()),
                _ => body.extend_from_slice(value.as_bytes()),
            }
        }
        body.extend_from_slice(b"--B--\r\n");
        body
    })
}

#[test]
fn the_dev_bucket_answers_any_post_with_an_s3_error_and_keeps_nothing() {
    let dir = std::env::temp_dir().join(format!("fuzz-dev-{}", uuid::Uuid::new_v4().simple()));
    let dev = Arc::new(DevBucket::new(
        "http://127.0.0.1:9".into(),
        server::policy::Credentials::new("DEVTESTKEY", "d".repeat(64)),
        Store::new(&dir),
        Default::default(),
    ));
    let router = devbucket::router(dev, vec![]);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    static CONTENT_TYPES: [&str; 4] = [
        "multipart/form-data; boundary=B",
        "multipart/form-data",
        "text/plain",
        "multipart/form-data; boundary=\"\"",
    ];
    runner()
        .run(
            &(multipart_body(), proptest::sample::select(&CONTENT_TYPES[..])),
            |(body, content_type)| {
                let request = Request::post(format!("/{}", devbucket::DEV_BUCKET))
                    .header(header::CONTENT_TYPE, content_type)
                    .body(Body::from(body))
                    .unwrap();
                let status = runtime.block_on(router.clone().oneshot(request)).unwrap().status();
                prop_assert!(status.is_client_error(), "{status}");
                Ok(())
            },
        )
        .unwrap();
    // Nothing was signed, so nothing may be stored, and no temp file may stay.
    let left: Vec<_> = walk(&dir);
    assert!(left.is_empty(), "{left:?}");
    let _ = std::fs::remove_dir_all(dir);
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return vec![] };
    entries
        .flatten()
        .flat_map(|e| if e.path().is_dir() { walk(&e.path()) } else { vec![e.path()] })
        .collect()
}

const ME: &str = "0123456789abcdef0123456789abcdef";

/// A multipart receipt the router tests' app sealed for [`ME`]: 20 MiB in parts of 8 MiB, for
/// the upload `id` (each its own budget of part signatures).
fn sealed_multipart(now: time::OffsetDateTime, id: u128) -> String {
    use server::uploads::receipt::{Multipart, Receipt};
    let me = app::service::UploaderId::parse(ME).unwrap();
    let multipart = Multipart { upload_id: format!("{id:032x}"), part_size: 8 << 20 };
    Receipt::for_multipart(
        &me,
        format!("uploads/{ME}/d/"),
        "big.bin".into(),
        20 << 20,
        "application/octet-stream".into(),
        multipart,
        now,
    )
    .seal(&common::router::session_key().key)
}

/// `text` with a few of its bytes replaced, cut short, or grown.
fn mutated(
    text: String,
    edits: Vec<(prop::sample::Index, u8)>,
    cut: Option<prop::sample::Index>,
) -> String {
    let mut bytes = text.into_bytes();
    for (at, byte) in edits {
        if !bytes.is_empty() {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        } else {
            bytes.push(byte);
        }
    }
    if let Some(at) = cut {
        bytes.truncate(at.index(bytes.len() + 1));
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

#[test]
fn multipart_receipts_open_only_as_sealed() {
    use server::uploads::receipt::Receipt;
    let now = time::OffsetDateTime::now_utc();
    let original = sealed_multipart(now, u128::MAX);
    let key = common::router::session_key().key;
    let me = app::service::UploaderId::parse(ME).unwrap();
    let strategy = (
        proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        prop::option::of(any::<prop::sample::Index>()),
        prop_oneof![Just(None), ".{0,300}".prop_map(Some)],
    );
    runner()
        .run(&strategy, |(edits, cut, garbage)| {
            let text = garbage.unwrap_or_else(|| mutated(original.clone(), edits, cut));
            if let Ok((receipt, multipart)) = Receipt::open_multipart(&key, &text, &me, now) {
                // Only the receipt as sealed opens (a mutation that changes nothing aside).
                prop_assert_eq!(&text, &original);
                prop_assert_eq!(multipart.upload_id, "f".repeat(32));
                prop_assert_eq!(receipt.size, (20 << 20, 20 << 20));
            }
            // Never a POST receipt, whatever it holds.
            prop_assert!(Receipt::open(&key, &text, &me, now).is_err());
            Ok(())
        })
        .unwrap();
}

#[test]
fn sign_parts_answers_any_json_body_without_a_server_error() {
    let app = common::router::app();
    let now = time::OffsetDateTime::now_utc();
    let me = common::router::session_key().seal(&app::service::UploaderId::parse(ME).unwrap());
    // A receipt of an upload of its own (a few ids, so that some budgets run out and most do
    // not: the signing path keeps being reached), mostly intact.
    let receipt = (
        0..(1u128 << 20),
        proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..2),
        prop::option::of(any::<prop::sample::Index>()),
    )
        .prop_map(move |(id, edits, cut)| mutated(sealed_multipart(now, id), edits, cut));
    let part = (
        prop_oneof![Just(1u64), Just(3), any::<u64>()],
        prop_oneof![Just(8u64 << 20), Just(4 << 20), any::<u64>()],
        prop_oneof![Just("A".repeat(43) + "="), "[A-Za-z0-9+/=]{0,50}"],
    )
        .prop_map(|(n, len, sum)| {
            format!(r#"{{"number":{n},"length":{len},"checksum_sha256":"{sum}"}}"#)
        });
    let json = (receipt, proptest::collection::vec(part, 0..20)).prop_map(|(receipt, parts)| {
        format!(r#"{{"receipt":{},"parts":[{}]}}"#, serde_json::json!(receipt), parts.join(","))
    });
    let body = prop_oneof![json, ".{0,200}", r#"\{"receipt":.{0,30},"parts":.{0,60}\}"#];
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runner()
        .run(&(body, any::<bool>()), |(body, with_cookie)| {
            let mut request = Request::post("/api/sign_parts")
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::ACCEPT, "application/json");
            if with_cookie {
                request = request.header(header::COOKIE, format!("uploader={me}"));
            }
            let response = runtime
                .block_on(app.clone().oneshot(request.body(Body::from(body.clone())).unwrap()))
                .unwrap();
            let status = response.status();
            prop_assert!(!status.is_server_error(), "{status} for {body:?}");
            Ok(())
        })
        .unwrap();
}

#[test]
fn the_dev_bucket_answers_any_part_put_with_an_s3_error_and_keeps_only_whole_parts() {
    use server::devbucket::parts::Pending;
    use server::policy::{PolicySigner, Presign};
    let dir = std::env::temp_dir().join(format!("fuzz-parts-{}", uuid::Uuid::new_v4().simple()));
    let credentials = server::policy::Credentials::new("DEVTESTKEY", "d".repeat(64));
    let store = Store::new(&dir);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let key = "uploads/u/d/big.bin";
    let pending = Pending {
        bucket: devbucket::DEV_BUCKET.into(),
        key: key.into(),
        content_type: "application/octet-stream".into(),
        metadata: vec![],
    };
    let upload_id = runtime.block_on(store.create_multipart(&pending)).unwrap();
    let endpoint = "http://127.0.0.1:9";
    let dev = Arc::new(DevBucket::new(
        endpoint.into(),
        credentials.clone(),
        store.clone(),
        Default::default(),
    ));
    let router = devbucket::router(dev, vec![]);
    let signer = PolicySigner::new(credentials, devbucket::DEV_REGION);
    let strategy = (
        any::<bool>(),
        prop_oneof![Just("1".to_owned()), Just("10001".to_owned()), "[0-9]{0,6}", ".{0,6}"],
        prop_oneof![Just(upload_id.clone()), "[0-9a-f]{32}", ".{0,40}"],
        proptest::collection::vec(any::<u8>(), 0..64),
        prop_oneof![Just(0i8), Just(1), Just(-1), Just(100)],
        prop_oneof![Just(0u8), Just(1), Just(2)],
        proptest::collection::vec(("[A-Za-z-]{1,16}", ".{0,20}"), 0..3),
    );
    runner()
        .run(&strategy, |(signed, number, id, body, length_off, checksum_kind, extra)| {
            use base64::Engine;
            let sha = base64::engine::general_purpose::STANDARD
                .encode(<sha2::Sha256 as sha2::Digest>::digest(&body));
            let checksum = match checksum_kind {
                0 => Some(sha.clone()),
                1 => Some("B".repeat(43) + "="),
                _ => None,
            };
            let length = (body.len() as i64 + i64::from(length_off)).max(0).to_string();
            let path = format!("/{}/{key}", devbucket::DEV_BUCKET);
            let mut query: Vec<(String, String)> =
                vec![("partNumber".into(), number.clone()), ("uploadId".into(), id.clone())];
            let uri = if signed {
                let mut headers = vec![("content-length", length.as_str())];
                if let Some(sum) = &checksum {
                    headers.push(("x-amz-checksum-sha256", sum.as_str()));
                }
                let request = Presign {
                    method: "PUT",
                    endpoint,
                    path: &path,
                    query: query.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect(),
                    headers,
                    expires_in_secs: 300,
                };
                match signer.presign(&request, time::OffsetDateTime::now_utc()) {
                    Ok((url, _)) => url.strip_prefix(endpoint).unwrap().to_owned(),
                    Err(_) => path.clone(),
                }
            } else {
                query.extend(extra.clone());
                let encoded = serde_urlencoded::to_string(&query).unwrap_or_default();
                format!("{path}?{encoded}")
            };
            let mut request =
                Request::put(uri.as_str()).header(header::CONTENT_LENGTH, length.as_str());
            if let Some(sum) = &checksum {
                request = request.header("x-amz-checksum-sha256", sum.as_str());
            }
            let Ok(request) = request.body(Body::from(body.clone())) else { return Ok(()) };
            let status = runtime.block_on(router.clone().oneshot(request)).unwrap().status();
            let whole = signed && length_off == 0 && checksum_kind == 0 && id == upload_id;
            prop_assert!(
                status.is_client_error()
                    || status == StatusCode::NOT_IMPLEMENTED
                    || (whole && status.is_success()),
                "{status} for {uri}"
            );
            Ok(())
        })
        .unwrap();
    // Only whole parts were kept: every record's bytes are what it says, and no temp file stays.
    let parts = runtime.block_on(store.list_parts(devbucket::DEV_BUCKET, key, &upload_id)).unwrap();
    assert!(parts.iter().all(|part| part.number == 1 && part.size <= 64), "{parts:?}");
    let temps: Vec<_> = walk(&dir)
        .into_iter()
        .filter(|p| p.starts_with(dir.join(".tmp")) || p.to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(temps.is_empty(), "{temps:?}");
    let _ = std::fs::remove_dir_all(dir);
}
