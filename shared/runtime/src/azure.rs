//! Registered functions in one Azure Function App: a custom-handler HTTP
//! server on `127.0.0.1:$FUNCTIONS_CUSTOMHANDLER_PORT` with a route
//! `POST /<function>` for every function that has a Service Bus or HTTP
//! trigger (the host POSTs each invocation to the function folder's name).

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Map, Value};
use switchyard_config::{ConfigError, Settings};
use switchyard_publish::Publisher;
use switchyard_publish::servicebus::{AzureServiceBus, ServiceBusSendApi};
use switchyard_publish::{ServiceBusConfig, ServiceBusPublisher};
use switchyard_triggers::registry::{App, Function, Platform, Resources};
use switchyard_triggers::servicebus::request::http_request;
use switchyard_triggers::servicebus::{HttpTriggerResponse, InvocationRequest, InvocationResponse};

use crate::platform::open_store;

/// The variable the Functions host sets to the port it expects us on.
pub const PORT_VAR: &str = "FUNCTIONS_CUSTOMHANDLER_PORT";

pub use crate::azure_files::{
    EXECUTABLE, HTTP_BINDING, HTTP_OUTPUT, LISTEN_CONNECTION, ROUTE_PREFIX, function_json,
    host_json, hosted,
};

/// The built functions of one Function App.
pub struct AzureApp {
    functions: BTreeMap<&'static str, App>,
    route_prefix: String,
}

impl AzureApp {
    /// The names it serves, sorted.
    pub fn names(&self) -> Vec<&'static str> {
        self.functions.keys().copied().collect()
    }
}

/// Builds every function of `functions` that has an Azure trigger: one
/// Service Bus sender (the publisher onto `SERVICEBUS_ENTITY` and the park
/// sender), one idempotency store and scoped settings per function.
///
/// # Errors
/// [`ConfigError`] naming the missing or malformed setting.
pub async fn build(functions: &[Function], settings: &Settings) -> Result<AzureApp, ConfigError> {
    let servicebus = ServiceBusConfig::from_settings(settings)?;
    let sender = AzureServiceBus::from_config(&servicebus)
        .map_err(|e| ConfigError::unavailable("the Service Bus HTTP client", e))?;
    let publisher: Arc<dyn Publisher> =
        Arc::new(ServiceBusPublisher::with_client(sender.clone(), servicebus));
    let sender: Arc<dyn ServiceBusSendApi> = Arc::new(sender);
    let mut route_prefix = settings
        .optional("SWITCHYARD_HTTP_ROUTE_PREFIX")
        .unwrap_or_else(|| format!("/{ROUTE_PREFIX}"));
    if !route_prefix.starts_with('/') {
        route_prefix.insert(0, '/');
    }
    let mut built = BTreeMap::new();
    let mut files: BTreeMap<String, &'static str> = BTreeMap::new();
    for function in functions {
        let triggers: Vec<_> = function
            .triggers
            .iter()
            .copied()
            .filter(|t| t.is_azure())
            .collect();
        if triggers.is_empty() {
            continue;
        }
        let scoped = settings.scoped(function.name);
        if let Some(spec) = scoped.optional("SWITCHYARD_IDEMPOTENCY") {
            if spec.starts_with("file:") {
                if let Some(other) = files.insert(spec.clone(), function.name) {
                    return Err(ConfigError::invalid(
                        scoped.source_of("SWITCHYARD_IDEMPOTENCY"),
                        format!(
                            "{} and {other} would open the same file; give each its own (e.g. {}SWITCHYARD_IDEMPOTENCY)",
                            function.name,
                            switchyard_config::scope_prefix(function.name)
                        ),
                    ));
                }
            }
        }
        let platform = Platform {
            store: Some(open_store(function, &scoped, None)?),
            settings: scoped,
            publisher: publisher.clone(),
            sqs: None,
            servicebus: Some(sender.clone()),
            triggers,
            resources: Resources::new(),
        };
        built.insert(function.name, function.build(&platform).await?);
    }
    Ok(AzureApp {
        functions: built,
        route_prefix: route_prefix.trim_end_matches('/').to_owned(),
    })
}

