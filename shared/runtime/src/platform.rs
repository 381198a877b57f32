//! What every host opens from settings: the idempotency store, and a
//! publisher for functions that publish nothing.

use std::sync::Arc;

use switchyard_config::{ConfigError, Settings};
use switchyard_idempotency::{
    CacheOptions, CachedStore, IdempotencyStore, StoreError, StoreOptions, StoreSpec,
};
use switchyard_publish::{OutgoingEvent, PublishError, PublishOutcome, Publisher};
use switchyard_triggers::registry::{Function, idempotency_expiry};

/// How many threads the async runtime runs on.
#[cfg(any(feature = "lambda", feature = "azure"))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Threads {
    /// One: a Lambda function handles one invocation at a time, so its
    /// network I/O (ERP, store, publisher) is woken on the thread that
    /// awaits it — no cross-thread wake-ups, no worker threads.
    #[cfg(feature = "lambda")]
    One,
    /// A worker per core: the Function App serves concurrent requests.
    #[cfg(feature = "azure")]
    Many,
}

/// Runs a host's `main` future on a runtime of `threads` after setting up
/// telemetry; a start error is logged as `what` and fails the process.
#[cfg(any(feature = "lambda", feature = "azure"))]
pub(crate) fn run_main<E: std::fmt::Display>(
    what: &'static str,
    threads: Threads,
    main: impl std::future::Future<Output = Result<(), E>>,
) -> std::process::ExitCode {
    switchyard_telemetry::init();
    let mut builder = match threads {
        #[cfg(feature = "lambda")]
        Threads::One => tokio::runtime::Builder::new_current_thread(),
        #[cfg(feature = "azure")]
        Threads::Many => tokio::runtime::Builder::new_multi_thread(),
    };
    let runtime = match builder.enable_all().build() {
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
/// (`None`: this platform has no DynamoDB, the setting is refused). A
/// backend this build of `switchyard-idempotency` was compiled without is
/// refused too, naming the cargo feature that builds it.
///
/// # Errors
/// [`ConfigError`] naming the variable, or saying why the store does not open.
pub fn open_store(
    function: &Function,
    settings: &Settings,
    aws: DynamoDbClient<'_>,
) -> Result<Arc<dyn IdempotencyStore>, ConfigError> {
    const VAR: &str = "SWITCHYARD_IDEMPOTENCY";
    let spec: StoreSpec = settings.parse_required(
        VAR,
        "the idempotency store: dynamodb:<table>, redis://host:port, file:<path> or memory",
    )?;
    let options = StoreOptions::default().with_expiry(idempotency_expiry(function, settings)?);
    let opened = match (&spec, aws) {
        #[cfg(feature = "lambda")]
        (StoreSpec::DynamoDb(_), Some(sdk)) => {
            spec.open_with_dynamodb(options.clone(), || aws_sdk_dynamodb::Client::new(sdk))
        }
        (StoreSpec::DynamoDb(_), _) => {
            return Err(ConfigError::invalid(
                settings.source_of(VAR),
                "dynamodb:<table> is not available on this platform; use redis:// (e.g. Azure Cache for Redis), file:<path> or memory",
            ));
        }
        _ => spec.open(options.clone()),
    };
    let store = opened.map_err(|e| match e {
        StoreError::NotBuilt { .. } => ConfigError::invalid(settings.source_of(VAR), e),
        e => ConfigError::unavailable(
            format!(
                "the idempotency store of {} ({})",
                function.name,
                settings.source_of(VAR)
            ),
            e,
        ),
    })?;
    // an in-process cache of completed records in front of the backend
    // (duplicates answered without a round trip), off unless sized
    match settings.parse_or::<usize>("SWITCHYARD_IDEMPOTENCY_CACHE_ENTRIES", 0)? {
        0 => Ok(store),
        capacity => Ok(Arc::new(CachedStore::new(
            store,
            CacheOptions {
                capacity,
                ..CacheOptions::default()
            },
            options,
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_triggers::registry::{HttpApp, Trigger};

    struct Ok200;

    #[async_trait::async_trait]
    impl HttpApp for Ok200 {
        async fn call(&self, _: http::Request<Vec<u8>>) -> http::Response<Vec<u8>> {
            http::Response::new(Vec::new())
        }
    }

    fn function() -> Function {
        Function::http("probe", &[Trigger::Http], |_, _| async { Ok(Ok200) })
    }

    fn open(spec: &str) -> Result<Arc<dyn IdempotencyStore>, ConfigError> {
        let settings = Settings::from_pairs([("SWITCHYARD_IDEMPOTENCY", spec)]);
        open_store(&function(), &settings, None)
    }

    #[test]
    fn memory_always_opens() {
        assert!(open("memory").is_ok());
    }

    #[test]
    fn the_cache_size_is_read_and_named_when_malformed() {
        let settings = Settings::from_pairs([
            ("SWITCHYARD_IDEMPOTENCY", "memory"),
            ("SWITCHYARD_IDEMPOTENCY_CACHE_ENTRIES", "64"),
        ]);
        assert!(open_store(&function(), &settings, None).is_ok());
        let settings = Settings::from_pairs([
            ("SWITCHYARD_IDEMPOTENCY", "memory"),
            ("SWITCHYARD_IDEMPOTENCY_CACHE_ENTRIES", "lots"),
        ]);
        let error = open_store(&function(), &settings, None)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            error.contains("SWITCHYARD_IDEMPOTENCY_CACHE_ENTRIES"),
            "{error}"
        );
    }

    #[test]
    fn dynamodb_without_a_client_is_refused_naming_the_variable() {
        let error = open("dynamodb:idem").err().map(|e| e.to_string());
        let error = error.unwrap_or_default();
        assert!(error.contains("SWITCHYARD_IDEMPOTENCY"), "{error}");
        assert!(error.contains("not available on this platform"), "{error}");
    }

    /// Whether a backend is built depends on the features the whole build
    /// enabled (a workspace test run builds them all); each case checks the
    /// branch this build has.
    #[test]
    fn a_backend_not_built_is_refused_naming_its_feature() {
        for (spec, feature) in [
            ("redis://127.0.0.1:1", "`redis` feature"),
            ("file:/nonexistent-dir/idem.redb", "`embedded` feature"),
        ] {
            let parsed: StoreSpec = spec.parse().unwrap_or(StoreSpec::Memory);
            if parsed.is_built() {
                continue;
            }
            let error = open(spec).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(error.contains("SWITCHYARD_IDEMPOTENCY"), "{error}");
            assert!(error.contains(feature), "{error}");
        }
    }
}
