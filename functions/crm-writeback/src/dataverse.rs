//! Dynamics 365 / Dataverse through its Web API (v9.2): the ERP number
//! goes into one column of the row (`salesorder` rows by default).
//!
//! Reads `GET {org}/api/data/v9.2/{entityset}({id})?$select={column}`, and
//! when the column does not already hold the number, updates it with
//! `PATCH` and `If-Match: <the @odata.etag read>` — so a row another user
//! changed since is not overwritten (412, retried: the retry reads again),
//! and a row deleted since is not re-created by an upsert (404).

use std::sync::Arc;

use reqwest::Method;
use serde_json::{Value, json};
use switchyard_auth::{ClientCredentials, Credentials, OAuthConfig};
use switchyard_config::{ConfigError, Settings};
use switchyard_contracts::events::CrmRecord;
use switchyard_secrets::SecretResolver;
use switchyard_triggers::HandlerError;

use crate::answer::{self, Answer};
use crate::{CrmApi, Written};

const CRM: &str = "Dataverse";

/// The Web API's path under the organization URI.
pub const API_PATH: &str = "/api/data/v9.2";

/// The column written when `DATAVERSE_ERP_NUMBER_COLUMN` is unset.
pub const DEFAULT_COLUMN: &str = "new_erpordernumber";

/// The Dataverse client.
#[derive(Debug, Clone)]
pub struct DataverseClient {
    org_url: String,
    column: String,
    credentials: Credentials,
    http: reqwest::Client,
}

/// The entity set (the Web API's collection name) of a table's logical
/// name: `salesorder` → `salesorders`, `opportunity` → `opportunities`,
/// `quote` → `quotes`, `invoice` → `invoices`; any other name + `s` (the
/// default plural; a table with another collection name needs adding here).
pub fn entity_set(logical_name: &str) -> String {
    match logical_name {
        "opportunity" => "opportunities".to_owned(),
        other => format!("{other}s"),
    }
}

/// A lower-case logical name: a letter, then letters, digits and `_`.
fn is_logical_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, hexadecimal.
pub fn is_guid(id: &str) -> bool {
    let groups: Vec<&str> = id.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// An `http(s)` URL without a trailing `/`, or an error naming `var`.
pub(crate) fn base_url(settings: &Settings, var: &str, value: &str) -> Result<String, ConfigError> {
    match url::Url::parse(value) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {
            Ok(value.trim_end_matches('/').to_owned())
        }
        Ok(_) => Err(ConfigError::invalid(
            settings.source_of(var),
            format!("{value:?} is not an http(s) URL"),
        )),
        Err(e) => Err(ConfigError::invalid(
            settings.source_of(var),
            format!("{value:?}: {e}"),
        )),
    }
}

impl DataverseClient {
    /// A client for the organization at `org_url` (e.g.
    /// `https://contoso.crm.dynamics.com`) writing [`DEFAULT_COLUMN`].
    pub fn new(org_url: &str, credentials: Credentials, http: reqwest::Client) -> Self {
        DataverseClient {
            org_url: org_url.trim_end_matches('/').to_owned(),
            column: DEFAULT_COLUMN.to_owned(),
            credentials,
            http,
        }
    }

    /// How its requests authenticate.
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// Writes the number into `column` instead.
    #[must_use]
    pub fn with_column(mut self, column: &str) -> Self {
        column.clone_into(&mut self.column);
        self
    }

