//! The upload page: choose files (picker, drop, paste), see each one queued, hashed, signed,
//! POSTed straight to the bucket with its progress, and verified; cancel or retry any. Before
//! the wasm runs (or without JavaScript), a plain signed form does one file.
//!
//! The page (here) holds the [`queue`], which sends a file in one POST or hands it to the
//! [`parts`] engine; both update the file's [`row`]. What they share sits below them, each in a
//! module that imports none of those above it: where an upload stands and how it fails
//! ([`status`]), who the page uploads as ([`account`]), what lets a file in parts resume ([`resume`]; its list is [`unfinished`]), the
//! requests ([`xhr`], [`s3_response`]), hashing, the file's metadata, and what a screen reader
//! hears ([`a11y`]).

mod a11y;
mod account;
mod embed;
mod file;
mod hash;
mod parts;
mod plain_form;
mod queue;
mod resume;
mod row;
mod s3_response;
mod status;
mod told;
mod unfinished;
mod waiting;
mod xhr;

use std::collections::BTreeMap;

use leptos::prelude::*;
use web_sys::{FileList, HtmlInputElement};

use crate::api::{my_uploads, upload_target};
use crate::format::{human_bytes, stored_time};
use crate::rules;
use crate::wire::{BucketInfo, ChecksumMode, Who};
use a11y::{focus, Announcer, LiveRegions};
use queue::Queue;
use resume::Unfinished;
use row::{Row, UploadRow};
use status::{failed, FailureCode, Status};
use unfinished::UnfinishedUploads;

pub use plain_form::UploadedPage;

/// Refuses, before anything is signed, what the server would refuse, in its words.
fn refusal(
    profile: &rules::Profile,
    size: u64,
    browser_type: &str,
    fields: &BTreeMap<String, String>,
) -> Option<Status> {
    if let Some(message) = profile.size_refusal(size) {
        let code = if size == 0 { FailureCode::EmptyFile } else { FailureCode::TooLarge };
        return Some(failed(code, message));
    }
    if let Some(message) = profile.type_refusal(rules::effective_type(browser_type)) {
        return Some(failed(FailureCode::TypeNotAllowed, message));
    }
    profile.fields_refusal(fields).map(|message| failed(FailureCode::InvalidMetadata, message))
}

fn limits_line(profile: &rules::Profile) -> String {
    let types = if profile.allowed_types.is_empty() {
        "any type".to_string()
    } else {
        profile.allowed_types.join(", ")
    };
    let most = human_bytes(profile.max_bytes);
    if profile.min_bytes > 1 {
        format!("At least {}, up to {most} per file; {types}.", human_bytes(profile.min_bytes))
    } else {
        format!("Up to {most} per file; {types}.")
    }
}

