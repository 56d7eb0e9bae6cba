//! The upload page: choose files, and each one waits in a queue (at most
//! [`CONCURRENT_UPLOADS`] go at once), is signed when its turn comes, is POSTed straight to the
//! bucket and is shown with its progress and outcome; any can be cancelled or retried.

mod s3_response;
mod xhr;

use leptos::prelude::*;
use leptos::task::spawn_local;
use web_sys::{File, FileList, HtmlInputElement, XmlHttpRequest};

use crate::api::{sign_upload, upload_target};
use crate::format::{human_bytes, percent};
use s3_response::{Outcome, Stored};

/// How many files upload at the same time; the rest wait their turn.
pub const CONCURRENT_UPLOADS: usize = 3;

/// Where one upload stands. `as_str` is also the row's `data-status`, for tests and styling.
#[derive(Clone, Debug, PartialEq)]
enum Status {
    Queued,
    Signing,
    Uploading,
    /// As the bucket reported it in its `PostResponse`.
    Done(Stored),
    Failed { code: String, message: String },
    Cancelled,
}

impl Status {
    fn as_str(&self) -> &'static str {
        match self {
            Status::Queued => "queued",
            Status::Signing => "signing",
            Status::Uploading => "uploading",
            Status::Done { .. } => "done",
            Status::Failed { .. } => "failed",
            Status::Cancelled => "cancelled",
        }
    }

    fn is_active(&self) -> bool {
        matches!(self, Status::Queued | Status::Signing | Status::Uploading)
    }
}

/// One chosen file. The browser objects (the `File`, kept for retries, and the request under
/// way, kept for cancelling) live in local, non-reactive storage.
#[derive(Clone)]
struct Row {
    id: usize,
    name: String,
    size: u64,
    sent: RwSignal<f64>,
    key: RwSignal<Option<String>>,
    status: RwSignal<Status>,
    file: StoredValue<Option<File>, LocalStorage>,
    request: StoredValue<Option<XmlHttpRequest>, LocalStorage>,
}

impl Row {
    fn cancel(&self) {
        if self.status.get_untracked().is_active() {
            self.status.set(Status::Cancelled);
            if let Some(request) = self.request.get_value() {
                // Aborting fails only for a request that was never opened; this one was.
                let _ = request.abort();
            }
        }
    }
}

/// The queue: rows in order, and how many are under way.
#[derive(Clone, Copy)]
struct Queue {
    rows: RwSignal<Vec<Row>>,
    running: StoredValue<usize>,
    access_code: RwSignal<String>,
}

impl Queue {
    /// Starts queued rows, first come first served, while fewer than the limit are running.
    fn pump(self) {
        while self.running.get_value() < CONCURRENT_UPLOADS {
            let next = self.rows.with_untracked(|rows| rows.iter().find(|r| r.status.get_untracked() == Status::Queued).cloned());
            let Some(row) = next else { break };
            let Some(file) = row.file.get_value() else {
                row.status.set(failed("NoFile", "the file is no longer available: choose it again"));
                continue;
            };
            self.running.update_value(|n| *n += 1);
            row.status.set(Status::Signing);
            let code = self.access_code.get_untracked();
            spawn_local(async move {
                run_upload(row, file, code).await;
                self.running.update_value(|n| *n -= 1);
                self.pump();
            });
        }
    }

    fn retry(self, row: &Row) {
        if matches!(row.status.get_untracked(), Status::Failed { .. } | Status::Cancelled) {
            row.sent.set(0.0);
            row.key.set(None);
            row.status.set(Status::Queued);
            self.pump();
        }
    }
}

fn failed(code: &str, message: impl Into<String>) -> Status {
    Status::Failed { code: code.into(), message: message.into() }
}

