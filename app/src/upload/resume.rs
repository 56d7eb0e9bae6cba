//! What lets an upload in parts go on after a pause, a reload, a crash or a closed tab: each
//! unfinished upload ([`Unfinished`]: the sealed receipt, and how to recognise its file) is kept
//! in this browser's `localStorage`, and a file picked again must be the same file: the same
//! name, size and date, and the same first part.

use std::future::Future;
use std::pin::Pin;

use leptos::prelude::window;
use leptos::wasm_split::SplitLoaderError;
use serde::{Deserialize, Serialize};
use web_sys::{Blob, File};

use super::hash::checksum_base64;
use super::status::{failed, js_error, unreadable, FailureCode, Status};
use crate::api::abort_multipart;
use crate::rules;
use crate::wire::{ChecksumMode, StoredPart};

/// Where unfinished uploads are kept between page loads.
const STORAGE_KEY: &str = "s3-uploader.unfinished";

/// An upload in parts that has not finished: enough to go on with it from any page of this
/// browser, and to tell whether a file picked again is the same one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Unfinished {
    pub receipt: String,
    pub key: String,
    pub name: String,
    pub size: u64,
    /// The file's last modification (ms since the epoch), as the browser reports it. An
    /// integer: parsing floats from JSON would add its own code to the wasm.
    pub modified: u64,
    pub part_size: u64,
    /// The first part's digest, once hashed: a file picked again must have the same.
    pub first_part: Option<String>,
    /// Which digest the parts carry (the service's mode when the upload started).
    #[serde(default)]
    pub checksum: ChecksumMode,
}

impl Unfinished {
    /// Whether `file` may be the file this upload was of (its first part is compared later).
    pub fn matches(&self, file: &File) -> bool {
        file.name() == self.name
            && file.size() as u64 == self.size
            && file.last_modified() as u64 == self.modified
    }

    /// How many parts the file has.
    pub fn part_count(&self) -> u64 {
        rules::part_count(self.size, self.part_size)
    }

    /// The length of part `number`, if the file has it.
    pub fn part_length(&self, number: u64) -> Option<u64> {
        rules::part_length(self.size, self.part_size, number)
    }

    /// Part `number` of `file`, as a slice (a handle: nothing is read yet), and its length.
    pub fn part_of(&self, file: &File, number: u64) -> Result<(Blob, u64), Status> {
        let length = self
            .part_length(number)
            .ok_or_else(|| failed(FailureCode::NoSuchPart, format!("no part {number}")))?;
        let start = (number - 1) * self.part_size;
        let blob = file
            .slice_with_f64_and_f64(start as f64, (start + length) as f64)
            .map_err(|err| failed(FailureCode::Unreadable, js_error(&err)))?;
        Ok((blob, length))
    }

    /// The digest of part `number` of `file`, read in slices; `None` when `stopped` meanwhile
    /// (or with checksums off).
    pub async fn hash_part(
        &self,
        file: &File,
        number: u64,
        stopped: impl Fn() -> bool,
    ) -> Result<Option<String>, Status> {
        let (blob, _) = self.part_of(file, number)?;
        checksum_base64(self.checksum, &blob, |_| !stopped()).await.map_err(|err| unreadable(&err))
    }

    /// The digest the bucket lists for `part` in this upload's mode: its SHA-256, or its MD5
    /// (a part's ETag).
    pub fn listed_digest(&self, part: &StoredPart) -> Option<String> {
        use base64::Engine;
        match self.checksum {
            ChecksumMode::Sha256 => part.checksum_sha256.clone(),
            ChecksumMode::Md5 => {
                let hex = part.etag.trim_matches('"');
                let bytes: Option<Vec<u8>> = (0..hex.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
                    .collect();
                bytes
                    .filter(|b| b.len() == 16)
                    .map(|b| base64::engine::general_purpose::STANDARD.encode(b))
            }
            ChecksumMode::Off => None,
        }
    }

    /// Whether `file`'s first part is known to differ from `recorded` (its digest): then it
    /// is not the file this upload was of. Not known when stopped meanwhile.
    pub async fn first_part_differs(
        &self,
        file: &File,
        recorded: &str,
        stopped: impl Fn() -> bool,
    ) -> Result<bool, Status> {
        let first = self.hash_part(file, 1, stopped).await?;
        Ok(first.is_some_and(|sum| sum != recorded))
    }
}

fn storage() -> Option<web_sys::Storage> {
    window().local_storage().ok().flatten()
}

/// Whether this browser kept any unfinished upload (without reading them: the code that does
/// is fetched only then).
pub fn any_kept() -> bool {
    let text = storage().and_then(|s| s.get_item(STORAGE_KEY).ok().flatten());
    text.is_some_and(|text| !matches!(text.trim(), "" | "[]"))
}

/// The unfinished uploads this browser kept.
pub fn load() -> Vec<Unfinished> {
    let text = storage().and_then(|s| s.get_item(STORAGE_KEY).ok().flatten()).unwrap_or_default();
    serde_json::from_str(&text).unwrap_or_default()
}

fn store(list: &[Unfinished]) {
    if let (Some(storage), Ok(text)) = (storage(), serde_json::to_string(list)) {
        // Full or forbidden storage only loses the chance to resume after a reload.
        let _ = storage.set_item(STORAGE_KEY, &text);
    }
}

/// Keeps (or updates) `unfinished`.
pub fn remember(unfinished: &Unfinished) {
    let mut list = load();
    list.retain(|u| u.key != unfinished.key);
    list.push(unfinished.clone());
    store(&list);
}

/// Forgets the upload of `key`.
pub fn forget(key: &str) {
    let mut list = load();
    list.retain(|u| u.key != key);
    store(&list);
}

/// [`discard`] for the page's own rows, from the split-off wasm of files in parts (which a row
/// in parts has fetched already). Where it cannot be fetched, nothing is dropped: the upload
/// stays in this browser's list, offered again on the next visit (to resume or discard), and
/// its parts are left to the bucket's lifecycle rule meanwhile.
#[leptos::wasm_split::wasm_split(
    parts,
    wasm_split_path = ::leptos::wasm_split,
    fallible,
    return_wrapper(let future = _; { future.await } -> Result<(), SplitLoaderError>)
)]
pub fn discard_in_parts(
    unfinished: Unfinished,
) -> Pin<Box<dyn Future<Output = Result<(), SplitLoaderError>>>> {
    Box::pin(async move {
        discard(unfinished).await;
        Ok(())
    })
}

/// Aborts the upload in the bucket (its parts are dropped) and forgets it.
pub async fn discard(unfinished: Unfinished) {
    forget(&unfinished.key);
    // A failure leaves the parts to the bucket's lifecycle rule (`server lifecycle`).
    let _ = abort_multipart(unfinished.receipt).await;
}
