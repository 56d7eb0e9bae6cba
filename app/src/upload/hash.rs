//! The file's digest (SHA-256, or MD5 where the service checks MD5), computed in the browser
//! by reading it in slices: memory stays at one slice however large the file. The signature
//! binds the result, so the bucket refuses any other bytes (a file changed on disk, a
//! corrupted transfer).

use base64::Engine;
use sha2::{Digest, Sha256};

use crate::wire::ChecksumMode;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;
use web_sys::Blob;

/// Each slice is hashed in one go on the page's thread, so it must stay well under the 50 ms
/// of a long task on a slow phone (about 6 ms here); the await between slices lets the page
/// draw and answer clicks. Large enough that the per-slice overhead stays small.
const SLICE_BYTES: f64 = 1024.0 * 1024.0;

/// The base64 digest of `blob` in `mode`'s algorithm, as its header wants it
/// (`x-amz-checksum-sha256`, `Content-MD5`); `None` with checksums off. `progress` gets the
/// bytes hashed so far after each slice and returns `false` to stop (then `Ok(None)` too).
pub async fn checksum_base64(
    mode: ChecksumMode,
    blob: &Blob,
    progress: impl FnMut(f64) -> bool,
) -> Result<Option<String>, JsValue> {
    match mode {
        ChecksumMode::Sha256 => digest_base64::<Sha256>(blob, progress).await,
        ChecksumMode::Md5 => digest_base64::<md5::Md5>(blob, progress).await,
        ChecksumMode::Off => Ok(None),
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
