//! Held until checked (issue #28, its second part): a profile with `quarantine = true` signs
//! its uploads for a key under the uploader's staging prefix; while they wait for their checks
//! they are at no final key, in no listing and behind no link; once the checks pass, the server
//! copies each to its final key (in copied parts above `UPLOAD_COPY_PART_BYTES`), checks the
//! copy, removes the staged one and only then gives the verdict; a file a check refuses goes to
//! the quarantine prefix (`quarantine_refused = "keep"`, the default) or is removed, and its
//! verdict is `quarantined`. Whether the browser confirms, the parts are joined, or the
//! reconciler looks. On the dev bucket here; on Garage in the `garage_*` test, which
//! `scripts/test.sh` runs with its cluster up.

mod common;

use std::sync::Arc;

use app::service::{Requester, UploadRequest};
use app::wire::{PartToSign, StoredUpload, UploadError, UploadReport};
use base64::Engine;
use common::buckets::{put, refused, sign_and_post, someone, text_file, Bucket, TestClock};
use server::config::{table, Limits, Profiles};
use server::state::State;
use server::uploads::pending::{By, Outcome, VerdictLine};
use server::uploads::{Objects, Uploads, CHANGED};
use sha2::Digest;

const PROFILES: &str = r#"
[profiles.held]
types = ["image/*"]
quarantine = true

[profiles.dropped]
types = ["image/*"]
quarantine = true
quarantine_refused = "remove"
"#;

/// For the measurement: the same PNG under each way of checking it, budgets out of the way.
const MEASURED: &str = r#"
[profiles.off]
content_check = "off"
files_per_minute = 100000

[profiles.lenient]
files_per_minute = 100000

[profiles.held]
quarantine = true
files_per_minute = 100000

[profiles.scanned]
quarantine = true
scan = true
files_per_minute = 100000
"#;

const PNG: &[u8] =
    b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";
const HTML: &[u8] = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script>";

/// Copies go in parts above this (5 MiB, S3's smallest part), so that a file of a few parts
/// is promoted by part copies as one of over 5 GiB is by default.
const COPY_PART: u64 = 5 << 20;

/// A policy's life (the default) and the grace (the default), and a second.
const FORM_DUE: time::Duration = time::Duration::seconds(300 + 900 + 1);

async fn service(bucket: &Bucket, clock: &TestClock, state: Arc<State>) -> Uploads {
    service_with(bucket, clock, state, PROFILES, |_| {}).await
}

/// The service with `profiles`, copying in parts of [`COPY_PART`], its limits then changed by
/// `tune`.
async fn service_with(
    bucket: &Bucket,
    clock: &TestClock,
    state: Arc<State>,
    profiles: &str,
    tune: impl FnOnce(&mut Limits),
) -> Uploads {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("profiles.toml");
    std::fs::write(&path, profiles).unwrap();
    let mut config = bucket.config.clone();
    config.limits.scan_max_bytes = 64 << 20;
    config.limits.copy_part_bytes = COPY_PART;
    tune(&mut config.limits);
    let settings = [("UPLOAD_PROFILES", path.to_str().unwrap())];
    config.profiles = Arc::new(Profiles::from_lookup(&table(&settings), &config.limits).unwrap());
    Uploads::new(config)
        .with_objects(bucket.objects().await)
        .with_state(state)
        .with_clock(clock.clock())
}

fn file(profile: &str, name: &str, content_type: &str, size: u64) -> UploadRequest {
    UploadRequest {
        profile: profile.into(),
        content_type: content_type.into(),
        ..text_file(name, size)
    }
}

/// Signs `body` under `profile` and POSTs it: the report a browser would confirm with.
async fn store(
    uploads: &Uploads,
    who: &Requester,
    (profile, name, content_type): (&str, &str, &str),
    body: &[u8],
) -> UploadReport {
    sign_and_post(uploads, who, file(profile, name, content_type, body.len() as u64), body).await
}

