//! Test support shared by every crate's integration tests.
//!
//! Tests find emulators only through the standard environment variables that
//! the README test command (`bash scripts/test.sh`) exports. A test that needs
//! an emulator and does not find it **fails** with a message saying how to run
//! the command; it never skips.
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

use std::env;

pub mod bicep;
pub mod esm;
pub mod lambda;
pub mod lambda_driver;
pub mod moto;
pub mod package;
pub mod redis_server;
pub mod servicebus_fake;
pub mod throttle_proxy;

/// How to get the emulators, repeated in every failure message.
pub const HOW_TO_RUN: &str = "run the whole suite with `bash scripts/test.sh` (see README.md), which installs and starts the emulators";

/// Reads an environment variable an emulator-backed test depends on.
///
/// # Panics
/// When the variable is unset or empty: the test must fail, not skip.
pub fn require_env(var: &str) -> String {
    match env::var(var) {
        Ok(value) if !value.trim().is_empty() => value,
        _ => panic!("{var} is not set: this test needs an emulator; {HOW_TO_RUN}"),
    }
}

/// The moto server endpoint (`AWS_ENDPOINT_URL`).
pub fn aws_endpoint() -> String {
    require_env("AWS_ENDPOINT_URL")
}

/// The local redis-server URL (`REDIS_URL`).
pub fn redis_url() -> String {
    require_env("REDIS_URL")
}

/// A resource name unique to this test run, safe for SQS, DynamoDB, EventBridge and Redis.
pub fn unique_name(prefix: &str) -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("{prefix}-{}", &id[..12])
}

/// SDK config for moto: the endpoint, region and credentials come from the
/// standard variables exported by the test command (`AWS_ENDPOINT_URL`,
/// `AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`), as they would
/// in production — nothing is hard-coded here.
pub async fn aws_config() -> aws_config::SdkConfig {
    aws_endpoint();
    require_env("AWS_REGION");
    require_env("AWS_ACCESS_KEY_ID");
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await
}
