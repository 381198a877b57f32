//! What every host opens from settings: the idempotency store, and a
//! publisher for functions that publish nothing.

use std::sync::Arc;

use switchyard_config::{ConfigError, Settings};
use switchyard_idempotency::{
    EmbeddedStore, IdempotencyStore, MemoryStore, RedisOptions, RedisStore, StoreOptions, StoreSpec,
};
use switchyard_publish::{OutgoingEvent, PublishError, PublishOutcome, Publisher};
use switchyard_triggers::registry::{Function, idempotency_expiry};

/// Runs a host's `main` future on a multi-threaded runtime after setting up
/// telemetry; a start error is logged as `what` and fails the process.
#[cfg(any(feature = "lambda", feature = "azure"))]
pub(crate) fn run_main<E: std::fmt::Display>(
    what: &'static str,
    main: impl std::future::Future<Output = Result<(), E>>,
) -> std::process::ExitCode {
    switchyard_telemetry::init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the async runtime");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(main) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "{}", what);
            std::process::ExitCode::FAILURE
        }
    }
}

/// The publisher of a function that declares nothing to publish: every
/// event fails, naming the missing setting, so nothing is lost silently.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoPublisher;

#[async_trait::async_trait]
impl Publisher for NoPublisher {
    async fn publish(
        &self,
        events: Vec<OutgoingEvent>,
    ) -> Result<Vec<PublishOutcome>, PublishError> {
        Ok(events
            .into_iter()
            .map(|e| PublishOutcome::Failed {
                event_id: e.id,
                code: "NoPublishTarget".to_owned(),
                message: "this function declares no published events and has no publish target"
                    .to_owned(),
            })
            .collect())
    }
}

/// How the DynamoDB client is made where the platform has one.
#[cfg(feature = "lambda")]
pub type DynamoDbClient<'a> = Option<&'a aws_config::SdkConfig>;
/// This build has no DynamoDB.
#[cfg(not(feature = "lambda"))]
pub type DynamoDbClient<'a> = Option<std::convert::Infallible>;

/// Opens `function`'s idempotency store from `SWITCHYARD_IDEMPOTENCY`
/// (required) with its expiry. `dynamodb:<table>` needs the AWS SDK config
/// (`None`: this platform has no DynamoDB, the setting is refused).
///
/// # Errors
/// [`ConfigError`] naming the variable, or saying why the store does not open.
pub fn open_store(
    function: &Function,
    settings: &Settings,
    aws: DynamoDbClient<'_>,
) -> Result<Arc<dyn IdempotencyStore>, ConfigError> {
    let spec: StoreSpec = settings.parse_required(
        "SWITCHYARD_IDEMPOTENCY",
        "the idempotency store: dynamodb:<table>, redis://host:port, file:<path> or memory",
    )?;
    let options = StoreOptions::default().with_expiry(idempotency_expiry(function, settings)?);
    let unavailable = |e: switchyard_idempotency::StoreError| {
        ConfigError::unavailable(
            format!(
                "the idempotency store of {} ({})",
                function.name,
                settings.source_of("SWITCHYARD_IDEMPOTENCY")
            ),
            e,
        )
    };
    Ok(match spec {
        StoreSpec::Memory => Arc::new(MemoryStore::new(options)),
        StoreSpec::File(path) => {
            Arc::new(EmbeddedStore::open(&path, options).map_err(unavailable)?)
        }
        StoreSpec::Redis(url) => {
            Arc::new(RedisStore::open(&url, options, RedisOptions::default()).map_err(unavailable)?)
        }
        StoreSpec::DynamoDb(table) => match aws {
            #[cfg(feature = "lambda")]
            Some(sdk) => Arc::new(switchyard_idempotency::DynamoDbStore::new(
                aws_sdk_dynamodb::Client::new(sdk),
                table,
                options,
            )),
            _ => {
                let _ = table;
                return Err(ConfigError::invalid(
                    settings.source_of("SWITCHYARD_IDEMPOTENCY"),
                    "dynamodb:<table> is not available on this platform; use redis:// (e.g. Azure Cache for Redis), file:<path> or memory",
                ));
            }
        },
    })
}
