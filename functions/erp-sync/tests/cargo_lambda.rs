//! The erp-sync binary under `cargo lambda watch` (the Lambda Runtime API
//! emulator) answers `cargo lambda invoke --data-file <fixture>` with the
//! expected batch response. Needs cargo-lambda from the test command's
//! `.tools/` (SWITCHYARD_TOOLS_DIR) and moto (AWS_ENDPOINT_URL).
//!
//! `cargo lambda watch --only-lambda-apis` serves the Runtime API and the
//! invoke endpoint; the test starts the erp-sync binary that cargo built for
//! it (`CARGO_BIN_EXE_erp-sync`) against that Runtime API, so the test owns
//! both processes and stops each by its PID.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use switchyard_local::erp::ErpStub;

/// Stops a child by its PID (SIGKILL to that process only) when dropped.
struct StopOnDrop(Child);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn cargo_lambda() -> PathBuf {
    let tools = switchyard_testkit::require_env("SWITCHYARD_TOOLS_DIR");
    let bin = Path::new(&tools).join("venv/bin/cargo-lambda");
    assert!(
        bin.exists(),
        "{} is missing; {}",
        bin.display(),
        switchyard_testkit::HOW_TO_RUN
    );
    bin
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erp_sync_answers_cargo_lambda_invoke() {
    let cargo_lambda = cargo_lambda();
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

    let port = free_port().to_string();
    let watch = Command::new(&cargo_lambda)
        .args(["lambda", "watch", "--only-lambda-apis", "--ignore-changes"])
        .args(["--invoke-address", "127.0.0.1", "--invoke-port", &port])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start cargo lambda watch");
    let _watch = StopOnDrop(watch);
    // the function exits if the Runtime API is not up yet: wait for it
    let started = Instant::now();
    while std::net::TcpStream::connect(format!("127.0.0.1:{port}")).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "cargo lambda watch did not listen on {port}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let function = Command::new(env!("CARGO_BIN_EXE_erp-sync"))
        .env(
            "AWS_LAMBDA_RUNTIME_API",
            format!("http://127.0.0.1:{port}/.rt"),
        )
        .env("AWS_LAMBDA_FUNCTION_NAME", "_")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("ERP_BASE_URL", erp.base_url())
        .env("SWITCHYARD_IDEMPOTENCY", "memory")
        .env("EVENT_BUS_NAME", "default")
        .env("SWITCHYARD_PARK_QUEUE_URL", &park)
        .env("AWS_ENDPOINT_URL", &endpoint)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the erp-sync binary");
    let _function = StopOnDrop(function);

    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sqs-erp-sync.json");
    let started = Instant::now();
    let output = loop {
        let cargo_lambda = cargo_lambda.clone();
        let (port, fixture) = (port.clone(), fixture.clone());
        let out = tokio::task::spawn_blocking(move || {
            Command::new(cargo_lambda)
                .args([
                    "lambda",
                    "invoke",
                    "--invoke-address",
                    "127.0.0.1",
                    "--invoke-port",
                    &port,
                ])
                .args(["--output-format", "json", "--data-file"])
                .arg(&fixture)
                .output()
                .expect("run cargo lambda invoke")
        })
        .await
        .unwrap();
        if out.status.success() {
            break out;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "cargo lambda invoke kept failing: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
    };
    let response: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    });
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
