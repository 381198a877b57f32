//! audit-log on AWS Lambda: the target of an EventBridge rule. Wiring only.

use std::sync::Arc;

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    switchyard_telemetry::init();
    let adapter = match switchyard_audit_log::from_env().await {
        Ok(adapter) => Arc::new(adapter),
        Err(e) => {
            tracing::error!(error = %e, "audit-log cannot start");
            return Err(e.into());
        }
    };
    lambda_runtime::run(service_fn(move |event: LambdaEvent<EventBridgeEvent>| {
        let adapter = adapter.clone();
        async move {
            let deadline = switchyard_triggers::lambda::invocation_deadline(event.context.deadline);
            // Err fails the invocation: EventBridge's retry policy, then the target DLQ
            adapter
                .handle(event.payload, deadline)
                .await
                .map(|_| ())
                .map_err(Error::from)
        }
    }))
    .await
}
