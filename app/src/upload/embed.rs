//! The uploader framed in the application's own pages (`/embed/NAME?origin=ORIGIN`; the
//! messages are documented in `docs/embed.md`). The server serves the frame for `ORIGIN` only
//! (its `frame-ancestors` names exactly that origin), so the parent is that origin: every
//! message goes to it alone (never `*`), and messages from any other origin are ignored. The
//! parent hands over the token every call is signed with (`upload:token`); the frame says when
//! it is ready, when the token has expired, and what becomes of each file.

use std::cell::RefCell;

use leptos::prelude::*;
use wasm_bindgen::{JsCast, JsValue};

use crate::bearer;

/// The messages' version: every message carries `v: 1`.
const VERSION: f64 = 1.0;

thread_local! {
    /// The parent's origin, when the page is framed as the embeddable uploader.
    static PARENT: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// The parent's origin, when this page is the embedded uploader.
pub fn parent() -> Option<String> {
    PARENT.with(|parent| parent.borrow().clone())
}

/// The origin this page was framed for, when it is the embedded uploader: `/embed/...?origin=`,
/// read as the server read it when it served the page for that origin alone (one `origin`,
/// as [`crate::rules::origin`] writes it).
pub fn framed_for() -> Option<String> {
    let location = leptos_router::hooks::use_location();
    let embedded = location.pathname.with_untracked(|path| path.starts_with("/embed/"));
    let asked = location.query.with_untracked(|query| query.get_all("origin"));
    match asked.as_deref() {
        Some([one]) if embedded => crate::rules::origin(one),
        _ => None,
    }
}

/// A field of a message: a string or a number.
pub enum Value<'a> {
    Text(&'a str),
    Number(f64),
}

/// Sends the parent the message `kind` with `fields`; nothing when the page is not embedded.
pub fn tell(kind: &str, fields: &[(&str, Value)]) {
    let Some(origin) = parent() else { return };
    let message = js_sys::Object::new();
    let set = |name: &str, value: JsValue| {
        let _ = js_sys::Reflect::set(&message, &JsValue::from_str(name), &value);
    };
    set("v", JsValue::from_f64(VERSION));
    set("type", JsValue::from_str(kind));
    for (name, value) in fields {
        set(
            name,
            match value {
                Value::Text(text) => JsValue::from_str(text),
                Value::Number(n) => JsValue::from_f64(*n),
            },
        );
    }
    if let Ok(Some(parent)) = window().parent() {
        let _ = parent.post_message(&message, &origin);
    }
}

/// Starts the embedded uploader for a parent at `origin`: takes the tokens it sends (`then` runs
/// after each), tells it the page's height whenever it changes, and says it is ready.
pub fn start(origin: String, then: impl Fn() + 'static) {
    PARENT.with(|parent| *parent.borrow_mut() = Some(origin.clone()));
    let handle = window_event_listener(leptos::ev::message, move |event| {
        // From the parent window, on the origin the frame was served for: nothing else.
        let from_parent = match (event.source(), window().parent()) {
            (Some(source), Ok(Some(parent))) => JsValue::from(source) == JsValue::from(parent),
            _ => false,
        };
        if event.origin() != origin || !from_parent {
            return;
        }
        let data = event.data();
        let field = |name: &str| js_sys::Reflect::get(&data, &JsValue::from_str(name)).ok();
        let version = field("v").and_then(|v| v.as_f64());
        let kind = field("type").and_then(|v| v.as_string());
        let token = field("token").and_then(|v| v.as_string()).filter(|t| !t.is_empty());
        if let (Some(VERSION), Some("upload:token"), Some(token)) =
            (version, kind.as_deref(), token)
        {
            bearer::set_token(token);
            then();
        }
    });
    on_cleanup(move || handle.remove());
    watch_height();
    tell("upload:ready", &[]);
}

/// Tells the parent the page's height (CSS pixels) whenever it changes, so that it sizes the
/// frame to show it all.
fn watch_height() {
    let Some(body) = document().body() else { return };
    let told = std::rc::Rc::new(std::cell::Cell::new(0.0));
    let measure = move || {
        // The body's, which shrinks with its content (the document's never goes below the
        // frame's own height).
        let height = document().body().map_or(0, |body| body.scroll_height());
        let height = f64::from(height);
        if height != told.get() {
            told.set(height);
            tell("upload:height", &[("height", Value::Number(height))]);
        }
    };
    measure();
    let changed = wasm_bindgen::closure::Closure::<dyn FnMut()>::new(measure);
    if let Ok(observer) = web_sys::ResizeObserver::new(changed.as_ref().unchecked_ref()) {
        observer.observe(&body);
    }
    // The page's lifetime: the observer calls it until the frame goes.
    changed.forget();
}
