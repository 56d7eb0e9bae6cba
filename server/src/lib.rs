//! The S3 uploader's server. Its folders are its parts:
//! - [`config`]: every setting, declared once and read once at start;
//! - [`edge`]: the HTTP surface (router, who is asking, cross-site refusal);
//! - [`uploads`]: the upload service the server functions call (check, sign, confirm, list);
//! - [`credentials`]: what policies are signed with (fixed keys, the default chain, STS);
//! - [`policy`]: the pure POST-policy core, the only code that builds or checks a signature;
//! - [`filetype`]: what a file's first bytes say it is, against its declared type (pure);
//! - [`malware`]: what ClamAV's clamd answered about a file (pure);
//! - [`quarantine`]: where an upload waits while it is checked, and where a refused one is kept
//!   (pure);
//! - [`seal`]: what the browser carries for the server (cookie, return token, receipt), sealed;
//! - [`shared`]: the store every instance shares (Redis), for budgets;
//! - [`state`]: the durable state (pending uploads, verdict claims, the verdicts' log), in Redis
//!   or an embedded store;
//! - [`devbucket`]: the embedded S3-compatible bucket for development and tests;
//! - [`logging`]: one event a line, whatever a client put in its fields;
//! - [`operator`]: `server sign`, `server cors`, `server lifecycle`, `server doctor`,
//!   `server iam-policy`;
//! - [`aws`]: the AWS SDK's configuration and clients; [`metrics`]: what is counted;
//!   [`cli`]: the command line.
//!
//! `main.rs` only wires these together.

pub mod auth;
pub mod aws;
pub mod cli;
pub mod config;
pub mod credentials;
pub mod devbucket;
pub mod edge;
pub mod events;
pub mod filetype;
pub mod logging;
pub mod malware;
pub mod metrics;
pub mod operator;
pub mod policy;
pub mod quarantine;
pub mod seal;
pub mod shared;
pub mod state;
pub mod uploads;

pub use edge::app;

/// Prints a configuration error (it names the setting) and the exit code for it.
pub fn config_error(err: impl std::fmt::Display) -> std::process::ExitCode {
    eprintln!("error: {err}");
    eprintln!("The server signs uploads for one bucket; see README.md, \"Configuration\".");
    std::process::ExitCode::from(2)
}
