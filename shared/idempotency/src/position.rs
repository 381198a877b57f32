//! The ordering guard's records: per entity, the newest position (a
//! timestamp or sequence taken from the events) admitted so far, so an
//! event older than one already applied is recognised as stale.
//!
//! One rule for every backend ([`StoredPosition::decide`]): a claim is
//! admitted when the entity has no live record, when its position is newer
//! than the stored one (the record is then advanced), or when it is equal
//! (a retry of the same event, or another event of the same instant: not
//! provably older, so not dropped). A strictly older position is stale. The
//! record lives until the claim's `keep_until` (epoch seconds, like an
//! idempotency record's `expiration`); an expired record counts as absent.

use std::time::SystemTime;

use crate::record::{Now, epoch_ms};

/// Admit one event of an entity at a position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PositionClaim {
    /// The entity's key (the guard builds `<prefix>#position#<type>#<entity>`).
    pub key: String,
    /// The event's position: epoch nanoseconds of a timestamp, or a sequence.
    pub position: u64,
    /// The event's id, kept with the position for the stale log line.
    pub event_id: String,
    /// How long the advanced record must be kept (at least the time a
    /// delayed or redelivered event can still arrive).
    pub keep_until: SystemTime,
}

/// What the store decided for one [`PositionClaim`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PositionOutcome {
    /// Not older than anything applied: run it.
    Admitted,
    /// Older than an event already admitted: acknowledge without applying.
    Stale {
        /// The newest position admitted for the entity.
        newest: u64,
        /// The event that brought it.
        newest_event: String,
    },
}

/// A stored position record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StoredPosition {
    pub(crate) position: u64,
    /// Epoch seconds after which the record counts as absent.
    pub(crate) expiration: i64,
    pub(crate) event_id: String,
}

#[cfg(any(test, feature = "redis"))]
/// Positions as fixed-width decimal text: compared as strings (Redis Lua
/// numbers are doubles, exact only to 2^53) they order like the numbers.
pub(crate) fn position_text(position: u64) -> String {
    format!("{position:020}")
}

impl StoredPosition {
    pub(crate) fn for_claim(claim: &PositionClaim) -> Self {
        StoredPosition {
            position: claim.position,
            expiration: epoch_ms(claim.keep_until).div_euclid(1000),
            event_id: claim.event_id.clone(),
        }
    }

    /// `<position, 20 digits>|<expiration s>|<event id>`.
    #[cfg(any(test, feature = "embedded"))]
    pub(crate) fn encode(&self) -> String {
        format!(
            "{:020}|{}|{}",
            self.position, self.expiration, self.event_id
        )
    }

    #[cfg(any(test, feature = "embedded"))]
    pub(crate) fn decode(text: &str) -> Option<Self> {
        let mut parts = text.splitn(3, '|');
        Some(StoredPosition {
            position: parts.next()?.parse().ok()?,
            expiration: parts.next()?.parse().ok()?,
            event_id: parts.next()?.to_owned(),
        })
    }

    /// The rule in the module docs: the outcome, and the record to write.
    pub(crate) fn decide(
        stored: Option<&StoredPosition>,
        claim: &PositionClaim,
        now: Now,
    ) -> (PositionOutcome, Option<StoredPosition>) {
        match stored.filter(|s| s.expiration >= now.secs) {
            Some(s) if claim.position < s.position => (
                PositionOutcome::Stale {
                    newest: s.position,
                    newest_event: s.event_id.clone(),
                },
                None,
            ),
            Some(s) if claim.position == s.position => (PositionOutcome::Admitted, None),
            _ => (PositionOutcome::Admitted, Some(Self::for_claim(claim))),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn claim(position: u64, id: &str) -> PositionClaim {
        PositionClaim {
            key: "k".to_owned(),
            position,
            event_id: id.to_owned(),
            keep_until: SystemTime::UNIX_EPOCH + Duration::from_secs(2_000),
        }
    }

    #[test]
    fn newer_advances_equal_is_admitted_older_is_stale_expired_is_absent() {
        let now = Now::at(SystemTime::UNIX_EPOCH + Duration::from_secs(1_000));
        let stored = StoredPosition::for_claim(&claim(10, "e10"));
        let (o, w) = StoredPosition::decide(Some(&stored), &claim(11, "e11"), now);
        assert_eq!(
            (o, w.map(|w| w.position)),
            (PositionOutcome::Admitted, Some(11))
        );
        let (o, w) = StoredPosition::decide(Some(&stored), &claim(10, "e10"), now);
        assert_eq!((o, w), (PositionOutcome::Admitted, None));
        let (o, w) = StoredPosition::decide(Some(&stored), &claim(9, "e9"), now);
        assert_eq!(
            (o, w),
            (
                PositionOutcome::Stale {
                    newest: 10,
                    newest_event: "e10".to_owned()
                },
                None
            )
        );
        let later = Now::at(SystemTime::UNIX_EPOCH + Duration::from_secs(3_000));
        let (o, w) = StoredPosition::decide(Some(&stored), &claim(9, "e9"), later);
        assert_eq!(
            (o, w.map(|w| w.position)),
            (PositionOutcome::Admitted, Some(9))
        );
    }

    #[test]
    fn records_round_trip_and_text_orders_like_numbers() {
        let stored = StoredPosition {
            position: u64::MAX,
            expiration: 17,
            event_id: "a|b".to_owned(),
        };
        assert_eq!(StoredPosition::decode(&stored.encode()), Some(stored));
        assert!(position_text(9) < position_text(10));
        assert!(position_text(1_764_583_200_000_000_000) < position_text(u64::MAX));
        assert_eq!(StoredPosition::decode("x|1|e"), None);
    }
}
