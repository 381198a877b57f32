//! One declaration per function: what it is, consumes, publishes, which
//! triggers run it, which settings it reads, and how its handler is built.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use switchyard_contracts::EventSet;
use switchyard_idempotency::IdempotencyStore;
use switchyard_publish::Publisher;
use switchyard_publish::servicebus::ServiceBusSendApi;

use crate::config::{ConfigError, Settings};
use crate::handler::Handler;
use crate::layers::OrderedBy;
use crate::pipeline::Unsubscribed;
use crate::registry::endpoint::{HttpEndpoint, Subscription};
use crate::registry::hosted::{Hosted, HttpApp, MessageApp};
use crate::sqs::SqsApi;

/// A boxed future of a build step.
pub type BuildFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, ConfigError>> + Send + 'a>>;

/// A trigger that can run a function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Trigger {
    /// An SQS queue: a Lambda event source mapping with
    /// `ReportBatchItemFailures` (AWS), a local queue (`switchyard up`).
    Sqs,
    /// An EventBridge rule targeting the function (AWS), a local rule.
    EventBridge,
    /// A Service Bus topic subscription through the Azure Functions custom
    /// handler (Azure).
    ServiceBus,
    /// HTTP: a Lambda Function URL (AWS), an HTTP trigger (Azure), a route
    /// of `switchyard up`.
    Http,
}

impl Trigger {
    /// The name used in IaC checks, logs and the CLI: `sqs`, `eventbridge`,
    /// `servicebus`, `http`.
    pub fn name(self) -> &'static str {
        match self {
            Trigger::Sqs => "sqs",
            Trigger::EventBridge => "eventbridge",
            Trigger::ServiceBus => "servicebus",
            Trigger::Http => "http",
        }
    }

    /// True for the triggers Lambda runs.
    pub fn is_aws(self) -> bool {
        matches!(self, Trigger::Sqs | Trigger::EventBridge | Trigger::Http)
    }

    /// True for the triggers the Azure Function App runs.
    pub fn is_azure(self) -> bool {
        matches!(self, Trigger::ServiceBus | Trigger::Http)
    }
}

impl std::str::FromStr for Trigger {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "sqs" => Ok(Trigger::Sqs),
            "eventbridge" => Ok(Trigger::EventBridge),
            "servicebus" => Ok(Trigger::ServiceBus),
            "http" => Ok(Trigger::Http),
            other => Err(format!(
                "unknown trigger {other:?}: expected sqs, eventbridge, servicebus or http"
            )),
        }
    }
}

/// One setting a function reads (documentation, `switchyard new`, checks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    /// The variable, e.g. `ERP_BASE_URL`.
    pub var: &'static str,
    /// What it is for.
    pub what: &'static str,
    /// The default when unset; `None` for a required setting.
    pub default: Option<&'static str>,
}

impl Setting {
    /// A required setting.
    pub const fn required(var: &'static str, what: &'static str) -> Self {
        Setting {
            var,
            what,
            default: None,
        }
    }

    /// An optional setting with its default.
    pub const fn optional(var: &'static str, what: &'static str, default: &'static str) -> Self {
        Setting {
            var,
            what,
            default: Some(default),
        }
    }
}

/// Things a host hands a function's builder besides settings, by type: the
/// local stack's audit table, a test's recording client. A builder looks
/// for what it can use and otherwise builds it from its settings.
#[derive(Clone, Default)]
pub struct Resources {
    items: Arc<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>,
}

impl Resources {
    /// No resources.
    pub fn new() -> Self {
        Resources::default()
    }

    /// Adds (or replaces) the resource of type `T`.
    #[must_use]
    pub fn with<T: Any + Send + Sync>(self, value: T) -> Self {
        let mut items = (*self.items).clone();
        items.insert(TypeId::of::<T>(), Arc::new(value));
        Resources {
            items: Arc::new(items),
        }
    }

    /// The resource of type `T`, if the host gave one.
    pub fn get<T: Any + Send + Sync + Clone>(&self) -> Option<T> {
        self.items
            .get(&TypeId::of::<T>())
            .and_then(|v| v.downcast_ref::<T>())
            .cloned()
    }
}

impl std::fmt::Debug for Resources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Resources({})", self.items.len())
    }
}

/// What a handler builder is given: the function's own settings (scoped:
/// `ERP_SYNC__VAR` wins over `VAR`), the platform's publisher and the
/// host's resources.
#[derive(Clone)]
pub struct BuildContext {
    /// The function's name.
    pub function: &'static str,
    /// The function's settings.
    pub settings: Settings,
    /// Where the function publishes (EventBridge, Service Bus, the local bus...).
    pub publisher: Arc<dyn Publisher>,
    /// What the host provides by type.
    pub resources: Resources,
}