/// The whole object at `key`, or `None`.
async fn bytes(objects: &Objects, key: &str) -> Option<Vec<u8>> {
    objects.first_bytes(key, u64::MAX >> 1, None).await.unwrap()
}

/// Where the staged `key` is once promoted: `uploads/.staging/<id>/...` -> `uploads/<id>/...`.
fn promoted(key: &str) -> String {
    let rest = key.strip_prefix("uploads/.staging/").unwrap_or_else(|| panic!("{key}"));
    format!("uploads/{rest}")
}

/// Where the staged `key` is kept when refused: `quarantine/<id>/...`.
fn quarantined(key: &str) -> String {
    let rest = key.strip_prefix("uploads/.staging/").unwrap_or_else(|| panic!("{key}"));
    format!("quarantine/{rest}")
}

async fn verdicts(state: &State) -> Vec<VerdictLine> {
    let lines = state.verdicts(None, 1000).await.unwrap();
    lines.iter().map(|l| serde_json::from_str(&l.line).unwrap()).collect()
}

async fn held_until_checked_on(bucket: Bucket) {
    let (clock, state) = (TestClock::default(), Arc::new(State::in_memory()));
    let uploads = service(&bucket, &clock, state.clone()).await;
    let objects = bucket.objects().await;
    let who = someone();

    // Signed for the uploader's staging prefix.
    let report = store(&uploads, &who, ("held", "cat.png", "image/png"), PNG).await;
    let staged = report.key.clone();
    let prefix = format!("uploads/.staging/{}/held/", who.uploader.as_str());
    assert!(staged.starts_with(&prefix), "{staged}");
    let final_key = promoted(&staged);
    // While its checks run: at no final key, in no listing, behind no link.
    assert_eq!(bytes(&objects, &staged).await.as_deref(), Some(PNG));
    assert!(objects.head(&final_key).await.unwrap().is_none());
    assert!(uploads.my_uploads(&who, "held").await.unwrap().is_empty());
    if let Some(url) = bucket.public_url(&staged) {
        let status = reqwest::get(&url).await.unwrap().status();
        assert_eq!(status, 404, "the dev bucket serves no staged object");
    }

    // Checked: promoted, the staged copy gone, listed and linked at its final key.
    let stored = uploads.confirm_upload(&who, report).await.unwrap();
    assert_eq!(stored.key, final_key);
    assert!(!stored.view_url.contains(".staging"), "{}", stored.view_url);
    assert_eq!(bytes(&objects, &final_key).await.as_deref(), Some(PNG));
    assert!(objects.head(&staged).await.unwrap().is_none(), "the staged copy is removed");
    let listed = uploads.my_uploads(&who, "held").await.unwrap();
    assert_eq!(listed.iter().map(|u| u.key.as_str()).collect::<Vec<_>>(), [final_key.as_str()]);

    // A look that promoted a file but stopped before its verdict: the next gives that verdict.
    let interrupted = store(&uploads, &who, ("held", "again.png", "image/png"), PNG).await;
    let (at, head) = (promoted(&interrupted.key), objects.head(&interrupted.key).await);
    let head = head.unwrap().unwrap();
    objects.copy(&interrupted.key, &head.etag, &at, head.size, COPY_PART).await.unwrap();
    objects.delete(&interrupted.key).await.unwrap();
    assert_eq!(uploads.confirm_upload(&who, interrupted).await.unwrap().key, at);

    // Refused: kept under the quarantine prefix (or removed), never at a final key.
    let page = store(&uploads, &who, ("held", "page.png", "image/png"), HTML).await;
    let page_key = page.key.clone();
    assert_eq!(
        refused(uploads.confirm_upload(&who, page).await),
        "this file is not a PNG image (its content is an HTML page); it was moved to quarantine"
    );
    let kept = quarantined(&page_key);
    assert_eq!(bytes(&objects, &kept).await.as_deref(), Some(HTML));
    assert!(objects.head(&page_key).await.unwrap().is_none());
    if let Some(url) = bucket.public_url(&kept) {
        assert_eq!(reqwest::get(&url).await.unwrap().status(), 404, "nor one in quarantine");
    }
    let dropped = store(&uploads, &who, ("dropped", "page.png", "image/png"), HTML).await;
    let dropped_key = dropped.key.clone();
    assert!(refused(uploads.confirm_upload(&who, dropped).await).ends_with("; it was removed"));
    let not_kept = quarantined(&dropped_key);
    for key in [&dropped_key, &not_kept] {
        assert!(objects.head(key).await.unwrap().is_none(), "{key}");
    }

    // In parts: joined in staging, then promoted by part copies (5 + 5 + 2 MiB), byte for byte.
    let big: Vec<u8> =
        PNG.iter().copied().chain((0..12u32 << 20).map(|i| (i % 251) as u8)).collect();
    let size = big.len() as u64;
    let started =
        uploads.start_multipart(&who, file("held", "big.png", "image/png", size)).await.unwrap();
    assert!(started.key.starts_with(&prefix), "{}", started.key);
    let chunks: Vec<&[u8]> = big.chunks(started.part_size as usize).collect();
    let sums: Vec<String> = chunks
        .iter()
        .map(|c| base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(c)))
        .collect();
    let wanted = chunks
        .iter()
        .zip(&sums)
        .enumerate()
        .map(|(i, (c, sum))| PartToSign {
            number: i as u64 + 1,
            length: c.len() as u64,
            checksum: Some(sum.clone()),
        })
        .collect();
    let urls = uploads.sign_parts(&who, started.receipt.clone(), wanted).await.unwrap();
    for ((url, chunk), sum) in urls.iter().zip(&chunks).zip(&sums) {
        let headers = [("x-amz-checksum-sha256".to_owned(), sum.clone())];
        let (status, answer) = put(&url.url, &headers, chunk).await;
        assert_eq!(status, 200, "{answer}");
    }
    let joined = uploads.complete_multipart(&who, started.receipt).await.unwrap();
    assert!(!joined.key.contains(".staging"), "{}", joined.key);
    assert_eq!(joined.size, size);
    assert!(bytes(&objects, &joined.key).await == Some(big), "promoted byte for byte");
    assert!(objects.head(&started.key).await.unwrap().is_none());

    // Only the object the checks saw is read or copied: one POSTed over it since (its ETag
    // another) is refused by the bucket, and nothing is copied, whole or in parts.
    let other = "\"0123456789abcdef0123456789abcdef\"";
    assert_eq!(objects.first_bytes(&final_key, 8, Some(other)).await.unwrap_err(), CHANGED);
    assert!(matches!(objects.read(&final_key, Some(other)).await, Err(e) if e == CHANGED));
    for (from, size) in [(&final_key, PNG.len() as u64), (&joined.key, size)] {
        let to = format!("{from}.copy");
        assert_eq!(objects.copy(from, other, &to, size, COPY_PART).await.unwrap_err(), CHANGED);
        assert!(objects.head(&to).await.unwrap().is_none(), "{to}");
    }

    // The reconciler promotes (and sets aside) what no browser confirmed, the same way.
    let late = store(&uploads, &who, ("held", "late.png", "image/png"), PNG).await;
    let late_bad = store(&uploads, &who, ("held", "late.jpg", "image/jpeg"), HTML).await;
    clock.advance(FORM_DUE);
    uploads.state().flush().await.unwrap();
    uploads.reconcile_round(100, "test").await.unwrap();
    let lines = verdicts(&state).await;
    let verdict = |key: &str| {
        let line =
            lines.iter().find(|l| l.key == key).unwrap_or_else(|| panic!("{key}: {lines:?}"));
        (line.verdict, line.by)
    };
    let late_final = promoted(&late.key);
    assert_eq!(verdict(&late_final), (Outcome::Verified, By::Reconciler));
    assert_eq!(bytes(&objects, &late_final).await.as_deref(), Some(PNG));
    assert!(objects.head(&late.key).await.unwrap().is_none());
    let late_kept = quarantined(&late_bad.key);
    assert_eq!(verdict(&late_kept), (Outcome::Quarantined, By::Reconciler));
    assert!(objects.head(&late_kept).await.unwrap().is_some());
    // The browser's verdicts name the final key, or the quarantine key.
    assert_eq!(verdict(&final_key), (Outcome::Verified, By::Browser));
    assert_eq!(verdict(&kept), (Outcome::Quarantined, By::Browser));
    assert_eq!(verdict(&dropped_key), (Outcome::Quarantined, By::Browser));
}

