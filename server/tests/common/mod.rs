//! Shared by the integration tests: generated policy cases ([`policy`]) and the app as the
//! router tests build it ([`router`]). Each test binary uses its own part.
#![allow(dead_code)]

pub mod policy;
pub mod router;
