//! Salesforce through the REST API's sObject rows: the ERP number goes into
//! one field of the record (`Order` records from the mappings).
//!
//! Reads `GET {instance}/services/data/{version}/sobjects/{sObject}/{id}?fields={field},LastModifiedDate`,
//! and when the field does not already hold the number, updates it with
//! `PATCH` (204) made conditional: `If-Match` with the `ETag` read, or —
//! Salesforce documents ETags for Account rows only — `If-Unmodified-Since`
//! with the `LastModifiedDate` read (to the second). A record changed since
//! the read is not overwritten: 412, retried, and the retry reads again.

use std::sync::Arc;

use reqwest::Method;
use serde_json::{Value, json};
use switchyard_auth::{ClientAuth, ClientCredentials, Credentials, OAuthConfig};
use switchyard_config::{ConfigError, Settings};
use switchyard_contracts::events::CrmRecord;
use switchyard_secrets::SecretResolver;
use switchyard_triggers::HandlerError;

use crate::answer::{self, Answer};
use crate::{CrmApi, Written};

const CRM: &str = "Salesforce";

/// The REST API version when `SALESFORCE_API_VERSION` is unset.
pub const DEFAULT_API_VERSION: &str = "v62.0";

/// The field written when `SALESFORCE_ERP_NUMBER_FIELD` is unset.
pub const DEFAULT_FIELD: &str = "ERP_Order_Number__c";

/// The Salesforce client.
#[derive(Debug, Clone)]
pub struct SalesforceClient {
    instance_url: String,
    api_version: String,
    field: String,
    credentials: Credentials,
    http: reqwest::Client,
}

/// An API name (`Order`, `ERP_Order_Number__c`): a letter, then letters,
/// digits and `_`.
fn is_api_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A record Id: 15 (case-sensitive) or 18 letters and digits.
pub fn is_record_id(id: &str) -> bool {
    matches!(id.len(), 15 | 18) && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// `v62.0`.
fn is_api_version(v: &str) -> bool {
    v.strip_prefix('v')
        .and_then(|n| n.split_once('.'))
        .is_some_and(|(major, minor)| {
            !major.is_empty()
                && !minor.is_empty()
                && major
                    .bytes()
                    .chain(minor.bytes())
                    .all(|b| b.is_ascii_digit())
        })
}

impl SalesforceClient {
    /// A client for the org at `instance_url` (e.g.
    /// `https://mydomain.my.salesforce.com`) on [`DEFAULT_API_VERSION`],
    /// writing [`DEFAULT_FIELD`].
    pub fn new(instance_url: &str, credentials: Credentials, http: reqwest::Client) -> Self {
        SalesforceClient {
            instance_url: instance_url.trim_end_matches('/').to_owned(),
            api_version: DEFAULT_API_VERSION.to_owned(),
            field: DEFAULT_FIELD.to_owned(),
            credentials,
            http,
        }
    }

    /// Writes the number into `field` instead.
    #[must_use]
    pub fn with_field(mut self, field: &str) -> Self {
        field.clone_into(&mut self.field);
        self
    }

    /// Uses REST API `version` (`v62.0`) instead.
    #[must_use]
    pub fn with_api_version(mut self, version: &str) -> Self {
        version.clone_into(&mut self.api_version);
        self
    }

    /// From `SALESFORCE_URL` (enables it; the instance URL),
    /// `SALESFORCE_API_VERSION` (default [`DEFAULT_API_VERSION`]),
    /// `SALESFORCE_ERP_NUMBER_FIELD` (default [`DEFAULT_FIELD`]) and the
    /// OAuth client of prefix `SALESFORCE`: with `SALESFORCE_TOKEN_URL` or
    /// `SALESFORCE_TENANT_ID` as [`OAuthConfig::from_settings`] reads them;
    /// else `SALESFORCE_CLIENT_ID` and `SALESFORCE_CLIENT_SECRET` (the
    /// client credentials flow of a connected app) against
    /// `{SALESFORCE_URL}/services/oauth2/token`, with `SALESFORCE_SCOPE`
    /// if set. Without a client id requests carry no token. `Ok(None)` when
    /// `SALESFORCE_URL` is unset.
    ///
    /// # Errors
    /// [`ConfigError`] naming the malformed or missing variable.
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
        let Some(url) = settings.optional("SALESFORCE_URL") else {
            return Ok(None);
        };
        let instance_url = crate::dataverse::base_url(settings, "SALESFORCE_URL", &url)?;
        let version = settings
            .optional("SALESFORCE_API_VERSION")
            .unwrap_or_else(|| DEFAULT_API_VERSION.to_owned());
        if !is_api_version(&version) {
            return Err(ConfigError::invalid(
                settings.source_of("SALESFORCE_API_VERSION"),
                format!("{version:?} is not a REST API version like {DEFAULT_API_VERSION:?}"),
            ));
        }
        let field = settings
            .optional("SALESFORCE_ERP_NUMBER_FIELD")
            .unwrap_or_else(|| DEFAULT_FIELD.to_owned());
        if !is_api_name(&field) {
            return Err(ConfigError::invalid(
                settings.source_of("SALESFORCE_ERP_NUMBER_FIELD"),
                format!("{field:?} is not a field's API name"),
            ));
        }
        let credentials = match oauth_with(settings, &instance_url, secrets)? {
            Some(config) => {
                Credentials::OAuth(Arc::new(ClientCredentials::new(config, http.clone())))
            }
            None => Credentials::None,
        };
        Ok(Some(
            SalesforceClient::new(&instance_url, credentials, http)
                .with_api_version(&version)
                .with_field(&field),
        ))
    }

    /// How its requests authenticate.
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    fn record_url(&self, record: &CrmRecord) -> Result<String, HandlerError> {
        if !is_api_name(&record.object) {
            return Err(answer::invalid(
                CRM,
                record,
                "the object is not an sObject API name",
            ));
        }
        if !is_record_id(&record.id) {
            return Err(answer::invalid(
                CRM,
                record,
                "the id is not a 15- or 18-character record Id",
            ));
        }
        Ok(format!(
            "{}/services/data/{}/sobjects/{}/{}",
            self.instance_url, self.api_version, record.object, record.id
        ))
    }

    fn request(&self, method: Method, url: &str, correlation_id: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, url)
            .header("Accept", "application/json")
            .header("X-Correlation-Id", correlation_id)
    }
}

