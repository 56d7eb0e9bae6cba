//! Every grant gets a verdict (issue #24), whatever its browser did: the reconciler against real
//! buckets on loopback, files sent to them with curl, the service's clock moved on (a form falls
//! due when its policy has expired and the grace has passed; a multipart upload, and a form that
//! stored nothing, when the receipt expires a day later). The embedded dev bucket here; Garage
//! in the `garage_*` tests, which `scripts/test.sh` runs with its cluster up
//! (`cargo test --test reconcile -- --ignored`).

mod common;

use std::collections::HashMap;
use std::sync::Arc;

use app::wire::{PartToSign, UploadError, UploadReport};
use base64::Engine;
use common::buckets::{etag_of, post_form, put, someone, text_file, Bucket, TestClock};
use server::state::{Claim, State};
use server::uploads::pending;
use server::uploads::pending::{By, Outcome, VerdictLine};
use server::uploads::Uploads;
use sha2::Digest;

/// A policy's life (the default) and the grace (the default), and a second.
const FORM_DUE: time::Duration = time::Duration::seconds(300 + 900 + 1);
/// A receipt's life, and a second.
const RECEIPT_OVER: time::Duration = time::Duration::seconds(86_400 + 1);

/// One round of the reconciler, once every record queued is stored.
async fn reconcile(uploads: &Uploads) -> server::uploads::reconcile::Round {
    uploads.state().flush().await.unwrap();
    uploads.reconcile_round(100, "test").await.unwrap()
}

/// Every verdict in `state`'s log, by key.
async fn verdicts(state: &State) -> HashMap<String, Vec<VerdictLine>> {
    let mut by_key: HashMap<String, Vec<VerdictLine>> = HashMap::new();
    for logged in state.verdicts(None, 10_000).await.unwrap() {
        let line: VerdictLine = serde_json::from_str(&logged.line).unwrap();
        by_key.entry(line.key.clone()).or_default().push(line);
    }
    by_key
}

fn only(lines: &HashMap<String, Vec<VerdictLine>>, key: &str) -> (Outcome, By) {
    let found = lines.get(key).map(Vec::as_slice).unwrap_or_default();
    assert_eq!(found.len(), 1, "one verdict for {key}: {found:?}");
    (found[0].verdict, found[0].by)
}

/// A form signed through the service and POSTed but never confirmed is verified; another object
/// under a signed key (written with the bucket's own credentials) is removed as a mismatch; a
/// form never used is looked at again when its receipt expires, then abandoned.
async fn unconfirmed_forms(bucket: &Bucket) {
    let (clock, state) = (TestClock::default(), Arc::new(State::in_memory()));
    let uploads = bucket.uploads(state.clone(), &clock).await;
    let who = someone();
    let good = uploads.sign_upload(&who, text_file("good.txt", 5)).await.unwrap();
    let (status, good_answer) = post_form(&good.url, &good.fields, "good.txt", b"hello").await;
    assert_eq!(status, 201, "{good_answer}");
    let other = uploads.sign_upload(&who, text_file("other.txt", 5)).await.unwrap();
    let own = bucket.own_form(&other.key, "text/html");
    let (status, answer) =
        post_form(&other.url, &own, "other.txt", b"<p>not what was signed</p>").await;
    assert_eq!(status, 201, "{answer}");
    let never = uploads.sign_upload(&who, text_file("never.txt", 3)).await.unwrap();

    // Nothing is due while the forms may still be used, and the grace runs.
    let round = reconcile(&uploads).await;
    assert_eq!(round.looked, 0, "{round:?}");
    clock.advance(FORM_DUE);
    let round = reconcile(&uploads).await;
    assert_eq!((round.looked, round.verdicts, round.later), (3, 2, 1), "{round:?}");
    let lines = verdicts(&state).await;
    assert_eq!(only(&lines, &good.key), (Outcome::Verified, By::Reconciler));
    assert_eq!(only(&lines, &other.key), (Outcome::Mismatched, By::Reconciler));
    let problem = lines[&other.key][0].problem.clone().unwrap_or_default();
    assert!(problem.contains("text/html") && problem.contains("(removed)"), "{problem}");
    let objects = bucket.objects().await;
    assert!(objects.head(&good.key).await.unwrap().is_some(), "a verified object stays");
    assert!(objects.head(&other.key).await.unwrap().is_none(), "a mismatch is removed");
    assert!(!lines.contains_key(&never.key), "not abandoned while a transfer may be under way");

    // The browser comes back late: the verdict is given already.
    let report = UploadReport {
        key: good.key.clone(),
        etag: etag_of(&good_answer),
        receipt: good.receipt.clone(),
    };
    let late = uploads.confirm_upload(&who, report).await;
    assert!(matches!(late, Err(UploadError::AlreadyChecked(_))), "{late:?}");

    // The last look, when the receipt expires: still nothing, so abandoned.
    clock.advance(RECEIPT_OVER);
    let round = reconcile(&uploads).await;
    assert_eq!((round.looked, round.verdicts), (1, 1), "{round:?}");
    assert_eq!(only(&verdicts(&state).await, &never.key), (Outcome::Abandoned, By::Reconciler));
    let now = uploads.now().unix_timestamp();
    assert_eq!(state.backlog(now).await.unwrap(), (None, 0), "nothing left to look at");
}

