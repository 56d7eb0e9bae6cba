//! Checks on what the browser says about a file, before anything is signed. Each refusal
//! carries a message meant for the person uploading.

use crate::policy::{MAX_METADATA_BYTES, MAX_POST_OBJECT_SIZE};

/// Longest file name kept in a key, in bytes (S3 keys go up to 1024).
const MAX_NAME_BYTES: usize = 200;

/// A file name made safe to be the last segment of a key: no directories, no control or
/// bidi-override characters, never `.` or `..`, at most [`MAX_NAME_BYTES`].
pub fn file_name(raw: &str) -> Result<String, String> {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = base.chars().filter(|c| !c.is_control() && !is_bidi_control(*c)).collect();
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
    Ok(name)
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{061C}')
}

/// A size a single POST can carry: 1 byte to 5 GiB.
pub fn size(bytes: u64) -> Result<u64, String> {
    match bytes {
        0 => Err("empty files cannot be uploaded".into()),
        n if n > MAX_POST_OBJECT_SIZE => Err(format!(
            "the file is {n} bytes; one upload can carry at most 5 GiB ({MAX_POST_OBJECT_SIZE} bytes)"
        )),
        n => Ok(n),
    }
}

/// A MIME type as `type/subtype[; params]`; empty (browsers' "unknown") becomes
/// `application/octet-stream`, which is what then gets signed and sent.
pub fn content_type(raw: &str) -> Result<String, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok("application/octet-stream".into());
    }
    let essence = raw.split(';').next().unwrap_or_default().trim();
    let token = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$&^_.+-".contains(&b));
    let valid = raw.len() <= 255
        && raw.bytes().all(|b| (0x20..0x7f).contains(&b))
        && matches!(essence.split_once('/'), Some((t, s)) if token(t) && token(s));
    if valid {
        Ok(raw.to_owned())
    } else {
        Err(format!("{raw:?} is not a valid content type"))
    }
}

/// Most metadata entries one upload may carry.
const MAX_METADATA_ENTRIES: usize = 8;

/// User metadata as S3 stores it in headers: names of lowercase letters, digits and `-`
/// (S3 lowercases names anyway), printable ASCII values, 2 KB in all.
pub fn metadata(entries: &std::collections::BTreeMap<String, String>) -> Result<Vec<(String, String)>, String> {
    if entries.len() > MAX_METADATA_ENTRIES {
        return Err(format!("at most {MAX_METADATA_ENTRIES} metadata entries can be stored with a file"));
    }
    let mut total = 0;
    for (name, value) in entries {
        let name_ok = (1..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !name_ok {
            return Err(format!("{name:?} is not a usable metadata name (1-64 lowercase letters, digits, hyphens)"));
        }
        if !value.bytes().all(|b| (0x20..0x7f).contains(&b)) {
            return Err(format!("the metadata {name:?} must be printable ASCII"));
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn unusable_names_are_refused() {
        for raw in ["", "   ", ".", "..", "dir/", "a/..", "\u{202E}\u{200F}"] {
            assert!(file_name(raw).is_err(), "{raw:?}");
        }
    }

    #[test]
    fn long_names_are_cut_on_a_character_boundary() {
        let name = file_name(&"é".repeat(300)).unwrap();
        assert!(name.len() <= MAX_NAME_BYTES && name.chars().all(|c| c == 'é'));
    }

    #[test]
    fn sizes_from_one_byte_to_five_gib() {
        assert!(size(0).is_err());
        assert_eq!(size(1), Ok(1));
        assert_eq!(size(MAX_POST_OBJECT_SIZE), Ok(MAX_POST_OBJECT_SIZE));
        assert!(size(MAX_POST_OBJECT_SIZE + 1).unwrap_err().contains("5 GiB"));
    }

    #[test]
    fn metadata_names_values_and_sizes() {
        let of = |pairs: &[(&str, &str)]| pairs.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect();
        assert_eq!(metadata(&of(&[("file-last-modified", "2026-11-28T12:00:00Z")])).unwrap().len(), 1);
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
        let many: std::collections::BTreeMap<String, String> = (0..9).map(|i| (format!("m{i}"), "v".into())).collect();
        assert!(metadata(&many).unwrap_err().contains("at most 8"));
    }

    #[test]
    fn checksums_are_32_bytes_of_base64() {
        assert!(checksum_sha256("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=").is_ok());
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
}
