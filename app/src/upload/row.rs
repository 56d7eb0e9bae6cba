//! One file in the queue: what it holds while it goes, what the page shows of it, and its row.

use leptos::prelude::*;
use web_sys::{File, XmlHttpRequest};

use super::a11y::{focus, Announcer};
use super::resume::{discard_in_parts, Unfinished};
use super::status::Status;
use crate::format::{human_bytes, human_duration, human_rate, percent};

/// One chosen file. The browser objects (the `File`, kept for retries, and the request under
/// way, kept for cancelling) live in local, non-reactive storage.
#[derive(Clone)]
pub struct Row {
    pub id: usize,
    pub name: String,
    pub size: u64,
    /// An object URL showing the image, revoked once the thumbnail has loaded.
    pub thumbnail: Option<String>,
    pub hashed: RwSignal<f64>,
    pub sent: RwSignal<f64>,
    /// Bytes per second over the last seconds, while uploading.
    pub speed: RwSignal<Option<f64>>,
    pub key: RwSignal<Option<String>>,
    pub status: RwSignal<Status>,
    pub file: StoredValue<Option<File>, LocalStorage>,
    /// The requests under way (one POST, or up to four parts), for cancelling.
    pub requests: StoredValue<Vec<XmlHttpRequest>, LocalStorage>,
    /// A file in parts: what its upload needs to go on (after a pause, a failure, a reload).
    pub multipart: StoredValue<Option<Unfinished>, LocalStorage>,
}

impl Row {
    pub fn new(id: usize, file: File, status: Status) -> Self {
        let thumbnail = file
            .type_()
            .starts_with("image/")
            .then(|| web_sys::Url::create_object_url_with_blob(&file).ok())
            .flatten();
        Row {
            id,
            name: file.name(),
            size: file.size() as u64,
            thumbnail,
            hashed: RwSignal::new(0.0),
            sent: RwSignal::new(0.0),
            speed: RwSignal::new(None),
            key: RwSignal::new(None),
            status: RwSignal::new(status),
            file: StoredValue::new_local(Some(file)),
            requests: StoredValue::new_local(Vec::new()),
            multipart: StoredValue::new_local(None),
        }
    }

    /// Stops the requests under way.
    pub fn abort_requests(&self) {
        for request in self.requests.get_value() {
            // Aborting fails only for a request that was never opened; these were.
            let _ = request.abort();
        }
    }

    /// Paused or cancelled by the person: whatever runs for this row stops.
    pub fn stopped(&self) -> bool {
        self.status.with_untracked(Status::is_stopped)
    }

    /// Cancelled by the person.
    pub fn cancelled(&self) -> bool {
        self.status.with_untracked(|status| *status == Status::Cancelled)
    }

    pub fn cancel(&self) {
        let before = self.status.get_untracked();
        if before.is_active() {
            self.status.set(Status::Cancelled);
            self.abort_requests();
            // A paused upload has no task to notice: its parts are dropped from here.
            if before == Status::Paused {
                if let Some(unfinished) = self.multipart.get_value() {
                    leptos::task::spawn_local(async move {
                        let _ = discard_in_parts(unfinished).await;
                    });
                }
            }
        }
    }
}

/// What the state line says.
fn describe(status: &Status, row_size: u64, hashed: f64, sent: f64, speed: Option<f64>) -> String {
    let size = row_size as f64;
    match status {
        Status::Queued => "queued".into(),
        Status::Hashing => format!("checking… {}%", percent(hashed, size)),
        Status::Signing => "signing…".into(),
        Status::Uploading => {
            let mut line = format!(
                "uploading… {}% · {} of {}",
                percent(sent, size),
                human_bytes(sent as u64),
                human_bytes(row_size)
            );
            if let Some(rate) = speed.filter(|r| *r > 0.0) {
                line.push_str(&format!(
                    " · {} · {} left",
                    human_rate(rate),
                    human_duration((size - sent) / rate)
                ));
            }
            line
        }
        Status::Paused => format!(
            "paused at {}% · {} of {}",
            percent(sent, size),
            human_bytes(sent as u64),
            human_bytes(row_size)
        ),
        Status::Verifying => "verifying…".into(),
        Status::Checking => "checking…".into(),
        Status::Done(_) => "uploaded and verified".into(),
        Status::Failed { .. } => "failed".into(),
        Status::Cancelled => "cancelled".into(),
    }
}

