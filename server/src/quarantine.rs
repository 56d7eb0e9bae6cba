//! Where an upload of a profile with `quarantine = true` lives while it is checked, pure.
//!
//! It is signed for a key under its uploader's staging prefix, `uploads/.staging/<id>/...`:
//! one of the two prefixes their STS credentials are scoped to (the browser writes there as it
//! writes anywhere), but under no listing's prefix, so no "Your uploads" lists it and no view
//! link is made for it; and one prefix for every uploader, so that one lifecycle rule expires
//! what is left there (`server lifecycle`). Once every check passes, the server copies it to
//! its final key, `uploads/<id>/...` (the same key without `.staging/`), and removes the staged
//! one (`uploads::promote`). A file a check refuses is moved
//! to `quarantine/<id>/...`, outside every uploader's prefix, for the operator to inspect, or
//! removed ([`Refused`]). The dev bucket serves neither prefix; an S3 bucket serves nothing
//! without a presigned link, and none is made for them.

use std::str::FromStr;

/// The directory of `uploads/` that staged uploads go to, under their uploader's id (no
/// uploader id starts with a dot).
pub const STAGING: &str = ".staging";

/// Where every staged upload is.
pub const STAGING_PREFIX: &str = "uploads/.staging/";

/// Where refused files are kept, outside every uploader's prefix.
pub const QUARANTINE_PREFIX: &str = "quarantine/";

/// `quarantine_refused`: what becomes of a file a check refuses in a quarantined profile.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Refused {
    /// Moved to [`QUARANTINE_PREFIX`], where the operator can look at it.
    #[default]
    Keep,
    /// Removed from the bucket.
    Remove,
}

impl FromStr for Refused {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, String> {
        match value {
            "keep" => Ok(Self::Keep),
            "remove" => Ok(Self::Remove),
            other => Err(format!("expected \"keep\" or \"remove\", got {other:?}")),
        }
    }
}

/// `uploads/<id>/<rest>`'s id and rest, for a key under an uploader's prefix.
fn uploader_and_rest(key: &str) -> Option<(&str, &str)> {
    let rest = key.strip_prefix("uploads/")?;
    let (id, rest) = rest.split_once('/')?;
    (!id.is_empty()).then_some((id, rest))
}

/// The staged form of `directory` (`uploads/<id>/<rest>` -> `uploads/.staging/<id>/<rest>`).
pub fn staged(directory: &str) -> String {
    match uploader_and_rest(directory) {
        Some((id, rest)) => format!("{STAGING_PREFIX}{id}/{rest}"),
        None => directory.to_owned(),
    }
}

/// `uploader`'s staging prefix, `uploads/.staging/<id>/`.
pub fn staging_prefix(uploader: &str) -> String {
    format!("{STAGING_PREFIX}{uploader}/")
}

/// A staged key's (or directory's) `<id>` and what follows it; `None` when it is not staged.
fn staged_parts(key: &str) -> Option<(&str, &str)> {
    let (id, rest) = key.strip_prefix(STAGING_PREFIX)?.split_once('/')?;
    (!id.is_empty()).then_some((id, rest))
}

/// Whether `key` (or a directory) is under an uploader's staging prefix.
pub fn is_staged(key: &str) -> bool {
    staged_parts(key).is_some()
}

/// Where a staged upload goes once it passes: `uploads/<id>/<rest>`.
pub fn promoted(key: &str) -> Option<String> {
    staged_parts(key).map(|(id, rest)| format!("uploads/{id}/{rest}"))
}

/// Where a staged upload that was refused is kept: `quarantine/<id>/<rest>`.
pub fn quarantined(key: &str) -> Option<String> {
    staged_parts(key).map(|(id, rest)| format!("{QUARANTINE_PREFIX}{id}/{rest}"))
}

/// Whether `key` is held back from every reader: staged, or in quarantine.
pub fn is_held(key: &str) -> bool {
    is_staged(key) || key.starts_with(QUARANTINE_PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_staged_key_has_one_final_key_and_one_quarantine_key() {
        let dir = "uploads/0123/invoices/ffff00aa/";
        assert_eq!(staged(dir), "uploads/.staging/0123/invoices/ffff00aa/");
        assert!(staged(dir).starts_with(&staging_prefix("0123")));
        let key = format!("{}a.pdf", staged(dir));
        assert!(is_staged(&key) && is_held(&key));
        assert_eq!(promoted(&key).unwrap(), "uploads/0123/invoices/ffff00aa/a.pdf");
        assert_eq!(quarantined(&key).unwrap(), "quarantine/0123/invoices/ffff00aa/a.pdf");
        assert!(is_held("quarantine/0123/invoices/ffff00aa/a.pdf"));
    }

    #[test]
    fn keys_not_staged_are_left_alone() {
        for key in [
            "uploads/0123/ffff00aa/a.pdf",
            "uploads/0123/.staging/a.pdf",
            "uploads/.stagingx/0123/a.pdf",
            "uploads/.staging//a.pdf",
            "uploads/.staging/0123",
            "other/.staging/0123/a.pdf",
        ] {
            assert!(!is_staged(key), "{key}");
            assert_eq!(promoted(key), None, "{key}");
            assert_eq!(quarantined(key), None, "{key}");
        }
        assert!(!is_held("uploads/0123/ffff00aa/a.pdf"));
        assert_eq!(staged("elsewhere/a/"), "elsewhere/a/");
    }

    #[test]
    fn the_refused_setting_reads_its_two_words() {
        assert_eq!("keep".parse(), Ok(Refused::Keep));
        assert_eq!("remove".parse(), Ok(Refused::Remove));
        assert!("delete".parse::<Refused>().unwrap_err().contains("\"keep\" or \"remove\""));
    }
}
