//! erp-sync on AWS Lambda: an SQS event source mapping with
//! `ReportBatchItemFailures`. Wiring only; the logic is in the library.

use std::sync::Arc;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    switchyard_telemetry::init();
    let adapter = match switchyard_erp_sync::from_env().await {
        Ok(adapter) => Arc::new(adapter),
        Err(e) => {
            tracing::error!(error = %e, "erp-sync cannot start");
            return Err(e.into());
        }
    };
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let adapter = adapter.clone();
        async move {
            let deadline = switchyard_triggers::lambda::invocation_deadline(event.context.deadline);
            Ok::<SqsBatchResponse, Error>(adapter.handle(event.payload, deadline).await)
        }
    }))
    .await
}
