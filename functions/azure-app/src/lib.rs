#![doc = include_str!("../README.md")]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

mod config;

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes, to_bytes};
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, Method, Request, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Map, Value};
use switchyard_erp_sync::ErpSync;
use switchyard_triggers::servicebus::request::http_request;
use switchyard_triggers::servicebus::{
    HttpTriggerResponse, InvocationRequest, InvocationResponse, ServiceBusAdapter,
};
use tower::ServiceExt;

pub use config::{Config, ConfigError, PORT_VAR, build, from_env, listen_port};

/// The HTTP trigger's binding name in `crm-webhook/function.json`.
pub const HTTP_BINDING: &str = "req";

/// The HTTP output binding's name in `crm-webhook/function.json`.
pub const HTTP_OUTPUT: &str = "res";

/// Largest answer body read back from crm-webhook.
const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;

/// The functions this app serves and what they need.
pub struct AzureApp {
    erp_sync: ServiceBusAdapter<ErpSync>,
    crm: Router,
    route_prefix: String,
}

impl AzureApp {
    /// The app over an erp-sync adapter and crm-webhook's state;
    /// `route_prefix` (`/api`) is stripped from HTTP trigger URLs.
    pub fn new(
        erp_sync: ServiceBusAdapter<ErpSync>,
        crm: switchyard_crm_webhook::AppState,
        route_prefix: impl Into<String>,
    ) -> Self {
        AzureApp {
            erp_sync,
            crm: switchyard_crm_webhook::app(crm),
            route_prefix: route_prefix.into(),
        }
    }
}

/// The custom handler's routes, one per function folder: `POST /erp-sync`
/// (Service Bus trigger) and `POST /crm-webhook` (HTTP trigger).
pub fn app(state: AzureApp) -> Router {
    Router::new()
        .route("/erp-sync", post(erp_sync))
        .route("/crm-webhook", post(crm_webhook))
        .with_state(Arc::new(state))
}

fn answer(status: StatusCode, response: &InvocationResponse) -> Response {
    (status, axum::Json(response)).into_response()
}

fn failed(status: StatusCode, log: String) -> Response {
    tracing::error!(status = status.as_u16(), message = %log, "CustomHandlerRequestRefused");
    answer(
        status,
        &InvocationResponse {
            logs: vec![log],
            ..InvocationResponse::default()
        },
    )
}

async fn erp_sync(State(app): State<Arc<AzureApp>>, body: Bytes) -> Response {
    let request: InvocationRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return failed(
                StatusCode::BAD_REQUEST,
                format!("erp-sync: the invocation request is not custom-handler JSON: {e}"),
            );
        }
    };
    let deadline = app.erp_sync.deadline_from_now();
    let invocation = app.erp_sync.handle(&request, deadline).await;
    let status =
        StatusCode::from_u16(invocation.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    answer(status, &invocation.response)
}

/// Turns `Data.req` into a request for crm-webhook's router.
fn to_http_request(app: &AzureApp, request: &InvocationRequest) -> Result<Request<Body>, String> {
    let req = http_request(request, HTTP_BINDING).map_err(|e| e.to_string())?;
    let uri = Uri::from_str(&req.url).map_err(|e| format!("Url {:?}: {e}", req.url))?;
    let path = uri.path();
    let path = path
        .strip_prefix(app.route_prefix.as_str())
        .filter(|p| p.starts_with('/'))
        .unwrap_or(path);
    let query = match uri.query() {
        Some(q) => Some(q.to_owned()),
        None if !req.query.is_empty() => Some(
            req.query
                .iter()
                .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
                .collect::<Vec<_>>()
                .join("&"),
        ),
        None => None,
    };
    let path_and_query = match query {
        Some(q) => format!("{path}?{q}"),
        None => path.to_owned(),
    };
    let method =
        Method::from_str(&req.method).map_err(|e| format!("Method {:?}: {e}", req.method))?;
    let mut builder = Request::builder().method(method).uri(path_and_query);
    for (name, value) in &req.headers {
        let (Ok(name), Ok(value)) = (HeaderName::from_str(name), HeaderValue::from_str(value))
        else {
            return Err(format!("header {name:?} is not a valid HTTP header"));
        };
        builder = builder.header(name, value);
    }
    builder
        .body(Body::from(req.body))
        .map_err(|e| format!("cannot build the request: {e}"))
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn crm_webhook(State(app): State<Arc<AzureApp>>, body: Bytes) -> Response {
    let request: InvocationRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return failed(
                StatusCode::BAD_REQUEST,
                format!("crm-webhook: the invocation request is not custom-handler JSON: {e}"),
            );
        }
    };
    let http = match to_http_request(&app, &request) {
        Ok(r) => r,
        Err(e) => {
            return failed(
                StatusCode::BAD_REQUEST,
                format!("crm-webhook: unreadable Data.{HTTP_BINDING}: {e}"),
            );
        }
    };
    let method = http.method().to_string();
    let path = http.uri().path().to_owned();
    let response = match app.crm.clone().oneshot(http).await {
        Ok(r) => r,
        Err(never) => match never {},
    };
    let status = response.status().as_u16();
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
    let body = match to_bytes(response.into_body(), MAX_RESPONSE_BYTES).await {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(e) => {
            return failed(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("crm-webhook: cannot read the answer: {e}"),
            );
        }
    };
    let res = HttpTriggerResponse {
        status_code: status,
        headers,
        body,
    };
    let mut outputs = Map::new();
    outputs.insert(
        HTTP_OUTPUT.to_owned(),
        serde_json::to_value(&res).unwrap_or(Value::Null),
    );
    answer(
        StatusCode::OK,
        &InvocationResponse {
            outputs,
            logs: vec![format!("crm-webhook: {method} {path} answered {status}")],
            return_value: Value::Null,
        },
    )
}
