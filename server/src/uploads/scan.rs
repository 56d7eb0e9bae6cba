//! The malware scan as verification makes it, for profiles with `scan = true` (which are
//! quarantined: the file is staged, out of everyone's reach, until this passes): the object is
//! streamed from the bucket to ClamAV's clamd (`INSTREAM`) a buffer at a time, and its answer
//! read ([`crate::malware`]). This is the one place where the service reads an upload's bytes.
//!
//! Never "clean" without clamd's `OK`: a file over `UPLOAD_SCAN_MAX_BYTES` is refused unscanned
//! (set aside, like an infected one), and clamd down, slow or failing is no verdict at all: the
//! file waits in staging, and the next look (the browser's confirm again, the reconciler's)
//! scans it.

use std::time::{Duration, Instant};

use clamav_client::tokio::Tcp;
use tokio::io::AsyncReadExt;
use tokio_util::io::ReaderStream;

use super::objects::{ObjectHead, Objects};
use super::Uploads;
use crate::logging::clip;
use crate::malware::{parse, Scanned};

/// How much is read from the bucket and sent to clamd at a time.
const CHUNK: usize = 64 << 10;

/// How long one scan may take: a minute, and a second more per 10 MiB.
fn scan_timeout(size: u64) -> Duration {
    Duration::from_secs(60 + size / (10 << 20))
}

/// `bytes` in the units people read (`25 MiB`).
fn in_mib(bytes: u64) -> String {
    format!("{} MiB", bytes.div_ceil(1 << 20))
}

impl Uploads {
    /// Why the staged object `found` at `key`, in `directory`, is refused by its profile's
    /// malware scan (`Ok(None)`: clean, or its profile does not scan); an error when it could not
    /// be scanned now (no verdict from this look). Counted and logged either way.
    pub(super) async fn scan_refusal(
        &self,
        objects: &Objects,
        directory: &str,
        key: &str,
        found: &ObjectHead,
    ) -> Result<Option<String>, String> {
        let profile = super::directory_profile(directory);
        if !self.config.profiles.get(profile).is_some_and(|p| p.scan) {
            return Ok(None);
        }
        // Checked at start; were it missing, the file would wait rather than pass unscanned.
        let addr = self.config.limits.clamd_addr.as_deref().ok_or("no clamd is configured")?;
        let max = self.config.limits.scan_max_bytes;
        if found.size > max {
            self.metrics.scanned("too_big");
            tracing::warn!(target: "audit", event = "scan_skipped", profile, key = ?clip(key), size = found.size, max);
            return Ok(Some(format!(
                "this file is larger than the malware scan takes ({}), so it was not scanned",
                in_mib(max)
            )));
        }
        let started = Instant::now();
        let answer = self.scan_object(objects, (key, &found.etag), addr, found.size).await;
        let seconds = started.elapsed().as_secs_f64();
        match answer {
            Ok(Scanned::Clean) => {
                self.metrics.scanned("clean");
                tracing::info!(target: "audit", event = "upload_scanned", profile, key = ?clip(key), size = found.size, seconds);
                Ok(None)
            }
            Ok(Scanned::Infected(signature)) => {
                self.metrics.scanned("infected");
                tracing::error!(target: "audit", event = "malware_found", profile, key = ?clip(key), signature = %signature);
                Ok(Some(format!("this file carries malware ({signature})")))
            }
            Ok(Scanned::Failed(error)) | Err(error) => {
                self.metrics.scanned("failed");
                tracing::error!(target: "audit", event = "scan_failed", profile, key = ?clip(key), error = %error);
                Err(format!("the malware scan could not be made: {error}"))
            }
        }
    }

    /// Streams the object at `key` (`size` bytes, ETag `etag`) to clamd at `addr`: its answer.
    async fn scan_object(
        &self,
        objects: &Objects,
        (key, etag): (&str, &str),
        addr: &str,
        size: u64,
    ) -> Result<Scanned, String> {
        // The object that was HEADed, or none: one POSTed over it since is not what is judged.
        let body = objects.read(key, Some(etag)).await?;
        let body = body.ok_or("the object went away while it was checked")?;
        // Never more than was HEADed, whatever the store sends.
        let stream = ReaderStream::with_capacity(body.take(size), CHUNK);
        let scan =
            clamav_client::tokio::scan_stream(stream, Tcp { host_address: addr }, Some(CHUNK));
        match tokio::time::timeout(scan_timeout(size), scan).await {
            Ok(Ok(answer)) => Ok(parse(&answer)),
            Ok(Err(err)) => Err(format!("clamd at {addr}: {err}")),
            Err(_) => Err(format!("clamd at {addr} did not answer in time")),
        }
    }
}
