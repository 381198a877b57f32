//! The [`Pipeline`] type: the handler with its settings, idempotency
//! store, park target and publisher, and the builder methods that set them.

use std::sync::Arc;

use switchyard_contracts::DecodeOptions;
use switchyard_publish::Publisher;

use crate::handler::Handler;
use crate::layers::{Idempotency, OrderingGuard};
use crate::park::ParkTarget;
use crate::pipeline::settings::{PipelineSettings, Unsubscribed};

/// The pipeline for one function.
pub struct Pipeline<H: Handler> {
    pub(crate) handler: Arc<H>,
    pub(crate) settings: PipelineSettings,
    pub(crate) idempotency: Option<Idempotency>,
    pub(crate) park: Option<Arc<dyn ParkTarget>>,
    pub(crate) publisher: Option<Arc<dyn Publisher>>,
    pub(crate) ordering: Option<OrderingGuard>,
}

impl<H: Handler> Pipeline<H> {
    /// A pipeline around `handler`.
    pub fn new(handler: H, settings: PipelineSettings) -> Self {
        Pipeline {
            handler: Arc::new(handler),
            settings,
            idempotency: None,
            park: None,
            publisher: None,
            ordering: None,
        }
    }

    /// Publishes the events handlers return in
    /// [`Handled::publish`](crate::handler::Handled::publish) there.
    #[must_use]
    pub fn with_publisher(mut self, publisher: Arc<dyn Publisher>) -> Self {
        self.publisher = Some(publisher);
        self
    }

    /// Sets the policy for events outside the handler's set.
    #[must_use]
    pub fn with_unsubscribed(mut self, policy: Unsubscribed) -> Self {
        self.settings.unsubscribed = policy;
        self
    }

    /// Guards the handler with an idempotency store.
    #[must_use]
    pub fn with_idempotency(mut self, idempotency: Idempotency) -> Self {
        self.idempotency = Some(idempotency);
        self
    }

    /// Acknowledges updates older than one already applied as stale
    /// ([`OrderingGuard`]).
    #[must_use]
    pub fn with_ordering(mut self, guard: OrderingGuard) -> Self {
        self.ordering = Some(guard);
        self
    }

    /// Parks permanent failures there. Without a park target, permanent
    /// failures are retried, so the trigger's own dead-lettering takes them.
    #[must_use]
    pub fn with_park_target(mut self, park: Arc<dyn ParkTarget>) -> Self {
        self.park = Some(park);
        self
    }

    /// Sets the upcasters' inputs.
    #[must_use]
    pub fn with_decode_options(mut self, options: DecodeOptions) -> Self {
        self.settings.decode = options;
        self
    }

    /// The settings.
    pub fn settings(&self) -> &PipelineSettings {
        &self.settings
    }
}
