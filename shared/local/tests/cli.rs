//! `switchyard` errors are one clear line with a non-zero exit, never a
//! panic trace; `invoke` prints the trigger's response.

use std::path::Path;
use std::process::{Command, Output};

fn switchyard(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(args)
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
        .output()
        .expect("run switchyard")
}

fn one_clear_line(out: &Output, contains: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let line = stderr.lines().last().unwrap_or_default();
    assert!(
        line.starts_with("switchyard: ") && line.contains(contains),
        "{stderr}"
    );
}

#[test]
fn an_unreadable_event_file_is_one_line() {
    one_clear_line(
        &switchyard(&["invoke", "erp-sync", "--event", "no/such/file.json"]),
        "cannot read event file",
    );
}

#[test]
fn a_bad_template_is_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("template.yaml");
    std::fs::write(&bad, "Resources: [not, a, map").unwrap();
    let state = dir.path().join("state");
    one_clear_line(
        &switchyard(&[
            "up",
            "--port",
            "0",
            "--template",
            bad.to_str().unwrap(),
            "--state",
            state.to_str().unwrap(),
        ]),
        "template.yaml",
    );
}

#[test]
fn a_port_in_use_is_one_line() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let dir = tempfile::tempdir().unwrap();
    one_clear_line(
        &switchyard(&[
            "up",
            "--port",
            &port,
            "--state",
            dir.path().to_str().unwrap(),
        ]),
        "cannot listen on 127.0.0.1",
    );
}

#[test]
fn an_unknown_function_is_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let event = dir.path().join("e.json");
    std::fs::write(&event, "{}").unwrap();
    one_clear_line(
        &switchyard(&["invoke", "billing", "--event", event.to_str().unwrap()]),
        "unknown function",
    );
}

#[test]
fn invoke_prints_the_sqs_batch_response() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../functions/erp-sync/tests/fixtures/sqs-erp-sync.json");
    let out = switchyard(&["invoke", "erp-sync", "--event", fixture.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let response: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // the built-in ERP stub accepts every order; the non-envelope is parked
    assert_eq!(response, serde_json::json!({ "batchItemFailures": [] }));
}

#[test]
fn the_demo_passes_outside_the_repository() {
    // the README's main job, as a user runs it — from any directory: the
    // reference template is built in
    let elsewhere = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .arg("demo")
        .current_dir(elsewhere.path())
        .output()
        .expect("run switchyard");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("demo passed"), "{stdout}");
    assert!(!stdout.contains("MISMATCH"), "{stdout}");
}
