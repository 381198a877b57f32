//! The Lambda zips `switchyard package` wrote, checked as Lambda would run
//! them: each `bootstrap` is unzipped and run against a real Runtime API
//! (`cargo lambda watch --only-lambda-apis`) and given an event of its
//! trigger — erp-sync an SQS batch, crm-webhook a Function URL request,
//! audit-log an EventBridge event — with moto behind it.
//!
//! The package directory comes from `SWITCHYARD_PACKAGE_DIR`, which the
//! test command sets after running `switchyard package --target all`;
//! without it these tests fail, telling how to run them.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use switchyard_local::erp::ErpStub;
use switchyard_testkit::lambda::RuntimeApi;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The function's packaged `bootstrap`, unzipped into `dir`.
fn bootstrap(function: &str, dir: &Path) -> PathBuf {
    switchyard_testkit::package::lambda_bootstrap(function, dir)
}

fn write_event(dir: &Path, event: &Value) -> PathBuf {
    let path = dir.join("event.json");
    std::fs::write(&path, event.to_string()).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_erp_sync_zip_answers_an_sqs_batch() {
    let dir = tempfile::tempdir().unwrap();
    let binary = bootstrap("erp-sync", dir.path());
    let aws = switchyard_testkit::aws_config().await;
    let sqs = aws_sdk_sqs::Client::new(&aws);
    let park = switchyard_testkit::moto::create_queue(&sqs, "package-park", &[])
        .await
        .url;
    let erp = ErpStub::start().await;
    erp.fail_always("O-FLAKY", 503);
    let api = RuntimeApi::start(&root()).await;
    let _function = api.run(
        &binary,
        &[
            ("ERP_BASE_URL", erp.base_url()),
            ("SWITCHYARD_IDEMPOTENCY", "memory".to_owned()),
            ("EVENT_BUS_NAME", "default".to_owned()),
            ("SWITCHYARD_PARK_QUEUE_URL", park),
            ("AWS_ENDPOINT_URL", switchyard_testkit::aws_endpoint()),
        ],
    );
    let fixture = root().join("functions/erp-sync/tests/fixtures/sqs-erp-sync.json");
    assert_eq!(
        api.invoke(&fixture).await,
        json!({ "batchItemFailures": [{ "itemIdentifier": "m-flaky" }] })
    );
    let accepted: Vec<String> = erp.accepted().into_iter().map(|c| c.id).collect();
    assert_eq!(accepted, vec!["O-GOOD"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_crm_webhook_zip_answers_a_function_url_request() {
    let dir = tempfile::tempdir().unwrap();
    let binary = bootstrap("crm-webhook", dir.path());
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let key = switchyard_webhooks::standard::StandardAuth::parse(secret).unwrap();
    let key = key.keys.iter().next().unwrap().expose().to_vec();
    let body = json!({
        "type": "order.placed", "timestamp": "2026-11-23T09:00:00Z",
        "data": {"orderId": "O-PKG", "customerId": "C-1", "currency": "EUR", "lines": [],
                 "total": "10.00", "placedAt": "2026-11-23T08:59:00Z"}
    })
    .to_string();
    let now = chrono::Utc::now().timestamp();
    let signature = switchyard_webhooks::standard::sign(&key, "msg_pkg_1", now, body.as_bytes());
    let request = |sig: &str| {
        json!({
            "version": "2.0", "routeKey": "$default",
            "rawPath": "/webhooks/standard", "rawQueryString": "",
            "headers": {
                "content-type": "application/json", "host": "abc.lambda-url.us-east-1.on.aws",
                "webhook-id": "msg_pkg_1", "webhook-timestamp": now.to_string(),
                "webhook-signature": sig
            },
            "requestContext": {
                "accountId": "123456789012", "apiId": "abc",
                "domainName": "abc.lambda-url.us-east-1.on.aws", "domainPrefix": "abc",
                "http": {"method": "POST", "path": "/webhooks/standard", "protocol": "HTTP/1.1",
                         "sourceIp": "127.0.0.1", "userAgent": "switchyard-tests"},
                "requestId": "r-1", "routeKey": "$default", "stage": "$default",
                "time": "01/Dec/2026:10:00:00 +0000", "timeEpoch": now * 1000
            },
            "body": body, "isBase64Encoded": false
        })
    };
    let aws = switchyard_testkit::aws_config().await;
    let eb = aws_sdk_eventbridge::Client::new(&aws);
    let bus = switchyard_testkit::unique_name("package-bus");
    eb.create_event_bus().name(&bus).send().await.unwrap();
    let api = RuntimeApi::start(&root()).await;
    let _function = api.run(
        &binary,
        &[
            ("SWITCHYARD_STANDARD_WEBHOOK_SECRET", secret.to_owned()),
            ("SWITCHYARD_IDEMPOTENCY", "memory".to_owned()),
            ("EVENT_BUS_NAME", bus),
            ("AWS_ENDPOINT_URL", switchyard_testkit::aws_endpoint()),
        ],
    );
    let signed = api
        .invoke(&write_event(dir.path(), &request(&signature)))
        .await;
    assert_eq!(signed["statusCode"], 202, "{signed}");
    let forged = api
        .invoke(&write_event(
            dir.path(),
            &request("v1,R3PTzyfHASBKHH98a7yexTwaJ4yNIcGhFQc1yuN+BPU="),
        ))
        .await;
    assert_eq!(forged["statusCode"], 401, "{forged}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_log_zip_answers_an_eventbridge_event() {
    let dir = tempfile::tempdir().unwrap();
    let binary = bootstrap("audit-log", dir.path());
    let aws = switchyard_testkit::aws_config().await;
    let dynamo = aws_sdk_dynamodb::Client::new(&aws);
    let table = switchyard_testkit::unique_name("package-audit");
    switchyard_testkit::moto::create_pk_table(&dynamo, &table).await;
    let api = RuntimeApi::start(&root()).await;
    let _function = api.run(
        &binary,
        &[
            ("AUDIT_STORE", format!("dynamodb:{table}")),
            ("SWITCHYARD_IDEMPOTENCY", "memory".to_owned()),
            ("AWS_ENDPOINT_URL", switchyard_testkit::aws_endpoint()),
        ],
    );
    let fixture =
        root().join("functions/audit-log/tests/fixtures/eventbridge-erp-order-synced.json");
    assert_eq!(api.invoke(&fixture).await, Value::Null);
    let items = dynamo.scan().table_name(&table).send().await.unwrap();
    assert_eq!(items.count, 1, "the event was recorded");
}
