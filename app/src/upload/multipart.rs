//! Files in parts (multipart upload), for files above the server's threshold and every file
//! above 5 GiB: the server starts the upload; each part is read, hashed and PUT straight to the
//! bucket with a URL signed for exactly those bytes, [`PARTS_IN_FLIGHT`] at a time, each retried
//! on its own; the server then completes the upload from the parts the bucket has and checks
//! it. What a later page needs to go on (the sealed receipt, how to recognise the file) is kept
//! in `localStorage`, so an upload survives a pause, a reload, a crash or a closed tab: the
//! person picks the same file again and only the parts the bucket lacks are sent.

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;

use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use wasm_bindgen::JsValue;
use web_sys::{Blob, File};

use super::hash::sha256_base64;
use super::queue::{js_error, refused, sign_error_code, unreachable, Queue};
use super::row::{failed, Row, Status};
use super::s3_response::Outcome;
use super::xhr;
use crate::api::{abort_multipart, complete_multipart, list_parts, sign_parts, start_multipart};
use crate::format::RateMeter;
use crate::rules;
use crate::wire::{PartToSign, UploadError};

/// How many parts go at the same time.
pub const PARTS_IN_FLIGHT: usize = 4;
/// How often one part is tried before the upload fails (a refusal that says what to fix, such
/// as a wrong signature, is not tried again).
const MAX_ATTEMPTS: u32 = 5;
/// Where unfinished uploads are kept between page loads.
const STORAGE_KEY: &str = "s3-uploader.unfinished";

/// An upload in parts that has not finished: enough to go on with it from any page of this
/// browser, and to tell whether a file picked again is the same one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Unfinished {
    pub receipt: String,
    pub key: String,
    pub name: String,
    pub size: u64,
    /// The file's last modification (ms since the epoch), as the browser reports it. An
    /// integer: parsing floats from JSON would add its own code to the wasm.
    pub modified: u64,
    pub part_size: u64,
    /// The first part's SHA-256, once hashed: a file picked again must have the same.
    pub first_part: Option<String>,
}

impl Unfinished {
    /// Whether `file` may be the file this upload was of (its first part is compared later).
    pub fn matches(&self, file: &File) -> bool {
        file.name() == self.name
            && file.size() as u64 == self.size
            && file.last_modified() as u64 == self.modified
    }
}

fn storage() -> Option<web_sys::Storage> {
    window().local_storage().ok().flatten()
}

/// The unfinished uploads this browser kept.
pub fn load() -> Vec<Unfinished> {
    let text = storage().and_then(|s| s.get_item(STORAGE_KEY).ok().flatten()).unwrap_or_default();
    serde_json::from_str(&text).unwrap_or_default()
}

fn store(list: &[Unfinished]) {
    if let (Some(storage), Ok(text)) = (storage(), serde_json::to_string(list)) {
        // Full or forbidden storage only loses the chance to resume after a reload.
        let _ = storage.set_item(STORAGE_KEY, &text);
    }
}

/// Keeps (or updates) `unfinished`.
pub fn remember(unfinished: &Unfinished) {
    let mut list = load();
    list.retain(|u| u.key != unfinished.key);
    list.push(unfinished.clone());
    store(&list);
}

/// Forgets the upload of `key`.
pub fn forget(key: &str) {
    let mut list = load();
    list.retain(|u| u.key != key);
    store(&list);
}

/// Aborts the upload in the bucket (its parts are dropped) and forgets it.
pub async fn discard(unfinished: Unfinished) {
    forget(&unfinished.key);
    // A failure leaves the parts to the bucket's lifecycle rule (`server lifecycle`).
    let _ = abort_multipart(unfinished.receipt).await;
}

