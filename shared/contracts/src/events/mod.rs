//! The domain events of the reference integration, one module per event
//! type, one struct per version. Names are past tense: they say what happened.

mod crm_record;
mod customer_updated;
mod erp_order_synced;
mod order_placed;

pub use crm_record::{CrmRecord, CrmSystem};
pub use customer_updated::{Address, CustomerUpdatedV1};
pub use erp_order_synced::{ErpOrderSyncedV1, SyncOutcome};
pub use order_placed::{OrderLine, OrderPlacedV1, OrderPlacedV2, UpcastError};

use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::decode::{DecodeError, DecodeOptions};

/// One version of one event type.
pub trait Event: Serialize + DeserializeOwned + JsonSchema + Send + Sync + 'static {
    /// The CloudEvents `type`, e.g. `order.placed`.
    const TYPE: &'static str;
    /// The schema version of this struct.
    const VERSION: u32;

    /// The CloudEvents `subject` for this payload (what it is about).
    fn subject(&self) -> Option<String> {
        None
    }

    /// Rules JSON Schema cannot express (sums, positivity). On failure,
    /// returns the JSON path below `data` and what is wrong.
    fn validate(&self) -> Result<(), Invalid> {
        Ok(())
    }

    /// A valid sample payload (documentation, the catalog, scaffolded tests);
    /// `None` when the type offers none.
    fn example() -> Option<Self> {
        None
    }

    /// The older versions of this type that [`Event::upcast_from`] reads,
    /// oldest first. Empty (the default): only [`Event::VERSION`] is read.
    const UPCASTS_FROM: &'static [u32] = &[];

    /// Decodes `data` written at an older `version` (one of
    /// [`Event::UPCASTS_FROM`]) and upcasts it to this version. Every value
    /// the old version lacks comes from `options`, never from a default.
    ///
    /// # Errors
    /// [`DecodeError::UnknownVersion`] by default; the upcaster's own errors.
    fn upcast_from(
        version: u32,
        data: Value,
        options: &DecodeOptions,
    ) -> Result<Self, DecodeError> {
        let _ = (data, options);
        Err(DecodeError::UnknownVersion {
            event_type: Self::TYPE.to_owned(),
            version,
            known: vec![Self::VERSION],
        })
    }
}

/// A payload that parsed but breaks a rule of its contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// JSON path below `data`, e.g. `lines[1].quantity`.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl Invalid {
    pub(crate) fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Invalid {
            path: path.into(),
            message: message.into(),
        }
    }
}
