//! crm-webhook on AWS Lambda behind a Function URL (or API Gateway HTTP
//! API, payload v2). Wiring only; the routes are in the library.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    switchyard_telemetry::init();
    let state = switchyard_crm_webhook::state_from_env()
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "crm-webhook cannot start");
            e
        })?;
    lambda_http::run(switchyard_crm_webhook::app(state)).await
}
