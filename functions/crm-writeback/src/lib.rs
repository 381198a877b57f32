#![doc = include_str!("../README.md")]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

pub mod answer;
pub mod dataverse;
mod function;
pub mod hubspot;
pub mod salesforce;

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use switchyard_contracts::Envelope;
use switchyard_contracts::events::{CrmRecord, CrmSystem, ErpOrderSyncedV1};
use switchyard_triggers::{Context, Handled, Handler, HandlerError};

pub use function::{SETTINGS, build, function};

/// The function's name: its idempotency key prefix, log field and settings scope.
pub const FUNCTION_NAME: &str = "crm-writeback";

/// What a CRM write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Written {
    /// The record was updated with the ERP number.
    Updated,
    /// The record already held this ERP number: nothing was written.
    AlreadySet,
}

/// One CRM's API as crm-writeback uses it.
#[async_trait::async_trait]
pub trait CrmApi: Send + Sync {
    /// Writes `erp_order_number` into `record`, at most once: a record that
    /// already holds it is left alone, and a record changed since it was read
    /// is not overwritten (a transient error: the retry reads it again).
    ///
    /// # Errors
    /// [`HandlerError::transient`] for throttling, outages and conflicts;
    /// [`HandlerError::permanent`] for a missing record or a refused request.
    async fn write_erp_number(
        &self,
        record: &CrmRecord,
        erp_order_number: &str,
        correlation_id: &str,
    ) -> Result<Written, HandlerError>;
}

/// What crm-writeback did with one `erp.order-synced` (stored for duplicates).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "writeback", rename_all = "camelCase")]
pub enum WriteBack {
    /// The ERP number is in the CRM record.
    Written {
        /// The record.
        record: CrmRecord,
        /// The number written.
        erp_order_number: String,
        /// Whether this run wrote it or found it there.
        written: Written,
    },
    /// The order did not come from a CRM (`origin` absent): nothing to write back.
    NoOrigin,
}

/// The business handler: the ERP's order number back into the CRM record
/// the order came from.
#[derive(Default, Clone)]
pub struct CrmWriteback {
    dynamics: Option<Arc<dyn CrmApi>>,
    hubspot: Option<Arc<dyn CrmApi>>,
    salesforce: Option<Arc<dyn CrmApi>>,
}

impl CrmWriteback {
    /// A handler with no CRM configured (add them with [`CrmWriteback::with`]).
    pub fn new() -> Self {
        Self::default()
    }

    /// Writes records of `system` through `api`.
    #[must_use]
    pub fn with(mut self, system: CrmSystem, api: Arc<dyn CrmApi>) -> Self {
        *self.slot(system) = Some(api);
        self
    }

    /// The CRMs it can write to.
    pub fn systems(&self) -> Vec<CrmSystem> {
        [
            CrmSystem::Dynamics,
            CrmSystem::HubSpot,
            CrmSystem::Salesforce,
        ]
        .into_iter()
        .filter(|s| self.api(*s).is_some())
        .collect()
    }

    fn slot(&mut self, system: CrmSystem) -> &mut Option<Arc<dyn CrmApi>> {
        match system {
            CrmSystem::Dynamics => &mut self.dynamics,
            CrmSystem::HubSpot => &mut self.hubspot,
            CrmSystem::Salesforce => &mut self.salesforce,
        }
    }

    fn api(&self, system: CrmSystem) -> Option<&Arc<dyn CrmApi>> {
        match system {
            CrmSystem::Dynamics => self.dynamics.as_ref(),
            CrmSystem::HubSpot => self.hubspot.as_ref(),
            CrmSystem::Salesforce => self.salesforce.as_ref(),
        }
    }
}

#[async_trait::async_trait]
impl Handler for CrmWriteback {
    type Event = ErpOrderSyncedV1;
    type Output = WriteBack;

    async fn handle(
        &self,
        event: Envelope<ErpOrderSyncedV1>,
        ctx: Context,
    ) -> Result<Handled<WriteBack>, HandlerError> {
        let synced = event.data;
        let Some(record) = synced.origin else {
            return Ok(WriteBack::NoOrigin.into());
        };
        let Some(api) = self.api(record.system) else {
            // Parked, not dropped: redrive it once the CRM is configured.
            return Err(HandlerError::permanent(
                "crm_not_configured",
                format!(
                    "order {} came from {} record {}/{}, and no {} API is configured ({})",
                    synced.order_id,
                    record.system,
                    record.object,
                    record.id,
                    record.system,
                    function::enabling_setting(record.system)
                ),
            ));
        };
        let written = api
            .write_erp_number(&record, &synced.erp_order_number, &ctx.correlation_id)
            .await?;
        Ok(WriteBack::Written {
            record,
            erp_order_number: synced.erp_order_number,
            written,
        }
        .into())
    }
}
