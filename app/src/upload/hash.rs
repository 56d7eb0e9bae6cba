//! The file's digest (SHA-256, or MD5 where the service checks MD5), computed in the browser.
//! The signature binds the result, so the bucket refuses any other bytes (a file changed on
//! disk, a corrupted transfer).
//!
//! SHA-256 is the browser's own (`crypto.subtle.digest`): native code with the CPU's SHA
//! instructions, a few times faster than sha2 in wasm, run in a worker
//! (`public/hash-worker.js`) so that neither reading the bytes nor copying them for the digest
//! is a task on the page's thread. It takes the bytes whole, so it is used for blobs up to
//! [`NATIVE_MAX_BYTES`] (every part, and files sent in one POST up to that size); the worker
//! holds them only while it hashes. Larger blobs, MD5 (which SubtleCrypto lacks), and pages
//! without `crypto.subtle` (served over plain http on an address other than localhost: not a
//! secure context) are hashed in wasm, read in slices, so memory stays at one slice however
//! large the file.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use base64::Engine;
use futures::channel::oneshot;
use sha2::{Digest, Sha256};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Blob, MessageEvent, Worker};

use crate::wire::ChecksumMode;

/// Each slice is hashed in one go on the page's thread, so it must stay well under the 50 ms
/// of a long task on a slow phone (about 6 ms here); the await between slices lets the page
/// draw and answer clicks. Large enough that the per-slice overhead stays small.
const SLICE_BYTES: f64 = 1024.0 * 1024.0;

/// The largest blob hashed natively, whole in the worker's memory: twice the default multipart
/// threshold (64 MiB), so every file in one POST and every part (at most 32 MiB for files up to
/// 312 GiB) is, in the default configuration and with the threshold raised to 128 MiB. The
/// worker hashes one blob at a time, so it holds at most one (and the digest's copy of it).
pub const NATIVE_MAX_BYTES: f64 = 128.0 * 1024.0 * 1024.0;

/// Where the worker is served (`public/`, copied to the site's root by the build).
const WORKER_URL: &str = "/hash-worker.js";

/// The base64 digest of `blob` in `mode`'s algorithm, as its header wants it
/// (`x-amz-checksum-sha256`, `Content-MD5`); `None` with checksums off. `progress` gets the
/// bytes hashed so far (after each slice; natively at the start and at the end, so a stop is
/// seen when the worker answers) and returns `false` to stop (then `Ok(None)` too).
pub async fn checksum_base64(
    mode: ChecksumMode,
    blob: &Blob,
    mut progress: impl FnMut(f64) -> bool,
) -> Result<Option<String>, JsValue> {
    match mode {
        ChecksumMode::Sha256 => match Native::get().filter(|_| blob.size() <= NATIVE_MAX_BYTES) {
            Some(native) => match native.sha256(blob, &mut progress).await {
                // The worker could not (it failed to load, or this browser's worker cannot
                // read the blob): the wasm hasher can, or says why not.
                Err(_) => digest_base64::<Sha256>(blob, progress).await,
                hashed => hashed,
            },
            None => digest_base64::<Sha256>(blob, progress).await,
        },
        ChecksumMode::Md5 => digest_base64::<md5::Md5>(blob, progress).await,
        ChecksumMode::Off => Ok(None),
    }
}

type Answer = Result<js_sys::ArrayBuffer, JsValue>;
/// The questions asked and not answered yet, each by its id.
type Waiting = Rc<RefCell<Vec<(u32, oneshot::Sender<Answer>)>>>;

/// The hashing worker and the questions it has not answered yet.
struct Native {
    worker: Worker,
    waiting: Waiting,
    next: Cell<u32>,
    /// Set when the worker failed (its script did not load, or it crashed): it will answer
    /// nothing more, so the page hashes in wasm from then on.
    broken: Rc<Cell<bool>>,
    _answers: Closure<dyn FnMut(MessageEvent)>,
    _failed: Closure<dyn FnMut(JsValue)>,
}

thread_local! {
    static NATIVE: std::cell::OnceCell<Option<Rc<Native>>> = const { std::cell::OnceCell::new() };
}

