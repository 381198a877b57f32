//! `/webhooks/cloudevents` through `app()`: the handshake's answers for an
//! allow-listed origin, another origin and an unconfigured endpoint, and a
//! delivery's published envelope kept as the producer sent it. (Every
//! content mode end to end: `shared/local/tests/cloudevents.rs`.)

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::json;

mod common;
use common::{config_from, env, harness, harness_with, send};
use switchyard_publish::InMemoryPublisher;

const TOKEN: &str = "ce-token";

fn configured() -> common::Harness {
    let mut vars = env();
    vars.insert("SWITCHYARD_CLOUDEVENTS_WEBHOOK_TOKEN", TOKEN.to_owned());
    vars.insert(
        "SWITCHYARD_CLOUDEVENTS_ALLOWED_ORIGINS",
        "eventgrid.azure.net".to_owned(),
    );
    vars.insert("SWITCHYARD_CLOUDEVENTS_ALLOWED_RATE", "100".to_owned());
    let published = InMemoryPublisher::new();
    harness_with(
        config_from(vars),
        std::sync::Arc::new(published.clone()),
        published,
    )
}

fn options(origin: Option<&str>) -> Request<Body> {
    let mut r = Request::builder()
        .method(Method::OPTIONS)
        .uri("/webhooks/cloudevents");
    if let Some(o) = origin {
        r = r.header("WebHook-Request-Origin", o);
    }
    r.body(Body::empty()).unwrap()
}

#[tokio::test]
async fn the_handshake_consents_only_to_allowed_origins() {
    let h = configured();
    let a = send(&h.app, options(Some("eventgrid.azure.net"))).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.headers["webhook-allowed-origin"], "eventgrid.azure.net");
    assert_eq!(a.headers["webhook-allowed-rate"], "100");
    assert_eq!(a.headers["allow"], "POST, OPTIONS");

    let a = send(&h.app, options(Some("evil.example.com"))).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.text());
    assert!(a.headers.get("webhook-allowed-origin").is_none());
    assert!(a.text().contains("evil.example.com"));

    // not configured: 404, no consent
    let a = send(&harness().app, options(Some("eventgrid.azure.net"))).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert!(a.headers.get("webhook-allowed-origin").is_none());
    // and the other providers' routes take no OPTIONS
    let r = Request::builder()
        .method(Method::OPTIONS)
        .uri("/webhooks/standard")
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&h.app, r).await.status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn a_delivery_is_published_as_the_producer_sent_it() {
    let h = configured();
    let event = json!({
        "specversion": "1.0", "id": "evt-1", "source": "/eventgrid/orders", "type": "order.placed",
        "time": "2026-11-23T09:00:00Z", "subject": "O-1", "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "data": { "orderId": "O-1", "customerId": "C-1", "currency": "EUR", "lines": [], "total": "10.00", "placedAt": "2026-11-23T08:59:00Z" }
    });
    let r = Request::post("/webhooks/cloudevents")
        .header("content-type", "application/cloudevents+json")
        .header("authorization", format!("Bearer {TOKEN}"))
        .body(Body::from(event.to_string()))
        .unwrap();
    let a = send(&h.app, r).await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.text());
    let published = h.published.published();
    assert_eq!(published.len(), 1);
    let e = &published[0];
    assert_eq!(
        (e.id.as_str(), e.source.as_str()),
        ("evt-1", "/eventgrid/orders")
    );
    assert_eq!(
        e.time.map(|t| t.to_rfc3339()).as_deref(),
        Some("2026-11-23T09:00:00+00:00")
    );
    assert_eq!(e.correlationid, "evt-1", "a new flow starts with the event");
    assert_eq!(e.dataversion, 2);
    assert_eq!(e.dataschema, "urn:switchyard:schema:order.placed:v2");
    assert!(e.traceparent.is_some());
    // the same delivery again: deduped on source and id
    let r = Request::post("/webhooks/cloudevents?access_token=ce-token")
        .header("content-type", "application/cloudevents+json")
        .body(Body::from(event.to_string()))
        .unwrap();
    let a = send(&h.app, r).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    assert_eq!(a.json()["eventIds"], json!(["evt-1"]));
    assert_eq!(h.published.published().len(), 1);
}
