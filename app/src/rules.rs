//! What may be uploaded, decided the same way on both sides: the page refuses a file before
//! asking for a signature, with the message the server would give, and the server (which
//! decides) uses the same functions.

use crate::format::human_bytes;

/// The type a file is signed and stored as: browsers report "" for unknown extensions.
pub fn effective_type(browser_type: &str) -> &str {
    match browser_type.trim() {
        "" => "application/octet-stream",
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
        n if n > max_bytes => Some(format!("the file is {}; files here can be at most {}", human_bytes(n), human_bytes(max_bytes))),
        _ => None,
    }
}

/// Why a file of `content_type` cannot be uploaded, if it cannot.
pub fn type_refusal(allowed: &[String], content_type: &str) -> Option<String> {
    (!type_allowed(allowed, content_type))
        .then(|| format!("files of type {content_type} are not accepted here (allowed: {})", allowed.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(size_refusal(3 << 20, 1 << 20).unwrap(), "the file is 3.0 MiB; files here can be at most 1.0 MiB");
        assert!(size_refusal(0, 10).is_some());
        assert!(size_refusal(10, 10).is_none());
        assert_eq!(effective_type(""), "application/octet-stream");
        assert_eq!(
            type_refusal(&["image/*".into()], "text/html").unwrap(),
            "files of type text/html are not accepted here (allowed: image/*)"
        );
    }
}
