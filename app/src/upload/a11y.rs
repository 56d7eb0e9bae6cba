//! What a screen reader hears: a polite live region for files queued, finished and progress in
//! quarters, an assertive one for failures. Both are in the page from the start (empty), so
//! assistive technology is already watching them when something is said. And where the
//! keyboard focus goes after an action ([`focus`]).

use leptos::prelude::*;

#[derive(Clone, Copy)]
pub struct Announcer {
    polite: RwSignal<String>,
    assertive: RwSignal<String>,
}

impl Announcer {
    pub fn new() -> Self {
        Self { polite: RwSignal::new(String::new()), assertive: RwSignal::new(String::new()) }
    }

    /// Said when the reader is idle.
    pub fn say(self, text: impl Into<String>) {
        self.polite.set(text.into());
    }

    /// Said at once: for failures.
    pub fn alert(self, text: impl Into<String>) {
        self.assertive.set(text.into());
    }
}

/// The two regions, visually hidden.
#[component]
pub fn LiveRegions(announcer: Announcer) -> impl IntoView {
    view! {
        <div class="visually-hidden announce-polite" role="status" aria-live="polite" aria-atomic="true">
            {move || announcer.polite.get()}
        </div>
        <div class="visually-hidden announce-assertive" role="alert" aria-live="assertive" aria-atomic="true">
            {move || announcer.assertive.get()}
        </div>
    }
}

/// Moves the keyboard focus to `element`, when it is on the page.
pub fn focus(element: Option<web_sys::HtmlElement>) {
    if let Some(element) = element {
        // Fails only for an element that cannot take focus; these all can.
        let _ = element.focus();
    }
}
