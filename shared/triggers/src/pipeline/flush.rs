//! The batch's flush: the events every handled message returned go to the
//! publisher in one call (which packs them into as few target calls as the
//! target allows — PutEvents 10 entries / 256 KB, SendMessageBatch 10,
//! a Service Bus batch), and a message counts as handled only when every
//! one of its events was accepted. A message with a refused event is
//! released and retried.
//!
//! Its accepted events are not published again on that retry: when the
//! function has an idempotency store, each accepted event of a retried
//! message is recorded there (`<prefix>#published#<event id>`), and a
//! redelivered message skips the events so recorded. What stays
//! at-least-once is a crash between the publish and the claim's completion,
//! or a store that fails while recording: then the retry republishes the
//! same envelope ids, and consumers' idempotency absorbs them.

use std::ops::Range;
use std::time::{Duration, SystemTime};

use switchyard_idempotency::{ClaimOutcome, ClaimRequest, Completion};
use switchyard_publish::{OutgoingEvent, PublishOutcome};

use crate::handler::Handler;
use crate::layers::Idempotency;
use crate::pipeline::builder::Pipeline;
use crate::pipeline::message::Outcome;
use crate::pipeline::process::{Done, Ran, Settled};

/// What the store says about one event of a redelivered message.
enum Mark {
    /// Not looked up (first delivery, no store, or the store failed).
    Unknown,
    /// Recorded as published by an earlier delivery: skipped.
    Published,
    /// Claimed now: complete it if the event is accepted and the message
    /// still fails; release it otherwise.
    Claimed(String),
}

/// Whether the publisher accepted one event: its id, or why not.
type Accepted = Result<String, String>;

/// One handled message's events within the flushed list.
struct Owner {
    /// Its events' positions in the list sent to the publisher.
    events: Range<usize>,
    /// The marker claimed for each of its events on a redelivery, in the
    /// same order (`None`: not claimed; its key is built only if needed).
    claimed: Vec<Option<String>>,
    /// How many of its events were skipped as already published.
    skipped: usize,
    /// Every one of its events accepted, or why not.
    verdict: Result<(), String>,
}

/// A message of the batch while the flush runs.
enum Slot {
    Settled(Settled),
    Handled(Done, Owner),
}

impl<H: Handler> Pipeline<H> {
    /// Publishes the events of every [`Ran::Handled`] message in one
    /// publisher call and settles each message: completed when all its
    /// events were accepted, released and retried otherwise. One result
    /// per message, in order.
    pub(crate) async fn flush(&self, ran: Vec<Ran>, deadline: SystemTime) -> Vec<Settled> {
        let mut marks = self.look_up_markers(&ran, deadline).await;
        let mut events: Vec<OutgoingEvent> = Vec::new();
        let mut slots: Vec<Slot> = Vec::with_capacity(ran.len());
        for (position, r) in ran.into_iter().enumerate() {
            let mut done = match r {
                Ran::Settled(settled) => {
                    slots.push(Slot::Settled(settled));
                    continue;
                }
                Ran::Handled(done) => done,
            };
            let mut message_marks = marks.remove(&position).unwrap_or_default().into_iter();
            let start = events.len();
            let mut owner = Owner {
                events: 0..0,
                claimed: Vec::new(),
                skipped: 0,
                verdict: Ok(()),
            };
            for event in std::mem::take(&mut done.events) {
                match message_marks.next().unwrap_or(Mark::Unknown) {
                    Mark::Published => {
                        owner.skipped += 1;
                        continue;
                    }
                    Mark::Claimed(key) => owner.claimed.push(Some(key)),
                    Mark::Unknown => owner.claimed.push(None),
                }
                events.push(event);
            }
            owner.events = start..events.len();
            slots.push(Slot::Handled(done, owner));
        }
        let accepted = self.publish_flushed(events, deadline).await;
        for slot in &mut slots {
            if let Slot::Handled(_, owner) = slot {
                owner.verdict = verdict(&accepted[owner.events.clone()]);
            }
        }
        self.record_markers(&slots, &accepted, deadline).await;
        slots
            .into_iter()
            .map(|slot| match slot {
                Slot::Settled(settled) => settled,
                Slot::Handled(done, owner) => settle(done, owner.verdict, owner.skipped),
            })
            .collect()
    }

    fn marker_key(&self, event_id: &str) -> String {
        let prefix = self
            .idempotency
            .as_ref()
            .map_or(&*self.settings.function_name, |i| {
                i.config.key_prefix.as_str()
            });
        format!("{prefix}#published#{event_id}")
    }

    /// For redelivered messages only: claims the marker of each of their
    /// events in one call; a completed marker means an earlier delivery
    /// published that event.
    async fn look_up_markers(
        &self,
        ran: &[Ran],
        deadline: SystemTime,
    ) -> std::collections::HashMap<usize, Vec<Mark>> {
        let mut marks = std::collections::HashMap::new();
        let Some(idem) = &self.idempotency else {
            return marks;
        };
        let mut requests = Vec::new();
        let mut slots = Vec::new();
        for (slot, r) in ran.iter().enumerate() {
            let Ran::Handled(done) = r else { continue };
            if done.attempt < 2 {
                continue;
            }
            for event in &done.events {
                requests.push(ClaimRequest::new(self.marker_key(&event.id), deadline));
                slots.push(slot);
            }
        }
        if requests.is_empty() {
            return marks;
        }
        let outcomes = match idem.store.claim_many(&requests).await {
            Ok(o) if o.len() == requests.len() => o,
            Ok(_) | Err(_) => {
                tracing::warn!(
                    "could not look up which events earlier deliveries published; publishing them all again"
                );
                return marks;
            }
        };
        for ((slot, request), outcome) in slots.into_iter().zip(requests).zip(outcomes) {
            let mark = match outcome {
                ClaimOutcome::Completed { .. } => Mark::Published,
                ClaimOutcome::Claimed => Mark::Claimed(request.key),
                ClaimOutcome::InProgress { .. } | ClaimOutcome::PayloadMismatch => Mark::Unknown,
            };
            marks.entry(slot).or_insert_with(Vec::new).push(mark);
        }
        marks
    }

