//! Files in parts (multipart upload), for files above the server's threshold and every file
//! above 5 GiB: the server starts the upload; each part is read, hashed and PUT straight to the
//! bucket with a URL signed for exactly those bytes, [`PARTS_IN_FLIGHT`] at a time, each retried
//! on its own; the server then completes the upload from the parts the bucket has and checks
//! it. What a later page needs to go on is kept ([`super::resume`]), so an upload survives a
//! pause, a reload, a crash or a closed tab: only the parts the bucket lacks are sent.

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use leptos::prelude::*;
use wasm_bindgen::JsValue;
use web_sys::File;

use super::file;
use super::resume::{discard, forget, remember, Unfinished};
use super::row::Row;
use super::s3_response::Outcome;
use super::status::{
    bucket_refused, bucket_unreachable, failed, js_error, not_signed, FailureCode, Status,
};
use super::waiting::{short_wait, sleep, when_allowed, when_checked, when_signed_in};
use super::xhr;
use crate::api::{complete_multipart, list_parts, sign_parts, start_multipart};
use crate::format::RateMeter;
use crate::wire::{ChecksumMode, PartToSign, StoredUpload, UploadError};

/// How many parts go at the same time.
pub const PARTS_IN_FLIGHT: usize = 4;
/// How often one part is tried before the upload fails (a refusal that says what to fix, such
/// as a wrong signature, is not tried again).
const MAX_ATTEMPTS: u32 = 5;

/// 1 s, 2 s, 4 s... between attempts.
fn backoff(attempt: u32) -> i32 {
    1000 << attempt.min(4)
}

/// What the parts share while they go.
#[derive(Default)]
struct Progress {
    pending: VecDeque<u64>,
    /// Bytes of the parts the bucket has.
    done: f64,
    /// Bytes sent so far of each part under way.
    sending: BTreeMap<u64, f64>,
    failure: Option<Status>,
}

/// Why one part stopped.
enum Stop {
    /// Paused or cancelled: the part goes back in the queue.
    Interrupted,
    Failed(Status),
}

/// [`upload`], in a wasm of its own that the browser fetches the first time a file goes in parts
/// (most visitors never send one): the first load does not carry this module, resume and the
/// part signing. The split is made by `cargo leptos build --split` (`scripts/build.sh`): a wasm
/// built without it does not load, and on the server this is a plain call. When that wasm cannot
/// be fetched (a deploy removed it), the row fails with
/// [`FailureCode::PageUpdated`] rather than the page aborting, and a retry fetches it again.
#[leptos::wasm_split::wasm_split(
    parts,
    wasm_split_path = ::leptos::wasm_split,
    fallible,
    return_wrapper(let future = _; { future.await } -> Result<Option<StoredUpload>, Status>)
)]
pub fn upload_in_parts(
    row: Row,
    file: File,
    asking: file::Asking,
    checksum: ChecksumMode,
) -> Pin<Box<dyn Future<Output = Result<Option<StoredUpload>, Status>>>> {
    Box::pin(async move { upload(&row, &file, asking, checksum).await })
}

