//! The requests straight to the bucket, with XMLHttpRequest: unlike `fetch`, it reports upload
//! progress. A POST of a whole file, and the PUT of a whole file or of one part; the `File` (or
//! the part's slice of it) goes as a handle, its bytes are never read into wasm.

use std::cell::Cell;

use futures::channel::oneshot;
use wasm_bindgen::{closure::Closure, JsCast, JsValue};
use web_sys::{Blob, File, FormData, ProgressEvent, XmlHttpRequest};

use super::s3_response::{outcome, Outcome};

/// Sends `fields` in order, then `file` last (S3 ignores anything after the file), and calls
/// `on_progress(sent, total)` as bytes go out. `on_sent` gets the request once it is under
/// way, so that it can be aborted (it then ends as [`Outcome::Unreachable`]).
pub async fn post_form(
    url: &str,
    fields: &[(String, String)],
    file: &File,
    on_progress: impl Fn(f64, f64) + 'static,
    on_sent: impl FnOnce(XmlHttpRequest),
) -> Result<Outcome, JsValue> {
    let form = FormData::new()?;
    for (name, value) in fields {
        form.append_with_str(name, value)?;
    }
    form.append_with_blob_and_filename("file", file, &file.name())?;

    let xhr = XmlHttpRequest::new()?;
    xhr.open("POST", url)?;
    send(&xhr, Body::Form(&form), on_progress, on_sent).await?;
    let status = xhr.status()?;
    let body = xhr.response_text()?.unwrap_or_default();
    Ok(outcome(status, &body))
}

/// PUTs one part (`blob`, a slice of the file) to its presigned URL with its checksum header
/// (its name and value), if it has one; answers like [`put`].
pub async fn put_part(
    url: &str,
    blob: &Blob,
    checksum: Option<(&str, String)>,
    on_progress: impl Fn(f64, f64) + 'static,
    on_sent: impl FnOnce(XmlHttpRequest),
) -> Result<Outcome, JsValue> {
    let headers: Vec<(String, String)> =
        checksum.into_iter().map(|(name, value)| (name.to_owned(), value)).collect();
    put(url, &headers, blob, on_progress, on_sent).await
}

/// PUTs `blob` (a whole file, or a part's slice of one) to a presigned URL with the headers it
/// was signed with; answers like [`post_form`], the ETag (from the answer's header) in `Stored`.
pub async fn put(
    url: &str,
    headers: &[(String, String)],
    blob: &Blob,
    on_progress: impl Fn(f64, f64) + 'static,
    on_sent: impl FnOnce(XmlHttpRequest),
) -> Result<Outcome, JsValue> {
    let xhr = XmlHttpRequest::new()?;
    xhr.open("PUT", url)?;
    for (name, value) in headers {
        xhr.set_request_header(name, value)?;
    }
    send(&xhr, Body::Blob(blob), on_progress, on_sent).await?;
    let status = xhr.status()?;
    let body = xhr.response_text()?.unwrap_or_default();
    match outcome(status, &body) {
        Outcome::Stored(mut stored) => {
            stored.etag = xhr.get_response_header("ETag")?.unwrap_or_default();
            Ok(Outcome::Stored(stored))
        }
        other => Ok(other),
    }
}

enum Body<'a> {
    Form(&'a FormData),
    Blob(&'a Blob),
}

/// Sends `body` on the opened `xhr` and waits until it ends, one way or another.
async fn send(
    xhr: &XmlHttpRequest,
    body: Body<'_>,
    on_progress: impl Fn(f64, f64) + 'static,
    on_sent: impl FnOnce(XmlHttpRequest),
) -> Result<(), JsValue> {
    let upload = xhr.upload()?;
    let progress = Closure::<dyn FnMut(ProgressEvent)>::new(move |ev: ProgressEvent| {
        if ev.length_computable() {
            on_progress(ev.loaded(), ev.total());
        }
    });
    upload.set_onprogress(Some(progress.as_ref().unchecked_ref()));

    // loadend fires exactly once, after load, error, abort or timeout alike.
    let (done_tx, done_rx) = oneshot::channel::<()>();
    let done_tx = Cell::new(Some(done_tx));
    let ended = Closure::<dyn FnMut()>::new(move || {
        if let Some(tx) = done_tx.take() {
            let _ = tx.send(());
        }
    });
    xhr.set_onloadend(Some(ended.as_ref().unchecked_ref()));

    match body {
        Body::Form(form) => xhr.send_with_opt_form_data(Some(form))?,
        Body::Blob(blob) => xhr.send_with_opt_blob(Some(blob))?,
    }
    on_sent(xhr.clone());
    let _ = done_rx.await;

    // Unhook before the closures are dropped at the end of this function.
    upload.set_onprogress(None);
    xhr.set_onloadend(None);
    Ok(())
}
