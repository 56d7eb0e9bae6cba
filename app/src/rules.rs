//! What may be uploaded, decided in one place for both sides: the page refuses a file before
//! asking for a signature, with the message the server would give, and the server's upload
//! service checks every request with these same functions before it signs. Each refusal is a
//! message meant for the person uploading. (The policy core, `server::policy`, refuses what
//! these refuse too: a test in `server/tests/rules.rs` pins the two together.)

use std::collections::BTreeMap;

use crate::format::human_bytes;

pub use crate::wire::{Chars, Field, Profile};

/// Longest file name kept in a key, in bytes (S3 keys go up to 1024).
pub const MAX_NAME_BYTES: usize = 200;
/// Most metadata entries one upload may carry.
pub const MAX_METADATA_ENTRIES: usize = 8;
/// S3's limit on user metadata: names and values together.
pub const MAX_METADATA_BYTES: usize = 2048;

/// A file name made safe to be the last segment of a key: no directories, no control or
/// bidi-override characters, never `.` or `..`, at most [`MAX_NAME_BYTES`].
pub fn file_name(raw: &str) -> Result<String, String> {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String =
        base.chars().filter(|c| !c.is_control() && !is_bidi_control(*c)).collect();
    let mut name = cleaned.trim().to_owned();
    if name.len() > MAX_NAME_BYTES {
        let mut cut = MAX_NAME_BYTES;
        while !name.is_char_boundary(cut) {
            cut -= 1;
        }
        name.truncate(cut);
    }
    if name.is_empty() || name.chars().all(|c| c == '.') {
        return Err(format!("{raw:?} is not a usable file name"));
    }
    // `${filename}` in a key is S3's placeholder for a name the POST chooses: never signed.
    if name.contains("${") {
        return Err(format!("{raw:?} is not a usable file name (it holds \"${{\")"));
    }
    Ok(name)
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{061C}')
}

/// The type a stored file may be shown as in a browser, judged by its name's extension (a
/// listing does not say the type, and the type a file was uploaded with is the uploader's
/// choice): images, audio, video, PDF and plain text. `None`: anything else, which is only ever
/// offered as a download, so that no uploaded page or SVG runs script where it is opened.
pub fn inline_type(file_name: &str) -> Option<&'static str> {
    let extension = file_name.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match extension.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "avif" => "image/avif",
        "txt" => "text/plain; charset=utf-8",
        "pdf" => "application/pdf",
        "mp3" => "audio/mpeg",
        "ogg" => "audio/ogg",
        "wav" => "audio/wav",
        "mp4" => "video/mp4",
        "webm" => "video/webm",
        _ => return None,
    })
}

/// The type of a file whose type nobody knows (a browser's "", the no-JavaScript form's file).
pub const UNKNOWN_TYPE: &str = "application/octet-stream";

/// The type a file is signed and stored as: browsers report "" for unknown extensions.
pub fn effective_type(browser_type: &str) -> &str {
    match browser_type.trim() {
        "" => UNKNOWN_TYPE,
        given => given,
    }
}

/// Whether `content_type` (parameters ignored, any case) matches one of `allowed`
/// (`type/subtype` or `type/*`); an empty list allows everything.
pub fn type_allowed(allowed: &[String], content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    allowed.is_empty()
        || allowed.iter().any(|pattern| match pattern.strip_suffix("/*") {
            Some(kind) => essence.split_once('/').is_some_and(|(t, _)| t == kind),
            None => *pattern == essence,
        })
}

/// Why a file of `size` bytes cannot be uploaded when the limit is `max_bytes`, if it cannot.
pub fn size_refusal(size: u64, max_bytes: u64) -> Option<String> {
    match size {
        0 => Some("empty files cannot be uploaded".into()),
        n if n > max_bytes => Some(format!(
            "the file is {}; files here can be at most {}",
            human_bytes(n),
            human_bytes(max_bytes)
        )),
        _ => None,
    }
}

/// Why a file of `content_type` cannot be uploaded, if it cannot.
pub fn type_refusal(allowed: &[String], content_type: &str) -> Option<String> {
    (!type_allowed(allowed, content_type)).then(|| {
        format!(
            "files of type {content_type} are not accepted here (allowed: {})",
            allowed.join(", ")
        )
    })
}

