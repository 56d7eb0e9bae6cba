//! What the store keeps and answers, whichever it is: records, claims, verdicts, its errors.

use std::time::Duration;

/// One record as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// What names it (an upload's directory): one record per id.
    pub id: String,
    /// When it is next due, in Unix seconds.
    pub due: i64,
    /// What it holds (JSON).
    pub body: String,
}

/// What a claim found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// It was free and is now the caller's.
    Taken,
    /// Someone holds it; with what they wrote (a check under way, or the verdict given).
    Held(String),
}

/// How a verdict (or the end of a record without one) is written, at once.
#[derive(Debug, Clone, Copy)]
pub struct Conclusion<'a> {
    pub id: &'a str,
    /// Written only while the claim still holds this (the caller's check): a caller whose
    /// claim expired and was taken by another writes nothing. `None`: whatever it holds.
    pub holding: Option<&'a str>,
    /// The claim's new state and how long it is kept: the verdict, so that a later check makes
    /// no second one.
    pub claim: Option<(&'a str, Duration)>,
    /// The verdict's line in the log, if there is a new one.
    pub log: Option<&'a str>,
    /// Whether the record is done with (removed), or stays due.
    pub remove: bool,
    /// The endpoints whose outboxes the log line also goes to, for delivery (none: no event).
    pub outbox: &'a [String],
}

/// One verdict from the log: its position in it and its line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logged {
    pub position: String,
    pub line: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("state store: {0}")]
pub struct StateError(pub String);

/// A store's failure, whatever it was, as a [`StateError`].
pub(super) fn failed(err: impl std::fmt::Display) -> StateError {
    StateError(err.to_string())
}

/// Now, in Unix milliseconds: the time claims, leases and the outbox's schedule are kept in.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// How many verdicts the log keeps (the oldest go first).
pub const LOG_KEEPS: u64 = 100_000;

/// An event in the outbox, as a deliverer took it: leased to the taker until a settle, or
/// until the lease ends (a taker that died: another takes it then).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// Its place in the outbox: what settles it.
    pub position: String,
    /// How many times it was taken, this time included.
    pub attempt: u32,
    /// When it was appended, Unix milliseconds.
    pub queued_ms: i64,
    /// The log line it reports.
    pub line: String,
}

/// What becomes of an event taken from the outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settle {
    /// Delivered: it leaves the outbox.
    Delivered,
    /// Taken again at this time (Unix milliseconds).
    RetryAt(i64),
    /// Its last attempt failed: it goes to the dead letters, where an operator may replay it.
    Dead,
}

/// One event listed (`server webhooks list`): its place, attempts so far and line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub position: String,
    pub attempts: u32,
    pub queued_ms: i64,
    pub line: String,
}

/// The outbox at a glance, for the metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxStats {
    pub pending: u64,
    /// When the oldest pending event was appended, Unix milliseconds.
    pub oldest_ms: Option<i64>,
    pub dead: u64,
}