/// What the platform hosting a function provides: settings, publisher,
/// idempotency store and the clients its triggers park and back off with.
#[derive(Clone)]
pub struct Platform {
    /// The function's settings (scoped to it).
    pub settings: Settings,
    /// Where events are published.
    pub publisher: Arc<dyn Publisher>,
    /// The function's idempotency store; `None` runs unguarded.
    pub store: Option<Arc<dyn IdempotencyStore>>,
    /// SQS (park queue, backoff) for the SQS and EventBridge triggers.
    pub sqs: Option<Arc<dyn SqsApi>>,
    /// Service Bus sender (park queue) for the Service Bus trigger.
    pub servicebus: Option<Arc<dyn ServiceBusSendApi>>,
    /// Which of the function's triggers to build (a Lambda runs the AWS
    /// ones, the Function App the Azure ones).
    pub triggers: Vec<Trigger>,
    /// What the host provides the builder by type.
    pub resources: Resources,
}

pub(crate) trait BuildMessages: Send + Sync {
    fn build<'a>(
        &'a self,
        f: &'a Function,
        p: &'a Platform,
    ) -> BuildFuture<'a, Arc<dyn MessageApp>>;
}

pub(crate) trait BuildHttp: Send + Sync {
    fn build<'a>(&'a self, ctx: BuildContext, p: &'a Platform)
    -> BuildFuture<'a, Arc<dyn HttpApp>>;
}

struct TypedMessages<H, F> {
    build: F,
    _handler: PhantomData<fn() -> H>,
}

impl<H, F, Fut> BuildMessages for TypedMessages<H, F>
where
    H: Handler,
    F: Fn(BuildContext) -> Fut + Send + Sync,
    Fut: Future<Output = Result<H, ConfigError>> + Send + 'static,
{
    fn build<'a>(
        &'a self,
        f: &'a Function,
        p: &'a Platform,
    ) -> BuildFuture<'a, Arc<dyn MessageApp>> {
        Box::pin(async move {
            let ctx = BuildContext {
                function: f.name,
                settings: p.settings.clone(),
                publisher: p.publisher.clone(),
                resources: p.resources.clone(),
            };
            let handler = (self.build)(ctx).await?;
            let hosted = Hosted::new(Arc::new(handler), f, p)?;
            Ok(Arc::new(hosted) as Arc<dyn MessageApp>)
        })
    }
}

struct TypedHttp<F> {
    build: F,
}

impl<F, Fut, A> BuildHttp for TypedHttp<F>
where
    F: Fn(BuildContext, Option<Arc<dyn IdempotencyStore>>) -> Fut + Send + Sync,
    Fut: Future<Output = Result<A, ConfigError>> + Send + 'static,
    A: HttpApp + 'static,
{
    fn build<'a>(
        &'a self,
        ctx: BuildContext,
        p: &'a Platform,
    ) -> BuildFuture<'a, Arc<dyn HttpApp>> {
        Box::pin(async move {
            let app = (self.build)(ctx, p.store.clone()).await?;
            Ok(Arc::new(app) as Arc<dyn HttpApp>)
        })
    }
}

#[derive(Clone)]
enum Kind {
    Messages(Arc<dyn BuildMessages>),
    Http(Arc<dyn BuildHttp>),
}

/// A registered function: the one declaration Lambda mains, the Azure app,
/// the local stack, `switchyard invoke`, the catalog and the IaC checks read.
#[derive(Clone)]
pub struct Function {
    /// Stable name: the idempotency key prefix, the log field, the settings
    /// scope, the Azure function folder and route.
    pub name: &'static str,
    /// One line saying what it does.
    pub summary: &'static str,
    /// The event types it consumes (from its handler's event set).
    pub consumes: &'static [&'static str],
    /// The event types it publishes.
    pub publishes: &'static [&'static str],
    /// Who publishes events it consumes when no registered function does
    /// (a CRM, a partner bus).
    pub external_producers: &'static [(&'static str, &'static str)],
    /// The triggers that run it.
    pub triggers: &'static [Trigger],
    /// The settings it reads (besides the platform's).
    pub settings: &'static [Setting],
    /// What it does with events outside its set.
    pub unsubscribed: Unsubscribed,
    /// How long an idempotency record lives unless
    /// `SWITCHYARD_IDEMPOTENCY_EXPIRY_SECS` says otherwise.
    pub idempotency_expiry: Duration,
    /// The event types whose stale updates the ordering guard drops.
    pub ordered: &'static [OrderedBy],
    /// The Service Bus subscription its Service Bus trigger reads.
    pub subscription: Subscription,
    /// How its HTTP trigger is exposed on Azure.
    pub endpoint: HttpEndpoint,
    kind: Kind,
}

impl std::fmt::Debug for Function {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Function")
            .field("name", &self.name)
            .field("consumes", &self.consumes)
            .field("publishes", &self.publishes)
            .field("triggers", &self.triggers)
            .finish_non_exhaustive()
    }
}

