//! The wasm entry point: hydrates the page the server rendered. Nothing else lives here.

// Release builds keep every view's full type (debug builds erase them): the upload page's is
// deeper than the compiler's default limit.
#![recursion_limit = "256"]

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}
