//! Peek-lock receiving over REST on the same HTTP client, for tools and
//! tests that play the Functions host (the host itself receives in
//! production).
//!
//! `azure_messaging_servicebus` has `peek_lock_message2`, but its
//! `BrokerProperties` declares `EnqueuedSequenceNumber` as `i32`: once an
//! entity's sequence numbers pass 2,147,483,647 every peek-lock fails to
//! parse *after* the broker locked the message (which then counts a
//! delivery for nothing). This receiver parses sequence numbers as `i64`
//! and treats the broker properties leniently.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use azure_core::{HttpClient, Method, Request};
use serde::Deserialize;

use super::auth::ServiceBusAuth;
use super::client::qualified;
use super::config::ConnectionString;
use crate::batch::CallError;

/// The broker properties of a received message (the fields this crate
/// reads; sequence numbers as `i64`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReceivedBrokerProperties {
    /// Deliveries so far, this one included.
    #[serde(default)]
    pub delivery_count: u32,
    /// The lock token (also the last segment of the lock URL).
    #[serde(default)]
    pub lock_token: Option<String>,
    /// When the lock ends (RFC 1123).
    #[serde(default)]
    pub locked_until_utc: Option<String>,
    /// The message id.
    #[serde(default)]
    pub message_id: Option<String>,
    /// The correlation id.
    #[serde(default)]
    pub correlation_id: Option<String>,
    /// The label (subject).
    #[serde(default)]
    pub label: Option<String>,
    /// The sequence number in the entity.
    #[serde(default)]
    pub sequence_number: i64,
    /// The sequence number assigned where the message was first enqueued.
    #[serde(default)]
    pub enqueued_sequence_number: Option<i64>,
    /// When it was enqueued (RFC 1123).
    #[serde(default)]
    pub enqueued_time_utc: Option<String>,
    /// `Active`, `Deferred`, `Scheduled`.
    #[serde(default)]
    pub state: Option<String>,
    /// Time to live in seconds.
    #[serde(default)]
    pub time_to_live: Option<f64>,
    /// Where it was dead-lettered from (dead-letter subqueue only).
    #[serde(default)]
    pub dead_letter_source: Option<String>,
}

/// A message locked by [`ServiceBusReceiver::peek_lock`].
#[derive(Debug, Clone, PartialEq)]
pub struct LockedMessage {
    /// The body bytes.
    pub body: Vec<u8>,
    /// `Content-Type`, if the sender set one.
    pub content_type: Option<String>,
    /// The broker properties.
    pub broker: ReceivedBrokerProperties,
    /// Application properties (custom headers), JSON-decoded.
    pub properties: BTreeMap<String, serde_json::Value>,
    /// The lock URL (`Location`): delete it to complete, put it to unlock.
    pub lock_url: String,
}

impl LockedMessage {
    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Why the broker dead-lettered it: the `DeadLetterReason` application
    /// property (dead-letter subqueue only).
    pub fn dead_letter_reason(&self) -> Option<&str> {
        self.property("deadletterreason")
    }

    /// A string application property (names are lower case: HTTP headers).
    pub fn property(&self, name: &str) -> Option<&str> {
        self.properties
            .get(name)
            .and_then(serde_json::Value::as_str)
    }
}

/// Response headers that are HTTP's own, not application properties.
const STANDARD_HEADERS: &[&str] = &[
    "brokerproperties",
    "connection",
    "content-length",
    "content-type",
    "date",
    "location",
    "server",
    "strict-transport-security",
    "transfer-encoding",
    "vary",
    "keep-alive",
];

/// Peek-lock, complete, abandon and renew over the REST API, with a SAS
/// key (the `Listen` right) or an Entra ID token (the *Azure Service Bus
/// Data Receiver* role).
#[derive(Debug, Clone)]
pub struct ServiceBusReceiver {
    http: Arc<dyn HttpClient>,
    namespace: String,
    auth: ServiceBusAuth,
}

impl ServiceBusReceiver {
    /// A receiver for the connection string's namespace over `http`; the
    /// connection string's rule needs the `Listen` right.
    pub fn new(http: Arc<dyn HttpClient>, connection: ConnectionString) -> Self {
        let auth = ServiceBusAuth::from(&connection);
        ServiceBusReceiver::with_auth(http, &connection.namespace, auth)
    }

    /// A receiver for `namespace` (`contoso.servicebus.windows.net`, or
    /// just `contoso`) over `http`, authenticating with `auth`.
    pub fn with_auth(http: Arc<dyn HttpClient>, namespace: &str, auth: ServiceBusAuth) -> Self {
        ServiceBusReceiver {
            http,
            namespace: qualified(namespace),
            auth,
        }
    }

    fn request(&self, method: Method, uri: &str) -> Result<Request, CallError> {
        let url = url::Url::parse(uri).map_err(|e| CallError {
            code: "ConstructionFailure".to_owned(),
            message: format!("invalid URI {uri:?}: {e}"),
            retryable: false,
        })?;
        let mut request = Request::new(url, method);
        request.insert_header("content-length", "0");
        request.set_body(azure_core::EMPTY_BODY);
        Ok(request)
    }

