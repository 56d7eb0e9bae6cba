//! What a file really is, pure: before an upload is verified, its first bytes (a ranged GET of
//! [`SNIFF_BYTES`], never the whole object: `uploads::content`) are matched against the magic
//! numbers of known types (`infer`) and against the type it was declared and signed with. The
//! policy binds the declared `Content-Type`, so the bucket stores exactly the bytes that were
//! signed; this is what says that a file declared `image/jpeg` is a JPEG.
//!
//! Types are compared by [`family`]: the names browsers send and the one `infer` answers differ
//! for one format (`image/x-icon`, `image/vnd.microsoft.icon`), and one container holds several
//! (a `.docx` is a ZIP archive, a `.m4a` an ISO media file), which four kilobytes cannot always
//! tell apart. Per profile (`content_check`, default `UPLOAD_CONTENT_CHECK`, itself `lenient`):
//! - `off`: no check, no read.
//! - `lenient`: what the bytes show must be of the declared type's family. Text ([`is_text`])
//!   has no magic numbers and passes as declared, as does `application/octet-stream` (which
//!   declares nothing, and is served as a download). Bytes that show nothing pass, but for the
//!   types whose magic numbers are never missing ([`ALWAYS_MARKED`]). A type this table does not
//!   know passes unless its bytes are a program or markup.
//! - `strict`: the bytes must show the declared type (text: no NUL byte, valid UTF-8 or a UTF-16
//!   mark), and must not carry markup a browser would run ([`MARKUP`]) in their first 4 KB.

use std::str::FromStr;

use app::rules::UNKNOWN_TYPE;

/// How much of a file is read to tell what it is.
pub const SNIFF_BYTES: u64 = 4096;

/// The family of text, which has no magic numbers.
const TEXT: &str = "text";
/// The family of programs.
const PROGRAM: &str = "program";

/// Families whose files always start with their magic numbers: one that shows none is not one.
pub const ALWAYS_MARKED: [&str; 5] = ["jpeg", "png", "gif", "webp", "pdf"];

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

/// `mime` lowercase, without its parameters.
fn bare(mime: &str) -> String {
    mime.split(';').next().unwrap_or_default().trim().to_ascii_lowercase()
}

/// Whether `mime` is text: no magic numbers to show.
pub fn is_text(mime: &str) -> bool {
    mime.starts_with("text/")
        || mime.ends_with("+xml")
        || mime.ends_with("+json")
        || matches!(
            mime,
            "application/json"
                | "application/x-ndjson"
                | "application/xml"
                | "application/javascript"
                | "application/x-javascript"
                | "application/ecmascript"
                | "application/x-sh"
                | "application/x-csh"
                | "application/x-httpd-php"
                | "application/sql"
                | "application/yaml"
                | "application/x-yaml"
                | "application/toml"
                | "application/x-subrip"
        )
}

