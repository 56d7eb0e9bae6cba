//! Numbers as people read them.

/// `1536` -> `"1.5 KiB"`; exact bytes below 1 KiB.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// When something was stored, to the minute: `"2026-11-29T03:40:12.5Z"` -> `"2026-11-29 03:40 UTC"`.
/// Anything that is not such a time is shown as it is.
pub fn stored_time(rfc3339: &str) -> String {
    match (rfc3339.get(..10), rfc3339.get(10..11), rfc3339.get(11..16), rfc3339.ends_with('Z')) {
        (Some(date), Some("T"), Some(minute), true) => format!("{date} {minute} UTC"),
        _ => rfc3339.to_owned(),
    }
}

/// Whole percent of `done` out of `total`, 0 for an empty total, never above 100.
pub fn percent(done: f64, total: f64) -> u32 {
    if total <= 0.0 {
        return 0;
    }
    ((done / total) * 100.0).clamp(0.0, 100.0).floor() as u32
}

/// A transfer rate: `"2.5 MiB/s"`.
pub fn human_rate(bytes_per_second: f64) -> String {
    format!("{}/s", human_bytes(bytes_per_second.max(0.0) as u64))
}

/// A duration to wait, rounded up to what a person reads: `"8 s"`, `"2 min 5 s"`, `"1 h 4 min"`.
pub fn human_duration(seconds: f64) -> String {
    let s = seconds.max(0.0).ceil() as u64;
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min {} s", s / 60, s % 60),
        _ => format!("{} h {} min", s / 3600, (s % 3600) / 60),
    }
}

/// Speed from recent progress: bytes per second over the last few seconds, so that a stall
/// shows quickly and one burst does not.
#[derive(Debug, Default, Clone)]
pub struct RateMeter {
    /// (milliseconds, bytes done), oldest first, spanning at most [`RateMeter::WINDOW_MS`].
    samples: std::collections::VecDeque<(f64, f64)>,
}

impl RateMeter {
    pub const WINDOW_MS: f64 = 3000.0;

    /// Records `done` bytes at `now_ms`; the rate, once two samples are far enough apart.
    pub fn record(&mut self, now_ms: f64, done: f64) -> Option<f64> {
        self.samples.push_back((now_ms, done));
        while self.samples.len() > 2 && now_ms - self.samples[1].0 >= Self::WINDOW_MS {
            self.samples.pop_front();
        }
        let (t0, b0) = *self.samples.front()?;
        let elapsed = now_ms - t0;
        (elapsed >= 200.0).then(|| (done - b0) * 1000.0 / elapsed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_and_durations_read_naturally() {
        assert_eq!(human_rate(2.5 * 1024.0 * 1024.0), "2.5 MiB/s");
        assert_eq!(human_duration(7.2), "8 s");
        assert_eq!(human_duration(125.0), "2 min 5 s");
        assert_eq!(human_duration(3840.0), "1 h 4 min");
    }

    #[test]
    fn the_rate_follows_the_last_seconds() {
        let mut meter = RateMeter::default();
        assert_eq!(meter.record(0.0, 0.0), None);
        assert_eq!(meter.record(100.0, 100.0), None, "too early to tell");
        assert_eq!(meter.record(1000.0, 1000.0), Some(1000.0));
        // Ten seconds at 1000 B/s, then a stall: the rate drops within the window.
        for t in 2..=10 {
            meter.record(t as f64 * 1000.0, t as f64 * 1000.0);
        }
        let stalled = meter.record(13_000.0, 10_000.0).unwrap();
        assert!(stalled < 500.0, "{stalled}");
    }

    #[test]
    fn bytes_in_binary_units() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(5 * 1024 * 1024), "5.0 MiB");
        assert_eq!(human_bytes(5 * 1024 * 1024 * 1024), "5.0 GiB");
    }

    #[test]
    fn stored_times_read_to_the_minute() {
        assert_eq!(stored_time("2026-11-29T03:40:12.5Z"), "2026-11-29 03:40 UTC");
        assert_eq!(stored_time("2026-11-29T03:40:12Z"), "2026-11-29 03:40 UTC");
        assert_eq!(stored_time("yesterday"), "yesterday");
    }

    #[test]
    fn percent_is_clamped_and_floored() {
        assert_eq!(percent(0.0, 0.0), 0);
        assert_eq!(percent(999.0, 1000.0), 99);
        assert_eq!(percent(1000.0, 1000.0), 100);
        assert_eq!(percent(2000.0, 1000.0), 100);
    }
}
