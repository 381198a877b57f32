//! A real Lambda Runtime API for tests: `cargo lambda watch
//! --only-lambda-apis` (from the test command's `.tools/`, found through
//! `SWITCHYARD_TOOLS_DIR`), a function binary run against it, and `cargo
//! lambda invoke` to send it an event. The test owns every process and
//! stops each by its PID (SIGKILL to that process only) when it drops.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::{HOW_TO_RUN, require_env};

/// Stops a child by its PID when dropped.
pub struct StopOnDrop(pub Child);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A free 127.0.0.1 port.
///
/// # Panics
/// When no port can be bound.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free 127.0.0.1 port")
}

/// `cargo-lambda` from the test command's `.tools/`.
///
/// # Panics
/// When `SWITCHYARD_TOOLS_DIR` is unset or holds no cargo-lambda.
pub fn cargo_lambda() -> PathBuf {
    let tools = require_env("SWITCHYARD_TOOLS_DIR");
    let bin = Path::new(&tools).join("venv/bin/cargo-lambda");
    assert!(bin.exists(), "{} is missing; {HOW_TO_RUN}", bin.display());
    bin
}

/// A running `cargo lambda watch --only-lambda-apis`.
pub struct RuntimeApi {
    cargo_lambda: PathBuf,
    port: String,
    _watch: StopOnDrop,
}

impl RuntimeApi {
    /// Starts the emulator (in `project_dir`, a directory with a
    /// `Cargo.toml`) and waits until it listens.
    ///
    /// # Panics
    /// When it cannot start or does not listen within a minute.
    pub async fn start(project_dir: &Path) -> RuntimeApi {
        let cargo_lambda = cargo_lambda();
        let port = free_port().to_string();
        let watch = Command::new(&cargo_lambda)
            .args(["lambda", "watch", "--only-lambda-apis", "--ignore-changes"])
            .args(["--invoke-address", "127.0.0.1", "--invoke-port", &port])
            .current_dir(project_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start cargo lambda watch");
        let watch = StopOnDrop(watch);
        let started = Instant::now();
        while std::net::TcpStream::connect(format!("127.0.0.1:{port}")).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "cargo lambda watch did not listen on {port}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        RuntimeApi {
            cargo_lambda,
            port,
            _watch: watch,
        }
    }

    /// Runs a function binary against this Runtime API with `env` (and the
    /// variables Lambda sets); stopped when the returned guard drops.
    ///
    /// # Panics
    /// When the binary cannot start.
    pub fn run(&self, binary: &Path, env: &[(&str, String)]) -> StopOnDrop {
        let mut command = Command::new(binary);
        command
            .env(
                "AWS_LAMBDA_RUNTIME_API",
                format!("http://127.0.0.1:{}/.rt", self.port),
            )
            .env("AWS_LAMBDA_FUNCTION_NAME", "_")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128");
        for (var, value) in env {
            command.env(var, value);
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", binary.display()));
        StopOnDrop(child)
    }

    /// Invokes the running function with the event in `fixture` (retrying
    /// for up to a minute while it starts) and returns its JSON answer.
    ///
    /// # Panics
    /// When no JSON answer comes within a minute.
    pub async fn invoke(&self, fixture: &Path) -> Value {
        let started = Instant::now();
        loop {
            let (cargo_lambda, port, fixture) = (
                self.cargo_lambda.clone(),
                self.port.clone(),
                fixture.to_owned(),
            );
            let out = tokio::task::spawn_blocking(move || {
                Command::new(cargo_lambda)
                    .args(["lambda", "invoke", "--invoke-address", "127.0.0.1"])
                    .args(["--invoke-port", &port, "--output-format", "json"])
                    .arg("--data-file")
                    .arg(&fixture)
                    .output()
                    .expect("run cargo lambda invoke")
            })
            .await
            .expect("the invoke task");
            if out.status.success() {
                return serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
                    panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout))
                });
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "cargo lambda invoke kept failing: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    }
}