/// Uploads `file` in parts (or goes on with the upload `row.multipart` names), completes it
/// and has it checked: the stored upload, or `None` when paused or cancelled meanwhile.
async fn upload(
    row: &Row,
    file: &File,
    asking: file::Asking,
    checksum: ChecksumMode,
) -> Result<Option<StoredUpload>, Status> {
    let stopped = || row.stopped();
    let unfinished = match row.multipart.get_value() {
        Some(unfinished) => unfinished,
        None => {
            row.status.set(Status::Signing);
            let unfinished = start(row, file, asking, checksum).await?;
            row.multipart.set_value(Some(unfinished.clone()));
            remember(&unfinished);
            unfinished
        }
    };
    row.key.set(Some(unfinished.key.clone()));
    if stopped() {
        return finish_stopped(row, unfinished).await;
    }
    // What the bucket already has (nothing, for a fresh upload) is not sent again.
    let count = unfinished.part_count();
    let stored = when_allowed(|| list_parts(unfinished.receipt.clone()))
        .await
        .map_err(|err| failed(FailureCode::NotResumable, err.to_string()))?;
    let have =
        |n: u64| stored.iter().any(|p| p.number == n && Some(p.size) == unfinished.part_length(n));
    // A file picked again must be the same file: its first part is compared with the one
    // hashed before (or the bucket's), whenever the bucket has any part of it.
    let recorded = unfinished.first_part.clone().or_else(|| {
        stored.iter().find(|p| p.number == 1).and_then(|p| unfinished.listed_digest(p))
    });
    if let (false, Some(recorded)) = (stored.is_empty(), recorded) {
        if unfinished.first_part_differs(file, &recorded, stopped).await? {
            return Err(failed(
                FailureCode::OtherFile,
                "this is not the file whose upload was interrupted (its first part differs): \
                 choose that file, or cancel the upload",
            ));
        }
    }
    let shared = Rc::new(RefCell::new(Progress {
        pending: (1..=count).filter(|&n| !have(n)).collect(),
        done: (1..=count)
            .filter(|&n| have(n))
            .filter_map(|n| unfinished.part_length(n))
            .sum::<u64>() as f64,
        ..Progress::default()
    }));
    row.sent.set(shared.borrow().done);
    row.status.set(Status::Uploading);
    let meter = StoredValue::new(RateMeter::default());
    let workers =
        (0..PARTS_IN_FLIGHT).map(|_| worker(row, file, &unfinished, shared.clone(), meter));
    futures::future::join_all(workers).await;
    row.speed.set(None);
    if stopped() {
        return finish_stopped(row, unfinished).await;
    }
    if let Some(failure) = shared.borrow_mut().failure.take() {
        return Err(failure);
    }
    row.status.set(Status::Verifying);
    let result = when_checked(
        || complete_multipart(unfinished.receipt.clone()),
        || row.status.set(Status::Checking),
    )
    .await;
    // Completed or refused for good: there is nothing left to resume either way. (Busy, or
    // not reachable: it stays, for Resume.)
    let for_now = |err: &UploadError| {
        matches!(err, UploadError::Transport(_) | UploadError::Unavailable(_))
            || matches!(err, UploadError::TooManyRequests { .. })
    };
    if !result.as_ref().is_err_and(for_now) {
        forget(&unfinished.key);
        row.multipart.set_value(None);
        row.file.set_value(None);
    }
    let done = result.map_err(|err| failed(FailureCode::NotVerified, err.to_string()))?;
    row.sent.set(row.size as f64);
    Ok(Some(done))
}

/// Paused: everything stays for Resume. Cancelled: the bucket drops the parts.
async fn finish_stopped(row: &Row, unfinished: Unfinished) -> Result<Option<StoredUpload>, Status> {
    if row.cancelled() {
        row.multipart.set_value(None);
        discard(unfinished).await;
    }
    Ok(None)
}

async fn start(
    row: &Row,
    file: &File,
    asking: file::Asking,
    checksum: ChecksumMode,
) -> Result<Unfinished, Status> {
    let started = when_signed_in(|| {
        start_multipart(
            row.name.clone(),
            row.size,
            file.type_(),
            asking.access_code.clone(),
            asking.metadata.clone(),
            asking.profile.clone(),
        )
    })
    .await
    .map_err(|err| not_signed(&err))?;
    Ok(Unfinished {
        receipt: started.receipt,
        key: started.key,
        name: row.name.clone(),
        size: row.size,
        modified: file.last_modified() as u64,
        part_size: started.part_size,
        first_part: None,
        checksum,
    })
}

/// Takes parts from the queue and sends them until there are none, or the upload stops.
async fn worker(
    row: &Row,
    file: &File,
    unfinished: &Unfinished,
    shared: Rc<RefCell<Progress>>,
    meter: StoredValue<RateMeter>,
) {
    loop {
        if row.stopped() || shared.borrow().failure.is_some() {
            return;
        }
        let Some(number) = shared.borrow_mut().pending.pop_front() else { return };
        match send_part(row, file, unfinished, number, shared.clone(), meter).await {
            Ok(length) => {
                let mut progress = shared.borrow_mut();
                progress.sending.remove(&number);
                progress.done += length as f64;
            }
            Err(stop) => {
                let mut progress = shared.borrow_mut();
                progress.sending.remove(&number);
                progress.pending.push_front(number);
                if let Stop::Failed(status) = stop {
                    progress.failure.get_or_insert(status);
                }
                return;
            }
        }
    }
}

