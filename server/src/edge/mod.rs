//! The HTTP edge: the router ([`app`]), who is asking ([`identity`]: the uploader cookie, the
//! return token, the client's address) and the refusal of cross-site calls ([`same_origin`]).
//! What the server functions do with a request is the upload service's, in [`crate::uploads`].

pub mod identity;
mod routes;
pub mod same_origin;

pub use routes::app;
