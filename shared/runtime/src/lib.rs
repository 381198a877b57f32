#![doc = include_str!("../README.md")]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

#[cfg(feature = "azure")]
pub mod azure;
pub mod azure_files;
#[cfg(feature = "lambda")]
pub mod lambda;
mod platform;
#[cfg(feature = "lambda")]
pub mod secrets;

pub use platform::{DynamoDbClient, NoPublisher, open_store};
