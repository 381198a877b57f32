//! How requests to a namespace are authorized: a SAS key signing each
//! request, or a Microsoft Entra ID bearer token ("Authenticate and
//! authorize an application with Microsoft Entra ID to access Azure
//! Service Bus entities": audience `https://servicebus.azure.net`, the
//! identity holding the *Azure Service Bus Data Sender* / *Data Receiver*
//! role on the namespace or entity).

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use azure_core::{CollectedResponse, HttpClient, Request};
use switchyard_auth::{TokenError, TokenSource};

use super::client::call_error;
use super::config::ConnectionString;
use super::sas::sas_token;
use crate::batch::CallError;

/// The scope a client-credentials grant asks for Service Bus.
pub const ENTRA_SCOPE: &str = "https://servicebus.azure.net/.default";

/// The resource a managed identity asks a Service Bus token for.
pub const ENTRA_RESOURCE: &str = "https://servicebus.azure.net";

/// How long the SAS tokens this crate signs are valid.
const SAS_TTL: Duration = Duration::from_secs(3600);

/// How a client authenticates to Service Bus. `Debug` shows neither the
/// key nor a token.
#[derive(Clone)]
pub enum ServiceBusAuth {
    /// A shared access key: every request carries a SAS token signed for
    /// its URI.
    Sas {
        /// The rule (`SharedAccessKeyName`).
        key_name: String,
        /// The key (`SharedAccessKey`).
        key: String,
    },
    /// `Authorization: Bearer <token>` from a Microsoft Entra ID token
    /// source (a managed identity or an app registration); a 401 drops the
    /// token and the call is sent once more with a fresh one.
    Entra(Arc<dyn TokenSource>),
}

impl fmt::Debug for ServiceBusAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServiceBusAuth::Sas { key_name, .. } => f
                .debug_struct("Sas")
                .field("key_name", key_name)
                .field("key", &"<redacted>")
                .finish(),
            ServiceBusAuth::Entra(_) => f.write_str("Entra(..)"),
        }
    }
}

impl From<&ConnectionString> for ServiceBusAuth {
    fn from(connection: &ConnectionString) -> Self {
        ServiceBusAuth::Sas {
            key_name: connection.key_name.clone(),
            key: connection.key.clone(),
        }
    }
}

impl ServiceBusAuth {
    /// True for [`ServiceBusAuth::Entra`].
    pub fn is_entra(&self) -> bool {
        matches!(self, ServiceBusAuth::Entra(_))
    }

    /// Sends `request` with this credential's `Authorization` header and
    /// checks the status. With Entra, a 401 drops the token it was sent with
    /// and the request goes once more with a fresh one; that second answer
    /// is final.
    ///
    /// # Errors
    /// [`CallError`]: no token (retryable when the token endpoint is
    /// unavailable), or the call failed or was refused.
    pub(crate) async fn execute(
        &self,
        http: &dyn HttpClient,
        request: &Request,
    ) -> Result<CollectedResponse, CallError> {
        match self {
            ServiceBusAuth::Sas { key_name, key } => {
                // Signed for the URI without its query, valid for an hour.
                let mut resource = request.url().clone();
                resource.set_query(None);
                let expiry = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default()
                    .saturating_add(SAS_TTL)
                    .as_secs();
                let mut signed = request.clone();
                signed.insert_header(
                    "authorization",
                    sas_token(resource.as_str(), key_name, key, expiry),
                );
                http.execute_request_check_status(&signed)
                    .await
                    .map_err(|e| call_error(&e))
            }
            ServiceBusAuth::Entra(source) => {
                let token = source.token().await.map_err(|e| token_error(&e))?;
                match send_bearer(http, request, &token).await {
                    Err(e) if status_of(&e) == Some(401) => {
                        tracing::info!("Service Bus refused the Entra token (401); fetching anew");
                        source.invalidate(&token);
                        let fresh = source.token().await.map_err(|e| token_error(&e))?;
                        send_bearer(http, request, &fresh)
                            .await
                            .map_err(|e| call_error(&e))
                    }
                    other => other.map_err(|e| call_error(&e)),
                }
            }
        }
    }
}

async fn send_bearer(
    http: &dyn HttpClient,
    request: &Request,
    token: &str,
) -> azure_core::Result<CollectedResponse> {
    let mut authorized = request.clone();
    authorized.insert_header("authorization", format!("Bearer {token}"));
    http.execute_request_check_status(&authorized).await
}

fn status_of(err: &azure_core::Error) -> Option<u16> {
    match err.kind() {
        azure_core::error::ErrorKind::HttpResponse { status, .. } => Some(u16::from(*status)),
        _ => None,
    }
}

/// No token: `TokenUnavailable` (retryable) or `TokenRefused` (not).
pub(crate) fn token_error(err: &TokenError) -> CallError {
    CallError {
        code: if err.is_transient() {
            "TokenUnavailable"
        } else {
            "TokenRefused"
        }
        .to_owned(),
        message: err.to_string(),
        retryable: err.is_transient(),
    }
}
