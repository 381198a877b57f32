//! The `switchyard` CLI's library: contracts tooling and the local stack
//! (`up`, `demo`, `invoke`), see the README.
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

pub mod bus;
pub mod crm;
pub mod demo;
pub mod erp;
pub mod invoke;
pub mod oauth;
pub mod package;
pub mod queue;
pub mod scaffold;
pub mod sqs;
pub mod stack;
pub mod stub;
pub mod template;
