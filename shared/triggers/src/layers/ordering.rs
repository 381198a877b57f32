//! The ordering guard (opt-in): deliveries can be delayed, duplicated and
//! reordered, so an update older than one already applied must not
//! overwrite it. Per entity (the envelope `subject`, or a field of `data`)
//! the idempotency store keeps the newest position admitted (the event
//! `time`, or a timestamp or sequence field of `data`, chosen per event
//! type); an older event is acknowledged as stale: not run, counted
//! ([`Outcome::Stale`](crate::Outcome::Stale)), logged with both positions.
//!
//! A batch costs one `admit_positions` call, issued together with the
//! batch's idempotency claim. Within a batch only the newest event of each
//! entity goes to the store; the older ones are stale at once. Positions
//! are admitted before the handler runs, so a newer event that then fails
//! keeps its place: it is retried (or parked and redriven) and re-admitted
//! as the same position, and nothing older is applied meanwhile. Two
//! invocations running events of one entity at the same instant can both
//! be admitted in either order; a FIFO queue grouped by the entity orders
//! those.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::Value;
use switchyard_contracts::Envelope;
use switchyard_idempotency::{IdempotencyStore, PositionClaim, PositionOutcome};

/// Where an event's entity comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntityKey {
    /// The envelope's `subject` (what the event is about).
    Subject,
    /// A string at this JSON pointer into `data`, e.g. `/customerId`.
    Field(&'static str),
}

/// Where an event's position comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PositionOf {
    /// The envelope's `time` (an event without one is parked: it cannot
    /// be ordered).
    Time,
    /// The value at this JSON pointer into `data`: an RFC 3339 timestamp,
    /// or a non-negative integer (a number or a decimal string: a sequence).
    Field(&'static str),
}

/// The guard's rule for one event type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderedBy {
    /// The event type it applies to.
    pub event_type: &'static str,
    /// The entity whose updates are ordered.
    pub entity: EntityKey,
    /// The position of each update.
    pub position: PositionOf,
}

impl OrderedBy {
    /// A rule: `event_type`'s updates of `entity`, ordered by `position`.
    pub const fn new(event_type: &'static str, entity: EntityKey, position: PositionOf) -> Self {
        OrderedBy {
            event_type,
            entity,
            position,
        }
    }
}

/// How long a position is kept when `SWITCHYARD_ORDERING_KEEP_SECS` does not
/// say: 14 days, the longest an SQS message can wait.
pub const DEFAULT_ORDERING_KEEP: Duration = Duration::from_secs(14 * 24 * 3600);

/// The guard: its rules, the store that keeps positions, the key prefix.
#[derive(Clone)]
pub struct OrderingGuard {
    /// One rule per guarded event type; other types pass unguarded.
    pub rules: &'static [OrderedBy],
    /// Where positions live (the function's idempotency store).
    pub store: Arc<dyn IdempotencyStore>,
    /// Prefix of every position key: `<prefix>#position#<type>#<entity>`.
    pub prefix: String,
    /// How long a position is kept.
    pub keep_for: Duration,
}

impl std::fmt::Debug for OrderingGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrderingGuard")
            .field("rules", &self.rules)
            .field("prefix", &self.prefix)
            .field("keep_for", &self.keep_for)
            .finish_non_exhaustive()
    }
}

/// What the guard decided for one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Order {
    /// Not a guarded type (or no guard): run.
    Unguarded,
    /// Not older than anything applied: run.
    Admitted,
    /// Older than an event already admitted: acknowledge without running.
    Stale(Staleness),
    /// The entity or position could not be read from the event: park.
    BadKey(String),
    /// The store failed: retry (fail closed).
    StoreDown(String),
}

/// Both positions of a stale event, for its log line and outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Staleness {
    pub(crate) entity: String,
    pub(crate) position: u64,
    pub(crate) newest: u64,
    pub(crate) newest_event: String,
}

