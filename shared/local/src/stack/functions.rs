//! The registered functions on the local platform: per function, its
//! settings (the environment over local defaults: the ERP stub, a park
//! queue, an embedded idempotency file in the state directory), the local
//! bus as publisher, the local queues as SQS; then a poller per trigger the
//! template wires, and the HTTP functions' routes.

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use switchyard_audit_log::AuditStore;
use switchyard_config::Settings;
use switchyard_triggers::registry::{App, Function, HttpApp, Platform, Resources, Trigger};
use switchyard_triggers::sqs::SqsApi;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::bus::target_queue;
use crate::sqs::{LocalSqs, local_url};
use crate::stack::pollers::{event_poller, sqs_poller};
use crate::stack::{StackError, StackHandle};
use crate::template::{FunctionSpec, TargetSpec};

/// Largest request body the local HTTP routes pass to a function.
const MAX_REQUEST_BYTES: usize = 16 * 1024 * 1024;

/// Secrets and settings used when the environment does not set them —
/// for local runs only, documented in the README, never for a deployment.
pub const LOCAL_DEFAULTS: &[(&str, &str)] = &[
    ("SWITCHYARD_DYNAMICS_WEBHOOK_KEY", "local-dynamics-key"),
    ("SWITCHYARD_HUBSPOT_CLIENT_SECRET", "local-hubspot-secret"),
    (
        "SWITCHYARD_STANDARD_WEBHOOK_SECRET",
        "whsec_bG9jYWwtc3RhbmRhcmQtd2ViaG9vay1zZWNyZXQ=",
    ),
    ("SWITCHYARD_STRIPE_WEBHOOK_SECRET", "whsec_local_stripe"),
    ("SWITCHYARD_SALESFORCE_ORG_IDS", "00D000000000001EAA"),
    (
        "SWITCHYARD_CLOUDEVENTS_WEBHOOK_TOKEN",
        "local-cloudevents-token",
    ),
    ("SWITCHYARD_CLOUDEVENTS_ALLOWED_ORIGINS", "*"),
    ("SWITCHYARD_DEFAULT_CURRENCY", "EUR"),
    // local runs retry fast: 1 s, 2 s, 4 s ... up to 10 s
    ("SWITCHYARD_BACKOFF_BASE_SECS", "1"),
    ("SWITCHYARD_BACKOFF_FACTOR", "2"),
    ("SWITCHYARD_BACKOFF_CAP_SECS", "10"),
];

/// A local default (`LOCAL_DEFAULTS`) by variable name.
pub fn local_default(var: &str) -> Option<&'static str> {
    LOCAL_DEFAULTS
        .iter()
        .find(|(k, _)| *k == var)
        .map(|(_, v)| *v)
}

/// `settings` over the local defaults, the ERP stub, the CRM and token
/// endpoint stubs and the stack's URL.
pub fn local_settings(settings: &Settings, erp_base: &str, base_url: &str) -> Settings {
    // the ERP's credentials point at the local token endpoint only for the built-in ERP
    let builtin_erp =
        settings.optional("ERP_BASE_URL").is_none() && erp_base == format!("{base_url}/_erp");
    settings
        .with_fallbacks(LOCAL_DEFAULTS.iter().copied())
        .with_fallbacks([
            ("ERP_BASE_URL", erp_base),
            ("SWITCHYARD_PUBLIC_BASE_URL", base_url),
        ])
        .with_fallbacks(super::stubs::fallbacks(base_url, builtin_erp))
}

pub(crate) struct LocalPlatform {
    pub(crate) handle: StackHandle,
    pub(crate) settings: Settings,
    pub(crate) state_dir: PathBuf,
}

impl LocalPlatform {
    /// The triggers the template wires for `spec`, of those `function` has.
    fn triggers(&self, function: &Function, spec: &FunctionSpec) -> Vec<Trigger> {
        let mut triggers = Vec::new();
        if function.has(Trigger::Sqs) && spec.sqs.is_some() {
            triggers.push(Trigger::Sqs);
        }
        if function.has(Trigger::EventBridge) && !self.rules_targeting(spec).is_empty() {
            triggers.push(Trigger::EventBridge);
        }
        if function.has(Trigger::Http) && spec.url {
            triggers.push(Trigger::Http);
        }
        triggers
    }

    fn rules_targeting(&self, spec: &FunctionSpec) -> Vec<String> {
        self.handle
            .spec
            .rules
            .iter()
            .filter(|rule| {
                rule.targets.iter().any(
                    |t| matches!(t, TargetSpec::Function { function: f, .. } if *f == spec.name),
                )
            })
            .map(|rule| rule.name.clone())
            .collect()
    }

