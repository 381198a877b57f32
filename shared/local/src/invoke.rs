//! `switchyard invoke <function> --event FILE`: runs one function once on a
//! trigger payload with the local defaults and returns the trigger's
//! response — an `SqsBatchResponse`, EventBridge's success or error
//! payload, or a Function URL response.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::erp::ErpStub;
use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::sqs::SqsEvent;
use base64::Engine;
use serde_json::{Value, json};
use switchyard_audit_log::{AuditRecord, AuditStore, AuditStoreError, Recorded};
use switchyard_idempotency::{IdempotencyConfig, MemoryStore, StoreOptions};
use switchyard_publish::{InMemoryPublisher, Publisher};
use switchyard_triggers::Idempotency;
use switchyard_triggers::eventbridge::{EventBridgeAdapter, EventBridgeAdapterConfig};
use switchyard_triggers::sqs::{InMemorySqs, SqsAdapter, SqsAdapterConfig, SqsApi};
use tower::ServiceExt;

/// The functions `invoke` can run.
pub const FUNCTIONS: &[&str] = &["erp-sync", "audit-log", "crm-webhook"];

fn memory_idempotency(function: &str) -> Idempotency {
    Idempotency {
        config: IdempotencyConfig::for_function(function),
        store: Arc::new(MemoryStore::new(StoreOptions::default())),
    }
}

struct MemoryAudit;

#[async_trait::async_trait]
impl AuditStore for MemoryAudit {
    async fn record(&self, _record: &AuditRecord) -> Result<Recorded, AuditStoreError> {
        Ok(Recorded::Written)
    }
}

/// Runs `function` on the trigger payload in `event` (JSON text).
pub async fn invoke(function: &str, event: &str) -> Result<Value, String> {
    let deadline = SystemTime::now() + Duration::from_secs(30);
    match function {
        "erp-sync" => {
            let event: SqsEvent =
                serde_json::from_str(event).map_err(|e| format!("not an SQS event: {e}"))?;
            // ERP_BASE_URL, or a stub that accepts everything
            let stub;
            let erp_base = match std::env::var("ERP_BASE_URL") {
                Ok(url) if !url.is_empty() => url,
                _ => {
                    stub = ErpStub::start().await;
                    stub.base_url()
                }
            };
            let erp = switchyard_erp_sync::ErpClient::new(&erp_base, Duration::from_secs(5))
                .map_err(|e| e.to_string())?;
            let publisher: Arc<dyn Publisher> = Arc::new(InMemoryPublisher::new());
            let sqs: Arc<dyn SqsApi> = Arc::new(InMemorySqs::new());
            let adapter = SqsAdapter::new(
                switchyard_erp_sync::ErpSync::new(erp, publisher),
                switchyard_erp_sync::FUNCTION_NAME,
                SqsAdapterConfig {
                    park_queue_url: Some("local:park".to_owned()),
                    ..SqsAdapterConfig::default()
                },
                Some(sqs),
            )
            .with_idempotency(memory_idempotency(switchyard_erp_sync::FUNCTION_NAME));
            let response = adapter.handle(event, deadline).await;
            serde_json::to_value(response).map_err(|e| e.to_string())
        }
        "audit-log" => {
            let event: EventBridgeEvent = serde_json::from_str(event)
                .map_err(|e| format!("not an EventBridge event: {e}"))?;
            let adapter = EventBridgeAdapter::new(
                switchyard_audit_log::AuditLog::new(Arc::new(MemoryAudit)),
                switchyard_audit_log::FUNCTION_NAME,
                EventBridgeAdapterConfig {
                    park_queue_url: Some("local:park".to_owned()),
                    ..EventBridgeAdapterConfig::default()
                },
                Some(Arc::new(InMemorySqs::new()) as Arc<dyn SqsApi>),
            )
            .with_idempotency(memory_idempotency(switchyard_audit_log::FUNCTION_NAME));
            Ok(match adapter.handle(event, deadline).await {
                Ok(_) => Value::Null,
                Err(e) => json!({ "errorType": "EventBridgeRetry", "errorMessage": e.to_string() }),
            })
        }
        "crm-webhook" => {
            let request: Value = serde_json::from_str(event)
                .map_err(|e| format!("not a Function URL request: {e}"))?;
            let lookup = |var: &str| -> Option<String> {
                std::env::var(var)
                    .ok()
                    .filter(|v| !v.trim().is_empty())
                    .or_else(|| crate::webhook::local_default(var).map(str::to_owned))
            };
            let config =
                switchyard_crm_webhook::Config::from_lookup(&lookup).map_err(|e| e.to_string())?;
            let state = switchyard_crm_webhook::AppState::new(
                config,
                Arc::new(InMemoryPublisher::new()),
                Arc::new(MemoryStore::new(StoreOptions::default())),
            );
            let response = switchyard_crm_webhook::app(state)
                .oneshot(function_url_request(&request)?)
                .await
                .map_err(|e| e.to_string())?;
            function_url_response(response).await
        }
        other => Err(format!(
            "unknown function {other:?}: expected one of {}",
            FUNCTIONS.join(", ")
        )),
    }
}

/// A Lambda Function URL request (payload format 2.0) as an HTTP request.
fn function_url_request(v: &Value) -> Result<axum::http::Request<axum::body::Body>, String> {
    let method = v
        .pointer("/requestContext/http/method")
        .and_then(Value::as_str)
        .unwrap_or("POST");
    let path = v
        .get("rawPath")
        .and_then(Value::as_str)
        .ok_or("the request has no rawPath")?;
    let query = v
        .get("rawQueryString")
        .and_then(Value::as_str)
        .unwrap_or("");
    let uri = if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{query}")
    };
    let mut builder = axum::http::Request::builder().method(method).uri(uri);
    if let Some(headers) = v.get("headers").and_then(Value::as_object) {
        for (k, val) in headers {
            if let Some(val) = val.as_str() {
                builder = builder.header(k.as_str(), val);
            }
        }
    }
    let body = v.get("body").and_then(Value::as_str).unwrap_or("");
    let bytes = if v
        .get("isBase64Encoded")
        .and_then(Value::as_bool)
        .unwrap_or(false)
    {
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .map_err(|e| format!("body is not base64: {e}"))?
    } else {
        body.as_bytes().to_vec()
    };
    builder
        .body(axum::body::Body::from(bytes))
        .map_err(|e| e.to_string())
}

async fn function_url_response(response: axum::response::Response) -> Result<Value, String> {
    let status = response.status().as_u16();
    let headers: serde_json::Map<String, Value> = response
        .headers()
        .iter()
        .filter_map(|(k, v)| {
            v.to_str()
                .ok()
                .map(|v| (k.to_string(), Value::String(v.to_owned())))
        })
        .collect();
    let body = axum::body::to_bytes(response.into_body(), 16 * 1024 * 1024)
        .await
        .map_err(|e| e.to_string())?;
    Ok(json!({ "statusCode": status, "headers": headers, "body": String::from_utf8_lossy(&body) }))
}