/// Sign, POST, report. Every way this can end leaves the row in `done` or `failed`.
async fn run_upload(row: Row, file: File, access_code: String) {
    // Browsers report "" for unknown types; the server signs that as application/octet-stream,
    // and the form's Content-Type field (what S3 stores) comes from the signed fields.
    // Signed now, when its turn has come: a policy never waits in the queue and expires there.
    let signed = sign_upload(row.name.clone(), row.size, file.type_(), access_code, None).await;
    if row.status.get_untracked() == Status::Cancelled {
        return;
    }
    let signed = match signed {
        Ok(signed) => signed,
        Err(err) => return row.status.set(failed("NotSigned", err.to_string())),
    };
    row.key.set(Some(signed.key.clone()));
    row.status.set(Status::Uploading);

    let (sent, request) = (row.sent, row.request);
    let result = xhr::post_form(&signed.url, &signed.fields, &file, move |done, _total| sent.set(done), move |xhr| {
        request.set_value(Some(xhr))
    })
    .await;
    row.request.set_value(None);
    if row.status.get_untracked() == Status::Cancelled {
        return;
    }
    if matches!(result, Ok(Outcome::Stored(_))) {
        // Stored: the file is not needed for a retry any more.
        row.file.set_value(None);
    }
    row.status.set(match result {
        Ok(Outcome::Stored(stored)) => {
            row.sent.set(row.size as f64);
            Status::Done(stored)
        }
        Ok(Outcome::Refused(refusal)) => failed(&refusal.code, format!("{} (HTTP {})", refusal.message, refusal.status)),
        Ok(Outcome::Unreachable) => failed(
            "Unreachable",
            "The bucket could not be reached, or its CORS rules do not allow uploads from this page.",
        ),
        Err(err) => failed("BrowserError", format!("{err:?}")),
    });
}

#[component]
pub fn UploadPage() -> impl IntoView {
    let target = OnceResource::new(upload_target());
    let rows = RwSignal::new(Vec::<Row>::new());
    let access_code = RwSignal::new(String::new());
    let queue = Queue { rows, running: StoredValue::new(0), access_code };
    let next_id = StoredValue::new(0usize);
    // Effects only run in the browser: until hydration the picker stays disabled, so a file
    // chosen early is not silently dropped.
    let ready = RwSignal::new(false);
    Effect::new(move |_| ready.set(true));

    // Every way of choosing files ends here: the picker, a drop, a paste.
    let add_files = move |files: FileList| {
        for index in 0..files.length() {
            let Some(file) = files.get(index) else { continue };
            let id = next_id.get_value();
            next_id.set_value(id + 1);
            let row = Row {
                id,
                name: file.name(),
                size: file.size() as u64,
                sent: RwSignal::new(0.0),
                key: RwSignal::new(None),
                status: RwSignal::new(Status::Queued),
                file: StoredValue::new_local(Some(file)),
                request: StoredValue::new_local(None),
            };
            rows.update(|rows| rows.push(row));
        }
        queue.pump();
    };
    let on_change = move |ev: leptos::ev::Event| {
        let input: HtmlInputElement = event_target(&ev);
        if let Some(files) = input.files() {
            add_files(files);
        }
        // Lets the same file be chosen again.
        input.set_value("");
    };
    let dragging = RwSignal::new(false);
    let on_drop = move |ev: leptos::ev::DragEvent| {
        ev.prevent_default();
        dragging.set(false);
        if let Some(files) = ev.data_transfer().and_then(|data| data.files()) {
            add_files(files);
        }
    };
    let on_dragover = move |ev: leptos::ev::DragEvent| {
        // Without this the browser would open the dropped file instead.
        ev.prevent_default();
        dragging.set(true);
    };
    // Pasted files (a screenshot, files copied in a file manager) anywhere on the page.
    Effect::new(move |_| {
        let handle = window_event_listener(leptos::ev::paste, move |ev| {
            if let Some(files) = ev.clipboard_data().and_then(|data| data.files()).filter(|f| f.length() > 0) {
                ev.prevent_default();
                add_files(files);
            }
        });
        on_cleanup(move || handle.remove());
    });
    let any_active = move || rows.with(|rows| rows.iter().any(|r| r.status.with(Status::is_active)));
    let cancel_all = move |_| rows.with_untracked(|rows| rows.iter().for_each(Row::cancel));

    view! {
        <section class="uploader" data-ready=move || ready.get().to_string()>
            <h1>"Upload files to S3"</h1>
            <p class="lede">
                "Files go straight from your browser to the bucket. This server only signs a "
                "short-lived policy for each file; it never sees the bytes or shares its keys."
            </p>
            <p class="target">
                <Suspense fallback=|| "">
                    {move || Suspend::new(async move {
                        match target.await {
                            Ok(info) => match info.dev_data_dir {
                                Some(dir) => view! {
                                    "Uploading to the built-in dev bucket "<code class="bucket-name">{info.bucket}</code>
                                    "; files land in "<code>{dir}</code>"."
                                }.into_any(),
                                None => view! {
                                    "Uploading to the bucket "<code class="bucket-name">{info.bucket}</code>" at "<code>{info.url}</code>"."
                                }.into_any(),
                            },
                            Err(err) => view! { <span class="error">{err.to_string()}</span> }.into_any(),
                        }
                    })}
                </Suspense>
            </p>
            <p class="limits">
                <Suspense fallback=|| "">
                    {move || Suspend::new(async move {
                        target.await.ok().map(|info| {
                            let types = if info.allowed_types.is_empty() {
                                "any type".to_string()
                            } else {
                                info.allowed_types.join(", ")
                            };
                            format!("Up to {} per file; {types}.", human_bytes(info.max_bytes))
                        })
                    })}
                </Suspense>
            </p>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    target.await.ok().filter(|info| info.access_code_required).map(|_| view! {
                        <label class="access-code">
                            "Access code "
                            <input type="password" name="access-code" autocomplete="off"
                                prop:value=move || access_code.get()
                                on:input=move |ev| access_code.set(event_target_value(&ev))/>
                        </label>
                    })
                })}
            </Suspense>
            <label class="picker" class:dragging=move || dragging.get()
                on:drop=on_drop on:dragover=on_dragover on:dragleave=move |_| dragging.set(false)>
                <span>"Choose files, drop them here, or paste them"</span>
                <input type="file" multiple name="files" on:change=on_change disabled=move || !ready.get()/>
            </label>
            <div class="queue-actions">
                <button type="button" class="cancel-all" on:click=cancel_all disabled=move || !any_active()>"Cancel all"</button>
            </div>
            <ul class="uploads" aria-live="polite">
                <For each=move || rows.get() key=|row| row.id children=move |row| view! { <UploadRow row queue/> }/>
            </ul>
        </section>
    }
}

