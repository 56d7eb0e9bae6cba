//! Malware scanning (issue #28, its third part): a profile with `scan = true` (and quarantine)
//! has every staged upload streamed from the bucket to ClamAV's clamd before it is promoted.
//! Real clamd on loopback (`common::clamd`: Debian's binary, its own configuration and a
//! signature database this test writes). A clean file is promoted; the EICAR test file is
//! quarantined and reported; a file over the scan's limit is set aside unscanned; with clamd
//! stopped, files wait in staging with no verdict (never marked clean) and are scanned by the
//! reconciler once clamd is back. On the dev bucket here; on Garage in the `garage_*` test.

mod common;

use std::sync::Arc;

use app::service::Requester;
use app::wire::{UploadError, UploadReport};
use common::buckets::{refused, sign_and_post, someone, text_file, Bucket, TestClock};
use common::clamd::{Clamd, EICAR, EICAR_SIGNATURE};
use server::config::{table, Profiles};
use server::state::State;
use server::uploads::pending::{By, Outcome, VerdictLine};
use server::uploads::{Objects, Uploads};

const PROFILES: &str = r#"
[profiles.scanned]
quarantine = true
scan = true
"#;

/// The scan's limit here: 1 MiB.
const SCAN_MAX: u64 = 1 << 20;

/// A policy's life (the default) and the grace (the default), and a second.
const FORM_DUE: time::Duration = time::Duration::seconds(300 + 900 + 1);

async fn service(bucket: &Bucket, clamd: &Clamd, clock: &TestClock, state: Arc<State>) -> Uploads {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("profiles.toml");
    std::fs::write(&path, PROFILES).unwrap();
    let mut config = bucket.config.clone();
    config.limits.clamd_addr = Some(clamd.addr());
    config.limits.scan_max_bytes = SCAN_MAX;
    let settings = [("UPLOAD_PROFILES", path.to_str().unwrap())];
    config.profiles = Arc::new(Profiles::from_lookup(&table(&settings), &config.limits).unwrap());
    Uploads::new(config)
        .with_objects(bucket.objects().await)
        .with_state(state)
        .with_clock(clock.clock())
}

/// Signs `body` as the text file `name` under the scanned profile and POSTs it.
async fn store(uploads: &Uploads, who: &Requester, name: &str, body: &[u8]) -> UploadReport {
    let request = app::service::UploadRequest {
        profile: "scanned".into(),
        ..text_file(name, body.len() as u64)
    };
    sign_and_post(uploads, who, request, body).await
}

/// `uploads/.staging/<id>/...` -> `uploads/<id>/...` (promoted) or `quarantine/<id>/...`.
fn moved(key: &str, to: &str) -> String {
    format!("{to}/{}", key.strip_prefix("uploads/.staging/").unwrap_or_else(|| panic!("{key}")))
}

async fn there(objects: &Objects, key: &str) -> bool {
    objects.head(key).await.unwrap().is_some()
}

async fn verdicts(state: &State) -> Vec<VerdictLine> {
    let lines = state.verdicts(None, 1000).await.unwrap();
    lines.iter().map(|l| serde_json::from_str(&l.line).unwrap()).collect()
}

async fn scanned_on(bucket: Bucket) {
    let Some(mut clamd) = Clamd::start() else { return };
    let (clock, state) = (TestClock::default(), Arc::new(State::in_memory()));
    let uploads = service(&bucket, &clamd, &clock, state.clone()).await;
    let objects = bucket.objects().await;
    let who = someone();

    // Clean: scanned, then promoted.
    let clean = store(&uploads, &who, "notes.txt", b"nothing to see here\n").await;
    let stored = uploads.confirm_upload(&who, clean.clone()).await.unwrap();
    assert_eq!(stored.key, moved(&clean.key, "uploads"));
    assert!(!there(&objects, &clean.key).await);

    // The EICAR test file: quarantined, and the page told why.
    let eicar = store(&uploads, &who, "eicar.txt", EICAR).await;
    let problem = refused(uploads.confirm_upload(&who, eicar.clone()).await);
    assert_eq!(
        problem,
        format!(
            "this file carries malware ({EICAR_SIGNATURE}.UNOFFICIAL); it was moved to quarantine"
        )
    );
    assert!(there(&objects, &moved(&eicar.key, "quarantine")).await);
    assert!(!there(&objects, &moved(&eicar.key, "uploads")).await);
    assert!(!there(&objects, &eicar.key).await);

    // Over the scan's limit: never passed as clean; set aside unscanned.
    let big = vec![b'a'; SCAN_MAX as usize + 1];
    let large = store(&uploads, &who, "large.txt", &big).await;
    assert_eq!(
        refused(uploads.confirm_upload(&who, large.clone()).await),
        "this file is larger than the malware scan takes (1 MiB), so it was not scanned; it was \
         moved to quarantine"
    );
    assert!(!there(&objects, &moved(&large.key, "uploads")).await);

    // clamd stopped: no verdict, and nothing reaches its final key.
    clamd.stop();
    let waiting = store(&uploads, &who, "waiting.txt", b"fine, but unscanned yet\n").await;
    let hidden = store(&uploads, &who, "hidden.txt", EICAR).await;
    for report in [&waiting, &hidden] {
        match uploads.confirm_upload(&who, report.clone()).await {
            Err(UploadError::Unavailable(said)) => {
                assert!(said.contains("checks could not be made yet"), "{said}")
            }
            other => panic!("with clamd down, expected no verdict, got {other:?}"),
        }
        assert!(there(&objects, &report.key).await, "it waits in staging");
        assert!(!there(&objects, &moved(&report.key, "uploads")).await);
    }
    clock.advance(FORM_DUE);
    uploads.state().flush().await.unwrap();
    uploads.reconcile_round(100, "test").await.unwrap();
    let lines = verdicts(&state).await;
    let about = |lines: &[VerdictLine], key: &str| {
        lines
            .iter()
            .find(|l| l.key.ends_with(key.rsplit('/').next().unwrap()))
            .map(|l| (l.verdict, l.by))
    };
    assert_eq!(about(&lines, &waiting.key), None, "no verdict while clamd is down: {lines:?}");
    assert_eq!(about(&lines, &hidden.key), None);
    assert!(there(&objects, &waiting.key).await);

    // clamd back: the reconciler scans them at their next look.
    clamd.restart();
    clock.advance(time::Duration::hours(1));
    uploads.reconcile_round(100, "test").await.unwrap();
    let lines = verdicts(&state).await;
    assert_eq!(about(&lines, &waiting.key), Some((Outcome::Verified, By::Reconciler)));
    assert!(there(&objects, &moved(&waiting.key, "uploads")).await);
    assert_eq!(about(&lines, &hidden.key), Some((Outcome::Quarantined, By::Reconciler)));
    assert!(there(&objects, &moved(&hidden.key, "quarantine")).await);
    assert!(!there(&objects, &moved(&hidden.key, "uploads")).await);
}

#[tokio::test]
async fn the_dev_bucket_promotes_only_what_clamd_found_clean() {
    scanned_on(Bucket::dev().await).await;
}

/// On Garage (`scripts/test.sh` runs the ignored tests with the cluster up).
#[tokio::test]
#[ignore = "needs the Garage cluster scripts/test.sh starts"]
async fn garage_promotes_only_what_clamd_found_clean() {
    scanned_on(Bucket::garage()).await;
}
