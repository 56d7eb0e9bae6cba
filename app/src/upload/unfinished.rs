//! The uploads in parts this browser left unfinished (a reload, a crash, a closed tab), listed
//! under the queue, each offered to resume or to discard. The list is in the wasm of files in
//! parts (see [`super::parts::upload_in_parts`]): a browser that kept none never fetches it, one
//! that did fetches it just after the page is hydrated.

use leptos::prelude::*;
use leptos::wasm_split::SplitLoaderError;
use wasm_bindgen::JsValue;
use web_sys::File;

use super::resume::{any_kept, discard, load, Unfinished};
use crate::format::human_bytes;

/// What resuming one needs from the page: the file picked again, and the upload it goes on with.
type OnResume = Callback<(File, Unfinished)>;
/// The list's view, made by code in the split-off wasm.
type ListView = fn(OnResume, RwSignal<bool>) -> AnyView;

/// The unfinished uploads, once this browser is known to have kept some and their code is here.
/// Nothing is shown before (the server, which cannot see `localStorage`, renders nothing either);
/// code that cannot be fetched leaves the list out, and the console says why.
#[component]
pub fn UnfinishedUploads(on_resume: OnResume, ready: RwSignal<bool>) -> impl IntoView {
    let list = RwSignal::new(None::<ListView>);
    // Only in the browser, once.
    Effect::new(move |_| {
        if any_kept() {
            leptos::task::spawn_local(async move {
                if let Ok(view) = list_view().await {
                    list.set(Some(view));
                }
            });
        }
    });
    move || list.get().map(|view| view(on_resume, ready))
}

/// [`List`]'s view, from the split-off wasm of files in parts (fetched on the first call).
#[leptos::wasm_split::wasm_split(parts, wasm_split_path = ::leptos::wasm_split, fallible)]
fn list_view() -> Result<ListView, SplitLoaderError> {
    Ok(|on_resume, ready| view! { <List on_resume ready/> }.into_any())
}

/// Whether `file`, picked to resume `unfinished`, has another first part than the one hashed
/// before (when one was: otherwise the bucket's is compared once the upload goes on).
async fn other_contents(file: &File, unfinished: &Unfinished) -> bool {
    match &unfinished.first_part {
        Some(recorded) => {
            unfinished.first_part_differs(file, recorded, || false).await.unwrap_or(false)
        }
        None => false,
    }
}

/// Why `file` is refused for `unfinished` at once: its name, size or date differ.
fn not_that_file(file: &File, unfinished: &Unfinished) -> String {
    let changed = js_sys::Date::new(&(unfinished.modified as f64).into())
        .to_locale_string("en", &JsValue::UNDEFINED);
    format!(
        "{} is not the file that was being uploaded (that was {}, {}, last changed {})",
        file.name(),
        unfinished.name,
        human_bytes(unfinished.size),
        String::from(changed),
    )
}

/// The uploads in parts this browser left unfinished, each offered to resume: picking the same
/// file again sends only the parts the bucket lacks.
#[component]
fn List(on_resume: OnResume, ready: RwSignal<bool>) -> impl IntoView {
    // Read once: this page's own uploads are in the list above.
    let unfinished = RwSignal::new(load());
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
                                    if other_contents(&file, &unfinished).await {
                                        let message = format!("{} has other contents than the file that was being uploaded (its first part differs)", file.name());
                                        problem.set(Some((unfinished.key.clone(), message)));
                                        return;
                                    }
                                    problem.set(None);
                                    drop_entry(&unfinished.key);
                                    on_resume.run((file, unfinished));
                                });
                            } else {
                                problem.set(Some((for_pick.key.clone(), not_that_file(&file, &for_pick))));
                            }
                        };
                        let on_discard = move |_| {
                            drop_entry(&for_discard.key);
                            leptos::task::spawn_local(discard(for_discard.clone()));
                        };
                        view! {
                            <li class="unfinished-upload" data-key=key>
                                <span class="name">{name.clone()}</span>
                                <span class="size">{human_bytes(entry.size)}</span>
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
