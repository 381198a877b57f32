//! The Function App's custom handler: an HTTP server on
//! `127.0.0.1:$FUNCTIONS_CUSTOMHANDLER_PORT` that the Functions host POSTs
//! invocations to. Wiring only; the routes are in the library.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    switchyard_telemetry::init();
    let lookup = |k: &str| std::env::var(k).ok();
    let started = async {
        let port = switchyard_azure_app::listen_port(&lookup).map_err(|e| e.to_string())?;
        let app = switchyard_azure_app::from_env().map_err(|e| e.to_string())?;
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .map_err(|e| format!("cannot listen on 127.0.0.1:{port}: {e}"))?;
        tracing::info!(port, "azure-app listening");
        axum::serve(listener, switchyard_azure_app::app(app))
            .await
            .map_err(|e| format!("server stopped: {e}"))
    };
    match started.await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "azure-app cannot run");
            ExitCode::FAILURE
        }
    }
}
