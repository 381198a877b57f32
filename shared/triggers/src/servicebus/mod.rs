//! The Service Bus adapter for Azure Functions custom handlers: the host
//! receives the message (topic subscription or queue), POSTs it to the
//! handler's HTTP server as `{"Data": {...}, "Metadata": {...}}`, and
//! completes it on a 2xx answer or abandons it otherwise.

mod adapter;
mod config;
mod park;
pub mod request;

pub use adapter::{ServiceBusAdapter, ServiceBusInvocation};
pub use config::ServiceBusAdapterConfig;
pub use park::ServiceBusParkTarget;
pub use request::{
    HttpTriggerRequest, HttpTriggerResponse, InvocationRequest, InvocationResponse, RequestError,
    TriggerMessage,
};
