//! HubSpot through the CRM v3 objects API, authenticated with a private
//! app's access token: the ERP number goes into one property of the object
//! (`deals` by default in the mappings).
//!
//! Reads `GET /crm/v3/objects/{objectType}/{objectId}?properties={property}`,
//! and when the property does not already hold the number, updates it with
//! `PATCH` `{"properties":{…}}`. HubSpot has no conditional update: between
//! the read and the write the last writer wins (the window is one request).

use reqwest::Method;
use serde_json::{Value, json};
use switchyard_auth::Credentials;
use switchyard_config::{ConfigError, Settings};
use switchyard_contracts::events::CrmRecord;
use switchyard_secrets::SecretResolver;
use switchyard_triggers::HandlerError;

use crate::answer::{self, Answer};
use crate::{CrmApi, Written};

const CRM: &str = "HubSpot";

/// The API's base URL when `HUBSPOT_URL` is unset.
pub const DEFAULT_URL: &str = "https://api.hubapi.com";

/// The property written when `HUBSPOT_ERP_NUMBER_PROPERTY` is unset.
pub const DEFAULT_PROPERTY: &str = "erp_order_number";

/// The HubSpot client.
#[derive(Debug, Clone)]
pub struct HubSpotClient {
    base_url: String,
    property: String,
    credentials: Credentials,
    http: reqwest::Client,
}

/// An object type (`deals`, `0-3`, `p123_orders`) or an internal property
/// name: letters, digits, `_` and `-`.
fn is_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl HubSpotClient {
    /// How its requests authenticate.
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// A client for the API at `base_url` writing [`DEFAULT_PROPERTY`].
    pub fn new(base_url: &str, credentials: Credentials, http: reqwest::Client) -> Self {
        HubSpotClient {
            base_url: base_url.trim_end_matches('/').to_owned(),
            property: DEFAULT_PROPERTY.to_owned(),
            credentials,
            http,
        }
    }

    /// Writes the number into `property` instead.
    #[must_use]
    pub fn with_property(mut self, property: &str) -> Self {
        property.clone_into(&mut self.property);
        self
    }

    /// From `HUBSPOT_ACCESS_TOKEN` (enables it; a private app's token, sent
    /// as `Authorization: Bearer`), `HUBSPOT_URL` (default [`DEFAULT_URL`])
    /// and `HUBSPOT_ERP_NUMBER_PROPERTY` (default [`DEFAULT_PROPERTY`]).
    /// `Ok(None)` when `HUBSPOT_ACCESS_TOKEN` is unset.
    ///
    /// # Errors
    /// [`ConfigError`] naming the malformed variable.
    pub fn from_settings(
        settings: &Settings,
        http: reqwest::Client,
    ) -> Result<Option<Self>, ConfigError> {
        Self::from_settings_with(settings, http, &SecretResolver::plain_only())
    }

    /// As `from_settings`, the client secret or token being a plain value
    /// or a secret store reference `secrets` resolves (read per request or
    /// token request through its TTL cache; [`Credentials::check`] reads it
    /// at start-up).
    ///
    /// # Errors
    /// [`ConfigError`] naming the malformed or missing variable.
    pub fn from_settings_with(
        settings: &Settings,
        http: reqwest::Client,
        secrets: &SecretResolver,
    ) -> Result<Option<Self>, ConfigError> {
        let Some(token) = secrets.secret(settings, "HUBSPOT_ACCESS_TOKEN")? else {
            return Ok(None);
        };
        let url = settings
            .optional("HUBSPOT_URL")
            .unwrap_or_else(|| DEFAULT_URL.to_owned());
        let base_url = crate::dataverse::base_url(settings, "HUBSPOT_URL", &url)?;
        let property = settings
            .optional("HUBSPOT_ERP_NUMBER_PROPERTY")
            .unwrap_or_else(|| DEFAULT_PROPERTY.to_owned());
        if !is_name(&property) {
            return Err(ConfigError::invalid(
                settings.source_of("HUBSPOT_ERP_NUMBER_PROPERTY"),
                format!("{property:?} is not a property's internal name"),
            ));
        }
        let credentials = Credentials::Bearer(token);
        Ok(Some(
            HubSpotClient::new(&base_url, credentials, http).with_property(&property),
        ))
    }

    fn object_url(&self, record: &CrmRecord) -> Result<String, HandlerError> {
        if !is_name(&record.object) {
            return Err(answer::invalid(
                CRM,
                record,
                "the object type is not a HubSpot object type",
            ));
        }
        if record.id.is_empty() || !record.id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(answer::invalid(CRM, record, "the id is not a number"));
        }
        Ok(format!(
            "{}/crm/v3/objects/{}/{}",
            self.base_url,
            answer::segment(&record.object),
            record.id
        ))
    }

    fn request(&self, method: Method, url: &str, correlation_id: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, url)
            .header("Accept", "application/json")
            .header("X-Correlation-Id", correlation_id)
    }
}

/// The rate-limit policy of a 429 (`policyName`, the
/// `X-HubSpot-RateLimit-Interval-Milliseconds` window), else the error
/// `category` and HubSpot's `correlationId`, for reasons.
fn detail(answer: &Answer) -> Option<String> {
    let body = answer.json().unwrap_or(Value::Null);
    let text = |key: &str| {
        body.get(key)
            .and_then(Value::as_str)
            .map(|s| answer::excerpt(s.as_bytes()))
    };
    if let Some(policy) = text("policyName") {
        let window = answer
            .header("X-HubSpot-RateLimit-Interval-Milliseconds")
            .map(|ms| format!(", window {} ms", answer::excerpt(ms.as_bytes())))
            .unwrap_or_default();
        return Some(format!("rate-limit policy {policy}{window}"));
    }
    let category = text("category")?;
    Some(match text("correlationId") {
        Some(id) => format!("{category}, HubSpot correlationId {id}"),
        None => category,
    })
}

#[async_trait::async_trait]
impl CrmApi for HubSpotClient {
    async fn write_erp_number(
        &self,
        record: &CrmRecord,
        erp_order_number: &str,
        correlation_id: &str,
    ) -> Result<Written, HandlerError> {
        let url = self.object_url(record)?;
        let read_url = format!("{url}?properties={}", answer::segment(&self.property));
        let read = answer::send(CRM, &self.credentials, || {
            self.request(Method::GET, &read_url, correlation_id)
        })
        .await?;
        if read.status != 200 {
            return Err(answer::failure(CRM, "read", record, &read, detail(&read)));
        }
        let object = read.json().unwrap_or(Value::Null);
        let current = object
            .get("properties")
            .and_then(|p| p.get(&self.property))
            .and_then(Value::as_str);
        if current == Some(erp_order_number) {
            return Ok(Written::AlreadySet);
        }
        let body = json!({ "properties": { self.property.as_str(): erp_order_number } });
        let update = answer::send(CRM, &self.credentials, || {
            self.request(Method::PATCH, &url, correlation_id)
                .json(&body)
        })
        .await?;
        match update.status {
            200..=299 => {
                tracing::info!(crm = CRM, object = %record.object, id = %record.id, correlation_id, "CrmRecordWritten");
                Ok(Written::Updated)
            }
            _ => Err(answer::failure(
                CRM,
                "update",
                record,
                &update,
                detail(&update),
            )),
        }
    }
}
