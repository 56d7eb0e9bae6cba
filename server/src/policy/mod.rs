//! S3 POST policies: the model, the SigV4 signer and the form builder. Pure: no I/O and no
//! clock reads (the time is always passed in), so every path is testable and deterministic.
//!
//! This module is the only place in the project that builds or signs a policy.
//! Reference: <https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-HTTPPOSTConstructPolicy.html>

mod condition;
mod credentials;
mod expiry;
mod form;
mod sigv4;
mod timefmt;

pub use condition::{Condition, ConditionError, PostPolicy};
pub use credentials::Credentials;
pub use expiry::{policy_expiry, ExpiryError, ExpiryLimits};
pub use form::{FormError, FormSpec, SignedForm, SizeRule};
pub use sigv4::{credential_scope, SigningKey, ALGORITHM};
pub use timefmt::{amz_date, iso8601_millis, rfc3339};

/// The largest object one POST may carry (5 GiB); bigger objects need multipart upload.
/// <https://docs.aws.amazon.com/AmazonS3/latest/API/RESTObjectPOST.html>
pub const MAX_POST_OBJECT_SIZE: u64 = 5 * 1024 * 1024 * 1024;