/// The OAuth client of prefix `SALESFORCE` (see [`SalesforceClient::from_settings`]).
///
/// # Errors
/// [`ConfigError`] naming the missing or malformed variable.
pub fn oauth(settings: &Settings, instance_url: &str) -> Result<Option<OAuthConfig>, ConfigError> {
    oauth_with(settings, instance_url, &SecretResolver::plain_only())
}

/// As [`oauth`], `SALESFORCE_CLIENT_SECRET` being a plain value or a
/// secret store reference `secrets` resolves.
///
/// # Errors
/// [`ConfigError`] naming the missing or malformed variable.
pub fn oauth_with(
    settings: &Settings,
    instance_url: &str,
    secrets: &SecretResolver,
) -> Result<Option<OAuthConfig>, ConfigError> {
    let Some(client_id) = settings.optional("SALESFORCE_CLIENT_ID") else {
        return Ok(None);
    };
    if settings.optional("SALESFORCE_TOKEN_URL").is_some()
        || settings.optional("SALESFORCE_TENANT_ID").is_some()
    {
        return OAuthConfig::from_settings_with(settings, "SALESFORCE", None, secrets);
    }
    const SECRET: &str = "SALESFORCE_CLIENT_SECRET";
    let secret = secrets.secret(settings, SECRET)?.ok_or_else(|| {
        ConfigError::missing(
            settings.describe(SECRET),
            "the connected app's consumer secret, for the client credentials flow",
        )
    })?;
    Ok(Some(OAuthConfig {
        token_url: format!("{instance_url}/services/oauth2/token"),
        client_id,
        auth: ClientAuth::Secret(secret),
        scope: settings.optional("SALESFORCE_SCOPE"),
    }))
}