/// One plain form POSTed 20 times, its redirect never followed: after its due time the
/// uploader's prefix holds one object, the first.
async fn a_plain_form_posted_twenty_times(bucket: &Bucket) {
    let (clock, state) = (TestClock::default(), Arc::new(State::in_memory()));
    let uploads = bucket.uploads(state.clone(), &clock).await;
    let who = someone();
    let form = uploads
        .page_form(&who, "", "http://127.0.0.1:9/".into())
        .await
        .unwrap()
        .expect("a plain form");
    for i in 0..20 {
        let body = format!("copy {i}");
        let (status, answer) =
            post_form(&form.url, &form.fields, &format!("file-{i:02}.txt"), body.as_bytes()).await;
        assert_eq!(status, 303, "{answer}");
        // Stored one after the other: the first is the oldest.
        if i == 0 {
            tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        }
    }
    let objects = bucket.objects().await;
    let prefix = format!("uploads/{}/", who.uploader.as_str());
    assert_eq!(objects.list(&prefix, 1000).await.unwrap().len(), 20);
    clock.advance(FORM_DUE);
    let round = reconcile(&uploads).await;
    assert_eq!((round.looked, round.verdicts), (1, 1), "{round:?}");
    let left = objects.list(&prefix, 1000).await.unwrap();
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(left[0].key.ends_with("/file-00.txt"), "the first is kept: {left:?}");
    assert_eq!(only(&verdicts(&state).await, &left[0].key), (Outcome::Verified, By::Reconciler));
    if bucket.dev_store().is_some() {
        // The dev bucket is this test's own: nothing else is in it at all.
        assert_eq!(objects.list("", 1000).await.unwrap().len(), 1);
    }
}

/// A plain form whose browser confirmed its file, then POSTed again: at its due time the file
/// the browser's verdict kept is the only one left, and no second verdict is given.
async fn a_plain_form_confirmed_then_posted_again(bucket: &Bucket) {
    let (clock, state) = (TestClock::default(), Arc::new(State::in_memory()));
    let uploads = bucket.uploads(state.clone(), &clock).await;
    let who = someone();
    let form = uploads.page_form(&who, "", "http://127.0.0.1:9/".into()).await.unwrap().unwrap();
    let (status, answer) = post_form(&form.url, &form.fields, "kept.txt", b"kept").await;
    assert_eq!(status, 303, "{answer}");
    let key = form.key.replace("${filename}", "kept.txt");
    let objects = bucket.objects().await;
    let etag = objects.head(&key).await.unwrap().expect("stored").etag;
    let report = UploadReport { key: key.clone(), etag, receipt: form.receipt.clone() };
    uploads.confirm_upload(&who, report).await.unwrap();
    for name in ["again.txt", "aaa.txt"] {
        let (status, answer) = post_form(&form.url, &form.fields, name, b"more").await;
        assert_eq!(status, 303, "{answer}");
    }
    clock.advance(FORM_DUE);
    let round = reconcile(&uploads).await;
    assert_eq!((round.looked, round.verdicts), (1, 0), "{round:?}");
    let prefix = format!("uploads/{}/", who.uploader.as_str());
    let left: Vec<String> =
        objects.list(&prefix, 1000).await.unwrap().into_iter().map(|l| l.key).collect();
    assert_eq!(left, std::slice::from_ref(&key));
    assert_eq!(only(&verdicts(&state).await, &key), (Outcome::Verified, By::Browser));
}

