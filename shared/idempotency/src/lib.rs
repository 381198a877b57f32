#![doc = include_str!("../README.md")]

mod cache;
mod clock;
mod config;
pub mod dynamodb;
pub mod embedded;
mod error;
pub mod memory;
mod record;
pub mod redis;
mod spec;
mod store;

pub use cache::{CacheOptions, CachedStore};
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{IdempotencyConfig, KeyError, KeySource, PayloadHash};
pub use dynamodb::DynamoDbStore;
pub use embedded::EmbeddedStore;
pub use error::StoreError;
pub use memory::MemoryStore;
pub use redis::{RedisOptions, RedisStore};
pub use spec::{InvalidStoreSpec, StoreSpec};
pub use store::{
    ClaimDetail, ClaimOutcome, ClaimRequest, Completion, DEFAULT_EXPIRY, IdempotencyStore,
    StoreOptions, StoredResponse,
};
