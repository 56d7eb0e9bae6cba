//! Who the page uploads as, where the service uploads for the application's users
//! (`UPLOAD_AUTH=token` or `proxy`): the token the application hands over in the URL's fragment
//! (`#token=...`, never the query string, which reaches logs) is exchanged once for a session
//! and taken out of the address bar; the page says who is signed in, signs out, and sends the
//! person to the application's sign-in page when nobody is (or the session ended). A leaf: it
//! imports nothing else of the page.

use leptos::prelude::*;

use crate::api::{end_session, start_session};
use crate::wire::{SignIn, Token, Who};

const TOKEN_FRAGMENT: &str = "#token=";

/// The token in the page's address, removed from it (and from the history entry) at once.
fn take_token() -> Option<String> {
    let window = window();
    let location = window.location();
    let token = location.hash().ok()?.strip_prefix(TOKEN_FRAGMENT)?.to_owned();
    let without = format!(
        "{}{}",
        location.pathname().unwrap_or_default(),
        location.search().unwrap_or_default()
    );
    if let Ok(history) = window.history() {
        let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&without));
    }
    (!token.is_empty()).then_some(token)
}

/// Exchanges a token found in the address for a session, then calls `signed_in`; a token that
/// does not hold is reported through `refused`.
pub fn exchange_token(signed_in: impl Fn() + 'static, refused: impl Fn(String) + 'static) {
    let Some(token) = take_token() else { return };
    leptos::task::spawn_local(async move {
        match start_session(Token(token)).await {
            Ok(_) => signed_in(),
            Err(err) => refused(err.to_string()),
        }
    });
}

/// The application's sign-in page, asked to come back to this page.
pub fn sign_in_href(url: &str) -> String {
    let here = window().location();
    let back = format!(
        "{}{}{}",
        here.origin().unwrap_or_default(),
        here.pathname().unwrap_or_default(),
        here.search().unwrap_or_default()
    );
    let separator = if url.contains('?') { '&' } else { '?' };
    let back: String = js_sys::encode_uri_component(&back).into();
    format!("{url}{separator}return_to={back}")
}

/// A refusal for want of a user: off to sign in, when the application said where (an upload
/// in parts resumes on return, from the parts the bucket has).
pub fn go_sign_in(sign_in: &SignIn) {
    // The embedded uploader never leaves its frame: its parent signs people in.
    if super::embed::parent().is_some() {
        return;
    }
    if let Some(url) = &sign_in.sign_in_url {
        let _ = window().location().set_href(&sign_in_href(url));
    }
}

/// "Uploading as ...", with sign-out; or what to do when nobody is signed in.
#[component]
pub fn Account(who: Who) -> impl IntoView {
    match who {
        Who::Anonymous => ().into_any(),
        Who::User { name, can_sign_out } => {
            let sign_out = move |_| {
                leptos::task::spawn_local(async move {
                    let _ = end_session().await;
                    let _ = window().location().reload();
                });
            };
            view! {
                <p class="account">
                    "Uploading as "<strong class="account-name">{name}</strong>"."
                    {can_sign_out.then(|| view! {
                        " "<button type="button" class="sign-out" on:click=sign_out>"Sign out"</button>
                    })}
                </p>
            }
            .into_any()
        }
        Who::Nobody(sign_in) => {
            // The bare URL without JavaScript (and until the page is hydrated); then the way
            // back to this page too, in the link itself, so that it also holds when opened in
            // another tab.
            let link = sign_in.sign_in_url.clone().map(|url| {
                let href = RwSignal::new(url.clone());
                Effect::new(move |_| href.set(sign_in_href(&url)));
                view! { " "<a class="sign-in-link" href=move || href.get()>"Sign in"</a> }
            });
            view! { <p class="account signed-out" role="alert">{sign_in.to_string()}"."{link}</p> }
                .into_any()
        }
    }
}
