//! `switchyard invoke <function> --event FILE`: runs one registered function
//! once on a trigger payload, built by the registry with the local
//! defaults (in-memory idempotency, publisher and audit table; an ERP stub
//! unless `ERP_BASE_URL` is set), and returns the trigger's response — an
//! `SqsBatchResponse`, EventBridge's success or error payload, or a
//! Function URL response.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::Engine;
use serde_json::{Value, json};
use switchyard_audit_log::{AuditRecord, AuditStore, AuditStoreError, Recorded};
use switchyard_config::Settings;
use switchyard_idempotency::{MemoryStore, StoreOptions};
use switchyard_publish::InMemoryPublisher;
use switchyard_triggers::lambda::Invocation;
use switchyard_triggers::registry::{App, Platform, Resources, Trigger};
use switchyard_triggers::sqs::{InMemorySqs, SqsApi};

use crate::erp::ErpStub;
use crate::stack::LOCAL_DEFAULTS;

/// The functions `invoke` can run: every registered one.
pub fn functions() -> Vec<&'static str> {
    switchyard_registry::functions()
        .iter()
        .map(|f| f.name)
        .collect()
}

struct MemoryAudit;

#[async_trait::async_trait]
impl AuditStore for MemoryAudit {
    async fn record(&self, _record: &AuditRecord) -> Result<Recorded, AuditStoreError> {
        Ok(Recorded::Written)
    }
}

/// Runs `function` on the trigger payload in `event` (JSON text) with
/// `settings` over the local defaults.
pub async fn invoke(function: &str, event: &str, settings: &Settings) -> Result<Value, String> {
    let Some(function) = switchyard_registry::find(function) else {
        return Err(format!(
            "unknown function {function:?}: expected one of {}",
            functions().join(", ")
        ));
    };
    let payload: Value =
        serde_json::from_str(event).map_err(|e| format!("the event is not JSON: {e}"))?;
    let deadline = SystemTime::now() + Duration::from_secs(30);
    let mut settings = settings
        .scoped(function.name)
        .with_fallbacks(LOCAL_DEFAULTS.iter().copied())
        .with_fallbacks([
            ("SWITCHYARD_PARK_QUEUE_URL", "local:park"),
            ("SWITCHYARD_PUBLIC_BASE_URL", "http://127.0.0.1"),
        ]);
    // ERP_BASE_URL, or a stub that accepts everything
    let _stub = if settings.optional("ERP_BASE_URL").is_none()
        && function.settings.iter().any(|s| s.var == "ERP_BASE_URL")
    {
        let stub = ErpStub::start().await;
        settings = settings.with_fallbacks([("ERP_BASE_URL", stub.base_url())]);
        Some(stub)
    } else {
        None
    };
    let audit: Arc<dyn AuditStore> = Arc::new(MemoryAudit);
    let platform = Platform {
        settings,
        publisher: Arc::new(InMemoryPublisher::new()),
        store: Some(Arc::new(MemoryStore::new(StoreOptions::default()))),
        sqs: Some(Arc::new(InMemorySqs::new()) as Arc<dyn SqsApi>),
        servicebus: None,
        triggers: vec![Trigger::Sqs, Trigger::EventBridge, Trigger::Http],
        resources: Resources::new().with(audit),
    };
    let app = function
        .build(&platform)
        .await
        .map_err(|e| format!("{}: {e}", function.name))?;
    match app {
        App::Messages(app) => match Invocation::read(&payload.to_string())? {
            Invocation::Sqs(batch) => {
                let (response, _) = app.sqs(batch, deadline).await.map_err(|e| e.to_string())?;
                serde_json::to_value(response).map_err(|e| e.to_string())
            }
            Invocation::EventBridge(event) => Ok(
                match app
                    .eventbridge(event, deadline)
                    .await
                    .map_err(|e| e.to_string())?
                {
                    Ok(_) => Value::Null,
                    Err(e) => {
                        json!({ "errorType": "EventBridgeRetry", "errorMessage": e.to_string() })
                    }
                },
            ),
        },
        App::Http(app) => {
            let response = app.call(function_url_request(&payload)?).await;
            Ok(function_url_response(&response))
        }
    }
}

/// A Lambda Function URL request (payload format 2.0) as an HTTP request.
fn function_url_request(v: &Value) -> Result<http::Request<Vec<u8>>, String> {
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
    let mut builder = http::Request::builder().method(method).uri(uri);
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
    builder.body(bytes).map_err(|e| e.to_string())
}

fn function_url_response(response: &http::Response<Vec<u8>>) -> Value {
    let headers: serde_json::Map<String, Value> = response
        .headers()
        .iter()
        .filter_map(|(k, v)| {
            v.to_str()
                .ok()
                .map(|v| (k.to_string(), Value::String(v.to_owned())))
        })
        .collect();
    json!({
        "statusCode": response.status().as_u16(),
        "headers": headers,
        "body": String::from_utf8_lossy(response.body()),
    })
}
