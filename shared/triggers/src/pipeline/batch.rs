//! Running a batch: decode every message, claim the batch's idempotency
//! keys in one call (and, with the ordering guard, admit its positions in
//! another, issued together), schedule the messages ([`Ordering`]: concurrently, or
//! in order within each FIFO group), publish the events they returned
//! (one flush per batch; per message within a FIFO group, so a group stops
//! at a message whose events were refused) and settle the claims.

use std::collections::BTreeMap;
use std::time::SystemTime;

use futures_util::StreamExt;
use switchyard_contracts::{DecodeError, Envelope};

use crate::handler::Handler;
use crate::layers::{Claim, Order, Settlement};
use crate::pipeline::builder::Pipeline;
use crate::pipeline::message::{Delivery, Outcome};
use crate::pipeline::process::Settled;

/// How a batch is scheduled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ordering {
    /// Any order, up to `max_concurrency` at once (standard queues).
    Concurrent,
    /// Strictly in order within a message group; after the first failure
    /// in a group the rest of it is not started; groups run concurrently.
    InOrderPerGroup,
}

/// One FIFO group's messages with their positions in the batch.
type Group<E> = Vec<(usize, Item<E>)>;

pub(crate) struct Item<E> {
    pub(crate) delivery: Delivery,
    pub(crate) decoded: Result<Envelope<E>, DecodeError>,
    pub(crate) claim: Claim,
    pub(crate) order: Order,
}

impl<H: Handler> Pipeline<H> {
    /// Runs a batch; one outcome per delivery, in order.
    pub async fn run_batch(
        &self,
        deliveries: Vec<Delivery>,
        deadline: SystemTime,
        ordering: Ordering,
    ) -> Vec<Outcome> {
        let decoded: Vec<_> = deliveries.iter().map(|d| self.decode(&d.body)).collect();
        let refs: Vec<Option<&Envelope<H::Event>>> =
            decoded.iter().map(|d| d.as_ref().ok()).collect();
        // The claims and the ordering guard's positions: two calls at once.
        let (claims, orders) = futures_util::future::join(
            crate::layers::claim_batch(self.idempotency.as_ref(), &refs, deadline),
            async {
                match &self.ordering {
                    Some(guard) => guard.check(&refs, deadline).await,
                    None => vec![Order::Unguarded; refs.len()],
                }
            },
        )
        .await;
        let items: Vec<Item<H::Event>> = deliveries
            .into_iter()
            .zip(decoded)
            .zip(claims.into_iter().zip(orders))
            .map(|((delivery, decoded), (claim, order))| Item {
                delivery,
                decoded,
                claim,
                order,
            })
            .collect();

        let limit = self.settings.max_concurrency.max(1);
        let results: Vec<Settled> = match ordering {
            Ordering::Concurrent => {
                let ran = futures_util::stream::iter(
                    items.into_iter().map(|item| self.process(item, deadline)),
                )
                .buffered(limit)
                .collect()
                .await;
                self.flush(ran, deadline).await
            }
            Ordering::InOrderPerGroup => {
                let mut groups: BTreeMap<String, Group<H::Event>> = BTreeMap::new();
                let total = items.len();
                for (i, item) in items.into_iter().enumerate() {
                    let key = item.delivery.group.clone().unwrap_or_default();
                    groups.entry(key).or_default().push((i, item));
                }
                let per_group = futures_util::stream::iter(
                    groups
                        .into_values()
                        .map(|g| self.process_group(g, deadline)),
                )
                .buffer_unordered(limit)
                .collect::<Vec<_>>()
                .await;
                let mut slots: Vec<Option<Settled>> = (0..total).map(|_| None).collect();
                for (i, settled) in per_group.into_iter().flatten() {
                    slots[i] = Some(settled);
                }
                slots
                    .into_iter()
                    .map(|s| {
                        s.unwrap_or(Settled::Outcome(Outcome::NotStarted {
                            reason: "not scheduled".to_owned(),
                        }))
                    })
                    .collect()
            }
        };

        let mut settlement = Settlement::default();
        let outcomes = results
            .into_iter()
            .map(|settled| match settled {
                Settled::Outcome(o) => o,
                Settled::Completed(o, owned, response) => {
                    settlement.completions.push(
                        switchyard_idempotency::Completion::new(owned.key, response)
                            .with_claimed_hash(owned.hash),
                    );
                    o
                }
                Settled::Release(o, key) => {
                    settlement.releases.push(key);
                    o
                }
            })
            .collect();
        settlement.settle(self.idempotency.as_ref()).await;
        outcomes
    }

    async fn process_group(
        &self,
        group: Group<H::Event>,
        deadline: SystemTime,
    ) -> Vec<(usize, Settled)> {
        let mut out = Vec::with_capacity(group.len());
        let mut failed: Option<String> = None;
        for (i, item) in group {
            if let Some(id) = &failed {
                let outcome = Outcome::NotStarted {
                    reason: format!("an earlier message of its FIFO group failed ({id})"),
                };
                out.push((
                    i,
                    match item.claim {
                        Claim::Owned(owned) => Settled::Release(outcome, owned.key),
                        _ => Settled::Outcome(outcome),
                    },
                ));
                continue;
            }
            let id = item.delivery.message_id.clone();
            let ran = self.process(item, deadline).await;
            // One flush per message: the group stops at a refused event.
            for settled in self.flush(vec![ran], deadline).await {
                if settled.outcome().needs_retry() {
                    failed = Some(id.clone());
                }
                out.push((i, settled));
            }
        }
        out
    }
}