/// The `errorCode`s of an error answer (`[{"message","errorCode"}]`).
fn error_codes(answer: &Answer) -> Vec<String> {
    match answer.json() {
        Some(Value::Array(errors)) => errors
            .iter()
            .filter_map(|e| e.get("errorCode").and_then(Value::as_str))
            .map(|c| answer::excerpt(c.as_bytes()))
            .collect(),
        _ => Vec::new(),
    }
}

/// A failed answer: 403 `REQUEST_LIMIT_EXCEEDED` (the org's API request
/// limit) is transient; the rest as [`answer::failure`] classifies it.
fn failure(step: &str, record: &CrmRecord, answer: &Answer) -> HandlerError {
    let codes = error_codes(answer);
    if answer.status == 403 && codes.iter().any(|c| c == "REQUEST_LIMIT_EXCEEDED") {
        return HandlerError::transient(format!(
            "{CRM} answered 403 REQUEST_LIMIT_EXCEEDED to the {step} of {}/{}: the org's API request limit is reached; retry later",
            record.object, record.id
        ));
    }
    let detail = (!codes.is_empty()).then(|| codes.join(", "));
    answer::failure(CRM, step, record, answer, detail)
}

/// `2026-01-15T10:30:00.000+0000` → `Thu, 15 Jan 2026 10:30:00 GMT`.
fn http_date(last_modified: &str) -> Option<String> {
    let t = chrono::DateTime::parse_from_str(last_modified, "%Y-%m-%dT%H:%M:%S%.f%z").ok()?;
    Some(
        t.with_timezone(&chrono::Utc)
            .format("%a, %d %b %Y %H:%M:%S GMT")
            .to_string(),
    )
}

#[async_trait::async_trait]
impl CrmApi for SalesforceClient {
    async fn write_erp_number(
        &self,
        record: &CrmRecord,
        erp_order_number: &str,
        correlation_id: &str,
    ) -> Result<Written, HandlerError> {
        let url = self.record_url(record)?;
        let read_url = format!("{url}?fields={},LastModifiedDate", self.field);
        let read = answer::send(CRM, &self.credentials, || {
            self.request(Method::GET, &read_url, correlation_id)
        })
        .await?;
        if read.status != 200 {
            return Err(failure("read", record, &read));
        }
        let row = read.json().unwrap_or(Value::Null);
        if row.get(&self.field).and_then(Value::as_str) == Some(erp_order_number) {
            return Ok(Written::AlreadySet);
        }
        let condition = match read.header("etag") {
            Some(etag) => ("If-Match", etag.to_owned()),
            None => match row
                .get("LastModifiedDate")
                .and_then(Value::as_str)
                .and_then(http_date)
            {
                Some(date) => ("If-Unmodified-Since", date),
                None => {
                    return Err(HandlerError::permanent(
                        "rejected_by_crm",
                        format!(
                            "{CRM} answered the read of {}/{} with neither an ETag nor a LastModifiedDate: it cannot be updated without risking another user's change",
                            record.object, record.id
                        ),
                    ));
                }
            },
        };
        let body = json!({ self.field.as_str(): erp_order_number });
        let update = answer::send(CRM, &self.credentials, || {
            self.request(Method::PATCH, &url, correlation_id)
                .header(condition.0, condition.1.as_str())
                .json(&body)
        })
        .await?;
        match update.status {
            200..=299 => {
                tracing::info!(crm = CRM, object = %record.object, id = %record.id, correlation_id, "CrmRecordWritten");
                Ok(Written::Updated)
            }
            _ => Err(failure("update", record, &update)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_modified_dates_become_http_dates() {
        assert_eq!(
            http_date("2026-01-15T10:30:00.000+0000").as_deref(),
            Some("Thu, 15 Jan 2026 10:30:00 GMT")
        );
        assert_eq!(http_date("yesterday"), None);
    }

    #[test]
    fn api_versions_and_ids_are_checked() {
        assert!(is_api_version("v62.0") && !is_api_version("62.0") && !is_api_version("v62"));
        assert!(is_record_id("801000000000001") && is_record_id("801000000000001AAA"));
        assert!(!is_record_id("801-00000000001") && !is_record_id("8010"));
    }
}
