//! `switchyard new function` in a copy of this workspace: the new crate,
//! its registry line and nothing else change; the result formats, passes
//! clippy, builds, its test passes, and the registry (which the Function
//! App and the local stack read) compiles with it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A copy of the workspace's sources (no target, tools, state or git).
fn copy_workspace(to: &Path) {
    let status = Command::new("tar")
        .args([
            "--exclude=./target",
            "--exclude=./.tools",
            "--exclude=./.git",
            "--exclude=./.switchyard",
            "-cf",
            "-",
            ".",
        ])
        .current_dir(workspace())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|tar| {
            Command::new("tar")
                .args(["xf", "-"])
                .current_dir(to)
                .stdin(tar.stdout.expect("tar's stdout"))
                .status()
        })
        .expect("copy the workspace");
    assert!(status.success());
}

fn run(dir: &Path, program: &str, args: &[&str]) -> Output {
    // the workspace's own target directory: dependencies compiled once
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| workspace().join("target"));
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn changed_files(dir: &Path) -> Vec<String> {
    // compare with a pristine copy: the scaffold may touch only its crate and the registry
    let out = Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=all"])
        .current_dir(dir)
        .output()
        .expect("git status");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l[3..].to_owned())
        .collect()
}

#[test]
fn a_scaffolded_function_builds_tests_and_is_registered() {
    let dir = tempfile::tempdir().unwrap();
    copy_workspace(dir.path());
    for args in [
        &["init", "-q"][..],
        &["add", "-A"],
        &[
            "-c",
            "user.email=t@t",
            "-c",
            "user.name=t",
            "commit",
            "-qm",
            "copy",
        ],
    ] {
        run(dir.path(), "git", args);
    }

    let out = run(
        dir.path(),
        env!("CARGO_BIN_EXE_switchyard"),
        &[
            "new",
            "function",
            "invoice-sync",
            "--trigger",
            "sqs",
            "--trigger",
            "servicebus",
            "--consumes",
            "order.placed",
        ],
    );
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(printed.contains("InvoiceSyncQueue"), "{printed}");
    assert!(
        printed.contains("subscription `invoice-sync`") && !printed.contains("function.json\n{"),
        "function.json is generated, not printed: {printed}"
    );

    let mut changed = changed_files(dir.path());
    changed.sort();
    assert_eq!(
        changed,
        [
            "functions/invoice-sync/Cargo.toml",
            "functions/invoice-sync/README.md",
            "functions/invoice-sync/src/lib.rs",
            "functions/invoice-sync/src/main.rs",
            "functions/registry/Cargo.toml",
            "functions/registry/src/lib.rs",
        ],
        "only its crate and its registry line"
    );
    let registry =
        std::fs::read_to_string(dir.path().join("functions/registry/src/lib.rs")).unwrap();
    assert!(
        registry.contains("switchyard_invoice_sync::function(),"),
        "{registry}"
    );

    run(dir.path(), "cargo", &["fmt", "--all", "--check"]);
    let lean = ["--no-default-features", "--offline"];
    let mut test = vec!["test", "-p", "switchyard-invoice-sync"];
    test.extend(lean);
    let out = run(dir.path(), "cargo", &test);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("an_event_is_handled_through_the_pipeline ... ok"),
        "{text}"
    );
    let mut clippy = vec!["clippy", "-p", "switchyard-invoice-sync", "--all-targets"];
    clippy.extend(lean);
    clippy.extend(["--", "-D", "warnings"]);
    run(dir.path(), "cargo", &clippy);
    run(
        dir.path(),
        "cargo",
        &["check", "-p", "switchyard-registry", "--offline"],
    );

    // a second run refuses to overwrite it
    let again = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args([
            "new",
            "function",
            "invoice-sync",
            "--trigger",
            "sqs",
            "--consumes",
            "order.placed",
        ])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists already"));
}
