//! The server's configuration: every setting is declared once, as a flag and a variable, in
//! [`settings`], and read and checked once, at start ([`read`] has what every reading shares):
//! the bucket and how to sign for it in [`bucket`] ([`Config`]), what may be uploaded in
//! [`limits`] and, per kind of upload, [`profiles`], STS in [`sts`], who uploads in [`auth`], where events go in [`webhooks`], what serving needs beside the bucket in [`serve`] (the dev
//! bucket's settings among them). A missing or invalid setting stops the server with a message
//! naming its variable and its flag.

pub mod auth;
pub mod bucket;
pub mod limits;
pub mod profiles;
pub mod read;
pub mod serve;
pub mod settings;
pub mod sts;
pub mod webhooks;

pub use bucket::Config;
pub use limits::{Limits, MAX_COPY_BYTES, MIN_ACCESS_CODE_CHARS};
pub use profiles::{ProfileConfig, Profiles};
pub use read::{table, ConfigError, Lookup};
pub use serve::{dev_bucket_at, DevBucketConfig, ServeConfig, Target, DEV_BUCKET, DEV_REGION};
pub use settings::{Setting, Settings};
pub use sts::StsConfig;
pub use webhooks::Webhooks;