/// The family of the format `mime` names, whichever of its names it is (what browsers declare,
/// what `infer` answers); `None` for a type this table does not know.
pub fn family(mime: &str) -> Option<&'static str> {
    let family = match mime {
        "image/jpeg" | "image/jpg" | "image/pjpeg" => "jpeg",
        "image/png" | "image/apng" => "png",
        "image/gif" => "gif",
        "image/webp" => "webp",
        "image/bmp" | "image/x-bmp" | "image/x-ms-bmp" => "bmp",
        "image/tiff" | "image/x-canon-cr2" | "image/x-adobe-dng" | "image/x-nikon-nef" => "tiff",
        "image/x-icon" | "image/vnd.microsoft.icon" => "ico",
        // ISO base media: one box structure for pictures, video and sound.
        "image/heic"
        | "image/heif"
        | "image/heic-sequence"
        | "image/heif-sequence"
        | "image/avif"
        | "video/mp4"
        | "video/quicktime"
        | "video/x-m4v"
        | "video/3gpp"
        | "video/3gpp2"
        | "audio/mp4"
        | "audio/m4a"
        | "audio/x-m4a"
        | "audio/3gpp" => "iso-media",
        "video/webm" | "audio/webm" | "video/x-matroska" | "audio/x-matroska" => "ebml",
        "audio/ogg" | "video/ogg" | "application/ogg" | "audio/opus" => "ogg",
        "audio/mpeg" | "audio/mp3" | "audio/x-mpeg" | "audio/mpeg3" => "mp3",
        "audio/aac" | "audio/x-aac" => "aac",
        "audio/wav" | "audio/x-wav" | "audio/wave" | "audio/vnd.wave" => "wav",
        "audio/flac" | "audio/x-flac" => "flac",
        "audio/aiff" | "audio/x-aiff" => "aiff",
        "video/x-msvideo" | "video/avi" => "avi",
        "video/x-ms-wmv" | "video/x-ms-asf" | "audio/x-ms-wma" => "asf",
        // Illustrator files are PDFs declared as PostScript.
        "application/pdf" | "application/x-pdf" | "application/postscript" => "pdf",
        "application/zip"
        | "application/x-zip-compressed"
        | "application/x-zip"
        | "application/epub+zip"
        | "application/java-archive"
        | "image/openraster"
        | "application/vnd.android.package-archive"
        | "application/vnd.google-earth.kmz" => "zip",
        m if m.starts_with("application/vnd.openxmlformats-officedocument.")
            || m.starts_with("application/vnd.oasis.opendocument.")
            || (m.starts_with("application/vnd.ms-") && m.ends_with(".macroenabled.12")) =>
        {
            "zip"
        }
        // OLE compound files: Office before 2007, Outlook messages, installers.
        "application/msword"
        | "application/vnd.ms-excel"
        | "application/vnd.ms-powerpoint"
        | "application/vnd.ms-outlook"
        | "application/x-msi"
        | "application/x-ole-storage"
        | "application/vnd.visio" => "ole",
        "application/gzip" | "application/x-gzip" => "gzip",
        "application/vnd.rar" | "application/x-rar-compressed" | "application/x-rar" => "rar",
        "application/x-7z-compressed" => "7z",
        "font/woff" | "font/woff2" | "application/font-woff" => "woff",
        "font/ttf"
        | "font/otf"
        | "font/sfnt"
        | "application/font-sfnt"
        | "application/x-font-ttf"
        | "application/x-font-otf" => "sfnt",
        "application/x-executable"
        | "application/vnd.microsoft.portable-executable"
        | "application/x-msdownload"
        | "application/x-dosexec"
        | "application/x-mach-binary"
        | "application/x-sharedlib"
        | "application/wasm"
        | "application/java"
        | "application/vnd.android.dex" => PROGRAM,
        m if is_text(m) => TEXT,
        _ => return None,
    };
    Some(family)
}

/// Whether two types name one format (of one [`family`], or one type this table does not know).
fn same_format(a: &str, b: &str) -> bool {
    family(a).unwrap_or(a) == family(b).unwrap_or(b)
}