/// Asks about `report` until the answer is not "being checked" (the checks go on after a
/// confirm that answered so): the answer, and how many times it was "being checked".
async fn confirm_until_checked(
    uploads: &Uploads,
    who: &Requester,
    report: &UploadReport,
) -> (Result<StoredUpload, UploadError>, usize) {
    for checking in 0..200 {
        match uploads.confirm_upload(who, report.clone()).await {
            Err(UploadError::Checking { retry_after_secs }) => {
                assert!((1..=10).contains(&retry_after_secs), "{retry_after_secs}");
                tokio::time::sleep(std::time::Duration::from_millis(25)).await;
            }
            answer => return (answer, checking),
        }
    }
    panic!("{}: still being checked after 5 s", report.key);
}

/// A verdict that takes longer than a confirm waits (`UPLOAD_CHECK_WAIT_MS`, 0 here): the
/// confirm answers that the file is being checked, the checks go on, and asking again gives
/// the verdict once there is one, then the same answer each time.
async fn answered_while_checking_on(bucket: Bucket) {
    let (clock, state) = (TestClock::default(), Arc::new(State::in_memory()));
    let uploads = service_with(&bucket, &clock, state, PROFILES, |l| l.check_wait_ms = 0).await;
    let uploads = Arc::new(uploads);
    uploads.serving();
    let objects = bucket.objects().await;
    let who = someone();

    let report = store(&uploads, &who, ("held", "slow.png", "image/png"), PNG).await;
    let final_key = promoted(&report.key);
    let first = uploads.confirm_upload(&who, report.clone()).await;
    assert!(matches!(first, Err(UploadError::Checking { .. })), "{first:?}");
    let (answer, _) = confirm_until_checked(&uploads, &who, &report).await;
    let stored = answer.unwrap();
    assert_eq!(stored.key, final_key);
    assert_eq!(bytes(&objects, &final_key).await.as_deref(), Some(PNG));
    assert!(objects.head(&report.key).await.unwrap().is_none(), "the staged copy is removed");
    let again = uploads.confirm_upload(&who, report.clone()).await.unwrap();
    assert_eq!((again.key, again.etag), (stored.key, stored.etag), "asked again: the same");

    let page = store(&uploads, &who, ("held", "page.png", "image/png"), HTML).await;
    let first = uploads.confirm_upload(&who, page.clone()).await;
    assert!(matches!(first, Err(UploadError::Checking { .. })), "{first:?}");
    let (answer, _) = confirm_until_checked(&uploads, &who, &page).await;
    assert_eq!(refused(answer), "the file did not pass its checks, and was set aside");
    assert!(objects.head(&quarantined(&page.key)).await.unwrap().is_some());
    assert!(objects.head(&promoted(&page.key)).await.unwrap().is_none());
}

