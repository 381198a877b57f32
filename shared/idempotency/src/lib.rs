#![doc = include_str!("../README.md")]

mod cache;
mod canonical;
mod clock;
mod config;
#[cfg(feature = "dynamodb")]
pub mod dynamodb;
#[cfg(feature = "embedded")]
pub mod embedded;
mod error;
pub mod memory;
mod position;
mod record;
#[cfg(feature = "redis")]
pub mod redis;
mod spec;
mod store;

pub use cache::{CacheOptions, CachedStore};
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{IdempotencyConfig, KeyError, KeySource, PayloadHash};
#[cfg(feature = "dynamodb")]
pub use dynamodb::DynamoDbStore;
#[cfg(feature = "embedded")]
pub use embedded::EmbeddedStore;
pub use error::StoreError;
pub use memory::MemoryStore;
pub use position::{PositionClaim, PositionOutcome};
#[cfg(feature = "redis")]
pub use redis::{RedisOptions, RedisStore};
pub use spec::{InvalidStoreSpec, StoreSpec};
pub use store::{
    ClaimDetail, ClaimOutcome, ClaimRequest, Completion, DEFAULT_EXPIRY, IdempotencyStore,
    StoreOptions, StoredResponse,
};