/// The custom handler's routes: `POST /<function>` per hosted function.
pub fn router(app: AzureApp) -> Router {
    let app = Arc::new(app);
    let mut router = Router::new();
    for name in app.names() {
        router = router.route(
            &format!("/{name}"),
            post(
                move |State(app): State<Arc<AzureApp>>, body: Bytes| async move {
                    invoke(&app, name, &body).await
                },
            ),
        );
    }
    router.with_state(app)
}

fn answer(status: StatusCode, response: &InvocationResponse) -> Response {
    (status, axum::Json(response)).into_response()
}

fn refused(status: StatusCode, log: String) -> Response {
    tracing::error!(status = status.as_u16(), message = %log, "CustomHandlerRequestRefused");
    answer(
        status,
        &InvocationResponse {
            logs: vec![log],
            ..InvocationResponse::default()
        },
    )
}

async fn invoke(app: &AzureApp, name: &'static str, body: &[u8]) -> Response {
    let request: InvocationRequest = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(e) => {
            return refused(
                StatusCode::BAD_REQUEST,
                format!("{name}: the invocation request is not custom-handler JSON: {e}"),
            );
        }
    };
    match app.functions.get(name) {
        Some(App::Messages(f)) => match f.servicebus(&request).await {
            Ok(invocation) => {
                let status = StatusCode::from_u16(invocation.status)
                    .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                answer(status, &invocation.response)
            }
            Err(e) => refused(StatusCode::NOT_FOUND, e.to_string()),
        },
        Some(App::Http(f)) => {
            let http = match http_request(&request, HTTP_BINDING)
                .and_then(|r| r.into_http(&app.route_prefix))
            {
                Ok(r) => r,
                Err(e) => {
                    return refused(
                        StatusCode::BAD_REQUEST,
                        format!("{name}: unreadable Data.{HTTP_BINDING}: {e}"),
                    );
                }
            };
            let line = format!("{name}: {} {}", http.method(), http.uri().path());
            let response = f.call(http).await;
            let res = HttpTriggerResponse::from_http(&response);
            let mut outputs = Map::new();
            outputs.insert(
                HTTP_OUTPUT.to_owned(),
                serde_json::to_value(&res).unwrap_or(Value::Null),
            );
            answer(
                StatusCode::OK,
                &InvocationResponse {
                    outputs,
                    logs: vec![format!("{line} answered {}", res.status_code)],
                    return_value: Value::Null,
                },
            )
        }
        None => refused(
            StatusCode::NOT_FOUND,
            format!("{name}: not hosted in this Function App"),
        ),
    }
}

/// The port the host expects the handler on (`FUNCTIONS_CUSTOMHANDLER_PORT`).
///
/// # Errors
/// [`ConfigError`] naming the variable when it is unset or not a port.
pub fn listen_port(settings: &Settings) -> Result<u16, ConfigError> {
    settings.parse_required(
        PORT_VAR,
        "the port the Functions host forwards invocations to (set by the host)",
    )
}

/// The Function App's whole `main.rs`: builds `functions` from the app
/// settings and serves them until the host stops the process.
pub fn main(functions: Vec<Function>) -> ExitCode {
    crate::platform::run_main(
        "FunctionAppStartError",
        crate::platform::Threads::Many,
        async move {
            let settings = Settings::process();
            let port = listen_port(&settings).map_err(|e| e.to_string())?;
            let app = build(&functions, &settings)
                .await
                .map_err(|e| e.to_string())?;
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
                .await
                .map_err(|e| format!("cannot listen on 127.0.0.1:{port}: {e}"))?;
            tracing::info!(port, functions = ?app.names(), "FunctionAppStarted");
            axum::serve(listener, router(app))
                .await
                .map_err(|e| format!("server stopped: {e}"))
        },
    )
}