    /// From `DATAVERSE_URL` (enables it; the organization URI),
    /// `DATAVERSE_ERP_NUMBER_COLUMN` (default [`DEFAULT_COLUMN`]) and the
    /// OAuth client of prefix `DATAVERSE` (`DATAVERSE_CLIENT_ID`, … with the
    /// scope defaulting to `{DATAVERSE_URL}/.default`; without a client id,
    /// requests carry no token). `Ok(None)` when `DATAVERSE_URL` is unset.
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
        let Some(url) = settings.optional("DATAVERSE_URL") else {
            return Ok(None);
        };
        let org_url = base_url(settings, "DATAVERSE_URL", &url)?;
        let column = settings
            .optional("DATAVERSE_ERP_NUMBER_COLUMN")
            .unwrap_or_else(|| DEFAULT_COLUMN.to_owned());
        if !is_logical_name(&column) {
            return Err(ConfigError::invalid(
                settings.source_of("DATAVERSE_ERP_NUMBER_COLUMN"),
                format!(
                    "{column:?} is not a column's logical name (lower-case letters, digits, _)"
                ),
            ));
        }
        // from_settings answers None without a client id; asking first
        // keeps a Dataverse without OAuth (a local stub) from reading more.
        let credentials = match settings.optional("DATAVERSE_CLIENT_ID") {
            None => Credentials::None,
            Some(_) => {
                let scope = format!("{org_url}/.default");
                match OAuthConfig::from_settings_with(settings, "DATAVERSE", Some(&scope), secrets)?
                {
                    Some(config) => {
                        Credentials::OAuth(Arc::new(ClientCredentials::new(config, http.clone())))
                    }
                    None => Credentials::None,
                }
            }
        };
        Ok(Some(
            DataverseClient::new(&org_url, credentials, http).with_column(&column),
        ))
    }

    fn request(&self, method: Method, url: &str, correlation_id: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, url)
            .header("OData-MaxVersion", "4.0")
            .header("OData-Version", "4.0")
            .header("Accept", "application/json")
            .header("X-Correlation-Id", correlation_id)
    }

    /// `{org}/api/data/v9.2/{entityset}({id})`, or why the record cannot be addressed.
    fn row_url(&self, record: &CrmRecord) -> Result<String, HandlerError> {
        if !is_logical_name(&record.object) {
            return Err(answer::invalid(
                CRM,
                record,
                "the object is not a table's logical name",
            ));
        }
        if !is_guid(&record.id) {
            return Err(answer::invalid(CRM, record, "the id is not a GUID"));
        }
        Ok(format!(
            "{}{API_PATH}/{}({})",
            self.org_url,
            answer::segment(&entity_set(&record.object)),
            record.id
        ))
    }
}

/// The Web API's error code (`{"error":{"code":"0x…"}}`), for reasons.
fn error_code(answer: &Answer) -> Option<String> {
    let code = answer.json()?.pointer("/error/code")?.as_str()?.to_owned();
    Some(format!("error {}", answer::excerpt(code.as_bytes())))
}

#[async_trait::async_trait]
impl CrmApi for DataverseClient {
    async fn write_erp_number(
        &self,
        record: &CrmRecord,
        erp_order_number: &str,
        correlation_id: &str,
    ) -> Result<Written, HandlerError> {
        let url = self.row_url(record)?;
        let read_url = format!("{url}?$select={}", self.column);
        let read = answer::send(CRM, &self.credentials, || {
            self.request(Method::GET, &read_url, correlation_id)
        })
        .await?;
        if read.status != 200 {
            return Err(answer::failure(
                CRM,
                "read",
                record,
                &read,
                error_code(&read),
            ));
        }
        let row = read.json().unwrap_or(Value::Null);
        let Some(etag) = row.get("@odata.etag").and_then(Value::as_str) else {
            return Err(HandlerError::transient(format!(
                "{CRM} answered the read of {}/{} without @odata.etag: {}",
                record.object,
                record.id,
                answer::excerpt(&read.body)
            )));
        };
        if row.get(&self.column).and_then(Value::as_str) == Some(erp_order_number) {
            return Ok(Written::AlreadySet);
        }
        let body = json!({ self.column.as_str(): erp_order_number });
        let update = answer::send(CRM, &self.credentials, || {
            self.request(Method::PATCH, &url, correlation_id)
                .header("If-Match", etag)
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
                error_code(&update),
            )),
        }
    }
}
