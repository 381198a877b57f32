//! The HTTP transport injected into `azure_messaging_servicebus`: the
//! workspace's `reqwest` (rustls) behind azure_core's `HttpClient` trait,
//! with an optional endpoint override so tests can point the public
//! namespace URL at a local server.
//!
//! `azure_messaging_servicebus` builds every URL as
//! `https://{namespace}.servicebus.windows.net/...` and has no endpoint
//! setting; rewriting the origin here, below the crate, is the one place it
//! can be changed. The SAS token in the request still names the public URI,
//! as it would in production.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use azure_core::error::{Error, ErrorKind};
use azure_core::{Body, HttpClient, Request, Response, StatusCode};

use super::config::{NAMESPACE_SUFFIX, check_endpoint};

/// azure_core's `HttpClient` over `reqwest`, sending requests for
/// `*.servicebus.windows.net` to `endpoint` when one is set.
#[derive(Debug, Clone)]
pub struct ServiceBusHttpClient {
    http: reqwest::Client,
    endpoint: Option<url::Url>,
}

/// The HTTP client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum HttpClientError {
    /// The endpoint override is not `http(s)://host[:port]`.
    #[error("invalid Service Bus endpoint {url:?}: {reason}")]
    Endpoint {
        /// The value given.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// reqwest could not build its client (TLS backend).
    #[error("cannot build the HTTP client: {0}")]
    Build(#[from] reqwest::Error),
}

impl ServiceBusHttpClient {
    /// A client with a 30 s request timeout; `endpoint` overrides the
    /// namespace origin (`http://127.0.0.1:5300`).
    ///
    /// # Errors
    /// [`HttpClientError`] for a malformed endpoint or a TLS backend failure.
    pub fn new(endpoint: Option<&str>) -> Result<Self, HttpClientError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .connect_timeout(Duration::from_secs(5))
            .build()?;
        Self::with_client(http, endpoint)
    }

    /// Wraps an existing reqwest client.
    ///
    /// # Errors
    /// [`HttpClientError::Endpoint`] for a malformed endpoint.
    pub fn with_client(
        http: reqwest::Client,
        endpoint: Option<&str>,
    ) -> Result<Self, HttpClientError> {
        let endpoint = endpoint
            .map(|url| {
                check_endpoint(url).map_err(|reason| HttpClientError::Endpoint {
                    url: url.to_owned(),
                    reason,
                })
            })
            .transpose()?;
        Ok(ServiceBusHttpClient { http, endpoint })
    }

    /// As an `Arc<dyn HttpClient>`, the form the Service Bus crate takes.
    pub fn shared(self) -> Arc<dyn HttpClient> {
        Arc::new(self)
    }

    /// Where a request for `url` really goes.
    pub fn route(&self, url: &url::Url) -> url::Url {
        let mut routed = url.clone();
        let Some(endpoint) = &self.endpoint else {
            return routed;
        };
        let public = url
            .host_str()
            .is_some_and(|h| h.to_ascii_lowercase().ends_with(NAMESPACE_SUFFIX));
        if public {
            // Both are valid absolute http(s) URLs, so these cannot fail;
            // on the impossible error the original URL is kept.
            let _ = routed.set_scheme(endpoint.scheme());
            let _ = routed.set_host(endpoint.host_str());
            let _ = routed.set_port(endpoint.port());
        }
        routed
    }
}

#[async_trait]
impl HttpClient for ServiceBusHttpClient {
    async fn execute_request(&self, request: &Request) -> azure_core::Result<Response> {
        let url = self.route(request.url());
        let method = reqwest::Method::from_str(request.method().as_ref())
            .map_err(|e| Error::full(ErrorKind::DataConversion, e, "invalid HTTP method"))?;
        let mut builder = self.http.request(method, url);
        for (name, value) in request.headers().iter() {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let body = match request.body() {
            Body::Bytes(bytes) => bytes.clone(),
            Body::SeekableStream(_) => {
                return Err(Error::message(
                    ErrorKind::Other,
                    "streaming bodies are not used by the Service Bus client",
                ));
            }
        };
        let response = builder
            .body(body)
            .send()
            .await
            .map_err(|e| Error::full(ErrorKind::Io, e, "Service Bus request failed"))?;
        let status = StatusCode::try_from(response.status().as_u16())
            .map_err(|_| Error::message(ErrorKind::DataConversion, "invalid HTTP status code"))?;
        let mut headers = azure_core::headers::Headers::new();
        for (name, value) in response.headers() {
            if let Ok(value) = value.to_str() {
                headers.insert(name.as_str().to_owned(), value.to_owned());
            }
        }
        let bytes = response.bytes().await.map_err(|e| {
            Error::full(ErrorKind::Io, e, "reading the Service Bus response failed")
        })?;
        let stream = futures_util::stream::iter(vec![Ok(bytes)]);
        Ok(Response::new(status, headers, Box::pin(stream)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_namespace_origin_is_rewritten() {
        let client = ServiceBusHttpClient::new(Some("http://127.0.0.1:5300")).unwrap();
        let url = url::Url::parse(
            "https://contoso.servicebus.windows.net/integration/subscriptions/erp-sync/messages/head?timeout=5",
        )
        .unwrap();
        assert_eq!(
            client.route(&url).as_str(),
            "http://127.0.0.1:5300/integration/subscriptions/erp-sync/messages/head?timeout=5"
        );
        let other = url::Url::parse("https://example.org/x").unwrap();
        assert_eq!(client.route(&other), other);
        let direct = ServiceBusHttpClient::new(None).unwrap();
        assert_eq!(direct.route(&url), url);
        assert!(ServiceBusHttpClient::new(Some("ftp://x")).is_err());
    }
}
