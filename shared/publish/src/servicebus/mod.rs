//! Azure Service Bus: topics and queues over `azure_messaging_servicebus`
//! (SAS auth), with a REST batch send and a REST peek-lock receiver on the
//! same injected HTTP client where the crate has gaps (see README).

mod client;
mod config;
mod http;
mod publisher;
mod receiver;
pub mod sas;

pub use client::{
    AzureServiceBus, BATCH_CONTENT_TYPE, InMemoryServiceBus, PropertyValue, ServiceBusMessage,
    ServiceBusSendApi,
};
pub use config::{ConnectionString, InvalidConnectionString, NAMESPACE_SUFFIX, ServiceBusConfig};
pub use http::{HttpClientError, ServiceBusHttpClient};
pub use publisher::{
    CONTENT_TYPE, PROP_TYPE, PROP_VERSION, ServiceBusPublisher, ServiceBusSetupError,
};
pub use receiver::{LockedMessage, ReceivedBrokerProperties, ServiceBusReceiver};
