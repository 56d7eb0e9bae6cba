//! Why a receipt or report is refused while nothing in the bucket is wrong ([`BadReceipt`]):
//! its own module, so that the service's builder can make every reason's series exist.

/// Why a receipt or a browser's report was refused while nothing in the bucket is wrong (a
/// forged or foreign receipt, a report of an object that is not there): each is a value of the
/// `uploads_receipts_refused_total{reason}` label. Anyone can send these, so they are counted
/// apart from real mismatches (which page the operator), logged at warn level, and budgeted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadReceipt {
    /// Its seal is not ours.
    NotOurs,
    /// Sealed for another uploader, or naming a key under another's prefix.
    OtherUploader,
    /// Sealed for another key.
    OtherKey,
    /// Reached through a return link for another upload, or one that cannot be used so.
    ReturnLink,
    /// The reported ETag is not one a bucket gives.
    BadEtag,
    /// The bucket has no object where the report says one is.
    NoObject,
    /// The object is as signed, but the report names another ETag.
    EtagDiffers,
}

impl BadReceipt {
    pub const ALL: [BadReceipt; 7] = [
        BadReceipt::NotOurs,
        BadReceipt::OtherUploader,
        BadReceipt::OtherKey,
        BadReceipt::ReturnLink,
        BadReceipt::BadEtag,
        BadReceipt::NoObject,
        BadReceipt::EtagDiffers,
    ];

    pub fn label(self) -> &'static str {
        match self {
            BadReceipt::NotOurs => "not_ours",
            BadReceipt::OtherUploader => "other_uploader",
            BadReceipt::OtherKey => "other_key",
            BadReceipt::ReturnLink => "return_link",
            BadReceipt::BadEtag => "bad_etag",
            BadReceipt::NoObject => "no_object",
            BadReceipt::EtagDiffers => "etag_differs",
        }
    }
}
