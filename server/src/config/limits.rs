//! What may be uploaded, as the operator configured it: sizes, types, budgets, the access code
//! and the checksum limit. The rules themselves (what a size or type must be) are
//! [`app::rules`]'s; these are their settings.

use std::num::NonZeroU32;

use app::rules::{MAX_OBJECT_BYTES, MAX_POST_BYTES};
use app::wire::ChecksumMode;

/// The shortest access code accepted: 12 characters. Guessed at the fleet's cap of wrong codes
/// (300 a minute), even 12 lowercase letters (26^12, about 9.5e16) take about 600 million years
/// on average.
pub const MIN_ACCESS_CODE_CHARS: usize = 12;

use super::read::{invalid, number, ConfigError, Lookup};
use super::settings::Setting;
use crate::filetype::ContentCheck;

/// What may be uploaded: checked before anything is signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// `UPLOAD_MAX_BYTES` (default 5 GiB, what one POST can carry; at most 5 TiB, S3's largest
    /// object: files above 5 GiB always go in parts).
    pub max_bytes: u64,
    /// `UPLOAD_MULTIPART_THRESHOLD` (default 64 MiB, at most 5 GiB): larger files go in parts.
    pub multipart_threshold: u64,
    /// `UPLOAD_ALLOWED_TYPES`: comma-separated types, `type/*` wildcards allowed; empty: any.
    pub allowed_types: Vec<String>,
    /// `UPLOAD_FILES_PER_MINUTE` (default 60): files (signatures) one uploader may ask for.
    pub files_per_minute: NonZeroU32,
    /// `UPLOAD_SIGNS_PER_MINUTE_PER_IP` (default 600): the same, for one client address.
    pub signs_per_minute_per_ip: NonZeroU32,
    /// `UPLOAD_ACCESS_CODE`: when set, signing needs it. Kept only as its SHA-256.
    pub access_code_sha256: Option<[u8; 32]>,
    /// `UPLOAD_CHECKSUM_MAX_BYTES` (default 256 MiB; 0: off): files up to this size are
    /// hashed by the browser and the bucket checks their digest.
    pub checksum_max_bytes: u64,
    /// `UPLOAD_CHECKSUM` (default `sha256`): which digest, for files and parts alike.
    pub checksum: ChecksumMode,
    /// `UPLOAD_CONTENT_CHECK` (default `lenient`): what a file's first bytes must show.
    pub content_check: ContentCheck,
    /// `UPLOAD_COPY_PART_BYTES` (default 5 GiB): a staged upload bigger than this is promoted
    /// in copied parts of this size.
    pub copy_part_bytes: u64,
    /// `UPLOAD_CLAMD_ADDR`: where profiles with `scan = true` have their files scanned.
    pub clamd_addr: Option<String>,
    /// `UPLOAD_SCAN_MAX_BYTES` (default 25 MiB, clamd's own default StreamMaxLength): a bigger
    /// file is set aside unscanned.
    pub scan_max_bytes: u64,
    /// `UPLOAD_CHECK_WAIT_MS` (default 5 s): how long a confirm waits for a quarantined
    /// upload's checks before answering that they are under way (the page asks again).
    pub check_wait_ms: u64,
}

const DEFAULT_CHECKSUM_MAX_BYTES: u64 = 256 << 20;
/// 64 MiB: a file sent in one POST is hashed whole before its first byte leaves (the policy
/// binds its SHA-256), and the page hashes 64 MiB in about 250 ms (issue #27: a POST starts
/// within 300 ms of the file being chosen); a file in parts starts after its first part.
const DEFAULT_MULTIPART_THRESHOLD: u64 = 64 << 20;
/// S3's largest CopyObject, and its largest part (UploadPartCopy's too).
pub const MAX_COPY_BYTES: u64 = 5 << 30;
/// clamd's default StreamMaxLength.
const DEFAULT_SCAN_MAX_BYTES: u64 = 25 << 20;
/// Long enough for a small file's scan and copy; short of a proxy's read timeout (nginx: 60 s).
const DEFAULT_CHECK_WAIT_MS: u64 = 5_000;
/// S3's smallest part but the last.
const MIN_PART_BYTES: u64 = 5 << 20;
const DEFAULT_FILES_PER_MINUTE: NonZeroU32 = NonZeroU32::new(60).expect("not zero");
const DEFAULT_SIGNS_PER_MINUTE_PER_IP: NonZeroU32 = NonZeroU32::new(600).expect("not zero");

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_bytes: MAX_POST_BYTES,
            multipart_threshold: DEFAULT_MULTIPART_THRESHOLD,
            allowed_types: Vec::new(),
            files_per_minute: DEFAULT_FILES_PER_MINUTE,
            signs_per_minute_per_ip: DEFAULT_SIGNS_PER_MINUTE_PER_IP,
            access_code_sha256: None,
            checksum_max_bytes: DEFAULT_CHECKSUM_MAX_BYTES,
            checksum: ChecksumMode::Sha256,
            content_check: ContentCheck::default(),
            copy_part_bytes: MAX_COPY_BYTES,
            clamd_addr: None,
            scan_max_bytes: DEFAULT_SCAN_MAX_BYTES,
            check_wait_ms: DEFAULT_CHECK_WAIT_MS,
        }
    }
}

