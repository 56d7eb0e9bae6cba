//! Stores the dev bucket can answer as (`UPLOAD_DEV_EMULATE`), so that the tests exercise the
//! paths a real deployment on them takes. Cloudflare R2 and Backblaze B2 cannot be reached from
//! here: their answers are emulated from their documentation and their users' reports, not
//! recorded.
//! - R2 answers a browser-based POST with 501 ("Presigned post requests are not yet
//!   implemented"): a POST-mode service there fails every upload until `UPLOAD_METHOD=put`.
//! - B2's S3 API has no POST upload either, and has refused `x-amz-checksum-*` headers with 400;
//!   it checks `Content-MD5` (`UPLOAD_CHECKSUM=md5`).

use axum::http::HeaderMap;

use crate::policy::{error, S3Error};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Emulated {
    R2,
    B2,
}

impl Emulated {
    /// `r2` or `b2`.
    pub fn parse(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "r2" => Some(Emulated::R2),
            "b2" => Some(Emulated::B2),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Emulated::R2 => "Cloudflare R2",
            Emulated::B2 => "Backblaze B2",
        }
    }

    /// What the store answers a browser-based POST upload: neither takes one.
    pub fn refuse_post(self) -> S3Error {
        S3Error::not_implemented(match self {
            Emulated::R2 => "Presigned post requests are not yet implemented",
            Emulated::B2 => "POST Object is not supported",
        })
    }

    /// What the store answers a PUT (an object or a part) with these `headers`: B2 refuses
    /// the checksum headers.
    pub fn refuse_put(self, headers: &HeaderMap) -> Option<S3Error> {
        let checksum = headers.keys().find(|name| name.as_str().starts_with("x-amz-checksum-"));
        match (self, checksum) {
            (Emulated::B2, Some(name)) => Some(error::invalid_argument(format!(
                "Unsupported header '{name}' received for this API call."
            ))),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_store_refuses_what_it_is_documented_to() {
        assert_eq!(Emulated::parse("R2"), Some(Emulated::R2));
        assert_eq!(Emulated::parse("s3"), None);
        assert_eq!(Emulated::R2.refuse_post().status, 501);
        let mut headers = HeaderMap::new();
        headers.insert("content-md5", "AAAAAAAAAAAAAAAAAAAAAA==".parse().unwrap());
        assert!(Emulated::B2.refuse_put(&headers).is_none());
        headers.insert("x-amz-checksum-sha256", "x".parse().unwrap());
        let refused = Emulated::B2.refuse_put(&headers).unwrap();
        assert_eq!((refused.status, refused.code), (400, "InvalidArgument"));
        assert!(Emulated::R2.refuse_put(&headers).is_none());
    }
}