    /// Sends every event in one publisher call; per event, whether it was
    /// accepted (or why not).
    async fn publish_flushed(
        &self,
        events: Vec<OutgoingEvent>,
        deadline: SystemTime,
    ) -> Vec<Accepted> {
        let count = events.len();
        if count == 0 {
            return Vec::new();
        }
        let all = |reason: String| vec![Err(reason); count];
        let Some(publisher) = &self.publisher else {
            return all(
                "the handler returned events to publish but the function has no publisher"
                    .to_owned(),
            );
        };
        let budget = deadline
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO);
        match tokio::time::timeout(budget, publisher.publish(events)).await {
            Err(_) => all("publishing did not finish before the invocation deadline".to_owned()),
            Ok(Err(e)) => all(format!("could not publish: {e}")),
            Ok(Ok(outcomes)) if outcomes.len() != count => all(format!(
                "the publisher answered {} outcomes for {count} events",
                outcomes.len()
            )),
            Ok(Ok(outcomes)) => outcomes
                .into_iter()
                .map(|o| match o {
                    PublishOutcome::Published { event_id, .. } => Ok(event_id),
                    PublishOutcome::Failed { code, message, .. } => {
                        Err(format!("{code}: {message}"))
                    }
                })
                .collect(),
        }
    }

    /// Records the accepted events of messages that will be retried, and
    /// releases the markers claimed for nothing.
    async fn record_markers(&self, slots: &[Slot], accepted: &[Accepted], deadline: SystemTime) {
        let Some(idem) = &self.idempotency else {
            return;
        };
        let mut to_claim = Vec::new();
        let mut to_record = Vec::new();
        let mut to_release = Vec::new();
        for slot in slots {
            let Slot::Handled(_, owner) = slot else {
                continue;
            };
            let retried = owner.verdict.is_err();
            for (claimed, result) in owner.claimed.iter().zip(&accepted[owner.events.clone()]) {
                match (retried, result, claimed) {
                    (true, Ok(_), Some(key)) => {
                        to_record.push(Completion::new(key.clone(), "published"));
                    }
                    (true, Ok(event_id), None) => {
                        let key = self.marker_key(event_id);
                        to_claim.push(ClaimRequest::new(key.clone(), deadline));
                        to_record.push(Completion::new(key, "published"));
                    }
                    (_, _, Some(key)) => to_release.push(key.clone()),
                    (_, _, None) => {}
                }
            }
        }
        record(idem, &to_claim, &to_record, &to_release).await;
    }
}

/// Writes the markers: claims what was not claimed yet, completes, releases.
async fn record(
    idem: &Idempotency,
    to_claim: &[ClaimRequest],
    to_record: &[Completion],
    to_release: &[String],
) {
    if !to_claim.is_empty() {
        if let Err(e) = idem.store.claim_many(to_claim).await {
            tracing::warn!(error = %e, "could not record published events; a retry republishes them");
        }
    }
    if !to_record.is_empty() {
        if let Err(e) = idem.store.complete_many(to_record).await {
            tracing::warn!(error = %e, "could not record published events; a retry republishes them");
        }
    }
    if !to_release.is_empty() {
        if let Err(e) = idem.store.release_many(to_release).await {
            tracing::warn!(error = %e, count = to_release.len(), "could not release event markers; they expire with the invocation deadline");
        }
    }
}

/// A message's verdict from its events: every one accepted, or why not.
fn verdict(own: &[Accepted]) -> Result<(), String> {
    let failed: Vec<&String> = own.iter().filter_map(|r| r.as_ref().err()).collect();
    match failed.first() {
        None => Ok(()),
        Some(first) => Err(format!(
            "{} of {} events were not accepted by the publisher (first: {first})",
            failed.len(),
            own.len()
        )),
    }
}

/// Settles one handled message by its verdict.
fn settle(done: Done, verdict: Result<(), String>, skipped: usize) -> Settled {
    let Done {
        span,
        key,
        response,
        ..
    } = done;
    span.in_scope(|| match verdict {
        Ok(()) => {
            if skipped > 0 {
                tracing::info!(
                    skipped,
                    "handled; events an earlier delivery published were not sent again"
                );
            } else {
                tracing::info!("handled");
            }
            match (key, response) {
                (Some(k), Some(r)) => Settled::Completed(Outcome::Handled, k, r),
                (Some(k), None) => Settled::Release(Outcome::Handled, k.key),
                (None, _) => Settled::Outcome(Outcome::Handled),
            }
        }
        Err(reason) => {
            tracing::warn!(%reason, "events not all published; will be retried");
            let outcome = Outcome::Retry { reason };
            match key {
                Some(k) => Settled::Release(outcome, k.key),
                None => Settled::Outcome(outcome),
            }
        }
    })
}