#[tokio::test]
async fn the_dev_bucket_answers_while_checking() {
    answered_while_checking_on(Bucket::dev().await).await;
}

#[tokio::test]
#[ignore = "needs the Garage cluster scripts/test.sh starts"]
async fn garage_answers_while_checking() {
    answered_while_checking_on(Bucket::garage()).await;
}

#[tokio::test]
async fn the_dev_bucket_holds_uploads_until_checked() {
    held_until_checked_on(Bucket::dev().await).await;
}

/// On Garage (`scripts/test.sh` runs the ignored tests with the cluster up).
#[tokio::test]
#[ignore = "needs the Garage cluster scripts/test.sh starts"]
async fn garage_holds_uploads_until_checked() {
    held_until_checked_on(Bucket::garage()).await;
}

/// What holding and scanning cost per verification, beside the content check alone and no check
/// at all: `pairs` confirms of a `size`-byte PNG under each profile of [`MEASURED`], interleaved
/// (a slow moment of the shared machine falls on all), only the confirm timed. Median ms of each.
async fn cost_on(bucket: &Bucket, clamd: &str, size: usize, pairs: usize) -> Vec<f64> {
    let (clock, state) = (TestClock::default(), Arc::new(State::in_memory()));
    let uploads =
        service_with(bucket, &clock, state, MEASURED, |l| l.clamd_addr = Some(clamd.into())).await;
    let who = someone();
    let body: Vec<u8> =
        PNG.iter().copied().chain((0..size as u32).map(|i| (i % 251) as u8)).collect();
    let profiles = ["off", "lenient", "held", "scanned"];
    let mut times = vec![Vec::new(); profiles.len()];
    for i in 0..pairs {
        for (profile, times) in profiles.iter().zip(&mut times) {
            let name = format!("{profile}-{i}.png");
            let report = store(&uploads, &who, (profile, &name, "image/png"), &body).await;
            let started = std::time::Instant::now();
            uploads.confirm_upload(&who, report).await.unwrap();
            times.push(started.elapsed().as_secs_f64() * 1000.0);
        }
    }
    times
        .into_iter()
        .map(|mut v| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        })
        .collect()
}

