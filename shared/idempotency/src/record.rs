//! The record every backend stores, and the one decision rule they share.
//!
//! A record is claimable when it does not exist, when its `expiration`
//! (epoch seconds) is in the past, or when it is in progress and its
//! `in_progress_expiry` (epoch milliseconds, the invocation deadline) is in
//! the past. This is the DynamoDB condition expression
//! `attribute_not_exists(pk) OR expiration < :now OR
//! (#status = :inprogress AND in_progress_expiry < :now_ms)`; the Redis Lua
//! script and the in-process backends evaluate the same rule.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::store::{ClaimDetail, ClaimOutcome, ClaimRequest};

/// The `status` value of an in-progress record.
#[cfg(feature = "dynamodb")]
pub(crate) const IN_PROGRESS: &str = "INPROGRESS";
/// The `status` value of a completed record.
#[cfg(feature = "dynamodb")]
pub(crate) const COMPLETED: &str = "COMPLETED";

/// A record's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Status {
    #[serde(rename = "INPROGRESS")]
    InProgress,
    #[serde(rename = "COMPLETED")]
    Completed,
}

#[cfg(feature = "dynamodb")]
impl Status {
    pub(crate) fn parse(value: &str) -> Option<Self> {
        match value {
            IN_PROGRESS => Some(Self::InProgress),
            COMPLETED => Some(Self::Completed),
            _ => None,
        }
    }
}

/// One idempotency record, as the in-process backends store it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Record {
    pub(crate) status: Status,
    /// Epoch seconds after which the key may be processed again.
    pub(crate) expiration: i64,
    /// Epoch milliseconds after which an in-progress claim is abandoned.
    pub(crate) in_progress_expiry: i64,
    /// The payload hash given at claim time.
    pub(crate) validation: Option<String>,
    /// The serialised response, once completed.
    pub(crate) data: Option<String>,
}

/// "Now" in the two units records use.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Now {
    pub(crate) ms: i64,
    pub(crate) secs: i64,
}

impl Now {
    pub(crate) fn at(time: SystemTime) -> Self {
        let ms = epoch_ms(time);
        Self {
            ms,
            secs: ms.div_euclid(1000),
        }
    }
}

/// Milliseconds since the epoch (negative before it).
pub(crate) fn epoch_ms(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_millis()).unwrap_or(i64::MAX),
        Err(before) => -i64::try_from(before.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

/// The time `ms` milliseconds after the epoch.
pub(crate) fn from_epoch_ms(ms: i64) -> SystemTime {
    if ms >= 0 {
        UNIX_EPOCH + Duration::from_millis(ms.unsigned_abs())
    } else {
        UNIX_EPOCH - Duration::from_millis(ms.unsigned_abs())
    }
}

fn expiry_secs(expiry: Duration) -> i64 {
    i64::try_from(expiry.as_secs()).unwrap_or(i64::MAX / 2)
}

/// The `expiration` of a completed record written at `now`.
pub(crate) fn completed_expiration(now: Now, expiry: Duration) -> i64 {
    now.secs.saturating_add(expiry_secs(expiry))
}

/// The `expiration` of an in-progress record: the record lifetime, but never
/// before the invocation deadline, so the record cannot expire while its
/// claim still holds.
pub(crate) fn in_progress_expiration(now: Now, expiry: Duration, until_ms: i64) -> i64 {
    let deadline_secs = until_ms.div_euclid(1000) + i64::from(until_ms.rem_euclid(1000) != 0);
    completed_expiration(now, expiry).max(deadline_secs)
}

/// The first moment a record with this `expiration` (epoch seconds) is claimable.
pub(crate) fn claimable_from(expiration: i64) -> SystemTime {
    from_epoch_ms(expiration.saturating_add(1).saturating_mul(1000))
}

/// Whether a stored record may be claimed at `now`.
pub(crate) fn claimable(
    expiration: i64,
    status: Status,
    in_progress_expiry: i64,
    now: Now,
) -> bool {
    expiration < now.secs || (status == Status::InProgress && in_progress_expiry < now.ms)
}

/// Whether two payload hashes conflict (validation applies only when both exist).
pub(crate) fn mismatched(stored: Option<&str>, requested: Option<&str>) -> bool {
    matches!((stored, requested), (Some(a), Some(b)) if a != b)
}

impl Record {
    /// A fresh in-progress record for `request`.
    pub(crate) fn in_progress(request: &ClaimRequest, now: Now, expiry: Duration) -> Self {
        let until_ms = epoch_ms(request.in_progress_until);
        Self {
            status: Status::InProgress,
            expiration: in_progress_expiration(now, expiry, until_ms),
            in_progress_expiry: until_ms,
            validation: request.payload_hash.clone(),
            data: None,
        }
    }

    /// Whether this record may be claimed at `now`.
    pub(crate) fn is_claimable(&self, now: Now) -> bool {
        claimable(self.expiration, self.status, self.in_progress_expiry, now)
    }

    /// The outcome of claiming `request` against this live (not claimable) record.
    pub(crate) fn outcome_for(&self, request: &ClaimRequest) -> ClaimDetail {
        if mismatched(self.validation.as_deref(), request.payload_hash.as_deref()) {
            return ClaimDetail::new(ClaimOutcome::PayloadMismatch);
        }
        match self.status {
            Status::Completed => ClaimDetail {
                outcome: ClaimOutcome::Completed {
                    response: self.data.clone().unwrap_or_default(),
                },
                completed_until: Some(claimable_from(self.expiration)),
            },
            Status::InProgress => ClaimDetail::new(ClaimOutcome::InProgress {
                until: from_epoch_ms(self.in_progress_expiry),
            }),
        }
    }

    /// Decides a claim: the outcome, and the record to write if claimed.
    pub(crate) fn decide(
        existing: Option<&Self>,
        request: &ClaimRequest,
        now: Now,
        expiry: Duration,
    ) -> (ClaimDetail, Option<Self>) {
        match existing {
            Some(record) if !record.is_claimable(now) => (record.outcome_for(request), None),
            _ => (
                ClaimDetail::new(ClaimOutcome::Claimed),
                Some(Self::in_progress(request, now, expiry)),
            ),
        }
    }

    /// The record after completing with `response` at `now`, keeping the
    /// payload hash of the claim when there was one.
    pub(crate) fn completed(
        existing: Option<&Self>,
        response: &str,
        now: Now,
        expiry: Duration,
    ) -> Self {
        Self {
            status: Status::Completed,
            expiration: completed_expiration(now, expiry),
            in_progress_expiry: existing.map_or(now.ms, |record| record.in_progress_expiry),
            validation: existing.and_then(|record| record.validation.clone()),
            data: Some(response.to_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_progress_expiration_never_precedes_the_deadline() {
        let now = Now::at(UNIX_EPOCH + Duration::from_secs(100));
        assert_eq!(
            in_progress_expiration(now, Duration::from_secs(10), 500_001),
            501
        );
        assert_eq!(
            in_progress_expiration(now, Duration::from_secs(10), 50_000),
            110
        );
    }

    #[test]
    fn epoch_ms_round_trips() {
        let t = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        assert_eq!(from_epoch_ms(epoch_ms(t)), t);
        assert_eq!(Now::at(t).secs, 1_700_000_000);
    }
}
