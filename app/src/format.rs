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

/// Whole percent of `done` out of `total`, 0 for an empty total, never above 100.
pub fn percent(done: f64, total: f64) -> u32 {
    if total <= 0.0 {
        return 0;
    }
    ((done / total) * 100.0).clamp(0.0, 100.0).floor() as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_in_binary_units() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(5 * 1024 * 1024), "5.0 MiB");
        assert_eq!(human_bytes(5 * 1024 * 1024 * 1024), "5.0 GiB");
    }

    #[test]
    fn percent_is_clamped_and_floored() {
        assert_eq!(percent(0.0, 0.0), 0);
        assert_eq!(percent(999.0, 1000.0), 99);
        assert_eq!(percent(1000.0, 1000.0), 100);
        assert_eq!(percent(2000.0, 1000.0), 100);
    }
}
