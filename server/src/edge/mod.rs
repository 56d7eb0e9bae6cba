//! The HTTP edge: the router ([`app`]); who is asking ([`identity`]: the uploader cookie, the
//! return token, and the client's address as [`client`] determines it behind trusted proxies);
//! server-function bodies of a few KB ([`body_limit`]); how long browsers keep answers
//! ([`caching`]); the host names it serves ([`host`]); the refusal of cross-site calls
//! ([`same_origin`]); who may frame which page ([`embed`]); and what a load balancer
//! asks ([`ready`]: `/readyz`, the instance header).
//! What the server functions do with a request is the upload service's, in [`crate::uploads`].

pub mod body_limit;
pub mod caching;
pub mod client;
pub mod cookies;
pub mod embed;
pub mod host;
pub mod identity;
pub mod ready;
mod routes;
pub mod same_origin;

pub use caching::site_options;
pub use routes::{app, metrics};