    /// Locks the next message of `path` (`queue`, `topic/subscriptions/sub`,
    /// or either followed by `/$DeadLetterQueue`), waiting up to `timeout`;
    /// `None` when there is none (HTTP 204).
    ///
    /// # Errors
    /// [`CallError`] for a refused or failed call, or an unreadable answer.
    pub async fn peek_lock(
        &self,
        path: &str,
        timeout: Duration,
    ) -> Result<Option<LockedMessage>, CallError> {
        let uri = format!(
            "https://{}/{path}/messages/head?timeout={}",
            self.namespace,
            timeout.as_secs()
        );
        let request = self.request(Method::Post, &uri)?;
        let response = self.auth.execute(self.http.as_ref(), &request).await?;
        if u16::from(*response.status()) == 204 {
            return Ok(None);
        }
        let headers = response.headers();
        let unreadable = |message: String| CallError {
            code: "ResponseError".to_owned(),
            message,
            retryable: true,
        };
        let broker_json = headers
            .iter()
            .find(|(k, _)| k.as_str().eq_ignore_ascii_case("brokerproperties"))
            .map(|(_, v)| v.as_str().to_owned())
            .ok_or_else(|| unreadable("peek-lock answer without BrokerProperties".to_owned()))?;
        let broker: ReceivedBrokerProperties = serde_json::from_str(&broker_json)
            .map_err(|e| unreadable(format!("unreadable BrokerProperties: {e}")))?;
        let lock_url = headers
            .iter()
            .find(|(k, _)| k.as_str().eq_ignore_ascii_case("location"))
            .map(|(_, v)| v.as_str().to_owned())
            .ok_or_else(|| unreadable("peek-lock answer without Location".to_owned()))?;
        let mut properties = BTreeMap::new();
        let mut content_type = None;
        for (name, value) in headers.iter() {
            let name = name.as_str().to_ascii_lowercase();
            if name == "content-type" {
                content_type = Some(value.as_str().to_owned());
            }
            if STANDARD_HEADERS.contains(&name.as_str()) {
                continue;
            }
            let parsed = serde_json::from_str(value.as_str())
                .unwrap_or_else(|_| serde_json::Value::from(value.as_str()));
            properties.insert(name, parsed);
        }
        Ok(Some(LockedMessage {
            body: response.body().to_vec(),
            content_type,
            broker,
            properties,
            lock_url,
        }))
    }

    /// Completes (deletes) a locked message.
    ///
    /// # Errors
    /// [`CallError`]; HTTP 404 means the lock was lost.
    pub async fn complete(&self, message: &LockedMessage) -> Result<(), CallError> {
        self.lock_call(Method::Delete, &message.lock_url).await
    }

    /// Abandons (unlocks) a locked message so it is delivered again.
    ///
    /// # Errors
    /// [`CallError`]; HTTP 404 means the lock was lost.
    pub async fn abandon(&self, message: &LockedMessage) -> Result<(), CallError> {
        self.lock_call(Method::Put, &message.lock_url).await
    }

    /// Renews the lock of a message.
    ///
    /// # Errors
    /// [`CallError`]; HTTP 404 means the lock was lost.
    pub async fn renew_lock(&self, message: &LockedMessage) -> Result<(), CallError> {
        self.lock_call(Method::Post, &message.lock_url).await
    }

    async fn lock_call(&self, method: Method, lock_url: &str) -> Result<(), CallError> {
        let request = self.request(method, lock_url)?;
        self.auth
            .execute(self.http.as_ref(), &request)
            .await
            .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_properties_read_sequence_numbers_past_i32() {
        let json = r#"{"DeliveryCount":2,"EnqueuedSequenceNumber":4294967296,"EnqueuedTimeUtc":"Wed, 02 Jul 2014 01:32:27 GMT","Label":"M1","LockToken":"7da9cfd5-40d5-4bb1-8d64-ec5a52e1c547","LockedUntilUtc":"Wed, 02 Jul 2014 01:33:27 GMT","MessageId":"31907572164743c38741631acd554d6f","SequenceNumber":4294967296,"State":"Active","TimeToLive":10}"#;
        let b: ReceivedBrokerProperties = serde_json::from_str(json).unwrap();
        assert_eq!(b.sequence_number, 4_294_967_296);
        assert_eq!(b.enqueued_sequence_number, Some(4_294_967_296));
        assert_eq!(b.delivery_count, 2);
        // The crate's own type refuses the same header, and only because of
        // the sequence number: below 2^31 it reads.
        type CrateProperties = azure_messaging_servicebus::service_bus::BrokerProperties;
        let err = serde_json::from_str::<CrateProperties>(json).unwrap_err();
        assert!(err.to_string().contains("4294967296"), "{err}");
        let small = json.replace("4294967296", "42");
        let ok = serde_json::from_str::<CrateProperties>(&small).unwrap();
        assert_eq!(ok.enqueued_sequence_number, Some(42));
    }
}
