//! The conformance suite against DynamoDB on moto (`AWS_ENDPOINT_URL`), plus fail-closed behaviour.

mod common;

use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use common::{Fixture, conformance_suite, manual_options};
use switchyard_idempotency::{
    ClaimRequest, Completion, DynamoDbStore, IdempotencyStore as _, StoreError, StoreOptions,
};

async fn client() -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(&switchyard_testkit::aws_config().await)
}

async fn setup() -> Fixture {
    let (options, clock) = manual_options();
    let table = switchyard_testkit::unique_name("idempotency");
    let store = DynamoDbStore::new(client().await, table.clone(), options);
    store.create_table_if_missing().await.expect("create table");
    Fixture {
        store: Arc::new(store),
        clock,
        prefix: "dynamodb".to_owned(),
        guard: Some(Box::new(table)),
    }
}

async fn teardown(fixture: Fixture) {
    let table = fixture
        .guard
        .and_then(|guard| guard.downcast::<String>().ok())
        .expect("table name");
    client()
        .await
        .delete_table()
        .table_name(*table)
        .send()
        .await
        .expect("delete table");
}

conformance_suite!(setup, teardown);

#[tokio::test]
async fn create_table_is_idempotent_and_enables_ttl() {
    let client = client().await;
    let table = switchyard_testkit::unique_name("idempotency");
    let store = DynamoDbStore::new(client.clone(), table.clone(), StoreOptions::default());
    store.create_table_if_missing().await.expect("create");
    store.create_table_if_missing().await.expect("create again");
    let ttl = client
        .describe_time_to_live()
        .table_name(&table)
        .send()
        .await
        .expect("describe ttl");
    let description = ttl.time_to_live_description().expect("ttl description");
    assert_eq!(description.attribute_name(), Some("expiration"));
    client
        .delete_table()
        .table_name(&table)
        .send()
        .await
        .expect("delete table");
}

#[tokio::test]
async fn unreachable_dynamodb_fails_closed() {
    let closed = {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let config = aws_sdk_dynamodb::config::Builder::from(&switchyard_testkit::aws_config().await)
        .endpoint_url(format!("http://127.0.0.1:{closed}"))
        .build();
    let store = DynamoDbStore::new(
        aws_sdk_dynamodb::Client::from_conf(config),
        "no-such-table",
        StoreOptions::default(),
    );
    let until = SystemTime::now() + Duration::from_secs(30);
    let claim = store.claim(ClaimRequest::new("k", until)).await;
    assert!(
        matches!(claim, Err(StoreError::Unavailable { .. })),
        "{claim:?}"
    );
    let batch = store
        .claim_many(&[ClaimRequest::new("a", until), ClaimRequest::new("b", until)])
        .await;
    assert!(batch.is_err(), "{batch:?}");
    assert!(store.complete(Completion::new("k", "1")).await.is_err());
    assert!(store.release("k").await.is_err());
}