/// The type to sign and store, from what the browser said: [`effective_type`], and then it
/// must be a MIME type (`type/subtype[; params]`, printable ASCII, at most 255 bytes).
pub fn content_type(browser_type: &str) -> Result<String, String> {
    let raw = effective_type(browser_type);
    let essence = raw.split(';').next().unwrap_or_default().trim();
    let token = |s: &str| {
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$&^_.+-".contains(&b))
    };
    let valid = raw.len() <= 255
        && raw.bytes().all(|b| (0x20..0x7f).contains(&b))
        && matches!(essence.split_once('/'), Some((t, s)) if token(t) && token(s));
    if valid {
        Ok(raw.to_owned())
    } else {
        Err(format!("{raw:?} is not a valid content type"))
    }
}

/// Why `name` cannot name user metadata, if it cannot: 1-64 lowercase letters, digits and `-`
/// (S3 lowercases names anyway, and many proxies drop header names with `_`).
pub fn metadata_name_refusal(name: &str) -> Option<String> {
    let ok = (1..=64).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    (!ok).then(|| {
        format!("{name:?} is not a usable metadata name (1-64 lowercase letters, digits, hyphens)")
    })
}

/// Why `value` cannot be stored as the metadata `name`, if it cannot: values travel in HTTP
/// headers, so printable ASCII only.
fn metadata_value_refusal(name: &str, value: &str) -> Option<String> {
    (!value.bytes().all(|b| (0x20..0x7f).contains(&b)))
        .then(|| format!("the metadata {name:?} must be printable ASCII"))
}

/// User metadata as S3 stores it in headers: at most [`MAX_METADATA_ENTRIES`] entries, each
/// name and value as above, [`MAX_METADATA_BYTES`] in all.
pub fn metadata(entries: &BTreeMap<String, String>) -> Result<Vec<(String, String)>, String> {
    if entries.len() > MAX_METADATA_ENTRIES {
        return Err(format!(
            "at most {MAX_METADATA_ENTRIES} metadata entries can be stored with a file"
        ));
    }
    let mut total = 0;
    for (name, value) in entries {
        if let Some(refusal) =
            metadata_name_refusal(name).or_else(|| metadata_value_refusal(name, value))
        {
            return Err(refusal);
        }
        total += name.len() + value.len();
    }
    if total > MAX_METADATA_BYTES {
        return Err(format!("the metadata takes {total} bytes; at most {MAX_METADATA_BYTES} can be stored with a file"));
    }
    Ok(entries.iter().map(|(n, v)| (n.clone(), v.clone())).collect())
}

/// A SHA-256 digest as S3 takes it: the base64 of 32 bytes.
pub fn checksum_sha256(raw: &str) -> Result<String, String> {
    use base64::Engine;
    match base64::engine::general_purpose::STANDARD.decode(raw) {
        Ok(digest) if digest.len() == 32 => Ok(raw.to_owned()),
        _ => Err("the file's checksum is not a SHA-256 (base64 of 32 bytes)".into()),
    }
}

/// An MD5 digest as `Content-MD5` carries it: the base64 of 16 bytes.
pub fn content_md5(raw: &str) -> Result<String, String> {
    use base64::Engine;
    match base64::engine::general_purpose::STANDARD.decode(raw) {
        Ok(digest) if digest.len() == 16 => Ok(raw.to_owned()),
        _ => Err("the file's checksum is not an MD5 (base64 of 16 bytes)".into()),
    }
}

/// A digest in `mode`'s algorithm, as the browser sends it.
pub fn checksum(mode: crate::wire::ChecksumMode, raw: &str) -> Result<String, String> {
    match mode {
        crate::wire::ChecksumMode::Sha256 => checksum_sha256(raw),
        crate::wire::ChecksumMode::Md5 => content_md5(raw),
        crate::wire::ChecksumMode::Off => Err("checksums are off here: send none".into()),
    }
}

