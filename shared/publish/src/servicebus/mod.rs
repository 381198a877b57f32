//! Azure Service Bus: topics and queues over `azure_messaging_servicebus`
//! (SAS auth) or REST calls with a Microsoft Entra ID bearer token, with a
//! REST batch send and a REST peek-lock receiver on the same injected HTTP
//! client where the crate has gaps (see README).
//!
//! The sender seam ([`ServiceBusSendApi`], [`ServiceBusMessage`],
//! [`PropertyValue`], [`InMemoryServiceBus`]) is always built and links no
//! Azure crate; the client, publisher, receiver, configuration and SAS
//! signing need the `servicebus` feature.

#[cfg(feature = "servicebus")]
mod auth;
#[cfg(feature = "servicebus")]
mod client;
#[cfg(feature = "servicebus")]
mod config;
#[cfg(feature = "servicebus")]
mod credential;
#[cfg(feature = "servicebus")]
mod http;
mod message;
#[cfg(feature = "servicebus")]
mod publisher;
#[cfg(feature = "servicebus")]
mod receiver;
#[cfg(feature = "servicebus")]
pub mod sas;

#[cfg(feature = "servicebus")]
pub use auth::{ENTRA_RESOURCE, ENTRA_SCOPE, ServiceBusAuth};
#[cfg(feature = "servicebus")]
pub use client::AzureServiceBus;
#[cfg(feature = "servicebus")]
pub use config::{ConnectionString, InvalidConnectionString, NAMESPACE_SUFFIX, ServiceBusConfig};
#[cfg(feature = "servicebus")]
pub use credential::{
    CONNECTION_STRING_VAR, MANAGED_IDENTITY_CLIENT_ID_VAR, NAMESPACE_VAR, ServiceBusCredential,
};
#[cfg(feature = "servicebus")]
pub use http::{HttpClientError, ServiceBusHttpClient};
pub use message::{
    BATCH_CONTENT_TYPE, InMemoryServiceBus, PropertyValue, ServiceBusMessage, ServiceBusSendApi,
};
#[cfg(feature = "servicebus")]
pub use publisher::{
    CONTENT_TYPE, PROP_TYPE, PROP_VERSION, ServiceBusPublisher, ServiceBusSetupError,
};
#[cfg(feature = "servicebus")]
pub use receiver::{LockedMessage, ReceivedBrokerProperties, ServiceBusReceiver};
