//! Uploading without JavaScript: the server renders a plain HTML form carrying a signed
//! policy; the browser POSTs one file straight to the bucket, which redirects back to
//! [`UploadedPage`], where the server verifies the upload. The form hides once the wasm runs.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::api::{confirm_upload, page_form};
use crate::format::human_bytes;

#[component]
pub fn PlainForm(ready: RwSignal<bool>, profile: String) -> impl IntoView {
    let form = Resource::new(|| (), move |_| page_form(profile.clone()));
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let Ok(Some(signed)) = form.await else { return None };
                Some(view! {
                    <form class="plain-form" method="post" enctype="multipart/form-data" action=signed.url
                        hidden=move || ready.get()>
                        <p>"Without JavaScript, upload one file at a time here (this form works for a few minutes; reload the page for a fresh one)."</p>
                        {signed.fields.into_iter().map(|(name, value)| view! { <input type="hidden" name=name value=value/> }).collect_view()}
                        // Last: S3 ignores fields after the file.
                        <label class="plain-file">"Choose a file " <input type="file" name="file" required/></label>
                        <button type="submit">"Upload"</button>
                    </form>
                })
            })}
        </Suspense>
    }
}

/// Where the bucket sends the browser after a plain-form upload: to the signed redirect
/// (`?session=&receipt=`), with the bucket's `&bucket=&key=&etag=` added.
#[component]
pub fn UploadedPage() -> impl IntoView {
    let query = use_query_map();
    let report = move || {
        query.with(|q| {
            (
                q.get("key").unwrap_or_default(),
                q.get("etag").unwrap_or_default(),
                q.get("receipt").unwrap_or_default(),
            )
        })
    };
    let confirmed =
        Resource::new(report, |(key, etag, receipt)| confirm_upload(key, etag, receipt));
    view! {
        <section class="uploaded">
            <h1>"Upload"</h1>
            <Suspense fallback=|| view! { <p>"Checking the upload…"</p> }>
                {move || Suspend::new(async move {
                    match confirmed.await {
                        Ok(stored) => view! {
                            <p class="verified" data-key=stored.key.clone()>
                                "Uploaded and verified: "<a href=stored.view_url>{stored.name}</a>
                                " ("{human_bytes(stored.size)}")."
                            </p>
                        }.into_any(),
                        Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
            <p><a href="/">"Upload another file"</a></p>
        </section>
    }
}
