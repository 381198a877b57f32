//! The erp-sync binary under `cargo lambda watch` (the Lambda Runtime API
//! emulator) answers `cargo lambda invoke --data-file <fixture>` with the
//! expected batch response. Needs cargo-lambda from the test command's
//! `.tools/` (SWITCHYARD_TOOLS_DIR) and moto (AWS_ENDPOINT_URL).
//!
//! `cargo lambda watch --only-lambda-apis` serves the Runtime API and the
//! invoke endpoint; the test starts the erp-sync binary that cargo built for
//! it (`CARGO_BIN_EXE_erp-sync`) against that Runtime API, so the test owns
//! both processes and stops each by its PID.

use std::path::Path;

use serde_json::json;
use switchyard_local::erp::ErpStub;
use switchyard_testkit::lambda::RuntimeApi;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erp_sync_answers_cargo_lambda_invoke() {
    let aws = switchyard_testkit::aws_config().await;
    let endpoint = switchyard_testkit::aws_endpoint();
    let sqs = aws_sdk_sqs::Client::new(&aws);
    let park = sqs
        .create_queue()
        .queue_name(switchyard_testkit::unique_name("erp-sync-park"))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let erp = ErpStub::start().await;
    erp.fail_always("O-FLAKY", 503);

    let api = RuntimeApi::start(Path::new(env!("CARGO_MANIFEST_DIR"))).await;
    let _function = api.run(
        Path::new(env!("CARGO_BIN_EXE_erp-sync")),
        &[
            ("ERP_BASE_URL", erp.base_url()),
            ("SWITCHYARD_IDEMPOTENCY", "memory".to_owned()),
            ("EVENT_BUS_NAME", "default".to_owned()),
            ("SWITCHYARD_PARK_QUEUE_URL", park.clone()),
            ("AWS_ENDPOINT_URL", endpoint.clone()),
        ],
    );
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sqs-erp-sync.json");
    let response = api.invoke(&fixture).await;
    assert_eq!(
        response,
        json!({ "batchItemFailures": [{ "itemIdentifier": "m-flaky" }] })
    );
    assert_eq!(
        erp.accepted()
            .iter()
            .map(|c| c.id.as_str())
            .collect::<Vec<_>>(),
        vec!["O-GOOD"]
    );
    let parked = sqs
        .receive_message()
        .queue_url(&park)
        .message_attribute_names("All")
        .send()
        .await
        .unwrap();
    assert_eq!(
        parked.messages.unwrap_or_default().len(),
        1,
        "the poison message was parked"
    );
    sqs.delete_queue().queue_url(&park).send().await.unwrap();
}