    /// The function's park queue: the one its environment references in
    /// the template, else the DLQ of its SQS trigger's queue.
    fn park_queue(&self, spec: &FunctionSpec) -> Option<String> {
        spec.park_queue.clone().or_else(|| {
            let trigger = spec.sqs.as_ref()?;
            let queue = self.handle.spec.queues.get(&trigger.queue)?;
            queue.redrive.as_ref().map(|(dlq, _)| dlq.clone())
        })
    }

    fn platform(&self, function: &Function, spec: &FunctionSpec) -> Result<Platform, StackError> {
        let failed = |reason: String| StackError::Function {
            function: function.name.to_owned(),
            reason,
        };
        let idempotency = self
            .state_dir
            .join(format!("idempotency-{}.redb", function.name));
        let mut fallbacks = vec![(
            "SWITCHYARD_IDEMPOTENCY".to_owned(),
            format!("file:{}", idempotency.display()),
        )];
        if let Some(park) = self.park_queue(spec) {
            fallbacks.push(("SWITCHYARD_PARK_QUEUE_URL".to_owned(), local_url(&park)));
        }
        let settings = self
            .settings
            .scoped(function.name)
            .with_fallbacks(fallbacks);
        let store = switchyard_runtime::open_store(function, &settings, None)
            .map_err(|e| failed(e.to_string()))?;
        let audit: Arc<dyn AuditStore> = Arc::new(self.handle.audit.clone());
        Ok(Platform {
            settings,
            publisher: self.handle.publisher.clone(),
            store: Some(store),
            sqs: Some(Arc::new(LocalSqs::new(self.handle.queues.clone())) as Arc<dyn SqsApi>),
            servicebus: None,
            triggers: self.triggers(function, spec),
            resources: Resources::new().with(audit),
        })
    }
}

/// Builds every registered function the template deploys and starts its
/// pollers; returns them and the HTTP functions' routes.
pub(crate) async fn start_all(
    local: &LocalPlatform,
    shutdown: &watch::Receiver<bool>,
) -> Result<(Vec<JoinHandle<()>>, Option<Router>), StackError> {
    let mut tasks = Vec::new();
    let mut http: Option<Router> = None;
    for function in switchyard_registry::functions() {
        let Some(spec) = local.handle.spec.function_by_binary(function.name).cloned() else {
            tracing::warn!(
                function = function.name,
                "registered but not in the template; not run"
            );
            continue;
        };
        let platform = local.platform(&function, &spec)?;
        if platform.triggers.is_empty() {
            tracing::warn!(
                function = function.name,
                "the template wires none of its triggers; not run"
            );
            continue;
        }
        let app = function
            .build(&platform)
            .await
            .map_err(|e| StackError::Function {
                function: function.name.to_owned(),
                reason: e.to_string(),
            })?;
        match app {
            App::Messages(app) => {
                if let (Some(trigger), true) =
                    (&spec.sqs, platform.triggers.contains(&Trigger::Sqs))
                {
                    tasks.push(tokio::spawn(sqs_poller(
                        local.handle.clone(),
                        function.name.to_owned(),
                        trigger.queue.clone(),
                        trigger.batch_size.min(10),
                        spec.timeout,
                        app.clone(),
                        shutdown.clone(),
                    )));
                }
                if platform.triggers.contains(&Trigger::EventBridge) {
                    for rule in local.rules_targeting(&spec) {
                        tasks.push(tokio::spawn(event_poller(
                            local.handle.clone(),
                            function.name.to_owned(),
                            target_queue(&rule),
                            spec.timeout,
                            app.clone(),
                            shutdown.clone(),
                        )));
                    }
                }
            }
            App::Http(app) => {
                // the Function URL's paths, as on Lambda; the first HTTP
                // function takes every path no other route has
                let routes = Router::new().fallback(move |request: Request| {
                    let app = app.clone();
                    async move { call(app.as_ref(), request).await }
                });
                http = Some(match http {
                    None => routes,
                    Some(existing) => {
                        tracing::warn!(
                            function = function.name,
                            "a second HTTP function; its routes are not served locally"
                        );
                        existing
                    }
                });
            }
        }
    }
    Ok((tasks, http))
}

async fn call(app: &dyn HttpApp, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let bytes = match to_bytes(body, MAX_REQUEST_BYTES).await {
        Ok(b) => b.to_vec(),
        Err(e) => {
            return (axum::http::StatusCode::PAYLOAD_TOO_LARGE, e.to_string()).into_response();
        }
    };
    let response = app.call(http::Request::from_parts(parts, bytes)).await;
    response.map(Body::from).into_response()
}
