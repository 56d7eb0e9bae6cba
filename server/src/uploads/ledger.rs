//! What the server signed and what it confirmed, in memory: enough to check an upload against
//! its policy and to list a visitor's uploads. Bounded; a restart forgets it.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use app::service::UploaderId;
use app::wire::StoredUpload;
use time::{Duration, OffsetDateTime};

use crate::policy::SizeRule;

/// What one policy allowed, filed under the key's directory (`uploads/<uploader>/<uuid>/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    pub uploader: UploaderId,
    /// The file name, or `None` when the form let the browser choose it (`${filename}`).
    pub name: Option<String>,
    pub size: SizeRule,
    pub content_type: Option<String>,
    pub checksum_sha256: Option<String>,
    pub signed_at: OffsetDateTime,
}

/// An upload may start up to 10 minutes after signing and take a long while; after a day,
/// a signature is forgotten.
const PENDING_FOR: Duration = Duration::days(1);
const MAX_PENDING: usize = 100_000;
/// "Your uploads" keeps this many per visitor.
pub const MAX_LISTED: usize = 100;

#[derive(Default)]
pub struct Ledger {
    pending: Mutex<HashMap<String, Signed>>,
    confirmed: Mutex<HashMap<UploaderId, VecDeque<StoredUpload>>>,
}

/// The directory a key lives in, with its trailing slash.
pub fn directory(key: &str) -> &str {
    key.rfind('/').map_or("", |i| &key[..=i])
}

impl Ledger {
    pub fn signed(&self, directory: String, signed: Signed) {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        if pending.len() >= MAX_PENDING {
            let horizon = signed.signed_at - PENDING_FOR;
            pending.retain(|_, s| s.signed_at > horizon);
            if pending.len() >= MAX_PENDING {
                // Still full of fresh entries: drop the oldest rather than grow without bound.
                if let Some(oldest) = pending.iter().min_by_key(|(_, s)| s.signed_at).map(|(k, _)| k.clone()) {
                    pending.remove(&oldest);
                }
            }
        }
        pending.insert(directory, signed);
    }

    /// What was signed for the directory of `key`, if it is still remembered.
    pub fn pending(&self, key: &str, now: OffsetDateTime) -> Option<Signed> {
        let pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        pending.get(directory(key)).filter(|s| now - s.signed_at < PENDING_FOR).cloned()
    }

    /// Forgets what was signed for the directory of `key`: after a mismatch, confirming again
    /// finds nothing, so a client cannot make the server query the bucket without end.
    pub fn forget(&self, key: &str) {
        self.pending.lock().unwrap_or_else(|p| p.into_inner()).remove(directory(key));
    }

    /// Records a confirmed upload; a key is listed once, however often it is confirmed.
    pub fn confirmed(&self, uploader: &UploaderId, upload: StoredUpload) {
        self.pending.lock().unwrap_or_else(|p| p.into_inner()).remove(directory(&upload.key));
        let mut confirmed = self.confirmed.lock().unwrap_or_else(|p| p.into_inner());
        let list = confirmed.entry(uploader.clone()).or_default();
        list.retain(|u| u.key != upload.key);
        list.push_front(upload);
        list.truncate(MAX_LISTED);
    }

    pub fn find_confirmed(&self, uploader: &UploaderId, key: &str) -> Option<StoredUpload> {
        let confirmed = self.confirmed.lock().unwrap_or_else(|p| p.into_inner());
        confirmed.get(uploader)?.iter().find(|u| u.key == key).cloned()
    }

    /// Newest first.
    pub fn uploads(&self, uploader: &UploaderId) -> Vec<StoredUpload> {
        let confirmed = self.confirmed.lock().unwrap_or_else(|p| p.into_inner());
        confirmed.get(uploader).map(|list| list.iter().cloned().collect()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn uploader() -> UploaderId {
        UploaderId::parse("0123456789abcdef0123456789abcdef").unwrap()
    }

    fn signed(at: OffsetDateTime) -> Signed {
        Signed { uploader: uploader(), name: None, size: SizeRule::Exact(1), content_type: None, checksum_sha256: None, signed_at: at }
    }

    #[test]
    fn signatures_are_found_by_directory_for_a_day() {
        let ledger = Ledger::default();
        let at = datetime!(2026-11-28 12:00 UTC);
        ledger.signed(directory("uploads/u/abc/cat.png").into(), signed(at));
        assert!(ledger.pending("uploads/u/abc/cat.png", at).is_some());
        assert!(ledger.pending("uploads/u/abc/other name.png", at).is_some());
        assert!(ledger.pending("uploads/u/abd/cat.png", at).is_none());
        assert!(ledger.pending("uploads/u/abc/cat.png", at + Duration::days(1)).is_none());
    }

    #[test]
    fn confirmed_uploads_are_listed_once_newest_first() {
        let ledger = Ledger::default();
        let upload = |key: &str| StoredUpload {
            key: key.into(),
            name: String::new(),
            size: 1,
            content_type: String::new(),
            etag: String::new(),
            view_url: String::new(),
            confirmed_at: String::new(),
        };
        ledger.confirmed(&uploader(), upload("uploads/u/1/a"));
        ledger.confirmed(&uploader(), upload("uploads/u/2/b"));
        ledger.confirmed(&uploader(), upload("uploads/u/1/a"));
        let keys: Vec<_> = ledger.uploads(&uploader()).into_iter().map(|u| u.key).collect();
        assert_eq!(keys, ["uploads/u/1/a", "uploads/u/2/b"]);
    }
}