/// The upload page for the profile its address names (`/p/NAME`; `/` is `default`), or that
/// profile's uploader framed in the application's pages (`/embed/NAME?origin=`: see [`embed`]).
#[component]
pub fn UploadPage() -> impl IntoView {
    let profile = leptos_router::hooks::use_params_map()
        .with_untracked(|params| params.get("name"))
        .unwrap_or_default();
    let embedded = embed::framed_for();
    let on_page = embedded.is_none();
    let target = Resource::new(|| (), {
        let profile = profile.clone();
        move |_| upload_target(profile.clone())
    });
    let uploads_changed = RwSignal::new(0u32);
    let queue = Queue {
        rows: RwSignal::new(Vec::new()),
        running: StoredValue::new(0),
        access_code: RwSignal::new(String::new()),
        checksum_max_bytes: RwSignal::new(0),
        checksum: RwSignal::new(Default::default()),
        multipart_threshold: RwSignal::new(rules::MAX_POST_BYTES),
        uploads_changed,
        profile: StoredValue::new(profile.clone()),
        fields: RwSignal::new(BTreeMap::new()),
    };
    let (rows, access_code) = (queue.rows, queue.access_code);
    let next_id = StoredValue::new(0usize);
    // Effects only run in the browser: until hydration the picker stays disabled (the plain
    // form below works meanwhile), so a file chosen early is not silently dropped.
    let ready = RwSignal::new(false);
    Effect::new(move |_| {
        ready.set(true);
        // For performance tools (and scripts/bench.sh): when the page began to work.
        if let Some(performance) = window().performance() {
            let _ = performance.mark("hydrated");
        }
    });
    // A token the application handed over in the address: exchanged for a session, then
    // the page asks again who it uploads as, and lists that user's uploads.
    let session_refused = RwSignal::new(None::<String>);
    match embedded.clone() {
        // Framed: the parent hands the token over, and is told what happens.
        Some(origin) => {
            Effect::new(move |_| embed::start(origin.clone(), move || target.refetch()));
            told::tell_rows(queue.rows);
        }
        None => {
            Effect::new(move |_| {
                account::exchange_token(
                    move || {
                        target.refetch();
                        uploads_changed.update(|n| *n += 1);
                    },
                    move |message| session_refused.set(Some(message)),
                );
            });
        }
    }
    Effect::new(move |_| {
        if let Some(Ok(info)) = target.get() {
            queue.checksum_max_bytes.set(info.profile.checksum_max_bytes);
            queue.checksum.set(info.checksum);
            queue.multipart_threshold.set(info.profile.multipart_threshold);
        }
    });

    let announcer = Announcer::new();
    // Rows belong to the page, whichever component adds one: their signals live as long as it.
    let owner = StoredValue::new(Owner::current().expect("a component runs under an owner"));
    let add_row = move |file: web_sys::File, status: Status, unfinished: Option<Unfinished>| {
        let id = next_id.get_value();
        next_id.set_value(id + 1);
        let row = owner.with_value(|owner| owner.with(|| Row::new(id, file, status)));
        row.multipart.set_value(unfinished);
        rows.update(|rows| rows.push(row));
    };
    // Every way of choosing files ends here: the picker, a drop, a paste.
    let add_files = move |files: FileList| {
        let info = target.get_untracked().and_then(Result::ok);
        let mut queued = 0;
        for index in 0..files.length() {
            let Some(file) = files.get(index) else { continue };
            let status = info
                .as_ref()
                .and_then(|info| {
                    let fields = queue.fields.get_untracked();
                    refusal(&info.profile, file.size() as u64, &file.type_(), &fields)
                })
                .unwrap_or(Status::Queued);
            queued += usize::from(status == Status::Queued);
            add_row(file, status, None);
        }
        if queued > 0 {
            announcer.say(if queued == 1 {
                "1 file queued".to_string()
            } else {
                format!("{queued} files queued")
            });
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
            if let Some(files) =
                ev.clipboard_data().and_then(|data| data.files()).filter(|f| f.length() > 0)
            {
                ev.prevent_default();
                add_files(files);
            }
        });
        on_cleanup(move || handle.remove());
    });
    let any_active =
        move || rows.with(|rows| rows.iter().any(|r| r.status.with(Status::is_active)));
    // Focus goes somewhere sensible after each action: Cancel all back to the picker, Remove
    // to the list (or the picker once the list is empty).
    let (picker, list) =
        (NodeRef::<leptos::html::Input>::new(), NodeRef::<leptos::html::Ul>::new());
    let cancel_all = move |_| {
        rows.with_untracked(|rows| rows.iter().for_each(Row::cancel));
        focus(picker.get_untracked().map(Into::into));
    };
    let retry = Callback::new(move |id| queue.retry(id));
    let pause = Callback::new(move |id| queue.pause(id));
    // An unfinished upload goes on once its file is picked again.
    let resume = Callback::new(move |(file, unfinished): (web_sys::File, Unfinished)| {
        add_row(file, Status::Queued, Some(unfinished));
        announcer.say("1 file queued".to_string());
        queue.pump();
    });
    let remove = Callback::new(move |id| {
        queue.remove(id);
        let next = if rows.with_untracked(Vec::is_empty) {
            picker.get_untracked().map(Into::into)
        } else {
            list.get_untracked().map(Into::into)
        };
        focus(next);
    });

    view! {
        <section class="uploader" class:embedded=!on_page data-ready=move || ready.get().to_string()>
            <h1>"Upload files to S3"</h1>
            {on_page.then(|| view! {
                <p class="lede">
                    "Files go straight from your browser to the bucket. This server only signs a "
                    "short-lived policy for each file; it never sees the bytes or shares its keys."
                </p>
            })}
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    match target.await {
                        Ok(info) => {
                            // Framed, the token comes from the parent page, not from signing in.
                            let waiting = !on_page && matches!(info.who, Who::Nobody(_));
                            view! {
                                {on_page.then(|| view! { <account::Account who=info.who.clone()/> })}
                                {waiting.then(|| view! { <p class="waiting">"Waiting for the application to sign you in…"</p> })}
                                <TargetInfo info access_code fields=queue.fields/>
                            }.into_any()
                        }
                        Err(err) => view! { <p class="target error">{err.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
            {move || session_refused.get().map(|message| view! { <p class="account signed-out" role="alert">{message}</p> })}
            <label class="picker" class:dragging=move || dragging.get()
                on:drop=on_drop on:dragover=on_dragover on:dragleave=move |_| dragging.set(false)>
                <span>"Choose files, drop them here, or paste them"</span>
                // Its description is what it accepts: the limits lines above.
                <input type="file" multiple name="files" node_ref=picker aria-describedby="upload-limits upload-limits-more"
                    on:change=on_change disabled=move || !ready.get()/>
            </label>
            {on_page.then(|| view! { <plain_form::PlainForm ready profile=profile.clone()/> })}
            <div class="queue-actions">
                <button type="button" class="cancel-all" on:click=cancel_all disabled=move || !any_active()>"Cancel all"</button>
            </div>
            <LiveRegions announcer/>
            <ul class="uploads" aria-label="Uploads" tabindex="-1" node_ref=list>
                <For each=move || rows.get() key=|row| row.id children=move |row| view! {
                    <UploadRow row on_retry=retry on_remove=remove on_pause=pause announcer/>
                }/>
            </ul>
            // Type-erased: the page's view type is otherwise too deep for release builds
            // (which do not erase components).
            {on_page.then(|| view! { <UnfinishedUploads on_resume=resume ready/> }.into_any())}
            {on_page.then(|| view! { <YourUploads changed=uploads_changed profile/> })}
        </section>
    }
}

/// Which bucket, what it accepts, and the access code and the profile's metadata fields when
/// they are needed.
#[component]
fn TargetInfo(
    info: BucketInfo,
    access_code: RwSignal<String>,
    fields: RwSignal<BTreeMap<String, String>>,
) -> impl IntoView {
    let profile = info.profile;
    let limits = limits_line(&profile);
    let digest = match info.checksum {
        ChecksumMode::Sha256 => Some("SHA-256"),
        ChecksumMode::Md5 => Some("MD5"),
        ChecksumMode::Off => None,
    };
    let checksum = digest.filter(|_| profile.checksum_max_bytes > 0).map(|digest| {
        format!(
            "Files up to {} are checked with {digest}: the bucket refuses any other bytes.",
            human_bytes(profile.checksum_max_bytes)
        )
    });
    let per_day = profile.files_per_day.map(|n| format!(", {n} a day")).unwrap_or_default();
    let per_minute = format!("At most {} files a minute{per_day}.", profile.files_per_minute);
    // Only said where it can happen: a file this big is allowed.
    let parts = rules::goes_multipart(profile.max_bytes, profile.multipart_threshold).then(|| {
        let checked = digest.map(|d| format!(", each checked with {d}")).unwrap_or_default();
        format!(
            " Files over {} go in parts{checked}: they can be paused, and resumed even after a reload.",
            human_bytes(rules::multipart_above(profile.multipart_threshold))
        )
    });
    let target = match info.dev_data_dir {
        Some(dir) => view! {
            "Uploading to the built-in dev bucket "<code class="bucket-name">{info.bucket}</code>
            "; files land in "<code>{dir}</code>"."
        }
        .into_any(),
        None => view! {
            "Uploading to the bucket "<code class="bucket-name">{info.bucket}</code>" at "<code>{info.url}</code>"."
        }
        .into_any(),
    };
    let kind = (profile.name != rules::DEFAULT_PROFILE)
        .then(|| view! { " Profile "<code class="profile-name">{profile.name.clone()}</code>": " });
    view! {
        <p class="target">{target}</p>
        <p class="limits" id="upload-limits">{kind}{limits}</p>
        <p class="limits-more" id="upload-limits-more">{checksum}" "{per_minute}{parts}</p>
        {info.access_code_required.then(|| view! {
            <label class="access-code">
                "Access code "
                <input type="password" name="access-code" autocomplete="off"
                    prop:value=move || access_code.get()
                    on:input=move |ev| access_code.set(event_target_value(&ev))/>
            </label>
        })}
        {profile.fields.into_iter().map(|field| view! { <FieldInput field fields/> }).collect_view()}
    }
}

/// One metadata field of the profile: what the person types goes with every file chosen after
/// (what was typed before the page was ready too).
#[component]
fn FieldInput(field: rules::Field, fields: RwSignal<BTreeMap<String, String>>) -> impl IntoView {
    let name = StoredValue::new(field.name.clone());
    let set =
        move |value: String| fields.update(|fields| _ = fields.insert(name.get_value(), value));
    let input = NodeRef::<leptos::html::Input>::new();
    Effect::new(move |_| {
        if let Some(typed) = input.get().map(|input| input.value()).filter(|v| !v.is_empty()) {
            set(typed);
        }
    });
    let choices = (!field.values.is_empty()).then(|| field.values.join(", "));
    let hint = choices.map(|values| format!(" (one of: {values})"));
    let inputmode = (field.chars == rules::Chars::Digits).then_some("numeric");
    view! {
        <label class="metadata-field">
            {field.name.clone()}{field.required.then_some(" (required)")}{hint}" "
            <input type="text" name=format!("metadata-{}", field.name) required=field.required
                maxlength=field.max_len.map(|n| n.to_string()) inputmode=inputmode autocomplete="off"
                node_ref=input on:input=move |ev| set(event_target_value(&ev))/>
        </label>
    }
}

/// This browser's verified uploads of the page's profile, with links to view them.
#[component]
fn YourUploads(changed: RwSignal<u32>, profile: String) -> impl IntoView {
    let uploads = Resource::new(move || changed.get(), move |_| my_uploads(profile.clone()));
    view! {
        <section class="your-uploads">
            <h2>"Your uploads"</h2>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    match uploads.await {
                        Ok(list) if list.is_empty() => view! { <p class="empty">"Nothing yet."</p> }.into_any(),
                        Ok(list) => view! {
                            <ul>
                                {list.into_iter().map(|u| view! {
                                    <li data-key=u.key.clone()>
                                        <a href=u.view_url target="_blank" rel="noopener">{u.name}</a>
                                        <span class="size">{human_bytes(u.size)}</span>
                                        <time class="stored" datetime=u.stored_at.clone()>{stored_time(&u.stored_at)}</time>
                                    </li>
                                }).collect_view()}
                            </ul>
                        }.into_any(),
                        Err(err) => view! { <p class="error">{err.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}
