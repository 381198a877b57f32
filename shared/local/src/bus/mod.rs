//! The in-process event bus: evaluates the template's rules with
//! EventBridge pattern semantics and delivers each matching event to the
//! rule's targets — an SQS queue of the stack, or a function, through a
//! durable per-target queue so that a delivery survives a restart and
//! failed invocations are retried, then dead-lettered, like EventBridge's
//! target retry policy and DLQ.

pub mod pattern;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use switchyard_publish::{
    OutgoingEvent, PublishError, PublishOutcome, Publisher, apply_current_cause,
};

use crate::queue::LocalQueues;
use crate::template::{RuleSpec, TargetSpec};

/// The name of the durable queue that feeds a rule's function target.
pub fn target_queue(rule: &str) -> String {
    format!("{rule}.target")
}

/// The bus.
pub struct LocalBus {
    rules: Vec<RuleSpec>,
    queues: LocalQueues,
    matches: Mutex<BTreeMap<String, u64>>,
}

impl LocalBus {
    /// A bus over the template's rules, delivering into `queues`.
    pub fn new(rules: Vec<RuleSpec>, queues: LocalQueues) -> Self {
        let matches = rules.iter().map(|r| (r.name.clone(), 0)).collect();
        LocalBus {
            rules,
            queues,
            matches: Mutex::new(matches),
        }
    }

    /// Matches per rule so far.
    pub fn matches(&self) -> BTreeMap<String, u64> {
        self.matches.lock().map(|m| m.clone()).unwrap_or_default()
    }

    /// The EventBridge event EventBridge would build for an envelope
    /// published with `PutEvents` (Source, DetailType, Detail).
    pub fn eventbridge_event(envelope: &OutgoingEvent) -> Value {
        json!({
            "version": "0",
            "id": uuid::Uuid::new_v4().to_string(),
            "detail-type": envelope.event_type,
            "source": envelope.source,
            "account": "000000000000",
            // EventBridge stamps the PutEvents time when an entry has none
            "time": envelope.time.unwrap_or_else(chrono::Utc::now),
            "region": "local",
            "resources": [],
            "detail": envelope,
        })
    }

    /// Routes one event; returns the EventBridge event id.
    pub fn put(&self, envelope: &OutgoingEvent) -> Result<String, String> {
        let event = Self::eventbridge_event(envelope);
        let id = event["id"].as_str().unwrap_or_default().to_owned();
        let body = event.to_string();
        let mut matched = Vec::new();
        for rule in self.rules.iter().filter(|r| r.pattern.matches(&event)) {
            matched.push(rule.name.clone());
            for target in &rule.targets {
                let queue = match target {
                    TargetSpec::Queue(q) => q.clone(),
                    TargetSpec::Function { .. } => target_queue(&rule.name),
                };
                self.queues
                    .send(&queue, &body, BTreeMap::new())
                    .map_err(|e| e.to_string())?;
            }
        }
        if let Ok(mut m) = self.matches.lock() {
            for name in &matched {
                *m.entry(name.clone()).or_default() += 1;
            }
        }
        tracing::info!(
            event_id = %envelope.id,
            event_type = %envelope.event_type,
            correlation_id = %envelope.correlationid,
            rules = ?matched,
            "EventRouted"
        );
        Ok(id)
    }
}

/// A [`Publisher`] onto the local bus: what `EventBridgePublisher` is in
/// the cloud.
#[derive(Clone)]
pub struct LocalBusPublisher {
    bus: Arc<LocalBus>,
}

impl LocalBusPublisher {
    /// Publishes onto `bus`.
    pub fn new(bus: Arc<LocalBus>) -> Self {
        LocalBusPublisher { bus }
    }
}

#[async_trait::async_trait]
impl Publisher for LocalBusPublisher {
    async fn publish(
        &self,
        mut events: Vec<OutgoingEvent>,
    ) -> Result<Vec<PublishOutcome>, PublishError> {
        apply_current_cause(&mut events);
        Ok(events
            .iter()
            .map(|e| match self.bus.put(e) {
                Ok(id) => PublishOutcome::Published {
                    event_id: e.id.clone(),
                    provider_id: Some(id),
                },
                Err(message) => PublishOutcome::Failed {
                    event_id: e.id.clone(),
                    code: "LocalBusError".to_owned(),
                    message,
                },
            })
            .collect())
    }
}
