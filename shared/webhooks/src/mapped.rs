//! What a mapping produces: contract envelopes, the delivery ids they came
//! from (the dedupe keys), and what was acknowledged but not mapped.

use std::collections::HashMap;
use std::fmt;

use chrono::{DateTime, Utc};
use switchyard_contracts::{Currency, DomainEvent, Envelope, Event};

use crate::error::MapError;
use crate::secret::sha256;

/// The CRMs and senders this crate reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Provider {
    /// Dynamics 365 / Dataverse service endpoint (webhook).
    Dynamics,
    /// HubSpot webhooks.
    HubSpot,
    /// Salesforce outbound messages.
    Salesforce,
    /// Any Standard Webhooks sender.
    Standard,
    /// Stripe-style signed senders.
    Stripe,
    /// Any CloudEvents producer over HTTP (Azure Event Grid, Knative, Dapr).
    CloudEvents,
}

impl Provider {
    /// Every provider.
    pub const ALL: [Provider; 6] = [
        Provider::Dynamics,
        Provider::HubSpot,
        Provider::Salesforce,
        Provider::Standard,
        Provider::Stripe,
        Provider::CloudEvents,
    ];

    /// The lower-case name used in routes, keys and `source`.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Dynamics => "dynamics",
            Provider::HubSpot => "hubspot",
            Provider::Salesforce => "salesforce",
            Provider::Standard => "standard",
            Provider::Stripe => "stripe",
            Provider::CloudEvents => "cloudevents",
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The result of mapping one verified request.
#[derive(Debug, Clone, Default)]
pub struct Mapped {
    /// The delivery ids of the request that produced events, each the dedupe
    /// unit the CRM retries (HubSpot `eventId`, Salesforce notification `Id`,
    /// Dynamics `CorrelationId:OperationId`, Standard `webhook-id`, ...).
    pub deliveries: Vec<String>,
    /// The contract events, in request order.
    pub events: Vec<MappedEvent>,
    /// What was acknowledged and counted but not mapped.
    pub unmapped: Vec<Unmapped>,
}

impl Mapped {
    /// Registers a delivery id (once) and returns its index.
    pub(crate) fn delivery(&mut self, id: String) -> usize {
        match self.deliveries.iter().position(|d| *d == id) {
            Some(i) => i,
            None => {
                self.deliveries.push(id);
                self.deliveries.len() - 1
            }
        }
    }
}

/// One contract event and the deliveries it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct MappedEvent {
    /// Indexes into [`Mapped::deliveries`] (usually one; a HubSpot contact
    /// built from several property changes of one request has several).
    pub deliveries: Vec<usize>,
    /// The envelope to publish.
    pub envelope: Envelope<DomainEvent>,
}

/// A CRM event that was acknowledged but not mapped (no contract fits it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unmapped {
    /// The CRM's delivery or event id.
    pub delivery_id: String,
    /// What it was, e.g. `deal.creation`, `Create lead`, `sObject Lead`.
    pub kind: String,
    /// Why it was not mapped (bounded: a short snake_case code).
    pub reason: &'static str,
}

/// Settings of the mappings that CRM payloads cannot answer themselves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MapOptions {
    /// The currency of amounts whose payload names none (a single-currency
    /// Salesforce org has no `CurrencyIsoCode`). `None`: such orders are rejected.
    pub default_currency: Option<Currency>,
    /// Dynamics `transactioncurrencyid` (GUID, lower case) → ISO code:
    /// Dataverse references a currency record, not its code.
    pub dynamics_currencies: HashMap<String, Currency>,
}

/// The `source` of events this adapter maps: `switchyard/crm-webhook/<provider>/<organisation>`.
pub fn source(provider: Provider, organisation: &str) -> String {
    let org: String = organisation
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect();
    if org.is_empty() {
        format!("switchyard/crm-webhook/{provider}")
    } else {
        format!("switchyard/crm-webhook/{provider}/{org}")
    }
}

/// The id of the `index`-th event mapped from one delivery: a UUID (version
/// 8, name-based over SHA-256) of provider, delivery id and index, so a retry
/// of the same delivery — even after a crash between publishing and
/// recording it — publishes the same event ids and consumers dedupe.
pub fn event_id(provider: Provider, delivery_id: &str, index: usize) -> String {
    let index = index.to_string();
    let digest = sha256(&[
        b"switchyard/crm-webhook\0",
        provider.as_str().as_bytes(),
        b"\0",
        delivery_id.as_bytes(),
        b"\0",
        index.as_bytes(),
    ]);
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes)
        .into_uuid()
        .to_string()
}

/// Whether a country value is an ISO 3166-1 alpha-2 code (CRM country
/// fields are often free text; anything else leaves the address out).
pub(crate) fn is_alpha2(country: &str) -> bool {
    country.len() == 2 && country.bytes().all(|b| b.is_ascii_uppercase())
}

/// Validates the contract rules JSON Schema cannot express.
pub(crate) fn validate(event: &DomainEvent) -> Result<(), MapError> {
    let (event_type, result) = match event {
        DomainEvent::OrderPlaced(e) => (event.event_type(), e.validate()),
        DomainEvent::CustomerUpdated(e) => (event.event_type(), e.validate()),
        DomainEvent::ErpOrderSynced(e) => (event.event_type(), e.validate()),
    };
    result.map_err(|invalid| MapError::Contract {
        event_type,
        path: invalid.path,
        message: invalid.message,
    })
}

/// Everything an envelope needs besides its data.
pub(crate) struct EnvelopeParts<'a> {
    pub(crate) provider: Provider,
    pub(crate) organisation: &'a str,
    pub(crate) delivery_id: &'a str,
    pub(crate) index: usize,
    pub(crate) time: DateTime<Utc>,
    /// The CRM's correlation id; `None` starts a new correlation (= the event id).
    pub(crate) correlation_id: Option<&'a str>,
}

/// A validated envelope with a deterministic id.
pub(crate) fn envelope(
    parts: EnvelopeParts<'_>,
    data: DomainEvent,
) -> Result<Envelope<DomainEvent>, MapError> {
    validate(&data)?;
    let id = event_id(parts.provider, parts.delivery_id, parts.index);
    let correlation = parts
        .correlation_id
        .filter(|c| !c.trim().is_empty())
        .map_or_else(|| id.clone(), str::to_owned);
    Ok(
        Envelope::new(source(parts.provider, parts.organisation), data)
            .with_id(id)
            .with_correlation_id(correlation)
            .with_time(parts.time),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids_are_deterministic_per_delivery_and_index() {
        let a = event_id(Provider::HubSpot, "1", 0);
        assert_eq!(a, event_id(Provider::HubSpot, "1", 0));
        assert_ne!(a, event_id(Provider::HubSpot, "1", 1));
        assert_ne!(a, event_id(Provider::HubSpot, "2", 0));
        assert_ne!(a, event_id(Provider::Stripe, "1", 0));
        let parsed = uuid::Uuid::parse_str(&a).unwrap();
        assert_eq!(parsed.get_version_num(), 8);
    }

    #[test]
    fn source_names_provider_and_organisation() {
        assert_eq!(
            source(Provider::Dynamics, "contoso"),
            "switchyard/crm-webhook/dynamics/contoso"
        );
        assert_eq!(
            source(Provider::Salesforce, "00D/x y"),
            "switchyard/crm-webhook/salesforce/00D-x-y"
        );
        assert_eq!(
            source(Provider::Standard, ""),
            "switchyard/crm-webhook/standard"
        );
    }
}
