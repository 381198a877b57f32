//! What the running stack shares with its routes, the demo and tests: the
//! queues, the bus, per-function counters, the ERP stub and the audit table.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde_json::{Value, json};
use switchyard_audit_log::embedded::EmbeddedAuditStore;
use switchyard_config::Settings;
use switchyard_publish::Publisher;
use switchyard_triggers::Outcome;

use crate::bus::{LocalBus, target_queue};
use crate::erp::ErpState;
use crate::oauth::OAuthState;
use crate::queue::LocalQueues;
use crate::template::{StackSpec, TargetSpec};

/// Counters of one function.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct FunctionStats {
    /// Invocations (an SQS batch or one event).
    pub invocations: u64,
    /// Messages handled successfully.
    pub successes: u64,
    /// Messages that must be retried.
    pub failures: u64,
    /// Messages parked with a reason.
    pub parked: u64,
    /// Duplicates acknowledged without running.
    pub duplicates: u64,
    /// Events outside the function's set, acknowledged by its policy.
    pub ignored: u64,
    /// Updates older than one already applied (the ordering guard),
    /// acknowledged without running.
    pub stale: u64,
}

/// Shared counters.
#[derive(Debug, Default)]
pub struct Stats {
    functions: Mutex<BTreeMap<String, FunctionStats>>,
}

impl Stats {
    pub(crate) fn record(&self, function: &str, outcomes: &[Outcome]) {
        if let Ok(mut f) = self.functions.lock() {
            let s = f.entry(function.to_owned()).or_default();
            s.invocations += 1;
            for o in outcomes {
                match o {
                    Outcome::Handled => s.successes += 1,
                    Outcome::Duplicate => s.duplicates += 1,
                    Outcome::Ignored { .. } => s.ignored += 1,
                    Outcome::Stale { .. } => s.stale += 1,
                    Outcome::Parked { .. } => s.parked += 1,
                    Outcome::Retry { .. } | Outcome::NotStarted { .. } => s.failures += 1,
                }
            }
        }
    }

    /// Counters per function.
    pub fn functions(&self) -> BTreeMap<String, FunctionStats> {
        self.functions.lock().map(|f| f.clone()).unwrap_or_default()
    }
}

/// What the running stack shares with its HTTP routes and callers.
#[derive(Clone)]
pub struct StackHandle {
    /// The queues.
    pub queues: LocalQueues,
    /// The bus.
    pub bus: Arc<LocalBus>,
    /// Function counters.
    pub stats: Arc<Stats>,
    /// The built-in ERP stub's records.
    pub erp: ErpState,
    /// The built-in OAuth token endpoint stub (`/_oauth`): register a
    /// client here to run erp-sync with `ERP_CLIENT_ID` locally.
    pub oauth: OAuthState,
    /// The stack's spec.
    pub spec: Arc<StackSpec>,
    /// The publisher onto the bus.
    pub publisher: Arc<dyn Publisher>,
    /// The audit table (audit-log's, given to it as a resource).
    pub audit: EmbeddedAuditStore,
    /// The settings the functions run with (before per-function scoping).
    pub settings: Settings,
}

impl StackHandle {
    /// `GET /_switchyard/status` as JSON.
    pub fn status(&self) -> Value {
        let mut queues = serde_json::Map::new();
        for name in self.queues.names() {
            let depth = self.queues.depth(&name).unwrap_or_default();
            let dlq = self
                .spec
                .queues
                .get(&name)
                .and_then(|q| q.redrive.as_ref())
                .map(|(d, _)| d.clone());
            let dlq_depth = dlq.as_ref().map(|d| {
                self.queues
                    .depth(d)
                    .map(|x| x.visible + x.in_flight)
                    .unwrap_or(0)
            });
            queues.insert(
                name,
                json!({ "depth": depth.visible, "in_flight": depth.in_flight, "dlq": dlq, "dlq_depth": dlq_depth }),
            );
        }
        json!({
            "queues": queues,
            "functions": self.stats.functions(),
            "rules": self.bus.matches(),
            "erp": { "calls": self.erp.calls().len(), "accepted": self.erp.accepted().len() },
            "audit_records": self.audit.len(),
        })
    }

    /// The queues something consumes: the functions' SQS triggers and the
    /// rules' function targets. Everything else (DLQs, park queues) is a sink.
    pub fn consumed_queues(&self) -> Vec<String> {
        let mut queues: Vec<String> = self
            .spec
            .functions
            .values()
            .filter_map(|f| f.sqs.as_ref().map(|t| t.queue.clone()))
            .collect();
        for rule in &self.spec.rules {
            for t in &rule.targets {
                match t {
                    TargetSpec::Function { .. } => queues.push(target_queue(&rule.name)),
                    TargetSpec::Queue(q) => queues.push(q.clone()),
                }
            }
        }
        queues.sort();
        queues.dedup();
        queues
    }

    /// True when no consumed queue holds a visible or in-flight message.
    pub fn drained(&self) -> bool {
        self.consumed_queues().iter().all(|n| {
            self.queues
                .depth(n)
                .map(|d| d.visible + d.in_flight == 0)
                .unwrap_or(true)
        })
    }
}