/// A multipart upload left half done: when its receipt expires it is aborted, no part is left,
/// and it is abandoned.
async fn a_multipart_upload_left_half_done(bucket: &Bucket) {
    let (clock, state) = (TestClock::default(), Arc::new(State::in_memory()));
    let uploads = bucket.uploads(state.clone(), &clock).await;
    let who = someone();
    let started = uploads.start_multipart(&who, text_file("big.txt", 9 << 20)).await.unwrap();
    assert_eq!(started.parts, 2);
    let first = vec![7u8; usize::try_from(started.part_size).unwrap()];
    let checksum = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(&first));
    let ask =
        PartToSign { number: 1, length: first.len() as u64, checksum: Some(checksum.clone()) };
    let urls = uploads.sign_parts(&who, started.receipt.clone(), vec![ask]).await.unwrap();
    let headers = [("x-amz-checksum-sha256".to_owned(), checksum)];
    let (status, answer) = put(&urls[0].url, &headers, &first).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(uploads.list_parts(&who, started.receipt.clone()).await.unwrap().len(), 1);

    clock.advance(time::Duration::seconds(3600));
    assert_eq!(reconcile(&uploads).await.looked, 0, "paused, not abandoned");
    clock.advance(RECEIPT_OVER);
    let round = reconcile(&uploads).await;
    assert_eq!((round.looked, round.verdicts), (1, 1), "{round:?}");
    assert_eq!(only(&verdicts(&state).await, &started.key), (Outcome::Abandoned, By::Reconciler));
    let objects = bucket.objects().await;
    assert!(objects.list_parts(&started.key, &started.upload_id).await.is_err(), "no such upload");
    match (bucket.dev_store(), &objects) {
        (Some(store), _) => assert!(store.multipart_uploads().await.is_empty()),
        (None, server::uploads::Objects::S3 { client, bucket }) => {
            let listed = client
                .list_multipart_uploads()
                .bucket(bucket)
                .prefix(format!("uploads/{}/", who.uploader.as_str()))
                .send()
                .await
                .unwrap();
            assert!(listed.uploads().is_empty(), "{listed:?}");
        }
        (None, _) => unreachable!(),
    }
    assert!(objects.head(&started.key).await.unwrap().is_none());
}

/// Browsers confirming while the reconciler looks at the same uploads: one verdict each.
async fn confirms_racing_the_reconciler(bucket: &Bucket) {
    let (clock, state) = (TestClock::default(), Arc::new(State::in_memory()));
    let uploads = bucket.uploads(state.clone(), &clock).await;
    let who = someone();
    let mut reports = Vec::new();
    for i in 0..12 {
        let signed =
            uploads.sign_upload(&who, text_file(&format!("race-{i}.txt"), 4)).await.unwrap();
        let (status, answer) = post_form(&signed.url, &signed.fields, "race.txt", b"race").await;
        assert_eq!(status, 201, "{answer}");
        reports.push(UploadReport {
            key: signed.key,
            etag: etag_of(&answer),
            receipt: signed.receipt,
        });
    }
    clock.advance(FORM_DUE);
    let confirms =
        futures::future::join_all(reports.iter().map(|r| uploads.confirm_upload(&who, r.clone())));
    uploads.state().flush().await.unwrap();
    let (confirmed, round) = tokio::join!(confirms, uploads.reconcile_round(100, "test"));
    let round = round.unwrap();
    for result in &confirmed {
        assert!(matches!(result, Ok(_) | Err(UploadError::AlreadyChecked(_))), "{result:?}");
    }
    // A look deferred because a confirm held the check is made later, and gives nothing new.
    clock.advance(time::Duration::seconds(61));
    reconcile(&uploads).await;
    let lines = verdicts(&state).await;
    for report in &reports {
        let (verdict, _) = only(&lines, &report.key);
        assert_eq!(verdict, Outcome::Verified);
    }
    let by_browser = confirmed.iter().filter(|r| r.is_ok()).count();
    let by_reconciler = lines.values().flatten().filter(|l| l.by == By::Reconciler).count();
    assert_eq!(by_browser + by_reconciler, reports.len(), "{round:?}");
    let now = uploads.now().unix_timestamp();
    assert_eq!(state.backlog(now).await.unwrap().1, 0);
}

