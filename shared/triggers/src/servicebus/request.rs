//! The Azure Functions custom-handler contract: the request the host POSTs
//! to `/{functionName}` (`{"Data": {...}, "Metadata": {...}}`) and the
//! response it expects (`{"Outputs": {...}, "Logs": [...], "ReturnValue": ...}`),
//! with the host's quirks handled in one place:
//!
//! - string values (metadata, and sometimes a string message body) arrive
//!   JSON-encoded a second time: `"MessageId": "\"3f2a...\""`;
//! - numbers may arrive as strings: `"DeliveryCount": "2"`;
//! - `UserProperties` / `ApplicationProperties` arrive as objects, or as a
//!   JSON-encoded object;
//! - a binary body (`"dataType": "binary"`) arrives as base64;
//! - a JSON body may arrive parsed (an object) instead of as text.
//!
//! Metadata names are matched case-insensitively.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The request body the Functions host sends a custom handler.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InvocationRequest {
    /// Input bindings by name (the trigger's `name` in function.json).
    #[serde(rename = "Data", default)]
    pub data: Map<String, Value>,
    /// Trigger metadata (`DeliveryCount`, `MessageId`, `sys`, ...).
    #[serde(rename = "Metadata", default)]
    pub metadata: Map<String, Value>,
}

/// The response body a custom handler returns.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InvocationResponse {
    /// Output bindings by name (`res` for an HTTP output binding).
    #[serde(rename = "Outputs", default)]
    pub outputs: Map<String, Value>,
    /// Lines the host writes to the invocation's log.
    #[serde(rename = "Logs", default)]
    pub logs: Vec<String>,
    /// The `$return` binding's value.
    #[serde(rename = "ReturnValue", default)]
    pub return_value: Value,
}

/// The host sent something this adapter cannot read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// `Data` has no value for the trigger binding.
    #[error("the request has no Data.{binding} (the trigger binding in function.json)")]
    MissingBinding {
        /// The binding name looked for.
        binding: String,
    },
    /// A value has an unexpected shape.
    #[error("{field}: {reason}")]
    Invalid {
        /// The field.
        field: String,
        /// What is wrong.
        reason: String,
    },
}

/// Decodes a string that holds JSON once more, when it does: the host's
/// double encoding (`"\"abc\""` → `"abc"`, `"{\"a\":1}"` → `{"a":1}`,
/// `"2"` → `2`). Strings that are not JSON are returned as they are.
pub fn unwrap_encoded(value: &Value) -> Value {
    let mut current = value.clone();
    for _ in 0..2 {
        let Value::String(s) = &current else { break };
        let trimmed = s.trim();
        let looks_encoded = trimmed.starts_with('"')
            || trimmed.starts_with('{')
            || trimmed.starts_with('[')
            || trimmed.parse::<f64>().is_ok();
        if !looks_encoded {
            break;
        }
        match serde_json::from_str::<Value>(trimmed) {
            Ok(decoded) => current = decoded,
            Err(_) => break,
        }
    }
    current
}

fn get<'a>(map: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    map.get(name).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

fn as_text(value: &Value) -> Option<String> {
    match unwrap_encoded(value) {
        Value::Null => None,
        Value::String(s) => Some(s),
        other => Some(other.to_string()),
    }
}

fn as_object(value: &Value) -> Map<String, Value> {
    match unwrap_encoded(value) {
        Value::Object(map) => map
            .into_iter()
            .map(|(k, v)| {
                let v = match &v {
                    Value::String(s) if s.trim_start().starts_with('"') => unwrap_encoded(&v),
                    _ => v,
                };
                (k, v)
            })
            .collect(),
        _ => Map::new(),
    }
}

impl InvocationRequest {
    /// A metadata value, case-insensitively, with the double encoding removed.
    pub fn metadata_value(&self, name: &str) -> Option<Value> {
        get(&self.metadata, name).map(unwrap_encoded)
    }