/// `UPLOAD_CLAMD_ADDR`: `host:port`, the port a number.
fn clamd_addr(raw: String) -> Result<String, ConfigError> {
    match raw.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0) => {
            Ok(raw)
        }
        _ => Err(invalid(Setting::ClamdAddr, format!("expected HOST:PORT, got {raw:?}"))),
    }
}

fn sha256(text: &str) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes()).into()
}

fn per_minute(
    get: &impl Lookup,
    setting: Setting,
    default: NonZeroU32,
) -> Result<NonZeroU32, ConfigError> {
    let any = NonZeroU32::MIN..=NonZeroU32::MAX;
    number(get, setting, default, any, "a count per minute of at least 1")
}

/// `UPLOAD_ALLOWED_TYPES`: `type/subtype` or `type/*`, lowercased.
fn allowed_types(get: &impl Lookup) -> Result<Vec<String>, ConfigError> {
    let listed = get(Setting::AllowedTypes).unwrap_or_default();
    listed
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|pattern| type_pattern(pattern).map_err(|e| invalid(Setting::AllowedTypes, e)))
        .collect()
}

/// One allowed type, `type/subtype` or `type/*`, lowercased (here and in profiles).
pub fn type_pattern(pattern: &str) -> Result<String, String> {
    let pattern = pattern.to_ascii_lowercase();
    let valid = matches!(pattern.split_once('/'),
        Some((t, s)) if !t.is_empty() && t != "*" && !s.is_empty() && !s.contains('/'));
    if valid {
        Ok(pattern)
    } else {
        Err(format!("expected types such as image/png or image/*, got {pattern:?}"))
    }
}

/// `UPLOAD_ACCESS_CODE`, kept as its SHA-256: at least [`MIN_ACCESS_CODE_CHARS`] characters, so
/// that even the fleet's whole budget of guesses cannot find it (README, "Security").
fn access_code(code: String) -> Result<[u8; 32], ConfigError> {
    let chars = code.chars().count();
    if chars < MIN_ACCESS_CODE_CHARS {
        return Err(invalid(
            Setting::AccessCode,
            format!(
                "expected at least {MIN_ACCESS_CODE_CHARS} characters (it has {chars}): a short \
                 code can be guessed; e.g. four random words, or openssl rand -base64 12"
            ),
        ));
    }
    Ok(sha256(&code))
}

