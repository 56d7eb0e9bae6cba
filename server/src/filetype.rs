//! What a file really is, pure: before an upload is verified, its first bytes (a ranged GET of
//! [`SNIFF_BYTES`], never the whole object: `uploads::content`) are matched against the magic numbers of known types
//! (`infer`) and against the type it was declared and signed with. The policy binds the declared
//! `Content-Type`, so the bucket stores exactly the bytes that were signed; this is what says
//! that a file declared `image/jpeg` is a JPEG.
//!
//! Per profile (`content_check`, default `UPLOAD_CONTENT_CHECK`, itself `lenient`):
//! - `off`: no check, no read.
//! - `lenient`: a type with magic numbers must match them; the text types in
//!   [`WITHOUT_MAGIC`] pass on their declared type unless the bytes are a binary format;
//!   `application/octet-stream` (which declares nothing, and is served as a download) passes; any
//!   other type passes unless the bytes are another known type.
//! - `strict`: the bytes must be the declared type, and must not carry markup a browser would
//!   run ([`MARKUP`]) in their first 4 KB.

use std::str::FromStr;

use app::rules::UNKNOWN_TYPE;

/// How much of a file is read to tell what it is.
pub const SNIFF_BYTES: u64 = 4096;

/// Types with no magic number: text, told apart only by what the uploader says.
pub const WITHOUT_MAGIC: [&str; 7] = [
    "text/plain",
    "text/csv",
    "text/tab-separated-values",
    "text/markdown",
    "application/json",
    "application/x-ndjson",
    "text/calendar",
];

/// Markup a browser would run, looked for (case-insensitively) in a strict profile's files.
pub const MARKUP: [&str; 4] = ["<html", "<script", "<svg", "<?xml"];

/// `content_check`: how a profile's files are checked against their declared type.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ContentCheck {
    Strict,
    #[default]
    Lenient,
    Off,
}

impl FromStr for ContentCheck {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, String> {
        match value {
            "strict" => Ok(Self::Strict),
            "lenient" => Ok(Self::Lenient),
            "off" => Ok(Self::Off),
            other => Err(format!("expected \"strict\", \"lenient\" or \"off\", got {other:?}")),
        }
    }
}

/// The type `mime` names, as infer names it (lowercase, without parameters, the common aliases
/// browsers send folded into one).
fn canonical(mime: &str) -> String {
    let mime = mime.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    let same = match mime.as_str() {
        "image/jpg" | "image/pjpeg" => "image/jpeg",
        "application/x-zip-compressed" | "application/x-zip" => "application/zip",
        "audio/mp3" | "audio/x-mpeg" => "audio/mpeg",
        "audio/wav" | "audio/wave" | "audio/vnd.wave" => "audio/x-wav",
        "audio/flac" => "audio/x-flac",
        "application/x-pdf" => "application/pdf",
        other => return other.to_owned(),
    };
    same.to_owned()
}

/// `mime` in words, for a refusal.
fn described(mime: &str) -> String {
    let words = match mime {
        "image/jpeg" => "a JPEG image",
        "image/png" => "a PNG image",
        "image/gif" => "a GIF image",
        "image/webp" => "a WebP image",
        "image/avif" => "an AVIF image",
        "image/heif" => "a HEIF image",
        "image/svg+xml" => "an SVG image",
        "application/pdf" => "a PDF document",
        "application/zip" => "a ZIP archive",
        "application/gzip" => "a gzip archive",
        "application/x-executable" => "an executable program (ELF)",
        "application/vnd.microsoft.portable-executable" => "a Windows program",
        "application/wasm" => "a WebAssembly module",
        "text/html" => "an HTML page",
        "text/xml" => "an XML document",
        "text/x-shellscript" => "a shell script",
        "text/plain" => "plain text",
        "text/csv" => "a CSV file",
        "application/json" => "JSON",
        "video/mp4" => "an MP4 video",
        "audio/mpeg" => "an MP3 audio file",
        other => return format!("a file of type {other}"),
    };
    words.to_owned()
}

/// What `head` (a file's first bytes) is, by its magic numbers, if anything known.
fn detected(head: &[u8]) -> Option<&'static str> {
    infer::get(head).map(|kind| kind.mime_type())
}

/// The first markup of [`MARKUP`] in `head`, if any.
fn markup(head: &[u8]) -> Option<&'static str> {
    let lower = head.to_ascii_lowercase();
    MARKUP.into_iter().find(|tag| lower.windows(tag.len()).any(|w| w == tag.as_bytes()))
}

