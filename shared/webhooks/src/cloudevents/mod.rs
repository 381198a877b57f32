//! CloudEvents over HTTP (cloudevents/spec `cloudevents/bindings/http-protocol-binding.md`
//! and `cloudevents/http-webhook.md`): any CloudEvents producer — Azure
//! Event Grid, Knative, Dapr — delivering contract events.
//!
//! - **Content modes**: structured (`application/cloudevents+json`, one
//!   event), batched (`application/cloudevents-batch+json`, a JSON array)
//!   and binary (the attributes in `ce-*` headers, percent-decoded; the
//!   `Content-Type` is `datacontenttype`; the body is `data`). Every event
//!   is read by [`switchyard_contracts::decode`]'s CloudEvents 1.0 rules.
//! - **Authorization** (http-webhook.md §3): an access token as
//!   `Authorization: Bearer <token>` or the `access_token` query parameter.
//! - **Abuse protection** (§4): the `OPTIONS` validation handshake, answered
//!   with `WebHook-Allowed-Origin` and `WebHook-Allowed-Rate` for an
//!   origin on the allow-list ([`handshake`]).

mod map;
mod model;
mod verify;

pub use map::map;
pub use model::{Body, parse};
pub use verify::{
    ALLOWED_ORIGIN_HEADER, ALLOWED_RATE_HEADER, AllowedOrigins, AllowedRate, CloudEventsAuth,
    Consent, HandshakeError, REQUEST_ORIGIN_HEADER, REQUEST_RATE_HEADER, handshake, verify,
};

/// The media type of one event in structured mode.
pub const STRUCTURED_CONTENT_TYPE: &str = "application/cloudevents+json";
/// The media type of a batch.
pub const BATCH_CONTENT_TYPE: &str = "application/cloudevents-batch+json";