    /// A metadata value as text.
    pub fn metadata_text(&self, name: &str) -> Option<String> {
        get(&self.metadata, name).and_then(as_text)
    }
}

/// A Service Bus message as the trigger delivers it to a custom handler.
#[derive(Debug, Clone, PartialEq)]
pub struct TriggerMessage {
    /// The body as text (a base64 binary body decoded).
    pub body: String,
    /// `MessageId`.
    pub message_id: Option<String>,
    /// `CorrelationId`.
    pub correlation_id: Option<String>,
    /// `DeliveryCount` (from 1).
    pub delivery_count: u32,
    /// `EnqueuedTimeUtc`.
    pub enqueued_time_utc: Option<String>,
    /// `SequenceNumber`.
    pub sequence_number: Option<i64>,
    /// `Label` / `Subject`.
    pub label: Option<String>,
    /// `ContentType`.
    pub content_type: Option<String>,
    /// `ApplicationProperties` merged over `UserProperties` (the SDK 5 and
    /// SDK 4 names of the same thing).
    pub application_properties: Map<String, Value>,
}

impl TriggerMessage {
    /// The correlation id: `CorrelationId`, else an application property
    /// `correlationid` / `correlation_id` / `correlationId`.
    pub fn correlation(&self) -> Option<String> {
        self.correlation_id.clone().or_else(|| {
            ["correlationid", "correlation_id", "correlationId"]
                .iter()
                .find_map(|k| get(&self.application_properties, k).and_then(as_text))
        })
    }
}

/// Reads the body of binding `binding`: text as is (decoded once more if
/// the host double-encoded it), a parsed JSON value re-serialized, base64
/// decoded when `binary` (or when the text is base64 of a JSON document).
///
/// # Errors
/// [`RequestError`] when the binding is missing or a binary body is not base64.
pub fn binding_body(
    request: &InvocationRequest,
    binding: &str,
    binary: bool,
) -> Result<String, RequestError> {
    let value = get(&request.data, binding).ok_or_else(|| RequestError::MissingBinding {
        binding: binding.to_owned(),
    })?;
    let text = match value {
        Value::String(s) => match serde_json::from_str::<Value>(s.trim()) {
            // The host encoded a string body a second time.
            Ok(Value::String(inner)) if s.trim_start().starts_with('"') => inner,
            _ => s.clone(),
        },
        Value::Null => String::new(),
        other => other.to_string(),
    };
    let engine = base64::engine::general_purpose::STANDARD;
    if binary {
        let bytes = engine
            .decode(text.trim())
            .map_err(|e| RequestError::Invalid {
                field: format!("Data.{binding}"),
                reason: format!("a binary body must be base64: {e}"),
            })?;
        return Ok(String::from_utf8_lossy(&bytes).into_owned());
    }
    // An envelope is never valid base64 (`{` is not in the alphabet), so
    // text that decodes to a JSON document was a binary body.
    if !text.trim_start().starts_with(['{', '[']) {
        if let Ok(bytes) = engine.decode(text.trim()) {
            if let Ok(decoded) = String::from_utf8(bytes) {
                if decoded.trim_start().starts_with(['{', '[']) {
                    return Ok(decoded);
                }
            }
        }
    }
    Ok(text)
}

/// Reads a Service Bus trigger request.
///
/// # Errors
/// [`RequestError`] when the binding is missing or unreadable.
pub fn service_bus_message(
    request: &InvocationRequest,
    binding: &str,
    binary: bool,
) -> Result<TriggerMessage, RequestError> {
    let body = binding_body(request, binding, binary)?;
    let delivery_count = match request.metadata_value("DeliveryCount") {
        None | Some(Value::Null) => 1,
        Some(v) => v
            .as_u64()
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| RequestError::Invalid {
                field: "Metadata.DeliveryCount".to_owned(),
                reason: format!("{v} is not a delivery count"),
            })?,
    };
    let mut application_properties = get(&request.metadata, "UserProperties")
        .map(as_object)
        .unwrap_or_default();
    if let Some(props) = get(&request.metadata, "ApplicationProperties") {
        application_properties.extend(as_object(props));
    }
    Ok(TriggerMessage {
        body,
        message_id: request.metadata_text("MessageId"),
        correlation_id: request.metadata_text("CorrelationId"),
        delivery_count,
        enqueued_time_utc: request.metadata_text("EnqueuedTimeUtc"),
        sequence_number: request.metadata_value("SequenceNumber").and_then(|v| {
            v.as_i64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        }),
        label: request
            .metadata_text("Label")
            .or_else(|| request.metadata_text("Subject")),
        content_type: request.metadata_text("ContentType"),
        application_properties,
    })
}

