//! `switchyard contracts export|check` as a user runs them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};

fn switchyard(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(args)
        .output()
        .expect("run switchyard")
}

fn committed_schemas() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../contracts/schemas")
}

fn copy_with(edit: impl FnOnce(&mut Value)) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(committed_schemas()).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
    }
    let order = dir.path().join("order.placed.v2.json");
    let mut schema: Value =
        serde_json::from_str(&std::fs::read_to_string(&order).unwrap()).unwrap();
    edit(&mut schema);
    std::fs::write(&order, serde_json::to_string_pretty(&schema).unwrap()).unwrap();
    dir
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn check_rejects_a_removed_field_and_names_it() {
    let current = copy_with(|s| {
        s["properties"].as_object_mut().unwrap().remove("currency");
        s["required"]
            .as_array_mut()
            .unwrap()
            .retain(|f| f != "currency");
    });
    let out = switchyard(&[
        "contracts",
        "check",
        "--baseline",
        committed_schemas().to_str().unwrap(),
        "--current",
        current.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "stdout: {}", text(&out.stdout));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("order.placed.v2.json"), "{stderr}");
    assert!(stderr.contains("`currency`"), "{stderr}");
    assert!(stderr.contains("removed or renamed field"), "{stderr}");
}

#[test]
fn check_accepts_a_new_optional_field() {
    let current = copy_with(|s| s["properties"]["giftMessage"] = json!({ "type": "string" }));
    let out = switchyard(&[
        "contracts",
        "check",
        "--baseline",
        committed_schemas().to_str().unwrap(),
        "--current",
        current.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    assert!(text(&out.stdout).contains("new optional field `giftMessage`"));
}

#[test]
fn check_without_current_compares_this_build() {
    let out = switchyard(&[
        "contracts",
        "check",
        "--baseline",
        committed_schemas().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    assert!(text(&out.stdout).contains("this build is compatible"));
}

#[test]
fn export_writes_every_schema() {
    let dir = tempfile::tempdir().unwrap();
    let out = switchyard(&["contracts", "export", "--out", dir.path().to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for name in [
        "order.placed.v1.json",
        "order.placed.v2.json",
        "customer.updated.v1.json",
        "erp.order-synced.v1.json",
    ] {
        let written = std::fs::read_to_string(dir.path().join(name)).unwrap();
        let committed = std::fs::read_to_string(committed_schemas().join(name)).unwrap();
        assert_eq!(written, committed, "{name}");
    }
}

#[test]
fn a_missing_baseline_is_one_clear_line_and_exit_2() {
    let out = switchyard(&["contracts", "check", "--baseline", "/nonexistent/schemas"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with("switchyard: cannot read /nonexistent/schemas"),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(!stderr.contains("panicked"));
}
