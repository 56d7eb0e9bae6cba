//! The three timestamp spellings a POST form uses, in one place.

use time::{format_description::FormatItem, macros::format_description, OffsetDateTime, UtcOffset};

const AMZ_DATE: &[FormatItem<'static>] =
    format_description!("[year][month][day]T[hour][minute][second]Z");
const SCOPE_DATE: &[FormatItem<'static>] = format_description!("[year][month][day]");
const ISO_MILLIS: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");

fn utc(t: OffsetDateTime) -> OffsetDateTime {
    t.to_offset(UtcOffset::UTC)
}

/// `x-amz-date`: ISO 8601 basic format, `20151229T000000Z`.
pub fn amz_date(t: OffsetDateTime) -> String {
    utc(t).format(AMZ_DATE).expect("a UTC time always formats")
}

/// The date part of the credential scope, `20151229`.
pub(crate) fn scope_date(t: OffsetDateTime) -> String {
    utc(t).format(SCOPE_DATE).expect("a UTC time always formats")
}

/// The policy's `expiration`: `2015-12-30T12:00:00.000Z`.
pub fn iso8601_millis(t: OffsetDateTime) -> String {
    utc(t).format(ISO_MILLIS).expect("a UTC time always formats")
}

/// RFC 3339 for people and JSON: `2015-12-30T12:00:00Z`.
pub fn rfc3339(t: OffsetDateTime) -> String {
    utc(t)
        .replace_nanosecond(0)
        .expect("0 is a valid nanosecond")
        .format(&time::format_description::well_known::Rfc3339)
        .expect("a UTC time always formats")
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn formats_match_the_aws_examples() {
        let t = datetime!(2015-12-29 00:00:00 UTC);
        assert_eq!(amz_date(t), "20151229T000000Z");
        assert_eq!(scope_date(t), "20151229");
        assert_eq!(iso8601_millis(datetime!(2015-12-30 12:00:00.5 UTC)), "2015-12-30T12:00:00.500Z");
    }

    #[test]
    fn non_utc_times_are_converted_first() {
        let t = datetime!(2015-12-29 01:30:00 +01:30);
        assert_eq!(amz_date(t), "20151229T000000Z");
        assert_eq!(rfc3339(t), "2015-12-29T00:00:00Z");
    }
}
