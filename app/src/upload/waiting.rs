//! Waiting in the browser: for a moment ([`sleep`]), and for the server's budgets
//! ([`when_allowed`]): a call the server answers 429 is made again after the `Retry-After` it
//! gave, when that is a short while, so that a busy minute (other tabs, other files) delays an
//! upload rather than failing it.

use leptos::prelude::window;

use crate::wire::UploadError;

/// How long a `Retry-After` the page waits out; a longer one is the call's answer.
const LONGEST_WAIT_SECS: u64 = 60;
/// How many times one call waits.
const WAITS: u32 = 3;

/// Waits `ms` milliseconds.
pub async fn sleep(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        let _ = window().set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

/// How long to wait before asking again after `err`, if it says to wait a short while.
pub fn short_wait(err: &UploadError) -> Option<i32> {
    match err {
        UploadError::TooManyRequests { retry_after_secs }
            if *retry_after_secs <= LONGEST_WAIT_SECS =>
        {
            i32::try_from(retry_after_secs.max(&1) * 1000).ok()
        }
        _ => None,
    }
}

/// `call`'s answer, asked again (up to [`WAITS`] times) while the server says to wait a short
/// while.
pub async fn when_allowed<T, F, Fut>(mut call: F) -> Result<T, UploadError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, UploadError>>,
{
    let mut waited = 0;
    loop {
        match call().await {
            Err(err) if waited < WAITS => match short_wait(&err) {
                Some(ms) => {
                    waited += 1;
                    sleep(ms).await;
                }
                None => return Err(err),
            },
            answer => return answer,
        }
    }
}
