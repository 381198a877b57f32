//! Webhook secrets as secret store references over an in-memory store (no
//! emulator): a reader without a store refuses them naming the variable;
//! the verifier follows the store after the TTL (previous value included);
//! an unreachable store serves the last keys (at start-up it is
//! `Unavailable`), a secret gone answers 500.
//! The same against moto's Secrets Manager and Parameter Store:
//! `moto_secrets.rs`.

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use chrono::Utc;
use switchyard_config::Settings;
use switchyard_crm_webhook::Config;
use switchyard_publish::InMemoryPublisher;
use switchyard_secrets::{MemorySecretStore, SecretResolver, StoreError, Versions};

mod common;
use common::{Harness, fixture, harness_with, send, stripe_signed};

const TTL: Duration = Duration::from_millis(100);

fn settings() -> Settings {
    Settings::from_pairs([
        ("SWITCHYARD_STRIPE_WEBHOOK_SECRET", "secretsmanager:stripe"),
        ("SWITCHYARD_IDEMPOTENCY", "memory"),
    ])
}

async fn harness(store: &MemorySecretStore) -> Harness {
    let secrets = SecretResolver::new(Arc::new(store.clone()), TTL);
    let config = Config::load(&settings(), &secrets).await.unwrap();
    let published = InMemoryPublisher::new();
    harness_with(config, Arc::new(published.clone()), published)
}

async fn stripe(h: &Harness, secret: &str) -> StatusCode {
    let body = fixture("stripe-order-placed.json");
    send(&h.app, stripe_signed(body, secret, Utc::now().timestamp()))
        .await
        .status
}

#[test]
fn a_reader_without_a_store_refuses_a_reference_naming_the_variable() {
    let err = Config::from_settings(&settings()).unwrap_err().to_string();
    assert!(
        err.contains("SWITCHYARD_STRIPE_WEBHOOK_SECRET") && err.contains("secretsmanager:stripe"),
        "{err}"
    );
}

#[tokio::test]
async fn the_verifier_follows_the_store_and_survives_an_outage() {
    let store = MemorySecretStore::new();
    store.set("stripe", Versions::current("whsec_one"));
    let h = harness(&store).await;
    assert!(stripe(&h, "whsec_one").await.is_success());
    assert_eq!(stripe(&h, "whsec_two").await, StatusCode::UNAUTHORIZED);

    store.rotate("stripe", "whsec_two");
    tokio::time::sleep(TTL * 2).await;
    assert!(stripe(&h, "whsec_two").await.is_success());
    assert!(stripe(&h, "whsec_one").await.is_success());

    // the store unreachable: the last keys keep verifying
    store.fail("stripe", StoreError::Unavailable("connect refused".into()));
    tokio::time::sleep(TTL * 2).await;
    assert!(stripe(&h, "whsec_two").await.is_success());

    // the secret gone: refused as the server's fault, naming the variable
    store.fail("stripe", StoreError::NotFound("deleted".into()));
    tokio::time::sleep(switchyard_secrets::RETRY_AFTER.min(TTL) * 2).await;
    let body = fixture("stripe-order-placed.json");
    let answer = send(
        &h.app,
        stripe_signed(body, "whsec_two", Utc::now().timestamp()),
    )
    .await;
    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        answer.text().contains("SWITCHYARD_STRIPE_WEBHOOK_SECRET"),
        "{}",
        answer.text()
    );
    assert!(!answer.text().contains("whsec_"), "{}", answer.text());
}

#[tokio::test]
async fn an_unreachable_store_fails_the_start_up_as_unavailable_and_later_serves_the_last_keys() {
    let store = MemorySecretStore::new();
    store.set("stripe", Versions::current("whsec_one"));
    // TTL 0: every request reads the store
    let secrets = SecretResolver::new(Arc::new(store.clone()), Duration::ZERO);
    let config = Config::load(&settings(), &secrets).await.unwrap();
    let published = InMemoryPublisher::new();
    let h = harness_with(config, Arc::new(published.clone()), published);
    assert!(stripe(&h, "whsec_one").await.is_success());
    store.fail("stripe", StoreError::Unavailable("timeout".into()));
    assert!(stripe(&h, "whsec_one").await.is_success());
    let fresh = SecretResolver::new(Arc::new(store.clone()), TTL);
    let err = Config::load(&settings(), &fresh).await.unwrap_err();
    assert!(
        matches!(err, switchyard_config::ConfigError::Unavailable { .. }),
        "{err}"
    );
}
