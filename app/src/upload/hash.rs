//! The file's SHA-256, computed in the browser by reading it in slices: memory stays at one
//! slice however large the file. The policy binds the result, so the bucket refuses any
//! other bytes (a file changed on disk, a corrupted transfer).

use base64::Engine;
use sha2::{Digest, Sha256};
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;
use web_sys::Blob;

/// Each slice is hashed in one go on the page's thread, so it must stay well under the 50 ms
/// of a long task on a slow phone (about 6 ms here); the await between slices lets the page
/// draw and answer clicks. Large enough that the per-slice overhead stays small.
const SLICE_BYTES: f64 = 1024.0 * 1024.0;

/// The base64 SHA-256 of `blob`, as S3's `x-amz-checksum-sha256` wants it. `progress` gets
/// the bytes hashed so far after each slice and returns `false` to stop (then `Ok(None)`).
pub async fn sha256_base64(
    blob: &Blob,
    mut progress: impl FnMut(f64) -> bool,
) -> Result<Option<String>, JsValue> {
    let size = blob.size();
    let mut hasher = Sha256::new();
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
