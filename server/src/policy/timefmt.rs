//! The three timestamp spellings a POST form uses, in one place. Written by hand: they are on
//! the signing hot path, and a general formatter costs more than the HMAC around them.

use time::{OffsetDateTime, UtcOffset};

fn utc(t: OffsetDateTime) -> OffsetDateTime {
    t.to_offset(UtcOffset::UTC)
}

/// Writes `value` as `width` digits at `at`.
fn put_digits(buf: &mut [u8], at: usize, value: u32, width: usize) {
    let mut v = value;
    for slot in buf[at..at + width].iter_mut().rev() {
        *slot = b'0' + (v % 10) as u8;
        v /= 10;
    }
}

/// A timestamp spelled by `layout`, where `#`s stand for the fields in order: year (4 digits),
/// month, day, hour, minute, second (2 each), millisecond (3); anything else is copied.
fn format(t: OffsetDateTime, layout: &'static str) -> String {
    const WIDTHS: [usize; 7] = [4, 2, 2, 2, 2, 2, 3];
    let t = utc(t);
    // Years outside 0..=9999 cannot occur in a policy; clamp rather than print garbage.
    let parts = [
        t.year().clamp(0, 9999) as u32,
        u8::from(t.month()) as u32,
        t.day() as u32,
        t.hour() as u32,
        t.minute() as u32,
        t.second() as u32,
        t.millisecond() as u32,
    ];
    let mut buf = [0u8; 24];
    let layout = layout.as_bytes();
    buf[..layout.len()].copy_from_slice(layout);
    let (mut i, mut part) = (0, 0);
    while i < layout.len() {
        if layout[i] == b'#' {
            let width = WIDTHS[part];
            debug_assert!(layout[i..i + width].iter().all(|&b| b == b'#'), "layout {layout:?}");
            put_digits(&mut buf, i, parts[part], width);
            part += 1;
            i += width;
        } else {
            i += 1;
        }
    }
    std::str::from_utf8(&buf[..layout.len()]).expect("ASCII").to_owned()
}

/// `x-amz-date`: ISO 8601 basic format, `20151229T000000Z`.
pub fn amz_date(t: OffsetDateTime) -> String {
    format(t, "########T######Z")
}

/// The date part of the credential scope, `20151229`.
pub(crate) fn scope_date(t: OffsetDateTime) -> String {
    format(t, "########")
}

/// Reads an `x-amz-date` (`20151229T000000Z`), the one spelling [`amz_date`] writes.
pub fn parse_amz_date(text: &str) -> Option<OffsetDateTime> {
    let b = text.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let digits = |range: std::ops::Range<usize>| -> Option<u32> {
        let part = &text[range];
        part.bytes().all(|c| c.is_ascii_digit()).then(|| part.parse().ok())?
    };
    let month = time::Month::try_from(u8::try_from(digits(4..6)?).ok()?).ok()?;
    let date = time::Date::from_calendar_date(
        i32::try_from(digits(0..4)?).ok()?,
        month,
        u8::try_from(digits(6..8)?).ok()?,
    )
    .ok()?;
    let clock =
        time::Time::from_hms(digits(9..11)? as u8, digits(11..13)? as u8, digits(13..15)? as u8)
            .ok()?;
    Some(date.with_time(clock).assume_utc())
}

/// The policy's `expiration`: `2015-12-30T12:00:00.000Z`.
pub fn iso8601_millis(t: OffsetDateTime) -> String {
    format(t, "####-##-##T##:##:##.###Z")
}

/// RFC 3339 for people and JSON: `2015-12-30T12:00:00Z`.
pub fn rfc3339(t: OffsetDateTime) -> String {
    format(t, "####-##-##T##:##:##Z")
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::format_description::well_known::Rfc3339;
    use time::macros::datetime;

    #[test]
    fn amz_dates_read_back() {
        let t = datetime!(2013-05-24 01:02:03 UTC);
        assert_eq!(parse_amz_date(&amz_date(t)), Some(t));
        for bad in [
            "",
            "20130524T010203",
            "2013-05-24T010203Z",
            "20131324T010203Z",
            "20130524T250203Z",
            "2013052+T010203Z",
        ] {
            assert_eq!(parse_amz_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn formats_match_the_aws_examples() {
        let t = datetime!(2015-12-29 00:00:00 UTC);
        assert_eq!(amz_date(t), "20151229T000000Z");
        assert_eq!(scope_date(t), "20151229");
        assert_eq!(
            iso8601_millis(datetime!(2015-12-30 12:00:00.5 UTC)),
            "2015-12-30T12:00:00.500Z"
        );
        assert_eq!(rfc3339(datetime!(2026-01-02 03:04:05.999 UTC)), "2026-01-02T03:04:05Z");
    }

    #[test]
    fn non_utc_times_are_converted_first() {
        let t = datetime!(2015-12-29 01:30:00 +01:30);
        assert_eq!(amz_date(t), "20151229T000000Z");
        assert_eq!(rfc3339(t), "2015-12-29T00:00:00Z");
    }

    #[test]
    fn agrees_with_the_time_crate_over_many_instants() {
        for secs in (0..4_000_000_000i64).step_by(7_777_777) {
            let t = OffsetDateTime::from_unix_timestamp(secs).unwrap();
            assert_eq!(rfc3339(t), t.format(&Rfc3339).unwrap());
            let parsed = OffsetDateTime::parse(&iso8601_millis(t), &Rfc3339).unwrap();
            assert_eq!(parsed, t);
        }
    }
}
