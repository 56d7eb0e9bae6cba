//! Telling the application: every verdict becomes an event ([`event`]), appended to the
//! outbox in the same write as the verdict (`crate::state`), and delivered by Standard Webhooks
//! ([`signature`]) at least once, with back-off ([`schedule`]), by whichever instance takes it
//! first ([`deliver`]). The event's `webhook-id` comes from the grant and the event's type, so
//! a receiver sees one id however often it is sent. Each event goes to its profile's endpoints
//! ([`route`]); nothing here runs without an endpoint (`UPLOAD_WEBHOOK_URL`, or a profile's
//! `webhooks`): no event is appended, none is sent.

pub mod deliver;
pub mod endpoint;
pub mod event;
pub mod metrics;
pub mod route;
pub mod schedule;
pub mod signature;