impl Limits {
    pub fn from_lookup(get: &impl Lookup) -> Result<Self, ConfigError> {
        // In the order they are reported when several are wrong.
        Ok(Self {
            max_bytes: number(
                get,
                Setting::MaxBytes,
                MAX_POST_BYTES,
                1..=MAX_OBJECT_BYTES,
                &format!("bytes from 1 to {MAX_OBJECT_BYTES} (5 TiB)"),
            )?,
            multipart_threshold: number(
                get,
                Setting::MultipartThreshold,
                DEFAULT_MULTIPART_THRESHOLD,
                1..=MAX_POST_BYTES,
                &format!("bytes from 1 to {MAX_POST_BYTES} (5 GiB, what one POST carries)"),
            )?,
            allowed_types: allowed_types(get)?,
            files_per_minute: per_minute(get, Setting::FilesPerMinute, DEFAULT_FILES_PER_MINUTE)?,
            signs_per_minute_per_ip: per_minute(
                get,
                Setting::SignsPerMinutePerIp,
                DEFAULT_SIGNS_PER_MINUTE_PER_IP,
            )?,
            access_code_sha256: get(Setting::AccessCode).map(access_code).transpose()?,
            checksum_max_bytes: number(
                get,
                Setting::ChecksumMaxBytes,
                DEFAULT_CHECKSUM_MAX_BYTES,
                0..=u64::MAX,
                "bytes (0 turns checksums off)",
            )?,
            checksum: match get(Setting::Checksum).map(|m| m.to_ascii_lowercase()).as_deref() {
                None | Some("sha256") => ChecksumMode::Sha256,
                Some("md5") => ChecksumMode::Md5,
                Some("off") => ChecksumMode::Off,
                Some(other) => {
                    return Err(invalid(
                        Setting::Checksum,
                        format!("expected sha256, md5 or off, got {other:?}"),
                    ))
                }
            },
            content_check: get(Setting::ContentCheck)
                .map(|mode| mode.parse().map_err(|e| invalid(Setting::ContentCheck, e)))
                .transpose()?
                .unwrap_or_default(),
            copy_part_bytes: number(
                get,
                Setting::CopyPartBytes,
                MAX_COPY_BYTES,
                MIN_PART_BYTES..=MAX_COPY_BYTES,
                "bytes, from 5 MiB to 5 GiB",
            )?,
            clamd_addr: get(Setting::ClamdAddr).map(clamd_addr).transpose()?,
            scan_max_bytes: number(
                get,
                Setting::ScanMaxBytes,
                DEFAULT_SCAN_MAX_BYTES,
                1..=u64::MAX,
                "bytes",
            )?,
            check_wait_ms: number(
                get,
                Setting::CheckWaitMs,
                DEFAULT_CHECK_WAIT_MS,
                0..=30_000,
                "milliseconds, at most 30000",
            )?,
        })
    }

    /// Whether `code` is the operator's access code (always true when none is set). Digests are
    /// compared, so the comparison's timing says nothing useful about the code.
    pub fn accepts_access_code(&self, code: &str) -> bool {
        self.access_code_sha256.is_none_or(|want| sha256(code) == want)
    }

    /// Whether `content_type` (parameters ignored, any case) is on the allow-list.
    pub fn allows_type(&self, content_type: &str) -> bool {
        app::rules::type_allowed(&self.allowed_types, content_type)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{table, Config};

    use crate::config::read::TEST_SETTINGS;

    /// A bucket and its region, no keys (the default chain).
    const BASE: &[(&str, &str)] = &[TEST_SETTINGS[0], TEST_SETTINGS[1]];

    #[test]
    fn allowed_types_take_wildcards_and_ignore_case_and_parameters() {
        let mut pairs = BASE.to_vec();
        pairs.push(("UPLOAD_ALLOWED_TYPES", "image/*, application/PDF"));
        pairs.push(("UPLOAD_MAX_BYTES", "1048576"));
        let limits = Config::from_lookup(table(&pairs)).unwrap().limits;
        assert_eq!(limits.max_bytes, 1_048_576);
        for ok in ["image/png", "IMAGE/JPEG", "application/pdf; charset=x"] {
            assert!(limits.allows_type(ok), "{ok}");
        }
        for refused in ["text/html", "application/pdfx", "imagex/png", "application/octet-stream"] {
            assert!(!limits.allows_type(refused), "{refused}");
        }
        assert!(Limits::default().allows_type("anything/at-all"));
    }

    #[test]
    fn the_access_code_is_checked_only_when_set() {
        assert!(Limits::default().accepts_access_code(""));
        let mut pairs = BASE.to_vec();
        pairs.push(("UPLOAD_ACCESS_CODE", "open sesame, please"));
        let limits = Config::from_lookup(table(&pairs)).unwrap().limits;
        assert!(limits.accepts_access_code("open sesame, please"));
        assert!(!limits.accepts_access_code("open sesame, please "));
        assert!(!limits.accepts_access_code(""));
        assert!(!format!("{limits:?}").contains("open sesame"));
    }

    #[test]
    fn access_codes_shorter_than_12_characters_are_refused_at_start() {
        let mut pairs = BASE.to_vec();
        pairs.push(("UPLOAD_ACCESS_CODE", "élévation1!"));
        let err = Config::from_lookup(table(&pairs)).err().unwrap().to_string();
        assert!(err.starts_with("UPLOAD_ACCESS_CODE is invalid: expected at least 12"), "{err}");
        assert!(err.contains("it has 11") && !err.contains("élévation"), "{err}");
        pairs[BASE.len()].1 = "élévation12!";
        assert!(Config::from_lookup(table(&pairs)).is_ok(), "12 characters (14 bytes)");
    }
}