// Upload profiles: the kinds of upload one service takes (avatars, invoices, videos), each with
// its own limits and the metadata it requires ([`Profile`]). The operator declares them
// (`UPLOAD_PROFILES`, read by the server); the page gets its profile from `upload_target` and
// refuses with these same functions what the server would refuse.

/// The profile every page and call uses unless it names another; its keys stay
/// `uploads/<uploader-id>/<directory>/<name>`.
pub const DEFAULT_PROFILE: &str = "default";

/// The metadata that names an object's profile (`x-amz-meta-profile`): the service's own, on
/// every object; a request may not set it.
pub const PROFILE_METADATA: &str = "profile";

/// The metadata that names who uploaded an object (`x-amz-meta-uploader`): the signed-in
/// user's subject. The service's own: a request may not set it.
pub const UPLOADER_METADATA: &str = "uploader";

/// The metadata the page stores with every file: when it was last changed on the uploader's
/// computer.
pub const LAST_MODIFIED_METADATA: &str = "file-last-modified";

/// The profile `name` asks for: an empty name (an older page, a call that names none) is
/// [`DEFAULT_PROFILE`].
pub fn profile_name(name: &str) -> &str {
    match name {
        "" => DEFAULT_PROFILE,
        given => given,
    }
}

/// Why `name` cannot name a profile, if it cannot: 1-32 lowercase letters, digits and `-`,
/// starting with a letter (it is a path segment in keys and in `/p/NAME`), and not starting with
/// `ffff`: the default profile's directories do (they count down from the largest 64-bit
/// number), and its listing is every key under that prefix.
pub fn profile_name_refusal(name: &str) -> Option<String> {
    let ok = (1..=32).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with("ffff");
    (!ok).then(|| {
        format!(
            "{name:?} is not a usable profile name (1-32 lowercase letters, digits, hyphens, \
             starting with a letter, not with \"ffff\")"
        )
    })
}

impl Chars {
    pub fn allows(self, c: char) -> bool {
        match self {
            Chars::Digits => c.is_ascii_digit(),
            Chars::Word => c.is_ascii_alphanumeric() || c == '-' || c == '_',
            Chars::Printable => (' '..='~').contains(&c),
        }
    }

    /// As a message names them.
    fn described(self) -> &'static str {
        match self {
            Chars::Digits => "digits only",
            Chars::Word => "letters, digits, - and _ only",
            Chars::Printable => "printable ASCII only",
        }
    }
}

impl Field {
    /// Why `value` cannot be this field's, if it cannot (an empty value is a missing one).
    pub fn refusal(&self, value: Option<&str>) -> Option<String> {
        let name = &self.name;
        let value = match value.filter(|v| !v.is_empty()) {
            None if self.required => return Some(format!("{name} is required")),
            None => return None,
            Some(value) => value,
        };
        if let Some(max) = self.max_len.filter(|max| value.chars().count() > *max as usize) {
            return Some(format!("{name} is at most {max} characters"));
        }
        if !value.chars().all(|c| self.chars.allows(c)) {
            return Some(format!("{name}: {}", self.chars.described()));
        }
        if !self.values.is_empty() && !self.values.iter().any(|v| v == value) {
            return Some(format!("{name} must be one of: {}", self.values.join(", ")));
        }
        None
    }
}

impl Profile {
    /// Why a file of `size` bytes cannot be uploaded here, if it cannot.
    pub fn size_refusal(&self, size: u64) -> Option<String> {
        match size_refusal(size, self.max_bytes) {
            None if size < self.min_bytes => Some(format!(
                "the file is {}; files here must be at least {}",
                human_bytes(size),
                human_bytes(self.min_bytes)
            )),
            refusal => refusal,
        }
    }

    /// Why a file of `content_type` cannot be uploaded here, if it cannot.
    pub fn type_refusal(&self, content_type: &str) -> Option<String> {
        type_refusal(&self.allowed_types, content_type)
    }

    /// Why `metadata` does not satisfy this profile's fields, if it does not: the first
    /// field that fails, in the order the page shows them.
    pub fn fields_refusal(&self, metadata: &BTreeMap<String, String>) -> Option<String> {
        self.fields
            .iter()
            .find_map(|field| field.refusal(metadata.get(&field.name).map(String::as_str)))
    }

