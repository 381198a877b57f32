use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Invalid;
use super::order_placed::non_empty;

/// The CRM record an event is about, as that CRM's API addresses it, so a
/// reply (the ERP's order number) can be written back to the same record.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CrmRecord {
    /// Which CRM holds the record.
    pub system: CrmSystem,
    /// The record's type in that CRM's API: a Dataverse table's logical
    /// name (`salesorder`), a HubSpot object type (`deals`), a Salesforce
    /// sObject (`Order`).
    pub object: String,
    /// The record's id there: a Dataverse GUID, a HubSpot object id, a
    /// Salesforce record Id.
    pub id: String,
}

/// The CRMs a record can come from.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum CrmSystem {
    /// Dynamics 365 / Dataverse.
    Dynamics,
    /// HubSpot CRM.
    HubSpot,
    /// Salesforce.
    Salesforce,
}

impl CrmSystem {
    /// The lower-case name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            CrmSystem::Dynamics => "dynamics",
            CrmSystem::HubSpot => "hubspot",
            CrmSystem::Salesforce => "salesforce",
        }
    }
}

impl std::fmt::Display for CrmSystem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl CrmRecord {
    /// A record of `system`.
    pub fn new(system: CrmSystem, object: impl Into<String>, id: impl Into<String>) -> Self {
        CrmRecord {
            system,
            object: object.into(),
            id: id.into(),
        }
    }

    pub(super) fn validate(&self, path: &str) -> Result<(), Invalid> {
        non_empty(&format!("{path}.object"), &self.object)?;
        non_empty(&format!("{path}.id"), &self.id)
    }
}