/// A check left half made by a reconciler that stopped (its claim still says so) is taken over by
/// the next; a browser's check under way is waited for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_check_left_by_a_stopped_reconciler_is_taken_over() {
    let bucket = Bucket::dev().await;
    let (clock, state) = (TestClock::default(), Arc::new(State::in_memory()));
    let uploads = bucket.uploads(state.clone(), &clock).await;
    let who = someone();
    let mut keys = Vec::new();
    for checker in ["a-stopped", pending::BROWSER] {
        let signed = uploads.sign_upload(&who, text_file("f.txt", 4)).await.unwrap();
        let (status, answer) = post_form(&signed.url, &signed.fields, "f.txt", b"four").await;
        assert_eq!(status, 201, "{answer}");
        let directory = signed.key.strip_suffix("f.txt").unwrap().to_owned();
        let held = pending::checking(checker);
        let minute = std::time::Duration::from_secs(60);
        assert_eq!(state.claim(&directory, &held, minute).await.unwrap(), Claim::Taken);
        keys.push(signed.key);
    }
    clock.advance(FORM_DUE);
    let round = reconcile(&uploads).await;
    assert_eq!((round.looked, round.verdicts, round.later), (2, 1, 1), "{round:?}");
    let lines = verdicts(&state).await;
    assert_eq!(only(&lines, &keys[0]), (Outcome::Verified, By::Reconciler));
    assert!(!lines.contains_key(&keys[1]), "the browser's check is its own to finish");
}

/// An instance without Redis keeps its records on disk: after a restart, what it signed before
/// is reconciled. (A process killed outright: tests/reconcile_fleet.rs.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_on_disk_outlive_a_restart() {
    let bucket = Bucket::dev().await;
    let dir = std::env::temp_dir().join(format!("state-{}", uuid::Uuid::new_v4().simple()));
    let clock = TestClock::default();
    let who = someone();
    let signed = {
        let state = Arc::new(State::embedded(&dir).unwrap());
        let uploads: Uploads = bucket.uploads(state, &clock).await;
        let signed = uploads.sign_upload(&who, text_file("kept.txt", 4)).await.unwrap();
        let (status, answer) = post_form(&signed.url, &signed.fields, "kept.txt", b"kept").await;
        assert_eq!(status, 201, "{answer}");
        signed
    };
    let state = Arc::new(State::embedded(&dir).unwrap());
    let uploads = bucket.uploads(state.clone(), &clock).await;
    clock.advance(FORM_DUE);
    assert_eq!(reconcile(&uploads).await.verdicts, 1);
    assert_eq!(only(&verdicts(&state).await, &signed.key), (Outcome::Verified, By::Reconciler));
    drop((uploads, state));
    std::fs::remove_dir_all(&dir).unwrap();
}

macro_rules! on_both_buckets {
    ($($test:ident => $garage:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() {
                super::$test(&Bucket::dev().await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[ignore = "needs Garage: scripts/test.sh runs it with its cluster up"]
            async fn $garage() {
                super::$test(&Bucket::garage()).await;
            }
        )*
    };
}

mod on_dev_and_garage {
    use super::*;

    on_both_buckets! {
        unconfirmed_forms => garage_unconfirmed_forms,
        a_plain_form_posted_twenty_times => garage_a_plain_form_posted_twenty_times,
        a_plain_form_confirmed_then_posted_again => garage_a_plain_form_confirmed_then_posted_again,
        a_multipart_upload_left_half_done => garage_a_multipart_upload_left_half_done,
        confirms_racing_the_reconciler => garage_confirms_racing_the_reconciler,
    }
}
