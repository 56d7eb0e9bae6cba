//! Reading one setting: how settings are looked up (the command line and the environment, or a
//! test's table), a number within its range, and the error that names the setting's variable
//! and flag.

use std::ops::RangeInclusive;
use std::str::FromStr;
use std::time::Duration;

use super::settings::{self, Setting};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{name}{} is not set: {hint}", settings::flag_hint(name))]
    Missing { name: &'static str, hint: &'static str },
    #[error("{name}{} is invalid: {reason}", settings::flag_hint(name))]
    Invalid { name: &'static str, reason: String },
}

pub fn invalid(setting: Setting, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid { name: setting.variable(), reason: reason.into() }
}

pub fn missing(setting: Setting, hint: &'static str) -> ConfigError {
    ConfigError::Missing { name: setting.variable(), hint }
}

/// How settings are looked up: the command line and the environment, or a test's table.
pub trait Lookup: Fn(Setting) -> Option<String> {}
impl<F: Fn(Setting) -> Option<String>> Lookup for F {}

/// Settings from a table of variables and values, the first of a name winning (for tests, which
/// need not touch the process environment).
///
/// # Panics
/// On a name that is no setting's variable: a misspelt setting would read as unset.
pub fn table<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(Setting) -> Option<String> + 'a {
    for (name, _) in pairs {
        assert!(Setting::from_variable(name).is_some(), "{name} is not a setting");
    }
    move |setting| {
        pairs.iter().find(|(name, _)| *name == setting.variable()).map(|(_, v)| (*v).to_owned())
    }
}

/// A number from `setting` within `range`, `default` when unset; anything else is refused with
/// what was `expected` ("whole seconds from 30 to 600").
pub fn number<T: FromStr + PartialOrd>(
    get: &impl Lookup,
    setting: Setting,
    default: T,
    range: RangeInclusive<T>,
    expected: &str,
) -> Result<T, ConfigError> {
    match get(setting) {
        None => Ok(default),
        Some(raw) => match raw.parse::<T>() {
            Ok(n) if range.contains(&n) => Ok(n),
            _ => Err(invalid(setting, format!("expected {expected}, got {raw:?}"))),
        },
    }
}

/// `UPLOAD_POLICY_TTL_SECS`.
pub fn policy_lifetime(get: &impl Lookup) -> Result<Duration, ConfigError> {
    let secs = number(get, Setting::PolicyTtlSecs, 300, 30..=600, "whole seconds from 30 to 600")?;
    Ok(Duration::from_secs(secs))
}

/// `UPLOAD_METHOD`: `post` (the default) or `put`; `UPLOAD_CHECKSUM=md5` needs `put`.
pub fn upload_method(
    get: &impl Lookup,
    checksum: app::wire::ChecksumMode,
) -> Result<app::wire::UploadMethod, ConfigError> {
    use app::wire::{ChecksumMode, UploadMethod};
    let method = match get(Setting::Method).map(|m| m.to_ascii_lowercase()).as_deref() {
        None | Some("post") => UploadMethod::Post,
        Some("put") => UploadMethod::Put,
        Some(other) => {
            return Err(invalid(
                Setting::Method,
                format!("expected post (a form) or put (a presigned PUT), got {other:?}"),
            ))
        }
    };
    if checksum == ChecksumMode::Md5 && method == UploadMethod::Post {
        return Err(invalid(
            Setting::Checksum,
            "md5 needs UPLOAD_METHOD=put: no store checks the MD5 of a POSTed form, only a PUT's \
             Content-MD5",
        ));
    }
    Ok(method)
}

/// A bucket, its region and its keys: what the configuration's tests start from.
#[cfg(test)]
pub const TEST_SETTINGS: [(&str, &str); 4] = [
    ("UPLOAD_BUCKET", "uploads"),
    ("AWS_REGION", "garage"),
    ("AWS_ACCESS_KEY_ID", "GK0123456789abcdef01234567"),
    ("AWS_SECRET_ACCESS_KEY", "topsecret"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[should_panic(expected = "UPLOAD_MAX_BYTE is not a setting")]
    fn a_misspelt_setting_in_a_table_is_refused() {
        let _ = table(&[("UPLOAD_MAX_BYTE", "1")]);
    }
}
