//! The ERP's HTTP API as erp-sync uses it, and the classification of its
//! answers into transient and permanent failures.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use switchyard_auth::{Credentials, SendError};
use switchyard_contracts::events::{CustomerUpdatedV1, OrderPlacedV2, SyncOutcome};
use switchyard_triggers::HandlerError;

/// An ERP client over HTTP. Every request carries `Idempotency-Key` (the
/// event id) so a retried upsert never creates a second document, and
/// `X-Correlation-Id`, and the `Authorization` its [`Credentials`] give
/// (an OAuth token is refreshed once when the ERP answers 401).
#[derive(Debug, Clone)]
pub struct ErpClient {
    http: reqwest::Client,
    base_url: String,
    credentials: Credentials,
}

/// The ERP's answer to an order upsert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderAccepted {
    /// The ERP's document number.
    pub erp_order_number: String,
    /// What the ERP did.
    pub outcome: SyncOutcome,
}

impl ErpClient {
    /// A client for the ERP at `base_url` with a per-request timeout,
    /// authenticating with `credentials`.
    pub fn new(
        base_url: &str,
        timeout: Duration,
        credentials: Credentials,
    ) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(3)))
            .build()?;
        Ok(ErpClient {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
            credentials,
        })
    }

    /// `PUT /orders/{orderId}`.
    pub async fn upsert_order(
        &self,
        order: &OrderPlacedV2,
        key: &str,
        correlation: &str,
    ) -> Result<OrderAccepted, HandlerError> {
        let url = format!("{}/orders/{}", self.base_url, encode(&order.order_id));
        let body = self.put(&url, order, key, correlation).await?;
        serde_json::from_slice(&body).map_err(|e| {
            // The upsert may have happened; retrying is safe with the same
            // Idempotency-Key, and ends in the DLQ if the ERP keeps answering this.
            HandlerError::transient(format!(
                "ERP accepted order {} but its answer is unreadable: {e}",
                order.order_id
            ))
        })
    }

    /// `PUT /customers/{customerId}`.
    pub async fn upsert_customer(
        &self,
        customer: &CustomerUpdatedV1,
        key: &str,
        correlation: &str,
    ) -> Result<(), HandlerError> {
        let url = format!(
            "{}/customers/{}",
            self.base_url,
            encode(&customer.customer_id)
        );
        self.put(&url, customer, key, correlation).await.map(drop)
    }

    async fn put<T: Serialize>(
        &self,
        url: &str,
        body: &T,
        key: &str,
        correlation: &str,
    ) -> Result<Vec<u8>, HandlerError> {
        let response = self
            .credentials
            .send(|| {
                self.http
                    .put(url)
                    .header("Idempotency-Key", key)
                    .header("X-Correlation-Id", correlation)
                    .json(body)
            })
            .await
            .map_err(send_error)?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| HandlerError::transient(format!("ERP answer cut off: {e}")))?;
        classify(status.as_u16(), &bytes).map(|()| bytes.to_vec())
    }
}

/// A request that could not be sent: a token endpoint outage or a network
/// failure is transient; refused client credentials are permanent (every
/// retry would be refused the same way until the settings are fixed).
fn send_error(e: SendError) -> HandlerError {
    match e {
        SendError::Transport(e) => HandlerError::transient(format!("ERP unreachable: {e}")),
        e if e.is_transient() => HandlerError::transient(format!("no ERP token: {e}")),
        e => HandlerError::permanent("erp_auth_refused", format!("no ERP token: {e}")),
    }
}

/// 2xx → ok; 408, 425, 429 and 5xx → transient; any other 4xx → permanent.
pub fn classify(status: u16, body: &[u8]) -> Result<(), HandlerError> {
    let excerpt: String = String::from_utf8_lossy(body).chars().take(200).collect();
    match status {
        200..=299 => Ok(()),
        408 | 425 | 429 | 500..=599 => Err(HandlerError::transient(format!(
            "ERP answered {status}: {excerpt}"
        ))),
        400..=499 => Err(HandlerError::permanent(
            "rejected_by_erp",
            format!("ERP answered {status}: {excerpt}"),
        )),
        _ => Err(HandlerError::transient(format!(
            "ERP answered unexpected status {status}"
        ))),
    }
}

/// Percent-encodes a path segment (ids come from outside): every byte but
/// RFC 3986's unreserved characters (`A-Z a-z 0-9 - . _ ~`) becomes `%XX`.
///
/// `form_urlencoded` leaves the same characters plus `*` alone, writes a
/// space as `+` and `~` as `%7E`; those three are put right here. A space
/// and any other escaped byte come out as chunks of their own (`+`, `%XX`),
/// so only whole chunks are rewritten.
fn encode(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for chunk in url::form_urlencoded::byte_serialize(segment.as_bytes()) {
        match chunk {
            "+" => out.push_str("%20"),
            "%7E" => out.push('~'),
            unchanged => out.push_str(&unchanged.replace('*', "%2A")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classified() {
        assert!(classify(201, b"").is_ok());
        for s in [408, 425, 429, 500, 502, 503, 504] {
            assert!(classify(s, b"").unwrap_err().is_transient(), "{s}");
        }
        for s in [400, 401, 403, 404, 409, 422] {
            assert!(!classify(s, b"").unwrap_err().is_transient(), "{s}");
        }
    }

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(encode("SO-1/../x y"), "SO-1%2F..%2Fx%20y");
        let unreserved = "AZaz09-._~";
        assert_eq!(encode(unreserved), unreserved);
        assert_eq!(
            encode(" *+%:@!$&'()=,;?#[]\\\"<>^`{|}/\u{7f}é"),
            "%20%2A%2B%25%3A%40%21%24%26%27%28%29%3D%2C%3B%3F%23%5B%5D%5C%22%3C%3E%5E%60%7B%7C%7D%2F%7F%C3%A9"
        );
    }
}