/// An HTTP request as the host passes it in `Data.<binding>` (`req`).
#[derive(Debug, Clone, PartialEq)]
pub struct HttpTriggerRequest {
    /// The full URL the client called.
    pub url: String,
    /// The method.
    pub method: String,
    /// Query parameters.
    pub query: BTreeMap<String, String>,
    /// Headers; a header with several values appears once per value.
    pub headers: Vec<(String, String)>,
    /// The body bytes.
    pub body: Vec<u8>,
}

/// Reads an HTTP trigger request: `Url`, `Method`, `Query` (an object or a
/// JSON-encoded object), `Headers` (name → array of values, or a string),
/// `Body` (text exactly as received; a parsed JSON value is re-serialized).
///
/// # Errors
/// [`RequestError`] when the binding, `Url` or `Method` is missing.
pub fn http_request(
    request: &InvocationRequest,
    binding: &str,
) -> Result<HttpTriggerRequest, RequestError> {
    let req = get(&request.data, binding).ok_or_else(|| RequestError::MissingBinding {
        binding: binding.to_owned(),
    })?;
    let req = match unwrap_encoded(req) {
        Value::Object(map) => map,
        _ => {
            return Err(RequestError::Invalid {
                field: format!("Data.{binding}"),
                reason: "expected an object with Url, Method, Headers, Body".to_owned(),
            });
        }
    };
    let field = |name: &str| -> Result<String, RequestError> {
        get(&req, name)
            .and_then(|v| v.as_str().map(str::to_owned))
            .ok_or_else(|| RequestError::Invalid {
                field: format!("Data.{binding}.{name}"),
                reason: "missing".to_owned(),
            })
    };
    let url = field("Url")?;
    let method = field("Method")?;
    let query = get(&req, "Query")
        .map(as_object)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(k, v)| as_text(&v).map(|v| (k, v)))
        .collect();
    let mut headers = Vec::new();
    for (name, values) in get(&req, "Headers").map(as_object).unwrap_or_default() {
        match values {
            Value::Array(values) => {
                for v in values {
                    if let Some(v) = v.as_str() {
                        headers.push((name.clone(), v.to_owned()));
                    }
                }
            }
            Value::String(v) => headers.push((name, v)),
            _ => {}
        }
    }
    let body = match get(&req, "Body") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => s.as_bytes().to_vec(),
        Some(other) => other.to_string().into_bytes(),
    };
    Ok(HttpTriggerRequest {
        url,
        method,
        query,
        headers,
        body,
    })
}

