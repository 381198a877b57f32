//! Every provider end to end through `app()` with the in-memory publisher
//! and store: published envelopes, duplicates, publish failures, claims.

mod common;

use std::time::{Duration, SystemTime};

use axum::http::StatusCode;
use common::*;
use switchyard_idempotency::{ClaimRequest, IdempotencyStore};
use switchyard_publish::InMemoryPublisher;

#[tokio::test]
async fn dynamics_order_is_published_once_and_duplicates_get_the_same_ids() {
    let h = harness();
    let first = send(&h.app, dynamics(fixture("dynamics-salesorder-create.json"))).await;
    assert_eq!(first.status, StatusCode::ACCEPTED, "{}", first.text());
    let body = first.json();
    assert_eq!(body["status"], "published");
    let published = h.published.published();
    assert_eq!(published.len(), 1);
    let event = &published[0];
    assert_eq!(event.event_type, "order.placed");
    assert_eq!(event.correlationid, "9e8c9b0c-6a5d-4f8e-9a61-2f7f0d1c2b3a");
    assert_eq!(event.source, "switchyard/crm-webhook/dynamics/contoso");
    assert_eq!(body["eventIds"][0], event.id.as_str());

    let again = send(&h.app, dynamics(fixture("dynamics-salesorder-create.json"))).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.json()["status"], "duplicate");
    assert_eq!(again.json()["eventIds"], body["eventIds"]);
    assert_eq!(h.published.published().len(), 1, "no second publish");
}

#[tokio::test]
async fn dynamics_webhook_key_in_the_query_string() {
    let h = harness();
    let request = axum::http::Request::post("/webhooks/dynamics?code=dyn-key-old")
        .header("content-type", "application/json; charset=utf-8")
        .body(axum::body::Body::from(fixture(
            "dynamics-contact-update.json",
        )))
        .unwrap();
    let answer = send(&h.app, request).await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.text());
    assert_eq!(h.published.published()[0].event_type, "customer.updated");
}

#[tokio::test]
async fn hubspot_batch_publishes_mapped_contacts_and_counts_the_rest() {
    let h = harness();
    let answer = send(
        &h.app,
        hubspot(fixture("hubspot-contact-propertychange.json")),
    )
    .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.text());
    let body = answer.json();
    assert_eq!(body["published"], 1);
    assert_eq!(body["unmapped"][0]["reason"], "needs_enrichment");
    assert_eq!(
        h.published.published()[0].source,
        "switchyard/crm-webhook/hubspot/62515"
    );
    // HubSpot retries with a higher attemptNumber: still a duplicate
    let retry = edit(
        &fixture("hubspot-contact-propertychange.json"),
        "\"attemptNumber\":0",
        "\"attemptNumber\":1",
    );
    let again = send(&h.app, hubspot(retry)).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.json()["eventIds"], body["eventIds"]);
    assert_eq!(h.published.published().len(), 1);
}

#[tokio::test]
async fn hubspot_legacy_v2_when_enabled() {
    let mut vars = env();
    vars.insert("SWITCHYARD_HUBSPOT_ACCEPT_LEGACY_SIGNATURES", "true".into());
    let published = InMemoryPublisher::new();
    let h = harness_with(
        config_from(vars),
        std::sync::Arc::new(published.clone()),
        published,
    );
    let body = fixture("hubspot-contact-creation.json");
    let sig = switchyard_webhooks::hubspot::sign_v2(
        HUBSPOT_SECRET.as_bytes(),
        "POST",
        &format!("{BASE_URL}/webhooks/hubspot"),
        &body,
    );
    let request = axum::http::Request::post("/webhooks/hubspot")
        .header("content-type", "application/json")
        .header("x-hubspot-signature", sig)
        .header("x-hubspot-signature-version", "v2")
        .body(axum::body::Body::from(body))
        .unwrap();
    let answer = send(&h.app, request).await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.text());
}

#[tokio::test]
async fn salesforce_is_acknowledged_with_soap() {
    let h = harness();
    let answer = send(
        &h.app,
        salesforce(fixture("salesforce-order-notification.xml")),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert!(answer.text().contains("<Ack>true</Ack>"));
    assert_eq!(answer.headers["content-type"], "text/xml; charset=utf-8");
    let published = h.published.published();
    assert_eq!(published.len(), 1);
    assert_eq!(
        answer.headers[switchyard_crm_webhook::EVENT_IDS_HEADER],
        published[0].id.as_str()
    );
    let again = send(
        &h.app,
        salesforce(fixture("salesforce-order-notification.xml")),
    )
    .await;
    assert_eq!(again.status, StatusCode::OK);
    assert!(again.text().contains("<Ack>true</Ack>"));
    assert_eq!(h.published.published().len(), 1);
}

#[tokio::test]
async fn standard_and_stripe_pass_through() {
    let h = harness();
    let answer = send(
        &h.app,
        standard_req(
            "msg_e2e_1",
            fixture("standard-envelope-customer-updated.json"),
        ),
    )
    .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.text());
    let answer = send(
        &h.app,
        standard_req(
            "msg_e2e_1",
            fixture("standard-envelope-customer-updated.json"),
        ),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    let answer = send(&h.app, stripe_req(fixture("stripe-order-placed.json"))).await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.text());
    let published = h.published.published();
    assert_eq!(published.len(), 2);
    assert_eq!(published[0].correlationid, "acme-corr-77");
    assert_eq!(published[1].event_type, "order.placed");
}

#[tokio::test]
async fn a_publish_failure_answers_503_and_the_retry_publishes_the_same_ids() {
    let h = harness();
    h.published.fail_next(1, "ThrottlingException");
    let failed = send(&h.app, hubspot(fixture("hubspot-contact-creation.json"))).await;
    assert_eq!(
        failed.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        failed.text()
    );
    assert!(failed.headers.contains_key("retry-after"));
    assert!(h.published.published().is_empty());
    let retry = send(&h.app, hubspot(fixture("hubspot-contact-creation.json"))).await;
    assert_eq!(retry.status, StatusCode::ACCEPTED, "{}", retry.text());
    let ids = retry.json()["eventIds"].clone();
    assert_eq!(ids[0], h.published.published()[0].id.as_str());
    // the id is a function of the delivery, not of the attempt
    assert_eq!(
        ids[0],
        switchyard_webhooks::event_id(
            switchyard_webhooks::Provider::HubSpot,
            "1001+1002+1003+1004",
            0
        )
        .as_str()
    );
}

#[tokio::test]
async fn a_delivery_in_progress_elsewhere_answers_503_with_retry_after() {
    let h = harness();
    let key = "crm-webhook#stripe:evt_1PabcDEFghiJKL";
    h.store
        .claim(ClaimRequest::new(
            key,
            SystemTime::now() + Duration::from_secs(20),
        ))
        .await
        .unwrap();
    let answer = send(&h.app, stripe_req(fixture("stripe-order-placed.json"))).await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    let retry_after: u64 = answer.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert!(h.published.published().is_empty());
}

#[tokio::test]
async fn an_unconfigured_provider_answers_404_even_when_signed() {
    let mut vars = env();
    vars.remove("SWITCHYARD_STRIPE_WEBHOOK_SECRET");
    let published = InMemoryPublisher::new();
    let h = harness_with(
        config_from(vars),
        std::sync::Arc::new(published.clone()),
        published.clone(),
    );
    let answer = send(&h.app, stripe_req(fixture("stripe-order-placed.json"))).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert!(published.published().is_empty());
}
