//! The function registry: one [`Function`] declaration per function. Lambda
//! mains, the Azure Function App, `switchyard up` and `invoke`, the catalog
//! and the IaC checks all read it; each host builds a function on its
//! [`Platform`] (settings, publisher, store, clients) with the same code.

mod endpoint;
mod function;
mod hosted;

pub use endpoint::{
    AuthLevel, DEFAULT_HTTP_METHODS, DEFAULT_TOPIC, HttpEndpoint, HttpMethod, Subscription,
};
pub use function::{
    App, BuildContext, BuildFuture, DEFAULT_IDEMPOTENCY_EXPIRY, Function, Platform, Resources,
    Setting, Trigger,
};
pub use hosted::{HttpApp, MessageApp, NotHosted, decode_options, idempotency_expiry};
