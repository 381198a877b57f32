//! Dynamics 365 / Dataverse: a service endpoint of contract *Webhook*
//! posting the plug-in `RemoteExecutionContext` as JSON.
//!
//! Authentication is a shared key, either `HttpHeader` (a configured header
//! carries the key) or `WebhookKey` (the key in `?code=`); Dynamics signs
//! nothing, so there is no timestamp and no replay window — dedupe on
//! `CorrelationId:OperationId` covers retries.

mod map;
mod model;
mod verify;

pub use map::{SIZE_EXCEEDED_HEADER, delivery_id, map, parse};
pub use model::{AttributeValue, Entity, KeyValue, RemoteExecutionContext, parse_date};
pub use verify::{DEFAULT_KEY_HEADER, DynamicsAuth, verify};