/// Why a file declared `declared` whose first bytes are `head` is refused under `check`, in
/// words the uploader reads; `None` when it passes.
pub fn refusal(check: ContentCheck, declared: &str, head: &[u8]) -> Option<String> {
    if check == ContentCheck::Off {
        return None;
    }
    let declared = canonical(declared);
    let found = detected(head);
    let not_what_it_says = || {
        let what = found.map_or("its content matches no type the service knows".into(), |f| {
            format!("its content is {}", described(f))
        });
        Some(format!("this file is not {} ({what})", described(&declared)))
    };
    match check {
        ContentCheck::Off => None,
        ContentCheck::Strict => {
            if found != Some(declared.as_str()) {
                return not_what_it_says();
            }
            markup(head).map(|tag| {
                format!(
                    "this file is {} but carries markup a browser would run ({tag} in its first \
                     {SNIFF_BYTES} bytes)",
                    described(&declared)
                )
            })
        }
        ContentCheck::Lenient => {
            if declared == UNKNOWN_TYPE {
                return None;
            }
            if WITHOUT_MAGIC.contains(&declared.as_str()) {
                // Text: anything but a binary format.
                return match found {
                    Some(f) if !f.starts_with("text/") => not_what_it_says(),
                    _ => None,
                };
            }
            match found {
                Some(f) if f == declared => None,
                // A type infer knows must show its magic numbers.
                None if !infer::is_mime_supported(&declared) => None,
                _ => not_what_it_says(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0";
    const JPEG: &[u8] = b"\xff\xd8\xff\xe0\0\x10JFIF\0\x01\x01\0\0\x01\0\x01\0\0";
    /// An ELF header (the matcher wants more than 52 bytes).
    const ELF: &[u8] = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x02\0\x3e\0\x01\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0";
    const HTML: &[u8] = b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>";
    const SVG: &[u8] = b"<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"alert(1)\"/>";

    #[test]
    fn a_file_of_its_declared_type_passes_and_another_is_refused_in_words() {
        use ContentCheck::*;
        for check in [Strict, Lenient] {
            assert_eq!(refusal(check, "image/png", PNG), None);
            assert_eq!(refusal(check, "image/jpeg", JPEG), None);
            assert_eq!(refusal(check, "IMAGE/JPG; x=y", JPEG), None, "an alias, any case");
        }
        for check in [Strict, Lenient] {
            assert_eq!(
                refusal(check, "image/jpeg", HTML).as_deref(),
                Some("this file is not a JPEG image (its content is an HTML page)")
            );
            let svg = refusal(check, "image/jpeg", SVG).unwrap();
            assert!(svg.starts_with("this file is not a JPEG image ("), "{svg}");
            assert_eq!(
                refusal(check, "image/png", ELF).as_deref(),
                Some("this file is not a PNG image (its content is an executable program (ELF))")
            );
        }
        assert_eq!(refusal(Off, "image/png", ELF), None, "off checks nothing");
    }

    #[test]
    fn lenient_takes_text_as_declared_unless_it_is_a_binary_format() {
        let csv = b"id,name\n1,a\n2,b\n";
        assert_eq!(refusal(ContentCheck::Lenient, "text/csv", csv), None);
        assert_eq!(refusal(ContentCheck::Lenient, "text/plain", HTML), None, "shown as text");
        let elf = refusal(ContentCheck::Lenient, "text/plain", ELF).unwrap();
        assert!(elf.starts_with("this file is not plain text"), "{elf}");
        // Strict: text has no magic number to show.
        assert!(refusal(ContentCheck::Strict, "text/csv", csv).is_some());
        // A type infer does not know passes unless its bytes are another known type.
        assert_eq!(refusal(ContentCheck::Lenient, "application/x-thing", b"anything"), None);
        assert!(refusal(ContentCheck::Lenient, "application/x-thing", PNG).is_some());
        assert_eq!(refusal(ContentCheck::Lenient, UNKNOWN_TYPE, ELF), None, "declares nothing");
    }

    #[test]
    fn strict_refuses_runnable_markup_behind_the_right_magic_numbers() {
        let mut polyglot = JPEG.to_vec();
        polyglot.extend_from_slice(b"\0\0<SCRIPT>alert(1)</script>");
        let refused = refusal(ContentCheck::Strict, "image/jpeg", &polyglot).unwrap();
        assert!(refused.contains("markup a browser would run (<script"), "{refused}");
        assert_eq!(refusal(ContentCheck::Lenient, "image/jpeg", &polyglot), None);
    }

    #[test]
    fn the_setting_reads_its_three_words_only() {
        assert_eq!("strict".parse(), Ok(ContentCheck::Strict));
        assert_eq!("off".parse(), Ok(ContentCheck::Off));
        assert!("Strict".parse::<ContentCheck>().unwrap_err().contains("\"lenient\""));
    }
}
