//! Test support shared by the adapter tests.
#![allow(dead_code, unreachable_pub)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use switchyard_contracts::{DomainEvent, Envelope};
use switchyard_triggers::{Context, Handled, Handler, HandlerError};

/// A handler whose behaviour is chosen by the order/customer id, recording
/// every call.
#[derive(Clone, Default)]
pub struct Scripted {
    pub calls: Arc<Mutex<Vec<String>>>,
    pub contexts: Arc<Mutex<Vec<Context>>>,
}

impl Scripted {
    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }
}

#[async_trait::async_trait]
impl Handler for Scripted {
    type Event = DomainEvent;
    type Output = String;

    async fn handle(
        &self,
        event: Envelope<DomainEvent>,
        ctx: Context,
    ) -> Result<Handled<String>, HandlerError> {
        self.calls.lock().unwrap().push(event.id.clone());
        self.contexts.lock().unwrap().push(ctx);
        let id = match &event.data {
            DomainEvent::OrderPlaced(o) => o.order_id.clone(),
            DomainEvent::CustomerUpdated(c) => c.customer_id.clone(),
            DomainEvent::ErpOrderSynced(s) => s.order_id.clone(),
        };
        let result = match id.as_str() {
            "FAIL-TRANSIENT" => Err(HandlerError::transient("ERP answered 503")),
            "REJECT" => Err(HandlerError::permanent(
                "rejected_by_erp",
                "ERP answered 422: unknown customer",
            )),
            "PANIC" => panic!("handler bug"),
            "SLOW" => {
                tokio::time::sleep(Duration::from_millis(300)).await;
                Ok(format!("done {id}"))
            }
            _ => Ok(format!("done {id}")),
        };
        result.map(Handled::new)
    }
}