/// Waits `ms` milliseconds.
async fn sleep(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        let _ = window().set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

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

/// Uploads `file` in parts (or goes on with the upload `row.multipart` names), completes it
/// and has it checked. Ends with the row done, failed, cancelled or paused.
pub async fn run(queue: Queue, row: &Row, file: File) -> Result<(), Status> {
    let stopped = || matches!(row.status.get_untracked(), Status::Cancelled | Status::Paused);
    let unfinished = match row.multipart.get_value() {
        Some(unfinished) => unfinished,
        None => {
            row.status.set(Status::Signing);
            let unfinished = start(queue, row, &file).await?;
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
    let count = rules::part_count(unfinished.size, unfinished.part_size);
    let stored = list_parts(unfinished.receipt.clone())
        .await
        .map_err(|err| failed("NotResumable", err.to_string()))?;
    let have = |n: u64| {
        stored.iter().any(|p| {
            p.number == n
                && Some(p.size) == rules::part_length(unfinished.size, unfinished.part_size, n)
        })
    };
    // A file picked again must be the same file: its first part is compared with the one
    // hashed before (or the bucket's), whenever the bucket has any part of it.
    let recorded = unfinished
        .first_part
        .clone()
        .or_else(|| stored.iter().find(|p| p.number == 1).and_then(|p| p.checksum_sha256.clone()));
    if let (false, Some(recorded)) = (stored.is_empty(), recorded) {
        let first = hash_part(&file, &unfinished, 1, stopped).await?;
        if first.as_ref().is_some_and(|sum| *sum != recorded) {
            return Err(failed(
                "OtherFile",
                "this is not the file whose upload was interrupted (its first part differs): choose that file, or cancel the upload",
            ));
        }
    }
    let shared = Rc::new(RefCell::new(Progress {
        pending: (1..=count).filter(|&n| !have(n)).collect(),
        done: (1..=count)
            .filter(|&n| have(n))
            .filter_map(|n| rules::part_length(unfinished.size, unfinished.part_size, n))
            .sum::<u64>() as f64,
        ..Progress::default()
    }));
    row.sent.set(shared.borrow().done);
    row.status.set(Status::Uploading);
    let meter = StoredValue::new(RateMeter::default());
    let workers =
        (0..PARTS_IN_FLIGHT).map(|_| worker(row, &file, &unfinished, shared.clone(), meter));
    futures::future::join_all(workers).await;
    row.speed.set(None);
    if stopped() {
        return finish_stopped(row, unfinished).await;
    }
    if let Some(failure) = shared.borrow_mut().failure.take() {
        return Err(failure);
    }
    row.status.set(Status::Verifying);
    let result = complete_multipart(unfinished.receipt.clone()).await;
    // Completed or refused for good: there is nothing left to resume either way.
    if !matches!(result, Err(UploadError::Transport(_) | UploadError::Unavailable(_))) {
        forget(&unfinished.key);
        row.multipart.set_value(None);
        row.file.set_value(None);
    }
    match result {
        Ok(done) => {
            row.sent.set(row.size as f64);
            row.status.set(Status::Done(done));
            queue.uploads_changed.update(|n| *n += 1);
            Ok(())
        }
        Err(err) => Err(failed("NotVerified", err.to_string())),
    }
}

/// Paused: everything stays for Resume. Cancelled: the bucket drops the parts.
async fn finish_stopped(row: &Row, unfinished: Unfinished) -> Result<(), Status> {
    if row.status.get_untracked() == Status::Cancelled {
        row.multipart.set_value(None);
        discard(unfinished).await;
    }
    Ok(())
}

async fn start(queue: Queue, row: &Row, file: &File) -> Result<Unfinished, Status> {
    let modified: String = js_sys::Date::new(&file.last_modified().into()).to_iso_string().into();
    let metadata = BTreeMap::from([("file-last-modified".to_string(), modified)]);
    let code = queue.access_code.get_untracked();
    let started = start_multipart(row.name.clone(), row.size, file.type_(), code, metadata)
        .await
        .map_err(|err| failed(sign_error_code(&err), err.to_string()))?;
    Ok(Unfinished {
        receipt: started.receipt,
        key: started.key,
        name: row.name.clone(),
        size: row.size,
        modified: file.last_modified() as u64,
        part_size: started.part_size,
        first_part: None,
    })
}

/// Part `number` of `file`, as a slice (a handle: nothing is read yet).
fn part_of(file: &File, unfinished: &Unfinished, number: u64) -> Result<(Blob, u64), Status> {
    let length = rules::part_length(unfinished.size, unfinished.part_size, number)
        .ok_or_else(|| failed("NoSuchPart", format!("no part {number}")))?;
    let start = (number - 1) * unfinished.part_size;
    let blob = file
        .slice_with_f64_and_f64(start as f64, (start + length) as f64)
        .map_err(|err| failed("Unreadable", js_error(&err)))?;
    Ok((blob, length))
}

/// The SHA-256 of part `number`, read from the file in slices; `None` when stopped meanwhile.
async fn hash_part(
    file: &File,
    unfinished: &Unfinished,
    number: u64,
    stopped: impl Fn() -> bool,
) -> Result<Option<String>, Status> {
    let (blob, _) = part_of(file, unfinished, number)?;
    sha256_base64(&blob, |_| !stopped()).await.map_err(|err| {
        failed(
            "Unreadable",
            format!("the file could not be read ({}); choose it again", js_error(&err)),
        )
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
        if matches!(row.status.get_untracked(), Status::Cancelled | Status::Paused)
            || shared.borrow().failure.is_some()
        {
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
    let stopped = || matches!(row.status.get_untracked(), Status::Cancelled | Status::Paused);
    let (blob, length) = part_of(file, unfinished, number).map_err(Stop::Failed)?;
    let (mut checksum, mut url): (Option<String>, Option<String>) = (None, None);
    let mut attempt = 0;
    loop {
        if stopped() {
            return Err(Stop::Interrupted);
        }
        let sum = match &checksum {
            Some(sum) => sum.clone(),
            None => {
                let sum = hash_part(file, unfinished, number, stopped)
                    .await
                    .map_err(Stop::Failed)?
                    .ok_or(Stop::Interrupted)?;
                if number == 1 {
                    let recorded =
                        Unfinished { first_part: Some(sum.clone()), ..unfinished.clone() };
                    row.multipart.set_value(Some(recorded.clone()));
                    remember(&recorded);
                }
                checksum = Some(sum.clone());
                sum
            }
        };
        let put_url = match &url {
            Some(url) => url.clone(),
            None => {
                let part = PartToSign { number, length, checksum_sha256: sum.clone() };
                match sign_parts(unfinished.receipt.clone(), vec![part]).await {
                    Ok(signed) if !signed.is_empty() => {
                        url = Some(signed[0].url.clone());
                        signed[0].url.clone()
                    }
                    Ok(_) => {
                        return Err(Stop::Failed(failed(
                            "NotSigned",
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
                    Err(err) => {
                        return Err(Stop::Failed(failed(sign_error_code(&err), err.to_string())))
                    }
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
        let outcome = xhr::put_part(&put_url, &blob, &sum, on_progress, move |xhr| {
            requests.update_value(|all| all.push(xhr.clone()));
            sent_request.set_value(Some(xhr));
        })
        .await;
        if let Some(xhr) = sent_request.get_value() {
            requests.update_value(|all| all.retain(|r| *r != xhr));
        }
        shared.borrow_mut().sending.remove(&number);
        let outcome =
            outcome.map_err(|err: JsValue| Stop::Failed(failed("BrowserError", js_error(&err))))?;
        if stopped() {
            return Err(Stop::Interrupted);
        }
        attempt += 1;
        match outcome {
            Outcome::Stored(_) => return Ok(length),
            _ if attempt >= MAX_ATTEMPTS => {
                return Err(Stop::Failed(match outcome {
                    Outcome::Refused(refusal) => refused(&refusal),
                    _ => unreachable(),
                }))
            }
            Outcome::Refused(refusal) if refusal.is_expired_url() => url = None,
            // Other bytes than were hashed (the file changed, or they were damaged on the way):
            // read the part again.
            Outcome::Refused(refusal) if refusal.is_bad_digest() => (checksum, url) = (None, None),
            Outcome::Refused(refusal) if refusal.status >= 500 || refusal.status == 429 => {
                sleep(backoff(attempt)).await
            }
            Outcome::Refused(refusal) => return Err(Stop::Failed(refused(&refusal))),
            Outcome::Unreachable => sleep(backoff(attempt)).await,
        }
    }
}

/// The uploads in parts this browser left unfinished (a reload, a crash, a closed tab), each
/// offered to resume: picking the same file again sends only the parts the bucket lacks.
#[component]
pub fn UnfinishedUploads(
    on_resume: Callback<(File, Unfinished)>,
    ready: RwSignal<bool>,
) -> impl IntoView {
    let unfinished = RwSignal::new(Vec::<Unfinished>::new());
    // Only in the browser, once: this page's own uploads are in the list above.
    Effect::new(move |_| unfinished.set(load()));
    let problem = RwSignal::new(None::<(String, String)>);
    let drop_entry = move |key: &str| unfinished.update(|list| list.retain(|u| u.key != key));
    view! {
        <Show when=move || unfinished.with(|list| !list.is_empty())>
            <section class="unfinished" aria-label="Unfinished uploads">
                <h2>"Unfinished uploads"</h2>
                <p class="lede">"Choose the same file again to send the rest of it, or discard what was sent."</p>
                <ul>
                    <For each=move || unfinished.get() key=|u| u.key.clone() children=move |entry: Unfinished| {
                        let (key, name) = (entry.key.clone(), entry.name.clone());
                        let (for_pick, for_discard, for_problem) = (entry.clone(), entry.clone(), key.clone());
                        let on_pick = move |ev: leptos::ev::Event| {
                            let input: web_sys::HtmlInputElement = event_target(&ev);
                            let Some(file) = input.files().and_then(|files| files.get(0)) else { return };
                            input.set_value("");
                            if for_pick.matches(&file) {
                                // Same name, size and date; and the same first part, when known.
                                let unfinished = for_pick.clone();
                                leptos::task::spawn_local(async move {
                                    let first = match &unfinished.first_part {
                                        Some(_) => hash_part(&file, &unfinished, 1, || false).await.ok().flatten(),
                                        None => None,
                                    };
                                    if first.is_some() && first != unfinished.first_part {
                                        let message = format!("{} has other contents than the file that was being uploaded (its first part differs)", file.name());
                                        problem.set(Some((unfinished.key.clone(), message)));
                                        return;
                                    }
                                    problem.set(None);
                                    drop_entry(&unfinished.key);
                                    on_resume.run((file, unfinished));
                                });
                            } else {
                                let message = format!(
                                    "{} is not the file that was being uploaded (that was {}, {}, last changed {})",
                                    file.name(),
                                    for_pick.name,
                                    crate::format::human_bytes(for_pick.size),
                                    String::from(js_sys::Date::new(&(for_pick.modified as f64).into()).to_locale_string("en", &JsValue::UNDEFINED)),
                                );
                                problem.set(Some((for_pick.key.clone(), message)));
                            }
                        };
                        let on_discard = move |_| {
                            drop_entry(&for_discard.key);
                            leptos::task::spawn_local(discard(for_discard.clone()));
                        };
                        view! {
                            <li class="unfinished-upload" data-key=key>
                                <span class="name">{name.clone()}</span>
                                <span class="size">{crate::format::human_bytes(entry.size)}</span>
                                <label class="resume-pick">
                                    {format!("Resume: choose {name} again ")}
                                    <input type="file" on:change=on_pick disabled=move || !ready.get()/>
                                </label>
                                <button type="button" class="discard" aria-label=format!("Discard the unfinished upload of {name}")
                                    on:click=on_discard>"Discard"</button>
                                {move || problem.get().filter(|(k, _)| *k == for_problem).map(|(_, message)| view! {
                                    <p class="error" role="alert">{message}</p>
                                })}
                            </li>
                        }
                    }/>
                </ul>
            </section>
        </Show>
    }
}