    /// Whether a form can let the browser choose the file (the no-JavaScript form, which
    /// stores it as [`UNKNOWN_TYPE`]): not where that type is not allowed, nor where
    /// metadata is asked for or a smallest size set, which such a form cannot check.
    pub fn takes_any_file(&self) -> bool {
        type_allowed(&self.allowed_types, UNKNOWN_TYPE)
            && self.fields.is_empty()
            && self.min_bytes <= 1
    }
}

/// An origin as browsers write it in `Origin` and `MessageEvent.origin`, from how a person
/// may write it: `http` or `https`, a host of letters, digits, `.`, `-` (or an IPv6 address in
/// brackets) and a port, lowercased, without a trailing `/` or the scheme's default port; `None`
/// for anything else (a path, a `*`, user info, spaces). The server lists and checks origins
/// with it (`UPLOAD_EMBED_ORIGINS`), and the embedded page compares a message's origin with it.
pub fn origin(raw: &str) -> Option<String> {
    let raw = raw.trim().strip_suffix('/').unwrap_or(raw.trim()).to_ascii_lowercase();
    let (scheme, rest) = raw.split_once("://")?;
    let (host, port) = match rest.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(':') && !port.contains(']') => (host, Some(port)),
        _ => (rest, None),
    };
    let name = |h: &str| {
        !h.is_empty()
            && h.split('.').all(|label| {
                !label.is_empty() && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            })
    };
    let ipv6 = |h: &str| {
        h.strip_prefix('[').and_then(|h| h.strip_suffix(']')).is_some_and(|inner| {
            inner.contains(':')
                && inner.bytes().all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        })
    };
    let port = match port {
        None => None,
        Some(port) => Some(port.parse::<u16>().ok().filter(|p| *p > 0)?),
    };
    let default = match scheme {
        "https" => 443,
        "http" => 80,
        _ => return None,
    };
    if !(name(host) || ipv6(host)) {
        return None;
    }
    Some(match port {
        Some(port) if port != default => format!("{scheme}://{host}:{port}"),
        _ => format!("{scheme}://{host}"),
    })
}

/// The largest file one POST can carry (5 GiB); anything bigger goes in parts.
/// <https://docs.aws.amazon.com/AmazonS3/latest/API/RESTObjectPOST.html>
pub const MAX_POST_BYTES: u64 = 5 << 30;
/// The largest object S3 stores (5 TiB), and so the largest file a multipart upload takes.
pub const MAX_OBJECT_BYTES: u64 = 5 << 40;
/// S3 takes at most 10 000 parts for one object.
/// <https://docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html>
pub const MAX_PARTS: u64 = 10_000;
/// Our smallest part (S3's is 5 MiB): few enough requests that their overhead stays small,
/// small enough that a failed part costs little to send again.
pub const MIN_PART_BYTES: u64 = 8 << 20;

/// The size above which files go in parts: the operator's threshold, and never more than
/// what one POST can carry.
pub fn multipart_above(threshold: u64) -> u64 {
    threshold.min(MAX_POST_BYTES)
}

/// Whether a file of `size` bytes goes in parts (see [`multipart_above`]).
pub fn goes_multipart(size: u64, threshold: u64) -> bool {
    size > multipart_above(threshold)
}

/// The part size for a file of `size` bytes: [`MIN_PART_BYTES`], or as much more (in whole MiB)
/// as keeps the count near [`AIMED_PARTS`] (each part costs a signature, a CORS preflight and a
/// request) while parts stay within [`AIMED_PART_MAX`], and within [`MAX_PARTS`] always.
pub fn part_size(size: u64) -> u64 {
    const MIB: u64 = 1 << 20;
    let whole_mib = |bytes: u64| bytes.div_ceil(MIB) * MIB;
    let aimed = whole_mib(size.div_ceil(AIMED_PARTS)).min(AIMED_PART_MAX);
    whole_mib(size.div_ceil(MAX_PARTS)).max(aimed).max(MIN_PART_BYTES)
}

