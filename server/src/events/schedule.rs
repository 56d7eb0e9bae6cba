//! When an event that could not be delivered is tried again, and when it is given up: back-off
//! that doubles from about a second (each wait is half fixed, half random), with jitter so that a receiver back from an outage is not met by
//! every event at once, never longer than an hour nor an eighth of the retry window (a window of
//! minutes, as in tests, still sees several attempts); a receiver's `Retry-After` (429, 503)
//! wins. Past the window, the event goes to the dead letters. Pure: time and randomness are
//! given.

use std::time::Duration;

/// The first wait.
const FIRST: Duration = Duration::from_secs(1);
/// The longest wait.
const LONGEST: Duration = Duration::from_secs(3600);

/// What an attempt came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempted {
    /// A 2xx.
    Delivered,
    /// 410 Gone: the receiver asks for no more; the endpoint is disabled.
    Gone,
    /// Anything else: tried again, not before `retry_after` when the receiver said so.
    Failed { retry_after: Option<Duration> },
}

/// What to do next with an event whose attempt failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Try again at this time (Unix ms).
    RetryAt(i64),
    /// The window has passed: a dead letter.
    GiveUp,
}

/// After failed attempt number `attempt` (1 for the first) of an event appended at
/// `queued_ms`, at `now_ms`: when to try again, given a `jitter` in `[0, 1)`.
pub fn next(
    attempt: u32,
    queued_ms: i64,
    now_ms: i64,
    window: Duration,
    retry_after: Option<Duration>,
    jitter: f64,
) -> Next {
    let longest = LONGEST.min(window / 8).max(FIRST);
    let doubled = FIRST.saturating_mul(1u32 << attempt.saturating_sub(1).min(20)).min(longest);
    // Half fixed, half random: the waits still grow, and events failed together spread out.
    // A Retry-After of 0 (or a date past) would have the event sent again at once, for days.
    let wait = retry_after
        .map(|after| after.clamp(FIRST, LONGEST))
        .unwrap_or_else(|| doubled.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0)));
    let at = now_ms.saturating_add(i64::try_from(wait.as_millis()).unwrap_or(i64::MAX));
    let window_ends =
        queued_ms.saturating_add(i64::try_from(window.as_millis()).unwrap_or(i64::MAX));
    if at > window_ends {
        Next::GiveUp
    } else {
        Next::RetryAt(at)
    }
}

/// A `Retry-After` header's wait: seconds, or an HTTP date (from `now`, Unix seconds).
pub fn retry_after(value: &str, now: i64) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let date =
        time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc2822).ok()?;
    Some(Duration::from_secs(u64::try_from(date.unix_timestamp() - now).unwrap_or(0)))
}

/// What a response's status means for the event.
pub fn attempted(status: u16, retry_after: Option<Duration>) -> Attempted {
    match status {
        200..=299 => Attempted::Delivered,
        410 => Attempted::Gone,
        429 | 503 => Attempted::Failed { retry_after },
        _ => Attempted::Failed { retry_after: None },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAYS3: Duration = Duration::from_secs(3 * 86_400);

    fn wait(attempt: u32, jitter: f64) -> i64 {
        match next(attempt, 0, 1_000, DAYS3, None, jitter) {
            Next::RetryAt(at) => at - 1_000,
            Next::GiveUp => panic!("given up"),
        }
    }

    #[test]
    fn waits_double_with_jitter_up_to_an_hour() {
        assert_eq!((wait(1, 0.0), wait(1, 0.999_999)), (500, 999));
        assert_eq!(wait(2, 0.0), 1_000);
        assert_eq!(wait(5, 0.0), 8_000);
        assert_eq!(wait(30, 0.0), 1_800_000);
        assert_eq!(wait(30, 1.0), 3_600_000);
    }

    #[test]
    fn a_short_window_has_short_waits_and_then_gives_up() {
        let minute = Duration::from_secs(60);
        assert_eq!(next(10, 0, 1_000, minute, None, 1.0), Next::RetryAt(1_000 + 7_500));
        assert_eq!(next(10, 0, 55_000, minute, None, 1.0), Next::GiveUp);
    }

    #[test]
    fn retry_after_wins_and_is_read_as_seconds_or_a_date() {
        let after = Some(Duration::from_secs(30));
        assert_eq!(next(1, 0, 0, DAYS3, after, 0.0), Next::RetryAt(30_000));
        assert_eq!(retry_after(" 120 ", 0), Some(Duration::from_secs(120)));
        assert_eq!(
            retry_after("Sat, 05 Dec 2026 01:00:30 GMT", 1_796_432_400),
            Some(Duration::from_secs(30))
        );
        assert_eq!(retry_after("soon", 0), None);
        let now = Some(Duration::ZERO);
        assert_eq!(next(1, 0, 0, DAYS3, now, 0.0), Next::RetryAt(1_000), "never at once");
        assert_eq!(attempted(503, after), Attempted::Failed { retry_after: after });
        assert_eq!(attempted(500, after), Attempted::Failed { retry_after: None });
        assert_eq!(attempted(204, None), Attempted::Delivered);
        assert_eq!(attempted(410, None), Attempted::Gone);
        assert_eq!(attempted(301, None), Attempted::Failed { retry_after: None });
    }
}