#[component]
fn UploadRow(row: Row, queue: Queue) -> impl IntoView {
    let (cancel_row, retry_row) = (row.clone(), row.clone());
    let Row { name, size, sent, key, status, .. } = row;
    let (cancel_label, retry_label) = (format!("Cancel {name}"), format!("Retry {name}"));
    let pct = move || percent(sent.get(), size as f64);
    view! {
        <li class="upload" data-status=move || status.with(|s| s.as_str()) data-key=move || key.get().unwrap_or_default()>
            <div class="upload-head">
                <span class="name">{name.clone()}</span>
                <span class="size">{human_bytes(size)}</span>
            </div>
            <div class="bar" role="progressbar" aria-label=format!("Upload of {name}")
                aria-valuemin="0" aria-valuemax="100" aria-valuenow=move || pct().to_string()>
                <div class="fill" style:width=move || format!("{}%", pct())></div>
            </div>
            <p class="state">
                {move || match status.get() {
                    Status::Queued => "queued".to_string(),
                    Status::Signing => "signing…".to_string(),
                    Status::Uploading => format!("uploading… {}%", pct()),
                    Status::Done(stored) => format!("uploaded (ETag {})", stored.etag),
                    Status::Failed { .. } => "failed".to_string(),
                    Status::Cancelled => "cancelled".to_string(),
                }}
            </p>
            <div class="row-actions">
                <Show when=move || status.with(Status::is_active)>
                    <button type="button" class="cancel" aria-label=cancel_label.clone()
                        on:click={ let row = cancel_row.clone(); move |_| row.cancel() }>"Cancel"</button>
                </Show>
                <Show when=move || status.with(|s| matches!(s, Status::Failed { .. } | Status::Cancelled))>
                    <button type="button" class="retry" aria-label=retry_label.clone()
                        on:click={ let row = retry_row.clone(); move |_| queue.retry(&row) }>"Retry"</button>
                </Show>
            </div>
            {move || match status.get() {
                Status::Failed { code, message } => Some(view! {
                    <p class="error" role="alert"><code class="code">{code}</code>": "<span class="message">{message}</span></p>
                }.into_any()),
                // Not a link: S3-compatible servers report Locations that often do not resolve,
                // and private objects need a signed URL to be read.
                Status::Done(stored) => Some(view! {
                    <p class="stored">
                        "Stored in "<code class="bucket">{stored.bucket}</code>" as "
                        <code class="key" title=stored.location>{stored.key}</code>
                    </p>
                }.into_any()),
                _ => None,
            }}
        </li>
    }
}