/// How many parts a big file is cut in, until its parts reach [`AIMED_PART_MAX`]: a 5 GiB file
/// in 16 MiB parts went to Garage as fast as in 8 MiB ones (124-133 MiB/s against 124, see
/// docs/benchmarks.md) with half the signing calls and preflights.
const AIMED_PARTS: u64 = 320;
/// The largest part cut for [`AIMED_PARTS`]'s sake: the parts in flight are each read whole
/// into memory to be hashed, so this bounds the tab's memory for every file up to 312 GiB.
const AIMED_PART_MAX: u64 = 32 << 20;

/// How many parts a file of `size` bytes has with parts of `part_size` (at least one).
pub fn part_count(size: u64, part_size: u64) -> u64 {
    size.div_ceil(part_size).max(1)
}

/// The length of part `number` (from 1), or `None` when the file has no such part: every part
/// is `part_size` long but the last, which holds the rest.
pub fn part_length(size: u64, part_size: u64, number: u64) -> Option<u64> {
    let count = part_count(size, part_size);
    match number {
        n if n == 0 || n > count => None,
        n if n == count => Some(size - part_size * (count - 1)),
        _ => Some(part_size),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_files_have_about_320_parts_of_up_to_32_mib_and_never_more_than_10000() {
        const MIB: u64 = 1 << 20;
        assert_eq!(part_size(2560 * MIB), 8 * MIB);
        assert_eq!(part_size(2561 * MIB), 9 * MIB);
        assert_eq!(part_size(5 << 30), 16 * MIB);
        assert_eq!(part_size(100 << 30), 32 * MIB);
        assert_eq!(
            part_size(MAX_OBJECT_BYTES),
            MAX_OBJECT_BYTES.div_ceil(MAX_PARTS).div_ceil(MIB) * MIB
        );
    }

    #[test]
    fn parts_are_8_mib_or_as_large_as_10000_parts_need() {
        assert_eq!(part_size(1), MIN_PART_BYTES);
        assert_eq!(part_size(300 << 20), MIN_PART_BYTES);
        assert_eq!(part_count(300 << 20, MIN_PART_BYTES), 38);
        assert_eq!(
            part_length(300 << 20, MIN_PART_BYTES, 38),
            Some((300 << 20) - 37 * MIN_PART_BYTES)
        );
        assert_eq!(part_length(300 << 20, MIN_PART_BYTES, 1), Some(MIN_PART_BYTES));
        assert_eq!(part_length(300 << 20, MIN_PART_BYTES, 39), None);
        assert_eq!(part_length(300 << 20, MIN_PART_BYTES, 0), None);
        for size in
            [MAX_OBJECT_BYTES, MAX_OBJECT_BYTES - 1, 80 << 30, 10_000 * MIN_PART_BYTES + 1, 6 << 30]
        {
            let part = part_size(size);
            assert!(part_count(size, part) <= MAX_PARTS, "{size}");
            assert!(part <= MAX_POST_BYTES && part.is_multiple_of(1 << 20), "{size}: {part}");
            let parts = part_count(size, part);
            assert_eq!((1..=parts).map(|n| part_length(size, part, n).unwrap()).sum::<u64>(), size);
        }
        assert!(goes_multipart(100 << 20 | 1, 100 << 20));
        assert!(!goes_multipart(100 << 20, 100 << 20));
        assert!(goes_multipart(MAX_POST_BYTES + 1, u64::MAX), "never one POST above 5 GiB");
    }

    #[test]
    fn wildcards_match_the_family_only() {
        let allowed = vec!["image/*".to_string(), "application/pdf".to_string()];
        assert!(type_allowed(&allowed, "image/png"));
        assert!(type_allowed(&allowed, "IMAGE/PNG; x=y"));
        assert!(type_allowed(&allowed, "application/pdf"));
        assert!(!type_allowed(&allowed, "imagex/png"));
        assert!(!type_allowed(&allowed, "application/pdfx"));
        assert!(type_allowed(&[], "anything/at-all"));
    }

    #[test]
    fn refusals_say_the_limit_in_human_units() {
        assert_eq!(
            size_refusal(3 << 20, 1 << 20).unwrap(),
            "the file is 3.0 MiB; files here can be at most 1.0 MiB"
        );
        assert!(size_refusal(0, 10).is_some());
        assert!(size_refusal(10, 10).is_none());
        assert_eq!(effective_type(""), "application/octet-stream");
        assert_eq!(
            type_refusal(&["image/*".into()], "text/html").unwrap(),
            "files of type text/html are not accepted here (allowed: image/*)"
        );
    }

    #[test]
    fn file_names_lose_directories_and_invisible_characters() {
        assert_eq!(file_name("photo.jpg").unwrap(), "photo.jpg");
        assert_eq!(file_name("C:\\Users\\me\\photo.jpg").unwrap(), "photo.jpg");
        assert_eq!(file_name("../../etc/passwd").unwrap(), "passwd");
        assert_eq!(file_name("evil\u{202E}gpj.exe").unwrap(), "evilgpj.exe");
        assert_eq!(file_name("nul\0byte\n.txt").unwrap(), "nulbyte.txt");
        assert_eq!(file_name("  résumé final.pdf ").unwrap(), "résumé final.pdf");
    }

    #[test]
    fn only_passive_types_are_shown_inline() {
        assert_eq!(inline_type("cat.PNG"), Some("image/png"));
        assert_eq!(inline_type("notes.txt"), Some("text/plain; charset=utf-8"));
        for active in [
            "page.html",
            "page.htm",
            "drawing.svg",
            "feed.xml",
            "app.js",
            "page.xhtml",
            "noextension",
            "archive.tar.gz",
        ] {
            assert_eq!(inline_type(active), None, "{active}");
        }
    }

    #[test]
    fn unusable_names_are_refused() {
        for raw in [
            "",
            "   ",
            ".",
            "..",
            "dir/",
            "a/..",
            "\u{202E}\u{200F}",
            "${filename}",
            "a${filename}.txt",
            "${x",
        ] {
            assert!(file_name(raw).is_err(), "{raw:?}");
        }
    }

    #[test]
    fn long_names_are_cut_on_a_character_boundary() {
        let name = file_name(&"é".repeat(300)).unwrap();
        assert!(name.len() <= MAX_NAME_BYTES && name.chars().all(|c| c == 'é'));
    }

    #[test]
    fn metadata_names_values_and_sizes() {
        let of = |pairs: &[(&str, &str)]| {
            pairs.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()
        };
        assert_eq!(
            metadata(&of(&[("file-last-modified", "2026-11-28T12:00:00Z")])).unwrap().len(),
            1
        );
        for bad in [
            of(&[("Upper", "x")]),
            of(&[("", "x")]),
            of(&[("under_score", "x")]),
            of(&[("ok", "line\nbreak")]),
            of(&[("ok", "naïve")]),
            of(&[("big", &"x".repeat(MAX_METADATA_BYTES))]),
        ] {
            assert!(metadata(&bad).is_err(), "{bad:?}");
        }
        let many: BTreeMap<String, String> =
            (0..9).map(|i| (format!("m{i}"), "v".into())).collect();
        assert!(metadata(&many).unwrap_err().contains("at most 8"));
    }

    #[test]
    fn checksums_are_32_bytes_of_base64() {
        assert!(checksum_sha256("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=").is_ok());
        assert!(content_md5("1B2M2Y8AsgTpgAmY7PhCfg==").is_ok());
        assert!(content_md5("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=").is_err());
        use crate::wire::ChecksumMode;
        assert!(checksum(ChecksumMode::Md5, "1B2M2Y8AsgTpgAmY7PhCfg==").is_ok());
        assert!(checksum(ChecksumMode::Sha256, "1B2M2Y8AsgTpgAmY7PhCfg==").is_err());
        assert!(checksum(ChecksumMode::Off, "1B2M2Y8AsgTpgAmY7PhCfg==").is_err());
        for bad in ["", "47DEQpj8HBSa", "not base64 at all!", "AAAA"] {
            assert!(checksum_sha256(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn content_types() {
        assert_eq!(content_type("").unwrap(), "application/octet-stream");
        assert_eq!(content_type("image/png").unwrap(), "image/png");
        assert_eq!(content_type("text/plain; charset=utf-8").unwrap(), "text/plain; charset=utf-8");
        for bad in ["png", "image/", "/png", "text/plain\r\nX-Evil: 1", "a b/c"] {
            assert!(content_type(bad).is_err(), "{bad:?}");
        }
    }

    fn invoice_id() -> Field {
        Field {
            name: "invoice-id".into(),
            required: true,
            max_len: Some(8),
            values: Vec::new(),
            chars: Chars::Digits,
        }
    }

    #[test]
    fn fields_are_required_bounded_and_of_their_characters() {
        let field = invoice_id();
        assert_eq!(field.refusal(None).unwrap(), "invoice-id is required");
        assert_eq!(field.refusal(Some("")).unwrap(), "invoice-id is required");
        assert_eq!(field.refusal(Some("12a")).unwrap(), "invoice-id: digits only");
        assert_eq!(field.refusal(Some("123456789")).unwrap(), "invoice-id is at most 8 characters");
        assert_eq!(field.refusal(Some("12345678")), None);
        let kind = Field {
            name: "kind".into(),
            required: false,
            max_len: None,
            values: vec!["paid".into(), "due".into()],
            chars: Chars::Word,
        };
        assert_eq!(kind.refusal(None), None);
        assert_eq!(kind.refusal(Some("late")).unwrap(), "kind must be one of: paid, due");
        assert_eq!(kind.refusal(Some("due")), None);
        assert!(Chars::Printable.allows(' ') && !Chars::Printable.allows('é'));
        assert!(!Chars::Printable.allows('\n') && !Chars::Word.allows(' '));
    }

    #[test]
    fn profile_names_are_path_segments_that_never_look_like_a_directory() {
        for ok in ["avatars", "invoices-2026", "v"] {
            assert_eq!(profile_name_refusal(ok), None, "{ok}");
        }
        for bad in ["", "Avatars", "9lives", "a/b", "..", "ffff0000", &"a".repeat(33), "-x"] {
            assert!(profile_name_refusal(bad).is_some(), "{bad:?}");
        }
        assert_eq!(profile_name(""), DEFAULT_PROFILE);
        assert_eq!(profile_name("avatars"), "avatars");
    }

    #[test]
    fn sizes_below_the_minimum_are_refused_in_human_units() {
        let profile = Profile {
            name: "invoices".into(),
            allowed_types: vec!["application/pdf".into()],
            min_bytes: 1024,
            max_bytes: 20 << 20,
            checksum_max_bytes: 256 << 20,
            multipart_threshold: 100 << 20,
            files_per_minute: 60,
            files_per_day: None,
            fields: vec![invoice_id()],
        };
        assert_eq!(
            profile.size_refusal(10).unwrap(),
            "the file is 10 B; files here must be at least 1.0 KiB"
        );
        assert!(profile.size_refusal(0).unwrap().contains("empty"));
        assert!(profile.size_refusal(21 << 20).unwrap().contains("at most 20.0 MiB"));
        assert_eq!(profile.size_refusal(1024), None);
        assert!(profile.type_refusal("image/png").is_some());
        let mut metadata = BTreeMap::new();
        assert_eq!(profile.fields_refusal(&metadata).unwrap(), "invoice-id is required");
        metadata.insert("invoice-id".to_string(), "42".to_string());
        assert_eq!(profile.fields_refusal(&metadata), None);
        assert!(!profile.takes_any_file());
    }

    #[test]
    fn origins_are_as_browsers_write_them() {
        assert_eq!(origin("https://App.Example/").as_deref(), Some("https://app.example"));
        assert_eq!(origin("http://localhost:3200").as_deref(), Some("http://localhost:3200"));
        assert_eq!(origin("https://app.example:443").as_deref(), Some("https://app.example"));
        assert_eq!(origin("http://[::1]:3000").as_deref(), Some("http://[::1]:3000"));
        for bad in [
            "app.example",
            "https://app.example/page",
            "ftp://x",
            "https://",
            "https://a b",
            "https://*",
            "https://*.app.example",
            "https://x@y",
            "https://a:",
            "https://..",
            "https://[",
            "https://a.example:99999",
            "https://a.example, https://b.example",
        ] {
            assert_eq!(origin(bad), None, "{bad}");
        }
    }
}