impl HttpTriggerRequest {
    /// The request as the function's HTTP app sees it: the path without
    /// `route_prefix` (host.json's `extensions.http.routePrefix`, `/api`),
    /// the query from the URL or else from `Query` (percent-encoded).
    ///
    /// # Errors
    /// [`RequestError::Invalid`] for a URL, method or header that is not HTTP.
    pub fn into_http(self, route_prefix: &str) -> Result<http::Request<Vec<u8>>, RequestError> {
        let invalid = |field: &str, reason: String| RequestError::Invalid {
            field: field.to_owned(),
            reason,
        };
        let uri: http::Uri = self
            .url
            .parse()
            .map_err(|e| invalid("Url", format!("{:?}: {e}", self.url)))?;
        let path = uri.path();
        let path = path
            .strip_prefix(route_prefix)
            .filter(|p| p.starts_with('/'))
            .unwrap_or(path);
        let query = match uri.query() {
            Some(q) => Some(q.to_owned()),
            None if !self.query.is_empty() => Some(
                url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(&self.query)
                    .finish(),
            ),
            None => None,
        };
        let path_and_query = match query {
            Some(q) => format!("{path}?{q}"),
            None => path.to_owned(),
        };
        let method = http::Method::from_bytes(self.method.as_bytes())
            .map_err(|e| invalid("Method", format!("{:?}: {e}", self.method)))?;
        let mut builder = http::Request::builder().method(method).uri(path_and_query);
        for (name, value) in &self.headers {
            let (Ok(name), Ok(value)) = (
                http::HeaderName::from_bytes(name.as_bytes()),
                http::HeaderValue::from_str(value),
            ) else {
                return Err(invalid(
                    "Headers",
                    format!("{name:?} is not a valid HTTP header"),
                ));
            };
            builder = builder.header(name, value);
        }
        builder
            .body(self.body)
            .map_err(|e| invalid("Url", format!("cannot build the request: {e}")))
    }
}

impl HttpTriggerResponse {
    /// The output binding's value for a response: repeated headers joined
    /// with `, `, the body as text (lossy for non-UTF-8 bytes).
    pub fn from_http(response: &http::Response<Vec<u8>>) -> Self {
        let mut headers: BTreeMap<String, String> = BTreeMap::new();
        for (name, value) in response.headers() {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            headers
                .entry(name.as_str().to_owned())
                .and_modify(|v| {
                    v.push_str(", ");
                    v.push_str(&value);
                })
                .or_insert(value);
        }
        HttpTriggerResponse {
            status_code: response.status().as_u16(),
            headers,
            body: String::from_utf8_lossy(response.body()).into_owned(),
        }
    }
}

/// The HTTP output binding's value (`Outputs.res`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HttpTriggerResponse {
    /// The status code.
    #[serde(rename = "statusCode")]
    pub status_code: u16,
    /// Headers.
    pub headers: BTreeMap<String, String>,
    /// The body as text.
    pub body: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unwraps_the_hosts_double_encoding() {
        assert_eq!(unwrap_encoded(&json!("\"abc\"")), json!("abc"));
        assert_eq!(unwrap_encoded(&json!("2")), json!(2));
        assert_eq!(unwrap_encoded(&json!("{\"a\":\"b\"}")), json!({"a": "b"}));
        assert_eq!(unwrap_encoded(&json!("\"\\\"x\\\"\"")), json!("x"));
        assert_eq!(unwrap_encoded(&json!("plain")), json!("plain"));
        assert_eq!(unwrap_encoded(&json!("{not json")), json!("{not json"));
    }

    #[test]
    fn bodies_in_every_shape() {
        let req = |v: Value| InvocationRequest {
            data: [("message".to_owned(), v)].into_iter().collect(),
            metadata: Map::new(),
        };
        let envelope = r#"{"id":"e1"}"#;
        for (value, binary) in [
            (json!(envelope), false),
            (json!(serde_json::to_string(envelope).unwrap()), false),
            (json!({"id": "e1"}), false),
            (
                json!(base64::engine::general_purpose::STANDARD.encode(envelope)),
                true,
            ),
            (
                json!(base64::engine::general_purpose::STANDARD.encode(envelope)),
                false,
            ),
        ] {
            assert_eq!(
                binding_body(&req(value.clone()), "message", binary).unwrap(),
                envelope,
                "{value}"
            );
        }
        assert_eq!(
            binding_body(&req(json!("hello")), "message", false).unwrap(),
            "hello"
        );
        assert!(binding_body(&req(json!("not base64!")), "message", true).is_err());
        assert!(matches!(
            binding_body(&req(json!("x")), "other", false),
            Err(RequestError::MissingBinding { .. })
        ));
    }
}