/// `scripts/bench-quarantine.sh` runs it (release build, Garage and clamd up): one Markdown row
/// per bucket and size.
#[tokio::test]
#[ignore = "a measurement: scripts/bench-quarantine.sh"]
async fn measure_what_holding_and_scanning_cost() {
    let pairs: usize = std::env::var("PAIRS").ok().and_then(|n| n.parse().ok()).unwrap_or(100);
    let clamd = common::clamd::Clamd::start().expect("clamd");
    let mut buckets = vec![("dev bucket", Bucket::dev().await)];
    if std::env::var("UPLOAD_BUCKET").is_ok() {
        buckets.push(("Garage", Bucket::garage()));
    }
    println!(
        "| bucket | file | confirm (ms, median): off | lenient | quarantine | quarantine + scan |"
    );
    println!("|---|---|---|---|---|---|");
    for (name, bucket) in &buckets {
        for (size, label, n) in [(0, "33 B", pairs), (4 << 20, "4 MiB", pairs / 5)] {
            let m = cost_on(bucket, &clamd.addr(), size, n.max(5)).await;
            println!(
                "| {name} | {label} | {:.2} | {:.2} | {:.2} | {:.2} |",
                m[0], m[1], m[2], m[3]
            );
        }
    }
}

/// Part `number`'s bytes of the big file (`len` of them): a PNG's signature first, so that the
/// content check passes, then a pattern that differs from part to part.
fn big_part(number: u64, len: u64) -> Vec<u8> {
    let mut bytes: Vec<u8> = (0..len).map(|i| ((i + number * 7) % 251) as u8).collect();
    if number == 1 {
        bytes[..PNG.len()].copy_from_slice(PNG);
    }
    bytes
}