/// Hashes, signs and PUTs one part, trying again as its failure says: an expired URL is signed
/// again, bytes that no longer match their checksum are read and hashed again, a lost
/// connection or a busy bucket is waited out.
async fn send_part(
    row: &Row,
    file: &File,
    unfinished: &Unfinished,
    number: u64,
    shared: Rc<RefCell<Progress>>,
    meter: StoredValue<RateMeter>,
) -> Result<u64, Stop> {
    let stopped = || row.stopped();
    let (blob, length) = unfinished.part_of(file, number).map_err(Stop::Failed)?;
    // The part's digest once hashed (`Some(None)` with checksums off), and its URL once signed.
    let (mut checksum, mut url): (Option<Option<String>>, Option<String>) = (None, None);
    let mut attempt = 0;
    loop {
        if stopped() {
            return Err(Stop::Interrupted);
        }
        let sum = match &checksum {
            Some(sum) => sum.clone(),
            None if unfinished.checksum == ChecksumMode::Off => None,
            None => {
                let sum = unfinished
                    .hash_part(file, number, stopped)
                    .await
                    .map_err(Stop::Failed)?
                    .ok_or(Stop::Interrupted)?;
                if number == 1 {
                    let recorded =
                        Unfinished { first_part: Some(sum.clone()), ..unfinished.clone() };
                    row.multipart.set_value(Some(recorded.clone()));
                    remember(&recorded);
                }
                checksum = Some(Some(sum.clone()));
                Some(sum)
            }
        };
        let put_url = match &url {
            Some(url) => url.clone(),
            None => {
                let part = PartToSign { number, length, checksum: sum.clone() };
                match when_signed_in(|| sign_parts(unfinished.receipt.clone(), vec![part.clone()]))
                    .await
                {
                    Ok(signed) if !signed.is_empty() => {
                        url = Some(signed[0].url.clone());
                        signed[0].url.clone()
                    }
                    Ok(_) => {
                        return Err(Stop::Failed(failed(
                            FailureCode::NotSigned,
                            "the server signed no URL for this part",
                        )))
                    }
                    // The server (or the way to it) is down for a moment: wait and try again.
                    Err(UploadError::Transport(_) | UploadError::Unavailable(_))
                        if attempt + 1 < MAX_ATTEMPTS =>
                    {
                        attempt += 1;
                        sleep(backoff(attempt)).await;
                        continue;
                    }
                    // Too many calls at once (other tabs, other files): wait as long as the
                    // server says, when that is a short while.
                    Err(err) if attempt + 1 < MAX_ATTEMPTS && short_wait(&err).is_some() => {
                        attempt += 1;
                        sleep(short_wait(&err).unwrap_or(1000)).await;
                        continue;
                    }
                    Err(err) => return Err(Stop::Failed(not_signed(&err))),
                }
            }
        };
        let (progress, sent, speed, requests) = (shared.clone(), row.sent, row.speed, row.requests);
        let on_progress = move |loaded: f64, _total: f64| {
            let total = {
                let mut progress = progress.borrow_mut();
                progress.sending.insert(number, loaded);
                progress.done + progress.sending.values().sum::<f64>()
            };
            sent.set(total);
            speed.set(meter.try_update_value(|m| m.record(js_sys::Date::now(), total)).flatten());
        };
        let sent_request = StoredValue::new_local(None);
        let header = unfinished.checksum.header().zip(sum.clone());
        let outcome = xhr::put_part(&put_url, &blob, header, on_progress, move |xhr| {
            requests.update_value(|all| all.push(xhr.clone()));
            sent_request.set_value(Some(xhr));
        })
        .await;
        if let Some(xhr) = sent_request.get_value() {
            requests.update_value(|all| all.retain(|r| *r != xhr));
        }
        shared.borrow_mut().sending.remove(&number);
        let outcome = outcome.map_err(|err: JsValue| {
            Stop::Failed(failed(FailureCode::BrowserError, js_error(&err)))
        })?;
        if stopped() {
            return Err(Stop::Interrupted);
        }
        attempt += 1;
        match outcome {
            Outcome::Stored(_) => return Ok(length),
            _ if attempt >= MAX_ATTEMPTS => {
                return Err(Stop::Failed(match outcome {
                    Outcome::Refused(refusal) => bucket_refused(&refusal),
                    _ => bucket_unreachable(),
                }))
            }
            Outcome::Refused(refusal) if refusal.is_expired_url() => url = None,
            // Other bytes than were hashed (the file changed, or they were damaged on the way):
            // read the part again.
            Outcome::Refused(refusal) if refusal.is_bad_digest() => (checksum, url) = (None, None),
            Outcome::Refused(refusal) if refusal.status >= 500 || refusal.status == 429 => {
                sleep(backoff(attempt)).await
            }
            Outcome::Refused(refusal) => return Err(Stop::Failed(bucket_refused(&refusal))),
            Outcome::Unreachable => sleep(backoff(attempt)).await,
        }
    }
}
