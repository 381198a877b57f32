//! Test support: a configured app over the in-memory publisher and store,
//! request builders that sign like each CRM, and fixtures.
#![allow(dead_code, unreachable_pub)]

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::{HeaderMap, Request, StatusCode};
use chrono::Utc;
use switchyard_crm_webhook::{AppState, Config, app};
use switchyard_idempotency::{IdempotencyStore, MemoryStore, StoreOptions};
use switchyard_publish::{InMemoryPublisher, Publisher};
use switchyard_webhooks::{hubspot, standard, stripe};
use tower::ServiceExt;

pub const BASE_URL: &str = "https://hooks.example.com";
pub const DYNAMICS_KEY: &str = "dyn-key-new";
pub const HUBSPOT_SECRET: &str = "hubspot-client-secret";
pub const SALESFORCE_ORG: &str = "00D5e000000AbCdEAF";
/// The Standard Webhooks spec's published test secret.
pub const STANDARD_SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
pub const STANDARD_KEY_B64: &str = "C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
pub const STRIPE_SECRET: &str = "whsec_stripe_test_secret";

pub fn env() -> HashMap<&'static str, String> {
    HashMap::from([
        ("SWITCHYARD_IDEMPOTENCY", "memory".to_owned()),
        (
            "SWITCHYARD_DYNAMICS_WEBHOOK_KEY",
            format!("dyn-key-old,{DYNAMICS_KEY}"),
        ),
        (
            "SWITCHYARD_HUBSPOT_CLIENT_SECRET",
            format!("old-hubspot-secret,{HUBSPOT_SECRET}"),
        ),
        ("SWITCHYARD_SALESFORCE_ORG_IDS", SALESFORCE_ORG.to_owned()),
        (
            "SWITCHYARD_STANDARD_WEBHOOK_SECRET",
            STANDARD_SECRET.to_owned(),
        ),
        ("SWITCHYARD_STRIPE_WEBHOOK_SECRET", STRIPE_SECRET.to_owned()),
        ("SWITCHYARD_PUBLIC_BASE_URL", BASE_URL.to_owned()),
        (
            "SWITCHYARD_DYNAMICS_CURRENCIES",
            "0b6c3f1e-1c2b-e711-8118-000d3a1a0e11=EUR".to_owned(),
        ),
    ])
}

pub fn config_from(vars: HashMap<&'static str, String>) -> Config {
    Config::from_settings(&switchyard_config::Settings::from_fn(move |k| {
        vars.get(k).cloned()
    }))
    .expect("test config")
}

pub struct Harness {
    pub app: Router,
    pub published: InMemoryPublisher,
    pub store: Arc<MemoryStore>,
}

pub fn harness_with(
    config: Config,
    publisher: Arc<dyn Publisher>,
    published: InMemoryPublisher,
) -> Harness {
    let store = Arc::new(MemoryStore::new(StoreOptions::default()));
    let state = AppState::new(
        config,
        publisher,
        store.clone() as Arc<dyn IdempotencyStore>,
    );
    Harness {
        app: app(state),
        published,
        store,
    }
}

pub fn harness() -> Harness {
    let published = InMemoryPublisher::new();
    harness_with(config_from(env()), Arc::new(published.clone()), published)
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

pub async fn send(app: &Router, request: Request<Body>) -> Answer {
    let response = app
        .clone()
        .oneshot(request)
        .await
        .expect("infallible router");
    let status = response.status();
    let headers = response.headers().clone();
    let body = to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body")
        .to_vec();
    Answer {
        status,
        headers,
        body,
    }
}

pub fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../../shared/webhooks/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn post(path: &str, content_type: &str) -> axum::http::request::Builder {
    Request::post(path)
        .header("content-type", content_type)
        .header("host", "internal.lambda-url.example")
}

pub fn dynamics(body: Vec<u8>) -> Request<Body> {
    post("/webhooks/dynamics", "application/json")
        .header("x-switchyard-key", DYNAMICS_KEY)
        .body(Body::from(body))
        .unwrap()
}

pub fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

pub fn hubspot_signed(body: Vec<u8>, secret: &str, timestamp_ms: i64) -> Request<Body> {
    let ts = timestamp_ms.to_string();
    let sig = hubspot::sign_v3(
        secret.as_bytes(),
        "POST",
        &format!("{BASE_URL}/webhooks/hubspot"),
        &body,
        &ts,
    );
    post("/webhooks/hubspot", "application/json")
        .header(hubspot::SIGNATURE_V3_HEADER, sig)
        .header(hubspot::TIMESTAMP_HEADER, ts)
        .body(Body::from(body))
        .unwrap()
}

pub fn hubspot(body: Vec<u8>) -> Request<Body> {
    hubspot_signed(body, HUBSPOT_SECRET, now_ms())
}

pub fn salesforce(body: Vec<u8>) -> Request<Body> {
    post("/webhooks/salesforce", "text/xml; charset=utf-8")
        .header("soapaction", "\"\"")
        .body(Body::from(body))
        .unwrap()
}

pub fn standard_key() -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(STANDARD_KEY_B64)
        .unwrap()
}

pub fn standard_signed(id: &str, body: Vec<u8>, key: &[u8], timestamp: i64) -> Request<Body> {
    let sig = standard::sign(key, id, timestamp, &body);
    post("/webhooks/standard", "application/json")
        .header(standard::ID_HEADER, id)
        .header(standard::TIMESTAMP_HEADER, timestamp.to_string())
        .header(standard::SIGNATURE_HEADER, sig)
        .body(Body::from(body))
        .unwrap()
}

pub fn standard_req(id: &str, body: Vec<u8>) -> Request<Body> {
    standard_signed(id, body, &standard_key(), Utc::now().timestamp())
}

pub fn stripe_signed(body: Vec<u8>, secret: &str, t: i64) -> Request<Body> {
    let sig = stripe::sign(secret.as_bytes(), t, &body);
    post("/webhooks/stripe", "application/json")
        .header(stripe::SIGNATURE_HEADER, format!("t={t},v1={sig}"))
        .body(Body::from(body))
        .unwrap()
}

pub fn stripe_req(body: Vec<u8>) -> Request<Body> {
    stripe_signed(body, STRIPE_SECRET, Utc::now().timestamp())
}

/// Replaces the first occurrence of `from` in a fixture.
pub fn edit(body: &[u8], from: &str, to: &str) -> Vec<u8> {
    let text = String::from_utf8(body.to_vec()).unwrap();
    assert!(text.contains(from), "{from} not in fixture");
    text.replacen(from, to, 1).into_bytes()
}