/// A big upload in parts, promoted by part copies on Garage with the default copy part size
/// (5 GiB): `BIG_BYTES` (default 6 GiB), sent as the page sends it (8 MiB parts, each with its
/// SHA-256, four at a time), completed (which promotes it), then read back from its final key
/// and compared part by part. `scripts/promote-big.sh` runs it; prints one Markdown row.
#[tokio::test]
#[ignore = "6 GiB: scripts/promote-big.sh"]
async fn a_big_upload_is_promoted_by_part_copies_byte_for_byte() {
    use futures::{StreamExt, TryStreamExt};
    use tokio::io::AsyncReadExt;
    let size: u64 = std::env::var("BIG_BYTES").ok().and_then(|n| n.parse().ok()).unwrap_or(6 << 30);
    let bucket = Bucket::garage();
    let (clock, state) = (TestClock::default(), Arc::new(State::in_memory()));
    let profiles = "[profiles.big]\nquarantine = true\nmax_bytes = 10_000_000_000\nfiles_per_minute = 100000\n";
    // The default copy part size, as deployed: S3's largest CopyObject.
    let copy_part = server::config::MAX_COPY_BYTES;
    let uploads =
        service_with(&bucket, &clock, state, profiles, |l| l.copy_part_bytes = copy_part).await;
    let objects = bucket.objects().await;
    let who = someone();
    let started = std::time::Instant::now();
    let upload =
        uploads.start_multipart(&who, file("big", "big.png", "image/png", size)).await.unwrap();
    let part_size = upload.part_size;
    let numbers: Vec<u64> = (1..=upload.parts).collect();
    let mut digests = Vec::new();
    for batch in numbers.chunks(app::api::MAX_PARTS_PER_CALL) {
        let parts: Vec<(u64, u64, String)> = batch
            .iter()
            .map(|&n| {
                let len = app::rules::part_length(size, part_size, n).unwrap();
                let sum = base64::engine::general_purpose::STANDARD
                    .encode(sha2::Sha256::digest(big_part(n, len)));
                (n, len, sum)
            })
            .collect();
        let wanted = parts
            .iter()
            .map(|(n, len, sum)| PartToSign {
                number: *n,
                length: *len,
                checksum: Some(sum.clone()),
            })
            .collect();
        let urls = uploads.sign_parts(&who, upload.receipt.clone(), wanted).await.unwrap();
        futures::stream::iter(urls.iter().zip(&parts))
            .map(|(url, (n, len, sum))| async move {
                let headers = [("x-amz-checksum-sha256".to_owned(), sum.clone())];
                let (status, answer) = put(&url.url, &headers, &big_part(*n, *len)).await;
                if status == 200 {
                    Ok(())
                } else {
                    Err(format!("part {n}: {status} {answer}"))
                }
            })
            .buffered(4)
            .try_collect::<Vec<()>>()
            .await
            .unwrap();
        digests.extend(parts.into_iter().map(|(_, len, sum)| (len, sum)));
    }
    let sent = started.elapsed().as_secs_f64();
    let completing = std::time::Instant::now();
    let joined = uploads.complete_multipart(&who, upload.receipt).await.unwrap();
    let completed = completing.elapsed().as_secs_f64();
    assert_eq!(joined.key, promoted(&upload.key));
    assert!(objects.head(&upload.key).await.unwrap().is_none(), "the staged object is removed");
    let head = objects.head(&joined.key).await.unwrap().unwrap();
    assert_eq!(head.size, size);
    // Byte for byte: the final object read back, each part's range against its digest.
    let reading = std::time::Instant::now();
    let mut body = objects.read(&joined.key, None).await.unwrap().unwrap();
    for (i, (len, sum)) in digests.iter().enumerate() {
        let mut chunk = vec![0; *len as usize];
        body.read_exact(&mut chunk).await.unwrap();
        let have = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(&chunk));
        assert_eq!(&have, sum, "part {} of the promoted object", i + 1);
    }
    assert_eq!(body.read(&mut [0; 1]).await.unwrap(), 0, "nothing after the last part");
    let read = reading.elapsed().as_secs_f64();
    let mib = size as f64 / f64::from(1 << 20);
    println!(
        "| {:.2} GiB, {} parts | sent {sent:.1} s ({:.0} MiB/s) | completed and promoted {completed:.1} s ({:.0} MiB/s) | read back {read:.1} s | {} |",
        mib / 1024.0,
        digests.len(),
        mib / sent,
        mib / completed,
        head.checksum_sha256.unwrap_or_default()
    );
}
