//! Temporary credentials from STS, scoped to each uploader's prefix: which call, and how long
//! the credentials live.

use std::time::Duration;

use super::read::{invalid, missing, number, ConfigError, Lookup};
use super::settings::Setting;
use crate::credentials::StsMode;

/// Temporary credentials from STS, scoped to each uploader's prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StsConfig {
    pub mode: StsMode,
    /// `UPLOAD_STS_DURATION_SECS` (default 3600; from 900 to 43200, federation 129600).
    pub duration: Duration,
}

impl StsConfig {
    /// `UPLOAD_ROLE_ARN`, `UPLOAD_STS_MODE` and `UPLOAD_STS_DURATION_SECS`; `None` when
    /// neither of the first two is set.
    pub(super) fn from_lookup(get: &impl Lookup) -> Result<Option<Self>, ConfigError> {
        let mode = match (get(Setting::StsMode).as_deref(), get(Setting::RoleArn)) {
            (None, None) => return Ok(None),
            (None | Some("assume-role"), Some(role_arn)) => {
                if !role_arn.starts_with("arn:") || role_arn.split(':').count() < 6 {
                    return Err(invalid(
                        Setting::RoleArn,
                        format!(
                            "expected a role ARN such as arn:aws:iam::123456789012:role/uploader, \
                             got {role_arn:?}"
                        ),
                    ));
                }
                StsMode::AssumeRole { role_arn }
            }
            (Some("assume-role"), None) => {
                return Err(missing(
                    Setting::RoleArn,
                    "UPLOAD_STS_MODE=assume-role needs the role to assume",
                ))
            }
            (Some("federation"), _) => StsMode::Federation,
            (Some(other), _) => {
                return Err(invalid(
                    Setting::StsMode,
                    format!("expected assume-role or federation, got {other:?}"),
                ))
            }
        };
        let max = if mode == StsMode::Federation { 129_600 } else { 43_200 };
        let expected = format!("whole seconds from 900 to {max}");
        let secs = number(get, Setting::StsDurationSecs, 3600, 900..=max, &expected)?;
        Ok(Some(Self { mode, duration: Duration::from_secs(secs) }))
    }
}
