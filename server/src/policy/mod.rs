//! S3 POST policies: the model, the SigV4 signer, the form builder and the verifier; and
//! presigned URLs (SigV4 in the query string, [`presign`]; a whole object's PUT, [`SignedPut`]). Pure: no I/O and no clock reads
//! (the time is always passed in), so every path is deterministic. Where a bucket is (the URL
//! forms go to, the path a URL is signed for) is [`Bucket`]'s, in S3's URI encoding.
//!
//! This module is the only place in the project that builds, signs or checks a policy.
//! Reference: <https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-HTTPPOSTConstructPolicy.html>

mod bucket;
mod condition;
mod credentials;
pub mod error;
mod expiry;
mod form;
mod parse;
mod presign;
mod put;
mod response;
mod signer;
mod sigv4;
mod timefmt;
mod uri;
mod verify;

pub use bucket::Bucket;
pub use condition::{Condition, ConditionError, PostPolicy};
pub use credentials::Credentials;
pub use error::S3Error;
pub use expiry::{policy_expiry, ExpiryError, ExpiryLimits};
pub use form::{FormError, FormSpec, OnSuccess, SignedForm, SizeRule, MAX_METADATA_BYTES};
pub use parse::ReceivedPolicy;
pub use presign::{presign, verify_presigned, Presign, PresignError, Received, MAX_PRESIGNED_SECS};
pub use put::{PutError, SignedPut};
pub use response::post_response_xml;
pub use signer::PolicySigner;
pub use sigv4::{credential_scope, SigningKey, ALGORITHM};
pub use timefmt::{amz_date, iso8601_millis, parse_amz_date, rfc3339};
pub use uri::encoded as uri_encoded;
pub use verify::{
    substitute_filename, verify, verify_fields, Accepted, Context, Part, MAX_PRE_DATA_BYTES,
};
