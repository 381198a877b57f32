//! A registered function on AWS Lambda: the whole of its `main.rs` is
//! `switchyard_runtime::lambda::main(my_function::function())`.
//!
//! The payload says which trigger invoked it: an SQS batch (`Records` with
//! `eventSource: aws:sqs`) is answered with `batchItemFailures`; an
//! EventBridge event (`detail-type`) succeeds or fails the invocation (then
//! the target's retry policy and DLQ apply); an HTTP function runs behind
//! a Function URL (payload format 2.0, feature `lambda-http`; without it an
//! HTTP function fails its init, naming the feature).

use std::process::ExitCode;
use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;
use serde_json::value::RawValue;
use switchyard_config::{ConfigError, Settings};
use switchyard_publish::sqs::{AwsSqs, SqsApi};
use switchyard_publish::{
    EventBridgeConfig, EventBridgePublisher, Publisher, SqsConfig, SqsPublisher,
};
use switchyard_triggers::lambda::{Invocation, invocation_deadline};
use switchyard_triggers::registry::{App, Function, MessageApp, Platform, Resources};
#[cfg(feature = "lambda-http")]
use switchyard_triggers::registry::{HttpApp, Trigger};

use crate::platform::{NoPublisher, open_store};

/// Runs `function` on Lambda until the runtime stops; a setting that is
/// missing or malformed is logged (naming the variable) and fails the init.
pub fn main(function: Function) -> ExitCode {
    let name = function.name;
    crate::platform::run_main(
        "FunctionStartError",
        crate::platform::Threads::One,
        async move {
            run(function)
                .await
                .map_err(|e| format!("function {name}: {e}"))
        },
    )
}

/// Where the function publishes: `EVENT_BUS_NAME` (EventBridge) or
/// `SQS_QUEUE_URL` (SQS); required when the function declares events it
/// publishes.
///
/// # Errors
/// [`ConfigError`] naming the variable.
pub fn publisher(
    function: &Function,
    settings: &Settings,
    aws: &aws_config::SdkConfig,
) -> Result<Arc<dyn Publisher>, ConfigError> {
    if settings.optional("EVENT_BUS_NAME").is_some() {
        return Ok(Arc::new(EventBridgePublisher::new(
            aws_sdk_eventbridge::Client::new(aws),
            EventBridgeConfig::from_settings(settings)?,
        )));
    }
    if settings.optional("SQS_QUEUE_URL").is_some() {
        return Ok(Arc::new(SqsPublisher::new(
            aws_sdk_sqs::Client::new(aws),
            SqsConfig::from_settings(settings)?,
        )));
    }
    if function.publishes.is_empty() {
        return Ok(Arc::new(NoPublisher));
    }
    Err(ConfigError::missing(
        settings.describe("EVENT_BUS_NAME"),
        format!(
            "where {} publishes {} (or set SQS_QUEUE_URL)",
            function.name,
            function.publishes.join(", ")
        ),
    ))
}

/// Builds `function` on Lambda from `settings`.
///
/// # Errors
/// [`ConfigError`] naming the missing or malformed setting.
pub async fn build(
    function: &Function,
    settings: &Settings,
    aws: &aws_config::SdkConfig,
) -> Result<App, ConfigError> {
    let platform = Platform {
        settings: settings.clone(),
        publisher: publisher(function, settings, aws)?,
        store: Some(open_store(function, settings, Some(aws))?),
        sqs: Some(Arc::new(AwsSqs::new(aws_sdk_sqs::Client::new(aws))) as Arc<dyn SqsApi>),
        servicebus: None,
        triggers: function
            .triggers
            .iter()
            .copied()
            .filter(|t| t.is_aws())
            .collect(),
        // secret settings may be secretsmanager: / ssm: references
        resources: Resources::new().with(crate::secrets::resolver(settings, aws)?),
    };
    if platform.triggers.is_empty() {
        return Err(ConfigError::unavailable(
            function.name,
            "the function declares no trigger Lambda can run (sqs, eventbridge, http)",
        ));
    }
    function.build(&platform).await
}

/// Builds `function` from the process environment and serves the Lambda
/// Runtime API.
///
/// # Errors
/// A configuration error (naming the variable) or the runtime's error.
pub async fn run(function: Function) -> Result<(), Error> {
    let settings = Settings::process().scoped(function.name);
    let aws = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    match build(&function, &settings, &aws).await? {
        App::Messages(app) => {
            lambda_runtime::run(service_fn(move |event: LambdaEvent<Box<RawValue>>| {
                let app = app.clone();
                async move { dispatch(app.as_ref(), event).await }
            }))
            .await
        }
        #[cfg(feature = "lambda-http")]
        App::Http(app) => {
            if !function.has(Trigger::Http) {
                return Err("an HTTP function without an http trigger".into());
            }
            lambda_http::run(lambda_http::service_fn(
                move |request: lambda_http::Request| {
                    let app = app.clone();
                    async move { Ok::<_, Error>(call_http(app.as_ref(), request).await) }
                },
            ))
            .await
        }
        #[cfg(not(feature = "lambda-http"))]
        App::Http(_) => Err(format!(
            "{} is an HTTP function: build it with switchyard-runtime's `lambda-http` feature",
            function.name
        )
        .into()),
    }
}

/// Answers one invocation of a message function by its payload's trigger
/// ([`Invocation::read`]: an SQS batch is read record by record).
///
/// # Errors
/// An EventBridge event that must be retried, or a payload of no trigger
/// the function runs (the invocation fails; nothing is acknowledged).
pub async fn dispatch(
    app: &dyn MessageApp,
    event: LambdaEvent<Box<RawValue>>,
) -> Result<Value, Error> {
    let deadline = invocation_deadline(event.context.deadline);
    match Invocation::read(event.payload.get())? {
        Invocation::Sqs(batch) => {
            let (response, _) = app.sqs(batch, deadline).await?;
            Ok(serde_json::to_value(response)?)
        }
        Invocation::EventBridge(event) => {
            app.eventbridge(event, deadline).await??;
            Ok(Value::Null)
        }
    }
}

#[cfg(feature = "lambda-http")]
async fn call_http(
    app: &dyn HttpApp,
    request: lambda_http::Request,
) -> lambda_http::Response<lambda_http::Body> {
    let (parts, body) = request.into_parts();
    let response = app
        .call(http::Request::from_parts(parts, body.as_ref().to_vec()))
        .await;
    response.map(lambda_http::Body::from)
}
