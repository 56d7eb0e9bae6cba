//! Uploading without JavaScript: the server renders a plain HTML form carrying a signed
//! policy; the browser POSTs one file straight to the bucket, which redirects back to
//! [`UploadedPage`], where the server verifies the upload. The form hides once the wasm runs.

use leptos::prelude::*;
use leptos_meta::Meta;
use leptos_router::hooks::{use_location, use_query_map};

use crate::api::{confirm_upload, page_form};
use crate::format::human_bytes;
use crate::wire::UploadError;

/// How often the return page looks again while the file is being checked (a quarantined
/// profile's scan and promotion), and how many times: about five minutes in all.
const CHECK_REFRESH_SECS: u32 = 5;
const CHECK_REFRESHES: u32 = 60;

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
    // Each refresh while the file is being checked counts itself in the address.
    let looked = query.with_untracked(|q| q.get("looked").and_then(|n| n.parse().ok()));
    let search = use_location().search;
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
                        Err(UploadError::Checking { .. }) => {
                            let looked: u32 = looked.unwrap_or(0);
                            if looked >= CHECK_REFRESHES {
                                return view! {
                                    <p class="checking" role="status">"Uploaded; the file is still being checked. Your uploads lists it once it passes."</p>
                                }.into_any();
                            }
                            let again = format!("{CHECK_REFRESH_SECS}; url=?{}", look_again(&search.get_untracked(), looked + 1));
                            view! {
                                <Meta http_equiv="refresh" content=again/>
                                <p class="checking" role="status">"Uploaded; checking the file… This page looks again every few seconds until the checks are done."</p>
                            }.into_any()
                        }
                        Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
            <p><a href="/">"Upload another file"</a></p>
        </section>
    }
}

/// The return page's query (`search`, with or without its `?`) for its `looked`-th look.
fn look_again(search: &str, looked: u32) -> String {
    let mut pairs: Vec<String> = (search.trim_start_matches('?').split('&'))
        .filter(|pair| !pair.is_empty() && !pair.starts_with("looked="))
        .map(str::to_owned)
        .collect();
    pairs.push(format!("looked={looked}"));
    pairs.join("&")
}

#[cfg(test)]
mod tests {
    use super::look_again;

    #[test]
    fn each_look_counts_itself_once() {
        assert_eq!(look_again("?key=a%2Fb&etag=x", 1), "key=a%2Fb&etag=x&looked=1");
        assert_eq!(look_again("?key=a&looked=3&etag=x", 4), "key=a&etag=x&looked=4");
        assert_eq!(look_again("", 1), "looked=1");
    }
}
