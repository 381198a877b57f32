//! Where a function's Azure triggers are bound: the Service Bus topic and
//! subscription it reads, and the route, methods and auth level of its HTTP
//! trigger. Declared with the function (builder methods on [`Function`]);
//! the Function App's `function.json` files are generated from them.

use crate::registry::Function;

/// The Service Bus topic every function publishes to and subscribes on
/// unless it declares another (`SERVICEBUS_ENTITY`, `main.bicep`'s `topicName`).
pub const DEFAULT_TOPIC: &str = "integration";

/// The Service Bus subscription a function's [`Trigger::ServiceBus`](crate::registry::Trigger::ServiceBus) reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subscription {
    /// The topic, [`DEFAULT_TOPIC`] unless declared.
    pub topic: &'static str,
    /// The subscription's name, the function's name unless declared.
    pub name: &'static str,
}

impl Subscription {
    /// Its path in the namespace, `<topic>/subscriptions/<name>`.
    pub fn path(&self) -> String {
        format!("{}/subscriptions/{}", self.topic, self.name)
    }
}

/// An HTTP method an HTTP trigger accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HttpMethod {
    /// `GET`.
    Get,
    /// `POST`.
    Post,
    /// `PUT`.
    Put,
    /// `PATCH`.
    Patch,
    /// `DELETE`.
    Delete,
    /// `OPTIONS` (e.g. the CloudEvents webhook validation handshake).
    Options,
    /// `HEAD`.
    Head,
}

impl HttpMethod {
    /// The lower-case name `function.json` uses: `post`, `options`, ...
    pub fn name(self) -> &'static str {
        match self {
            HttpMethod::Get => "get",
            HttpMethod::Post => "post",
            HttpMethod::Put => "put",
            HttpMethod::Patch => "patch",
            HttpMethod::Delete => "delete",
            HttpMethod::Options => "options",
            HttpMethod::Head => "head",
        }
    }
}

/// Who may call an HTTP trigger (Azure's `authLevel`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthLevel {
    /// Anyone: the function authenticates requests itself (webhook
    /// signatures).
    Anonymous,
    /// Callers with a function key (Azure's default).
    Function,
    /// Callers with the host's admin key.
    Admin,
}

impl AuthLevel {
    /// The name `function.json` uses: `anonymous`, `function`, `admin`.
    pub fn name(self) -> &'static str {
        match self {
            AuthLevel::Anonymous => "anonymous",
            AuthLevel::Function => "function",
            AuthLevel::Admin => "admin",
        }
    }
}

/// How a function's [`Trigger::Http`](crate::registry::Trigger::Http) is exposed on Azure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpEndpoint {
    /// The route template behind host.json's route prefix (`api`), e.g.
    /// `webhooks/{provider}`; the function's name unless declared (Azure's
    /// default).
    pub route: &'static str,
    /// The methods it accepts; `POST` unless declared.
    pub methods: &'static [HttpMethod],
    /// Who may call it; [`AuthLevel::Function`] unless declared.
    pub auth: AuthLevel,
}

/// The methods of an HTTP trigger unless declared: `POST`.
pub const DEFAULT_HTTP_METHODS: &[HttpMethod] = &[HttpMethod::Post];

impl Subscription {
    pub(crate) fn default_for(function: &'static str) -> Self {
        Subscription {
            topic: DEFAULT_TOPIC,
            name: function,
        }
    }
}

impl HttpEndpoint {
    pub(crate) fn default_for(function: &'static str) -> Self {
        HttpEndpoint {
            route: function,
            methods: DEFAULT_HTTP_METHODS,
            auth: AuthLevel::Function,
        }
    }
}

impl Function {
    /// Declares the Service Bus topic its subscription is on (default
    /// [`DEFAULT_TOPIC`]).
    #[must_use]
    pub fn topic(mut self, topic: &'static str) -> Self {
        self.subscription.topic = topic;
        self
    }

    /// Declares the Service Bus subscription its Service Bus trigger reads
    /// (default: the function's name).
    #[must_use]
    pub fn subscription(mut self, name: &'static str) -> Self {
        self.subscription.name = name;
        self
    }

    /// Declares the route of its HTTP trigger on Azure, behind the route
    /// prefix `api` (default: the function's name).
    #[must_use]
    pub fn route(mut self, route: &'static str) -> Self {
        self.endpoint.route = route;
        self
    }

    /// Declares the methods its HTTP trigger accepts (default `POST`).
    #[must_use]
    pub fn methods(mut self, methods: &'static [HttpMethod]) -> Self {
        self.endpoint.methods = methods;
        self
    }

    /// Declares who may call its HTTP trigger (default
    /// [`AuthLevel::Function`]: a function key).
    #[must_use]
    pub fn auth_level(mut self, auth: AuthLevel) -> Self {
        self.endpoint.auth = auth;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{BuildContext, HttpApp, Trigger};

    struct Empty;

    #[async_trait::async_trait]
    impl HttpApp for Empty {
        async fn call(&self, _: http::Request<Vec<u8>>) -> http::Response<Vec<u8>> {
            http::Response::new(Vec::new())
        }
    }

    #[test]
    fn defaults_follow_the_name_and_declarations_win() {
        let f = Function::http("hook", &[Trigger::Http], |_: BuildContext, _| async {
            Ok(Empty)
        });
        assert_eq!(f.subscription.path(), "integration/subscriptions/hook");
        assert_eq!(f.endpoint.route, "hook");
        assert_eq!(f.endpoint.methods, &[HttpMethod::Post]);
        assert_eq!(f.endpoint.auth, AuthLevel::Function);
        let f = f
            .topic("other")
            .subscription("audit")
            .route("webhooks/{provider}")
            .methods(&[HttpMethod::Post, HttpMethod::Options])
            .auth_level(AuthLevel::Anonymous);
        assert_eq!(f.subscription.path(), "other/subscriptions/audit");
        assert_eq!(f.endpoint.route, "webhooks/{provider}");
        assert_eq!(
            f.endpoint
                .methods
                .iter()
                .map(|m| m.name())
                .collect::<Vec<_>>(),
            ["post", "options"]
        );
        assert_eq!(f.endpoint.auth.name(), "anonymous");
    }
}