/// Tells a screen reader what a sighted person sees change in a row: how it ended (a failure
/// assertively, with its reason) and the upload's progress in quarters.
fn announce_changes(
    announcer: Announcer,
    name: String,
    size: u64,
    status: RwSignal<Status>,
    sent: RwSignal<f64>,
) {
    let ended = name.clone();
    Effect::new(move |before: Option<&'static str>| {
        let now = status.with(Status::as_str);
        if before != Some(now) {
            match status.get() {
                Status::Done(_) => announcer.say(format!("{ended} uploaded and verified")),
                Status::Failed { message, .. } => {
                    announcer.alert(format!("{ended} failed: {message}"))
                }
                Status::Cancelled => announcer.say(format!("{ended} cancelled")),
                _ => {}
            }
        }
        now
    });
    let said = StoredValue::new(0u32);
    Effect::new(move |_| {
        let quarter = if status.with(|s| *s == Status::Uploading) {
            percent(sent.get(), size as f64) / 25
        } else {
            0
        };
        if quarter < said.get_value() {
            // Started again (a retry, a fresh policy).
            said.set_value(quarter);
        } else if quarter > said.get_value() && quarter < 4 {
            said.set_value(quarter);
            announcer.say(format!("{name}: {}% uploaded", quarter * 25));
        }
    });
}

/// One row of the list. `on_retry` and `on_remove` get the row's id; after Retry the row itself
/// takes the focus (the button goes away), so the keyboard stays in the list.
#[component]
pub fn UploadRow(
    row: Row,
    on_retry: Callback<usize>,
    on_remove: Callback<usize>,
    on_pause: Callback<usize>,
    announcer: Announcer,
) -> impl IntoView {
    let (cancel_row, id) = (row.clone(), row.id);
    let in_parts = row.multipart;
    let Row { name, size, thumbnail, hashed, sent, speed, key, status, .. } = row;
    announce_changes(announcer, name.clone(), size, status, sent);
    let item = NodeRef::<leptos::html::Li>::new();
    let (cancel_label, retry_label, remove_label) =
        (format!("Cancel {name}"), format!("Retry {name}"), format!("Remove {name} from the list"));
    let (pause_label, resume_label) = (format!("Pause {name}"), format!("Resume {name}"));
    // While hashing, the bar shows hashing; then the upload.
    let pct = move || match status.get() {
        Status::Hashing => percent(hashed.get(), size as f64),
        Status::Done(_) | Status::Verifying | Status::Checking => 100,
        _ => percent(sent.get(), size as f64),
    };
    let thumb = thumbnail.map(|url| {
        // Once decoded, the image stays on screen: the object URL is not needed any more.
        let revoke = move |url: &str| {
            let _ = web_sys::Url::revoke_object_url(url);
        };
        let (on_load, on_error) = (url.clone(), url.clone());
        view! { <img class="thumb" src=url alt="" on:load=move |_| revoke(&on_load) on:error=move |_| revoke(&on_error)/> }
    });
    view! {
        <li class="upload" tabindex="-1" node_ref=item aria-label=name.clone()
            data-status=move || status.with(|s| s.as_str()) data-key=move || key.get().unwrap_or_default()>
            <div class="upload-head">
                {thumb}
                <span class="name">{name.clone()}</span>
                <span class="size">{human_bytes(size)}</span>
            </div>
            <div class="bar" role="progressbar" aria-label=format!("Upload of {name}")
                aria-valuemin="0" aria-valuemax="100" aria-valuenow=move || pct().to_string()>
                <div class="fill" style:transform=move || { let p = pct(); format!("scaleX({}.{:02})", p / 100, p % 100) }></div>
            </div>
            <p class="state">{move || status.with(|s| describe(s, size, hashed.get(), sent.get(), speed.get()))}</p>
            <div class="row-actions">
                <Show when=move || status.with(Status::is_active)>
                    <button type="button" class="cancel" aria-label=cancel_label.clone()
                        on:click={ let row = cancel_row.clone(); move |_| row.cancel() }>"Cancel"</button>
                </Show>
                <Show when=move || status.with(|s| *s == Status::Uploading) && in_parts.with_value(Option::is_some)>
                    <button type="button" class="pause" aria-label=pause_label.clone()
                        on:click=move |_| on_pause.run(id)>"Pause"</button>
                </Show>
                <Show when=move || status.with(|s| *s == Status::Paused)>
                    <button type="button" class="resume" aria-label=resume_label.clone()
                        on:click=move |_| on_retry.run(id)>"Resume"</button>
                </Show>
                <Show when=move || status.with(Status::is_retryable)>
                    <button type="button" class="retry" aria-label=retry_label.clone()
                        on:click=move |_| {
                            on_retry.run(id);
                            focus(item.get_untracked().map(Into::into));
                        }>"Retry"</button>
                </Show>
                <Show when=move || status.with(Status::is_finished)>
                    <button type="button" class="remove" aria-label=remove_label.clone()
                        on:click=move |_| on_remove.run(id)>"Remove"</button>
                </Show>
            </div>
            {move || match status.get() {
                Status::Failed { code, message } => Some(view! {
                    <p class="error" role="alert"><code class="code">{code.to_string()}</code>": "<span class="message">{message}</span></p>
                }.into_any()),
                Status::Done(stored) => Some(view! {
                    <p class="stored">
                        <a class="view" href=stored.view_url target="_blank" rel="noopener">"View"</a>
                        " · stored as "<code class="key">{stored.key}</code>
                    </p>
                }.into_any()),
                _ => None,
            }}
        </li>
    }
}
