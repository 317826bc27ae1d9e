//! hookrelay's pure logic: everything the relay decides without touching the
//! runtime. The Worker crate (the parent directory) wires these modules to
//! Cloudflare's D1, R2 and Queues; the command line uses them directly. No
//! module here may depend on `worker`, and since this crate does not, the
//! compiler enforces it.
//!
//! - `verify`: the provider registry and signature verification;
//!   `handshake`: subscription challenges; `dedup`: delivery ids and keys;
//!   `headers`, `redact`, `allowlist`: what a request carries and who sent it.
//! - `model`: ids and the stored shapes; `filter` and `transform`: routes'
//!   selectors and rewrites (refused with one `validation` error type); `event_pattern`: the one event-type pattern
//!   routes, pull leases and the command line share; `event_query`: the events
//!   list's query; `search`: the body fields an endpoint's events are found by.
//! - `retry`, `rate`, `destination`, `envelope`: how deliveries go out;
//!   `shards` and `queues`: which D1 database and which queue an endpoint's
//!   work goes to;
//!   `catch_up`: recovering from a provider's own record what never arrived.
//! - `access`: roles; `settings`: the Worker's variables; `alerts` and
//!   `alert_rules` (the operator's own conditions),
//!   `metrics`, `stats`, `ledger`, `time`, `live` (the stream's messages):
//!   what operators are shown; `views`: the API's answers, and `inputs`:
//!   the request bodies it reads, as types with their JSON Schemas.

pub mod access;
pub mod alert_rules;
pub mod alerts;
pub mod allowlist;
pub mod catch_up;
pub mod coalesce;
pub mod dedup;
pub mod destination;
pub mod envelope;
pub mod event_pattern;
pub mod event_query;
pub mod filter;
pub mod handshake;
pub mod headers;
pub mod inputs;
pub mod ledger;
pub mod live;
pub mod metrics;
pub mod model;
pub mod outbox;
pub mod queues;
pub mod rate;
pub mod redact;
pub mod retry;
pub mod search;
pub mod settings;
pub mod shards;
pub mod stats;
#[cfg(test)]
mod test_futures;
pub mod time;
pub mod transform;
pub mod validation;
pub mod verify;
pub mod views;