/// The entity and position of a guarded event.
fn read<E: serde::Serialize>(
    rule: &OrderedBy,
    event: &Envelope<E>,
) -> Result<(String, u64), String> {
    let needs_data =
        matches!(rule.entity, EntityKey::Field(_)) || matches!(rule.position, PositionOf::Field(_));
    let data = if needs_data {
        serde_json::to_value(&event.data).map_err(|e| format!("data: {e}"))?
    } else {
        Value::Null
    };
    let entity = match rule.entity {
        EntityKey::Subject => event
            .subject
            .clone()
            .filter(|s| !s.is_empty())
            .ok_or("the event has no subject to order by")?,
        EntityKey::Field(pointer) => match data.pointer(pointer) {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => return Err(format!("data has no entity at {pointer}")),
        },
    };
    let position = match rule.position {
        PositionOf::Time => nanos(event.time.ok_or("the event has no time to order by")?)?,
        PositionOf::Field(pointer) => match data.pointer(pointer) {
            Some(Value::Number(n)) => n
                .as_u64()
                .ok_or_else(|| format!("{pointer} = {n} is not a non-negative integer"))?,
            Some(Value::String(s)) => match s.parse::<u64>() {
                Ok(sequence) => sequence,
                Err(_) => nanos(
                    chrono::DateTime::parse_from_rfc3339(s)
                        .map_err(|e| {
                            format!("{pointer} = {s:?} is neither a timestamp nor a sequence: {e}")
                        })?
                        .to_utc(),
                )?,
            },
            _ => return Err(format!("data has no position at {pointer}")),
        },
    };
    Ok((entity, position))
}

fn nanos(time: chrono::DateTime<chrono::Utc>) -> Result<u64, String> {
    time.timestamp_nanos_opt()
        .and_then(|n| u64::try_from(n).ok())
        .ok_or_else(|| format!("time {time} is outside 1970..2262"))
}

impl OrderingGuard {
    /// Decides every event of a batch with one store call.
    pub(crate) async fn check<E: serde::Serialize>(
        &self,
        events: &[Option<&Envelope<E>>],
        deadline: SystemTime,
    ) -> Vec<Order> {
        let mut orders = vec![Order::Unguarded; events.len()];
        // Per position key: the newest (position, index) of this batch.
        let mut newest: HashMap<String, (u64, usize)> = HashMap::new();
        let mut read_ok: Vec<Option<(String, String, u64)>> = vec![None; events.len()];
        for (i, event) in events.iter().enumerate() {
            let Some(event) = event else { continue };
            let Some(rule) = self.rules.iter().find(|r| r.event_type == event.event_type) else {
                continue;
            };
            match read(rule, event) {
                Ok((entity, position)) => {
                    let key = format!("{}#position#{}#{entity}", self.prefix, rule.event_type);
                    let slot = newest.entry(key.clone()).or_insert((position, i));
                    if position > slot.0 {
                        *slot = (position, i);
                    }
                    read_ok[i] = Some((key, entity, position));
                }
                Err(reason) => orders[i] = Order::BadKey(reason),
            }
        }
        let keep_until = SystemTime::now().max(deadline) + self.keep_for;
        let mut claims = Vec::new();
        let mut sent = Vec::new();
        for (i, read) in read_ok.iter().enumerate() {
            let (Some((key, entity, position)), Some(event)) = (read, events[i]) else {
                continue;
            };
            let (max, at) = newest.get(key).copied().unwrap_or((*position, i));
            if *position < max {
                orders[i] = Order::Stale(Staleness {
                    entity: entity.clone(),
                    position: *position,
                    newest: max,
                    newest_event: events[at].map(|e| e.id.clone()).unwrap_or_default(),
                });
                continue;
            }
            claims.push(PositionClaim {
                key: key.clone(),
                position: *position,
                event_id: event.id.clone(),
                keep_until,
            });
            sent.push((i, entity.clone(), *position));
        }
        if claims.is_empty() {
            return orders;
        }
        match self.store.admit_positions(&claims).await {
            Ok(outcomes) if outcomes.len() == sent.len() => {
                for ((i, entity, position), outcome) in sent.into_iter().zip(outcomes) {
                    orders[i] = match outcome {
                        PositionOutcome::Admitted => Order::Admitted,
                        PositionOutcome::Stale {
                            newest,
                            newest_event,
                        } => Order::Stale(Staleness {
                            entity,
                            position,
                            newest,
                            newest_event,
                        }),
                    };
                }
            }
            Ok(outcomes) => {
                let reason = format!(
                    "{} position outcomes for {} claims",
                    outcomes.len(),
                    sent.len()
                );
                for (i, _, _) in sent {
                    orders[i] = Order::StoreDown(reason.clone());
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "ordering guard store unavailable; failing closed");
                for (i, _, _) in sent {
                    orders[i] = Order::StoreDown(e.to_string());
                }
            }
        }
        orders
    }
}
