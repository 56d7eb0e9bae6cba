//! The S3 uploader's server: configuration, the POST policy core, the signing service and the
//! axum application. `main.rs` only wires these together.

pub mod aws;
pub mod cli;
pub mod confirm;
pub mod credentials;
pub mod config;
pub mod devbucket;
pub mod ledger;
pub mod metrics;
pub mod operator;
pub mod objects;
pub mod policy;
pub mod ratelimit;
pub mod routes;
pub mod same_origin;
pub mod settings;
pub mod signer;
pub mod uploader;
pub mod validate;

pub use routes::app;
