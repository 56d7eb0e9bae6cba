//! Shared by the integration tests: generated policy cases ([`policy`]) and the app as the
//! router tests build it ([`router`]), and the tools some tests need ([`tools`]). Each test
//! binary uses its own part.
#![allow(dead_code)]

pub mod buckets;
pub mod clamd;
pub mod instance;
pub mod policy;
pub mod receiver;
pub mod redis;
pub mod router;
pub mod tools;