impl Native {
    /// The worker, started on first use; `None` where the page cannot have one, or its worker
    /// failed.
    fn get() -> Option<Rc<Native>> {
        NATIVE.with(|native| native.get_or_init(Native::start).clone()).filter(|n| !n.broken.get())
    }

    fn start() -> Option<Rc<Native>> {
        // Workers have `crypto.subtle` where the page has it: in secure contexts.
        let crypto = leptos::prelude::window().crypto().ok()?;
        if !js_sys::Reflect::get(&crypto, &"subtle".into()).ok()?.is_object() {
            return None;
        }
        let worker = Worker::new(WORKER_URL).ok()?;
        let waiting = Waiting::default();
        let answered = waiting.clone();
        let answers = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            let data = event.data();
            let field = |name: &str| js_sys::Reflect::get(&data, &name.into()).unwrap_or_default();
            let Some(id) = field("id").as_f64() else { return };
            let mut waiting = answered.borrow_mut();
            let Some(at) = waiting.iter().position(|(n, _)| f64::from(*n) == id) else { return };
            let (_, reply) = waiting.swap_remove(at);
            let digest = field("digest");
            let _ = reply.send(match digest.dyn_into::<js_sys::ArrayBuffer>() {
                Ok(digest) => Ok(digest),
                Err(_) => Err(field("error")),
            });
        });
        worker.set_onmessage(Some(answers.as_ref().unchecked_ref()));
        // A worker whose script fails to load (a 404, a proxy's policy) or that crashes only
        // says so here: every question still waiting is answered with the failure, and no
        // more are asked.
        let broken = Rc::new(Cell::new(false));
        let (failing, unanswered) = (broken.clone(), waiting.clone());
        let failed = Closure::<dyn FnMut(JsValue)>::new(move |_event: JsValue| {
            failing.set(true);
            for (_, reply) in unanswered.borrow_mut().drain(..) {
                let _ = reply.send(Err(JsValue::from_str("the hashing worker failed")));
            }
        });
        worker.set_onerror(Some(failed.as_ref().unchecked_ref()));
        worker.set_onmessageerror(Some(failed.as_ref().unchecked_ref()));
        Some(Rc::new(Native {
            worker,
            waiting,
            next: Cell::new(0),
            broken,
            _answers: answers,
            _failed: failed,
        }))
    }

    async fn sha256(
        &self,
        blob: &Blob,
        progress: &mut impl FnMut(f64) -> bool,
    ) -> Result<Option<String>, JsValue> {
        let id = self.next.get();
        self.next.set(id.wrapping_add(1));
        let (reply, answer) = oneshot::channel();
        self.waiting.borrow_mut().push((id, reply));
        let question = js_sys::Object::new();
        js_sys::Reflect::set(&question, &"id".into(), &id.into())?;
        js_sys::Reflect::set(&question, &"blob".into(), blob)?;
        if let Err(err) = self.worker.post_message(&question) {
            self.waiting.borrow_mut().retain(|(n, _)| *n != id);
            return Err(err);
        }
        if !progress(0.0) {
            return Ok(None);
        }
        let digest =
            answer.await.map_err(|_| JsValue::from_str("the hashing worker stopped"))??;
        if !progress(blob.size()) {
            return Ok(None);
        }
        let digest = js_sys::Uint8Array::new(&digest).to_vec();
        Ok(Some(base64::engine::general_purpose::STANDARD.encode(digest)))
    }
}

async fn digest_base64<D: Digest>(
    blob: &Blob,
    mut progress: impl FnMut(f64) -> bool,
) -> Result<Option<String>, JsValue> {
    let size = blob.size();
    let mut hasher = D::new();
    // One buffer, reused for every slice.
    let mut buffer = Vec::new();
    let mut at = 0.0;
    while at < size {
        let end = (at + SLICE_BYTES).min(size);
        let slice = blob.slice_with_f64_and_f64(at, end)?;
        let bytes = js_sys::Uint8Array::new(&JsFuture::from(slice.array_buffer()).await?);
        buffer.resize(bytes.length() as usize, 0);
        bytes.copy_to(&mut buffer);
        hasher.update(&buffer);
        at = end;
        if !progress(at) {
            return Ok(None);
        }
    }
    Ok(Some(base64::engine::general_purpose::STANDARD.encode(hasher.finalize())))
}