/// Whether `head` reads as text: no NUL byte, and UTF-8 (its last character may be cut) or
/// marked as UTF-16.
fn looks_like_text(head: &[u8]) -> bool {
    if head.starts_with(&[0xFF, 0xFE]) || head.starts_with(&[0xFE, 0xFF]) {
        return true;
    }
    !head.contains(&0)
        && match std::str::from_utf8(head) {
            Ok(_) => true,
            Err(cut) => cut.error_len().is_none(),
        }
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
    let declared = bare(declared);
    let found = match check {
        ContentCheck::Off => return None,
        _ => detected(head),
    };
    let not = |what: String| Some(format!("this file is not {} ({what})", described(&declared)));
    let shows = |found: Option<&str>| match found {
        Some(f) => format!("its content is {}", described(f)),
        None => "its content shows no type the service knows".into(),
    };
    let text = family(&declared) == Some(TEXT);
    match check {
        ContentCheck::Off => None,
        ContentCheck::Lenient => {
            if declared == UNKNOWN_TYPE || text {
                return None;
            }
            let known = family(&declared).is_some();
            match found {
                None if ALWAYS_MARKED.contains(&family(&declared).unwrap_or_default()) => {
                    not(shows(None))
                }
                None => None,
                Some(f) if same_format(f, &declared) => None,
                // A type the table knows, shown to be another.
                Some(f) if known => not(shows(Some(f))),
                // One it does not know: refused only for what would do harm as it.
                Some(f) if matches!(family(f), Some(PROGRAM | TEXT)) => not(shows(Some(f))),
                Some(_) => None,
            }
        }
        ContentCheck::Strict => {
            if declared == UNKNOWN_TYPE {
                return Some(
                    "this file declares no type, and only files whose content shows their type \
                     are taken here"
                        .into(),
                );
            }
            let shown = match (text, found) {
                (true, _) => looks_like_text(head),
                (false, Some(f)) => same_format(f, &declared),
                (false, None) => false,
            };
            if !shown {
                return match (text, found) {
                    (true, None) => not("its content is binary".into()),
                    _ => not(shows(found)),
                };
            }
            markup(head).map(|tag| {
                format!(
                    "this file is {} but carries markup a browser would run ({tag} in its first \
                     {SNIFF_BYTES} bytes)",
                    described(&declared)
                )
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ContentCheck::{Lenient, Off, Strict};

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0";
    const JPEG: &[u8] = b"\xff\xd8\xff\xe0\0\x10JFIF\0\x01\x01\0\0\x01\0\x01\0\0";
    /// An ELF header (the matcher wants more than 52 bytes).
    const ELF: &[u8] = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x02\0\x3e\0\x01\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0";
    const HTML: &[u8] = b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>";
    const SVG: &[u8] = b"<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"alert(1)\"/>";
    /// An OLE compound file's header: Excel 97-2003, Word, Outlook.
    const OLE: &[u8] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0";

    /// A ZIP archive whose first entry says nothing of what it is (a .docx not written by Office).
    fn zip() -> Vec<u8> {
        let mut zip = b"PK\x03\x04\x14\0\0\0\x08\0".to_vec();
        zip.extend_from_slice(&[0; 20]);
        zip.extend_from_slice(b"content.xml");
        zip
    }

    /// An ISO media file of `brand` (HEIC, M4A, MP4...).
    fn iso(brand: &[u8; 4]) -> Vec<u8> {
        let mut file = b"\0\0\0\x18ftyp".to_vec();
        file.extend_from_slice(brand);
        file.extend_from_slice(b"\0\0\0\0mif1heic");
        file
    }

    #[test]
    fn a_file_of_its_declared_type_passes_and_another_is_refused_in_words() {
        for check in [Strict, Lenient] {
            assert_eq!(refusal(check, "image/png", PNG), None);
            assert_eq!(refusal(check, "image/jpeg", JPEG), None);
            assert_eq!(refusal(check, "IMAGE/JPG; x=y", JPEG), None, "an alias, any case");
            assert_eq!(
                refusal(check, "image/jpeg", HTML).as_deref(),
                Some("this file is not a JPEG image (its content is an HTML page)")
            );
            assert_eq!(
                refusal(check, "image/jpeg", SVG).as_deref(),
                Some("this file is not a JPEG image (its content shows no type the service knows)")
            );
            assert_eq!(
                refusal(check, "image/png", ELF).as_deref(),
                Some("this file is not a PNG image (its content is an executable program (ELF))")
            );
        }
        assert_eq!(refusal(Off, "image/png", ELF), None, "off checks nothing");
    }

    #[test]
    fn one_format_under_any_of_its_names_or_containers_passes() {
        for check in [Strict, Lenient] {
            for declared in [
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                "application/vnd.oasis.opendocument.text",
                "application/epub+zip",
                "application/x-zip-compressed",
            ] {
                assert_eq!(refusal(check, declared, &zip()), None, "{declared}");
            }
            for declared in
                ["application/vnd.ms-excel", "application/msword", "application/vnd.ms-outlook"]
            {
                assert_eq!(refusal(check, declared, OLE), None, "{declared}");
            }
            for declared in
                ["image/heic", "image/heif", "audio/x-m4a", "video/mp4", "video/quicktime"]
            {
                assert_eq!(refusal(check, declared, &iso(b"heic")), None, "{declared}");
            }
            assert_eq!(refusal(check, "image/x-icon", b"\0\0\x01\0\x01\0\x10\x10\0\0\x01\0"), None);
        }
        // A CSV that Windows declares as Excel's: nothing to show, nothing contradicted.
        assert_eq!(refusal(Lenient, "application/vnd.ms-excel", b"id,name\n1,a\n"), None);
        assert!(refusal(Lenient, "application/zip", PNG).is_some(), "another format is not one");
    }

    #[test]
    fn lenient_takes_text_and_what_it_does_not_know_as_declared_unless_it_is_a_program() {
        let csv = b"id,name\n1,a\n2,b\n";
        for declared in ["text/csv", "text/plain", "image/svg+xml", "application/json", "text/html"]
        {
            assert_eq!(refusal(Lenient, declared, csv), None, "{declared}");
        }
        // A CSV that starts like a bitmap, or random bytes: text has nothing to show.
        assert_eq!(refusal(Lenient, "text/csv", b"BM,MAC Address\n"), None);
        assert_eq!(refusal(Lenient, "text/plain", ELF), None, "served as text, harmless");
        assert_eq!(refusal(Lenient, "application/x-thing", b"anything"), None);
        assert_eq!(refusal(Lenient, "application/x-thing", PNG), None);
        assert!(refusal(Lenient, "application/x-thing", ELF).is_some(), "a program");
        assert!(refusal(Lenient, "application/x-thing", HTML).is_some(), "markup");
        assert_eq!(refusal(Lenient, UNKNOWN_TYPE, ELF), None, "declares nothing");
        // Types whose magic numbers may be missing pass when none shows.
        assert_eq!(refusal(Lenient, "audio/mpeg", b"\xff\xe3\x18\xc4"), None);
    }

    #[test]
    fn strict_wants_the_type_shown_and_no_runnable_markup() {
        let mut polyglot = JPEG.to_vec();
        polyglot.extend_from_slice(b"\0\0<SCRIPT>alert(1)</script>");
        let refused = refusal(Strict, "image/jpeg", &polyglot).unwrap();
        assert!(refused.contains("markup a browser would run (<script"), "{refused}");
        assert_eq!(refusal(Lenient, "image/jpeg", &polyglot), None);
        // Text shows itself by being text.
        assert_eq!(refusal(Strict, "text/csv", b"id,name\n1,caf\xc3\xa9\n"), None);
        assert_eq!(
            refusal(Strict, "text/plain", b"a\0b").as_deref(),
            Some("this file is not plain text (its content is binary)")
        );
        assert!(refusal(Strict, "text/plain", ELF).unwrap().contains("executable program"));
        assert!(refusal(Strict, "text/plain", b"hi <script>").unwrap().contains("markup"));
        assert!(refusal(Strict, UNKNOWN_TYPE, PNG).unwrap().contains("declares no type"));
        assert!(refusal(Strict, "audio/mpeg", b"\xff\xe3\x18\xc4").is_some(), "nothing shown");
        // Four kilobytes may end inside a character.
        assert_eq!(refusal(Strict, "text/plain", b"caf\xc3"), None);
    }

    #[test]
    fn the_setting_reads_its_three_words_only() {
        assert_eq!("strict".parse(), Ok(Strict));
        assert_eq!("off".parse(), Ok(Off));
        assert!("Strict".parse::<ContentCheck>().unwrap_err().contains("\"lenient\""));
    }
}
