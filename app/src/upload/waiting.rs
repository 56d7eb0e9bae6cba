//! Waiting in the browser: for a moment ([`sleep`]), for the server's budgets
//! ([`when_allowed`]): a call the server answers 429 is made again after the `Retry-After` it
//! gave, when that is a short while, so that a busy minute (other tabs, other files) delays an
//! upload rather than failing it; and, in the embedded uploader, for a fresh token from the
//! parent page when the one it had expired ([`when_signed_in`]), so that nothing is lost
//! meanwhile; and for a verdict that takes a while ([`when_checked`]).

use leptos::prelude::window;

use super::embed;
use crate::wire::{NoUser, UploadError};

/// How long the page asks for a verdict that is still being made (a quarantined profile's scan
/// and promotion of a big file); then the row says so, and "Your uploads" lists the file once
/// it passes.
const CHECKING_FOR_MS: f64 = 15.0 * 60.0 * 1000.0;
/// The longest pause between two asks, whatever the server suggests.
const LONGEST_CHECK_PAUSE_SECS: u64 = 10;

/// How long the embedded uploader waits for a fresh token, in steps of [`TOKEN_LOOK_MS`].
const TOKEN_LOOKS: u32 = 2_400;
const TOKEN_LOOK_MS: i32 = 250;

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

/// Whether `err` says the token is missing or expired where a parent page can send another
/// (the embedded uploader): then, after telling the parent, waits until it does (10 minutes at
/// most). True when a fresh token came.
async fn fresh_token(err: &UploadError) -> bool {
    let expired = matches!(err, UploadError::SignIn(s) if matches!(s.reason, NoUser::Expired | NoUser::Missing));
    if !expired || embed::parent().is_none() {
        return false;
    }
    let before = crate::bearer::tokens_handed();
    embed::tell("upload:token-expired", &[]);
    for _ in 0..TOKEN_LOOKS {
        sleep(TOKEN_LOOK_MS).await;
        if crate::bearer::tokens_handed() != before {
            return true;
        }
    }
    false
}

/// How many fresh tokens one call is tried with: a parent that keeps handing over tokens the
/// server refuses (a stale cache, a clock far off) does not make the frame call without end.
const FRESH_TOKENS: u32 = 3;

/// `call`'s answer, asked again with a fresh token while the embedded uploader's parent sends
/// one (see [`fresh_token`]), [`FRESH_TOKENS`] times at most.
pub async fn when_signed_in<T, F, Fut>(mut call: F) -> Result<T, UploadError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, UploadError>>,
{
    let mut fresh = 0;
    loop {
        match call().await {
            Err(err) if fresh < FRESH_TOKENS && fresh_token(&err).await => fresh += 1,
            answer => return answer,
        }
    }
}

/// `call`'s answer, asked again (up to [`WAITS`] times) while the server says to wait a short
/// while, and with a fresh token as [`when_signed_in`] does.
pub async fn when_allowed<T, F, Fut>(mut call: F) -> Result<T, UploadError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, UploadError>>,
{
    let (mut waited, mut fresh) = (0, 0);
    loop {
        match call().await {
            Err(err) if fresh < FRESH_TOKENS && fresh_token(&err).await => fresh += 1,
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

/// `call`'s answer (made as [`when_allowed`] makes it) once the server has a verdict: while it
/// answers that the file is still being checked, `checking` runs and the same call is made
/// again after the pause the server names, a second longer each time (each ask spends from the
/// uploader's budget of calls), for [`CHECKING_FOR_MS`] at most (then the answer is that it is
/// still being checked).
pub async fn when_checked<T, F, Fut>(mut call: F, checking: impl Fn()) -> Result<T, UploadError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, UploadError>>,
{
    let started = js_sys::Date::now();
    let mut asked = 0;
    loop {
        match when_allowed(&mut call).await {
            Err(UploadError::Checking { retry_after_secs })
                if js_sys::Date::now() - started < CHECKING_FOR_MS =>
            {
                checking();
                let secs = (retry_after_secs + asked).clamp(1, LONGEST_CHECK_PAUSE_SECS);
                asked += 1;
                sleep(i32::try_from(secs * 1000).unwrap_or(1000)).await;
            }
            answer => return answer,
        }
    }
}
