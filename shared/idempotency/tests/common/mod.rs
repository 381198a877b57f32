//! The conformance suite every backend runs, and helpers for the per-backend test files.
#![allow(dead_code)]

pub(crate) mod conformance;

use std::any::Any;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use switchyard_idempotency::{IdempotencyStore, ManualClock, StoreOptions};

/// A store under test, its clock, and a key prefix unique to the test.
pub(crate) struct Fixture {
    pub(crate) store: Arc<dyn IdempotencyStore>,
    pub(crate) clock: Arc<ManualClock>,
    pub(crate) prefix: String,
    /// Whatever must outlive the store (a temp dir, a table name).
    pub(crate) guard: Option<Box<dyn Any + Send + Sync>>,
}

impl Fixture {
    pub(crate) fn key(&self, name: &str) -> String {
        format!("{}#{name}", self.prefix)
    }

    pub(crate) fn deadline(&self, after: Duration) -> SystemTime {
        use switchyard_idempotency::Clock as _;
        self.clock.now() + after
    }
}

/// Options with a manual clock starting now and the default one-hour expiry.
pub(crate) fn manual_options() -> (StoreOptions, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::starting_now());
    let options = StoreOptions::default().with_clock(clock.clone());
    (options, clock)
}

/// Generates one `#[tokio::test]` per conformance case, given
/// `async fn setup() -> Fixture` and `async fn teardown(Fixture)`.
macro_rules! conformance_suite {
    ($setup:path, $teardown:path) => {
        conformance_suite!(@cases $setup, $teardown, [
            new_key_is_claimed,
            completed_duplicate_returns_stored_response,
            in_progress_duplicate_is_reported,
            abandoned_claim_is_claimable_after_deadline_not_before,
            completed_record_expires_after_expiry,
            payload_mismatch_is_reported,
            release_lets_a_retry_run,
            batch_mixes_new_in_progress_and_completed,
            duplicate_keys_in_one_batch_first_wins,
            concurrent_claims_have_exactly_one_winner,
            positions_admit_newer_and_equal_and_refuse_older,
            position_records_expire_with_their_claims,
            positions_of_one_entity_in_one_call_are_decided_in_order,
            concurrent_positions_keep_the_newest
        ]);
    };
    (@cases $setup:path, $teardown:path, [$($case:ident),*]) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                let fixture = $setup().await;
                common::conformance::$case(&fixture).await;
                $teardown(fixture).await;
            }
        )*
    };
}
pub(crate) use conformance_suite;