/// The default lifetime of an idempotency record: one hour.
pub const DEFAULT_IDEMPOTENCY_EXPIRY: Duration = Duration::from_secs(3600);

impl Function {
    fn declare(
        name: &'static str,
        triggers: &'static [Trigger],
        consumes: &'static [&'static str],
        kind: Kind,
    ) -> Self {
        Function {
            name,
            summary: "",
            consumes,
            publishes: &[],
            external_producers: &[],
            triggers,
            settings: &[],
            unsubscribed: Unsubscribed::Park,
            idempotency_expiry: DEFAULT_IDEMPOTENCY_EXPIRY,
            ordered: &[],
            subscription: Subscription::default_for(name),
            endpoint: HttpEndpoint::default_for(name),
            kind,
        }
    }

    /// A message function (queue, bus or topic triggers) whose handler `H`
    /// is built by `build` from its settings and publisher. What it
    /// consumes comes from `H::Event`.
    pub fn messages<H, F, Fut>(name: &'static str, triggers: &'static [Trigger], build: F) -> Self
    where
        H: Handler,
        F: Fn(BuildContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<H, ConfigError>> + Send + 'static,
    {
        Function::declare(
            name,
            triggers,
            <H::Event as EventSet>::TYPES,
            Kind::Messages(Arc::new(TypedMessages {
                build,
                _handler: PhantomData,
            })),
        )
    }

    /// An HTTP function (webhook ingress): `build` makes its [`HttpApp`]
    /// from its settings, publisher and idempotency store.
    pub fn http<F, Fut, A>(name: &'static str, triggers: &'static [Trigger], build: F) -> Self
    where
        F: Fn(BuildContext, Option<Arc<dyn IdempotencyStore>>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<A, ConfigError>> + Send + 'static,
        A: HttpApp + 'static,
    {
        Function::declare(
            name,
            triggers,
            &[],
            Kind::Http(Arc::new(TypedHttp { build })),
        )
    }

    /// Says what it does.
    #[must_use]
    pub fn summary(mut self, summary: &'static str) -> Self {
        self.summary = summary;
        self
    }

    /// Declares the event types it publishes.
    #[must_use]
    pub fn publishes(mut self, types: &'static [&'static str]) -> Self {
        self.publishes = types;
        self
    }

    /// Declares who outside the registry produces events it consumes.
    #[must_use]
    pub fn external_producers(
        mut self,
        producers: &'static [(&'static str, &'static str)],
    ) -> Self {
        self.external_producers = producers;
        self
    }

    /// Declares the settings it reads.
    #[must_use]
    pub fn settings(mut self, settings: &'static [Setting]) -> Self {
        self.settings = settings;
        self
    }

    /// Sets the policy for events outside its set.
    #[must_use]
    pub fn unsubscribed(mut self, policy: Unsubscribed) -> Self {
        self.unsubscribed = policy;
        self
    }

    /// Sets the default lifetime of its idempotency records.
    #[must_use]
    pub fn idempotency_expiry(mut self, expiry: Duration) -> Self {
        self.idempotency_expiry = expiry;
        self
    }

    /// Guards these event types against stale updates: per entity, an
    /// event older than one already applied is acknowledged without running
    /// ([`OrderingGuard`](crate::OrderingGuard); needs an idempotency store).
    #[must_use]
    pub fn ordered(mut self, rules: &'static [OrderedBy]) -> Self {
        self.ordered = rules;
        self
    }

    /// True for an HTTP function.
    pub fn is_http(&self) -> bool {
        matches!(self.kind, Kind::Http(_))
    }

    /// True when `trigger` runs it.
    pub fn has(&self, trigger: Trigger) -> bool {
        self.triggers.contains(&trigger)
    }

    /// Builds the running function on a platform.
    ///
    /// # Errors
    /// [`ConfigError`] naming the missing or malformed setting.
    pub async fn build(&self, platform: &Platform) -> Result<App, ConfigError> {
        match &self.kind {
            Kind::Messages(b) => Ok(App::Messages(b.build(self, platform).await?)),
            Kind::Http(b) => {
                let ctx = BuildContext {
                    function: self.name,
                    settings: platform.settings.clone(),
                    publisher: platform.publisher.clone(),
                    resources: platform.resources.clone(),
                };
                Ok(App::Http(b.build(ctx, platform).await?))
            }
        }
    }
}

/// A built function, ready for its triggers.
#[derive(Clone)]
pub enum App {
    /// Queue, bus and topic triggers.
    Messages(Arc<dyn MessageApp>),
    /// HTTP.
    Http(Arc<dyn HttpApp>),
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            App::Messages(_) => f.write_str("App::Messages"),
            App::Http(_) => f.write_str("App::Http"),
        }
    }
}
