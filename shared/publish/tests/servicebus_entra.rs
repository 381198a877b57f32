//! Microsoft Entra ID authentication for Service Bus against the REST fake
//! in `switchyard-testkit`: bearer tokens on single sends, batches and the
//! receiver, the managed identity from the settings a Function App gets,
//! one refresh after a 401, refusals, and which credential the settings
//! choose.

mod common;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use common::envelope;
use serde_json::Value;
use switchyard_auth::{TokenError, TokenSource};
use switchyard_config::Settings;
use switchyard_publish::servicebus::{
    AzureServiceBus, CONTENT_TYPE, ServiceBusAuth, ServiceBusConfig, ServiceBusCredential,
    ServiceBusHttpClient, ServiceBusPublisher, ServiceBusReceiver,
};
use switchyard_publish::{PublishError, Publisher};
use switchyard_testkit::servicebus_fake::{Filter, ReceiveSettings, ServiceBusFake, TopicOptions};

const SUB: &str = "integration/subscriptions/all";

async fn fake() -> ServiceBusFake {
    let fake = ServiceBusFake::start(&switchyard_testkit::unique_name("sb")).await;
    fake.create_topic("integration", TopicOptions::default());
    fake.create_subscription(
        "integration",
        "all",
        ReceiveSettings::default(),
        &[("$Default", Filter::True)],
    )
    .unwrap();
    fake
}

fn namespace(fake: &ServiceBusFake) -> String {
    format!("{}.servicebus.windows.net", fake.namespace())
}

/// Hands out scripted tokens (then `token-N`), each cached until it is
/// invalidated, recording what it was told.
#[derive(Default)]
struct Tokens {
    script: Mutex<VecDeque<Result<String, TokenError>>>,
    cached: Mutex<Option<Arc<str>>>,
    issued: AtomicU64,
    invalidated: Mutex<Vec<String>>,
}

impl Tokens {
    fn scripted(script: Vec<Result<&str, TokenError>>) -> Arc<Tokens> {
        Arc::new(Tokens {
            script: Mutex::new(script.into_iter().map(|r| r.map(str::to_owned)).collect()),
            ..Tokens::default()
        })
    }
}

#[async_trait]
impl TokenSource for Tokens {
    async fn token(&self) -> Result<Arc<str>, TokenError> {
        let mut cached = self.cached.lock().unwrap();
        if let Some(token) = &*cached {
            return Ok(token.clone());
        }
        let n = self.issued.fetch_add(1, Ordering::SeqCst) + 1;
        let token: Arc<str> = match self.script.lock().unwrap().pop_front() {
            Some(answer) => Arc::from(answer?),
            None => Arc::from(format!("token-{n}")),
        };
        *cached = Some(token.clone());
        Ok(token)
    }

    fn invalidate(&self, token: &str) {
        self.invalidated.lock().unwrap().push(token.to_owned());
        let mut cached = self.cached.lock().unwrap();
        if cached.as_deref() == Some(token) {
            *cached = None;
        }
    }
}

/// A publisher onto the fake's `integration` topic with `tokens`.
fn publisher(fake: &ServiceBusFake, tokens: Arc<Tokens>) -> ServiceBusPublisher {
    let http = ServiceBusHttpClient::new(Some(&fake.endpoint_url()))
        .unwrap()
        .shared();
    let client = AzureServiceBus::with_auth(http, &namespace(fake), ServiceBusAuth::Entra(tokens));
    // `with_client` reads only the entity, limits and retries of the config.
    let connection = fake.connection_string("RootManageSharedAccessKey").unwrap();
    let mut config = ServiceBusConfig::new(connection.parse().unwrap(), "integration");
    config.retry.max_attempts = 1;
    ServiceBusPublisher::with_client(client, config)
}

fn sends(fake: &ServiceBusFake) -> Vec<(u16, Option<String>)> {
    fake.requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path == "/integration/messages")
        .map(|r| (r.status, r.auth_scheme))
        .collect()
}

/// An identity endpoint as App Service serves it, counting its requests.
async fn identity_endpoint(secret: &'static str) -> (String, Arc<AtomicU64>) {
    let count = Arc::new(AtomicU64::new(0));
    let counter = count.clone();
    let app = axum::Router::new().route(
        "/msi/token",
        axum::routing::get(move |headers: axum::http::HeaderMap| {
            let counter = counter.clone();
            async move {
                let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
                let header = headers
                    .get("x-identity-header")
                    .and_then(|v| v.to_str().ok());
                if header != Some(secret) {
                    return (axum::http::StatusCode::BAD_REQUEST, "no header".to_owned());
                }
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap()
                    .as_secs();
                let body = serde_json::json!({
                    "access_token": format!("mi-token-{n}"),
                    "expires_on": (now + 3600).to_string(),
                    "resource": "https://servicebus.azure.net",
                    "token_type": "Bearer",
                    "client_id": "00000000-0000-0000-0000-000000000002",
                });
                (axum::http::StatusCode::OK, body.to_string())
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/msi/token"), count)
}

#[tokio::test]
async fn a_managed_identity_sends_and_receives_with_bearer_tokens() {
    let fake = fake().await;
    fake.accept_bearer(Arc::new(|token| token == "mi-token-1"));
    let (endpoint, identity_requests) = identity_endpoint("header-secret").await;
    let settings = Settings::from_pairs([
        ("SERVICEBUS_NAMESPACE", namespace(&fake)),
        ("SERVICEBUS_ENTITY", "integration".to_owned()),
        ("SERVICEBUS_ENDPOINT_URL", fake.endpoint_url()),
        ("IDENTITY_ENDPOINT", endpoint),
        ("IDENTITY_HEADER", "header-secret".to_owned()),
        ("PUBLISH_MAX_ATTEMPTS", "1".to_owned()),
    ]);
    let config = ServiceBusConfig::from_settings(&settings).unwrap();
    assert!(matches!(
        config.credential,
        ServiceBusCredential::ManagedIdentity(_)
    ));
    let p = ServiceBusPublisher::new(config).unwrap();
    p.publish_all(vec![envelope("e1", "order.placed", Some("O-1"))])
        .await
        .unwrap();
    p.publish_all(vec![
        envelope("e2", "order.placed", None),
        envelope("e3", "customer.updated", None),
    ])
    .await
    .unwrap();
    let bearer = Some("Bearer".to_owned());
    assert_eq!(sends(&fake), [(201, bearer.clone()), (201, bearer)]);
    assert_eq!(
        identity_requests.load(Ordering::SeqCst),
        1,
        "one cached token"
    );

    let messages = fake.messages(SUB);
    let ids: Vec<_> = messages.iter().map(|m| m.message_id.as_str()).collect();
    assert_eq!(ids, ["e1", "e2", "e3"]);
    for m in &messages {
        let sent: switchyard_publish::OutgoingEvent = serde_json::from_str(&m.body).unwrap();
        assert_eq!(
            m.correlation_id.as_deref(),
            Some(sent.correlationid.as_str())
        );
        assert_eq!(m.label.as_deref(), Some(sent.event_type.as_str()));
        assert_eq!(m.content_type.as_deref(), Some(CONTENT_TYPE));
        assert_eq!(m.property("type"), Some(sent.event_type.as_str()));
        assert_eq!(m.properties.get("version"), Some(&Value::from(1)));
    }

    // The receiver shares the client's identity.
    let client = p.client();
    let r = ServiceBusReceiver::with_auth(
        client.http().clone(),
        client.namespace(),
        client.auth().clone(),
    );
    let first = r.peek_lock(SUB, Duration::ZERO).await.unwrap().unwrap();
    assert_eq!(first.broker.message_id.as_deref(), Some("e1"));
    assert_eq!(first.property("type"), Some("order.placed"));
    r.complete(&first).await.unwrap();
    assert_eq!(fake.messages(SUB).len(), 2);
    assert_eq!(identity_requests.load(Ordering::SeqCst), 1);
}

/// A token endpoint granting `cc-token` to `app`/`app-secret` for the
/// Service Bus scope, as Entra ID's v2 endpoint answers.
async fn token_endpoint() -> String {
    let app = axum::Router::new().route(
        "/token",
        axum::routing::post(|body: String| async move {
            let form: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes())
                .into_owned()
                .collect();
            let has = |k: &str, v: &str| form.iter().any(|(a, b)| a == k && b == v);
            if !(has("grant_type", "client_credentials")
                && has("client_id", "app")
                && has("client_secret", "app-secret")
                && has("scope", "https://servicebus.azure.net/.default"))
            {
                let refused = serde_json::json!({"error": "invalid_client"});
                return (axum::http::StatusCode::UNAUTHORIZED, refused.to_string());
            }
            let body = serde_json::json!({
                "token_type": "Bearer", "expires_in": 3599, "access_token": "cc-token",
            });
            (axum::http::StatusCode::OK, body.to_string())
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/token")
}

#[tokio::test]
async fn an_app_registration_sends_with_its_client_credentials_token() {
    let fake = fake().await;
    fake.accept_bearer(Arc::new(|token| token == "cc-token"));
    let settings = Settings::from_pairs([
        ("SERVICEBUS_NAMESPACE", namespace(&fake)),
        ("SERVICEBUS_ENTITY", "integration".to_owned()),
        ("SERVICEBUS_ENDPOINT_URL", fake.endpoint_url()),
        ("SERVICEBUS_CLIENT_ID", "app".to_owned()),
        ("SERVICEBUS_CLIENT_SECRET", "app-secret".to_owned()),
        ("SERVICEBUS_TOKEN_URL", token_endpoint().await),
        ("PUBLISH_MAX_ATTEMPTS", "1".to_owned()),
    ]);
    let config = ServiceBusConfig::from_settings(&settings).unwrap();
    let p = ServiceBusPublisher::new(config).unwrap();
    p.publish_all(vec![envelope("e1", "order.placed", None)])
        .await
        .unwrap();
    p.publish_all(vec![
        envelope("e2", "order.placed", None),
        envelope("e3", "order.placed", None),
    ])
    .await
    .unwrap();
    let statuses: Vec<u16> = sends(&fake).into_iter().map(|(s, _)| s).collect();
    assert_eq!(statuses, [201, 201]);
    assert_eq!(fake.messages(SUB).len(), 3);
}

#[tokio::test]
async fn a_rejected_token_is_dropped_and_the_call_sent_once_more() {
    let fake = fake().await;
    fake.accept_bearer(Arc::new(|token| token == "fresh"));
    let tokens = Tokens::scripted(vec![Ok("stale"), Ok("fresh")]);
    let p = publisher(&fake, tokens.clone());
    p.publish_all(vec![envelope("e1", "order.placed", None)])
        .await
        .unwrap();
    p.publish_all(vec![
        envelope("e2", "order.placed", None),
        envelope("e3", "order.placed", None),
    ])
    .await
    .unwrap();
    let statuses: Vec<u16> = sends(&fake).into_iter().map(|(s, _)| s).collect();
    assert_eq!(statuses, [401, 201, 201]);
    assert_eq!(*tokens.invalidated.lock().unwrap(), ["stale"]);
    assert_eq!(fake.messages(SUB).len(), 3);

    // Refused again after the refresh: no third attempt, and not retried.
    let fake = self::fake().await;
    fake.accept_bearer(Arc::new(|_| false));
    let tokens = Tokens::scripted(vec![]);
    let err = publisher(&fake, tokens.clone())
        .publish_all(vec![envelope("e1", "order.placed", None)])
        .await
        .unwrap_err();
    assert!(
        matches!(err, PublishError::Transport { ref code, .. } if code == "Http401"),
        "{err}"
    );
    assert_eq!(sends(&fake).len(), 2);
    assert_eq!(*tokens.invalidated.lock().unwrap(), ["token-1"]);
}

#[tokio::test]
async fn without_a_token_check_the_fake_refuses_bearer_tokens() {
    let fake = fake().await;
    let err = publisher(&fake, Tokens::scripted(vec![]))
        .publish_all(vec![
            envelope("e1", "order.placed", None),
            envelope("e2", "order.placed", None),
        ])
        .await
        .unwrap_err();
    // As the SAS path reports a 401: the last call's code, not retried.
    assert!(
        matches!(err, PublishError::Transport { ref code, .. } if code == "Http401"),
        "{err}"
    );
    assert!(fake.messages(SUB).is_empty());
}

#[tokio::test]
async fn no_token_means_no_request() {
    let fake = fake().await;
    fake.accept_bearer(Arc::new(|_| true));
    let refused = Tokens::scripted(vec![Err(TokenError::Refused("invalid_client".into()))]);
    let err = publisher(&fake, refused)
        .publish_all(vec![envelope("e1", "order.placed", None)])
        .await
        .unwrap_err();
    assert!(
        matches!(err, PublishError::Transport { ref code, .. } if code == "TokenRefused"),
        "{err}"
    );
    let down = Tokens::scripted(vec![Err(TokenError::Unavailable("503".into()))]);
    let err = publisher(&fake, down)
        .publish_all(vec![envelope("e1", "order.placed", None)])
        .await
        .unwrap_err();
    assert!(
        matches!(err, PublishError::Transport { ref code, .. } if code == "TokenUnavailable"),
        "{err}"
    );
    assert!(fake.requests().is_empty());
}

fn settings(pairs: &[(&str, &str)]) -> Settings {
    Settings::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
}

#[test]
fn the_settings_choose_the_credential() {
    let sas = settings(&[(
        "SERVICEBUS_CONNECTION_STRING",
        "Endpoint=sb://contoso.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=k;EntityPath=integration",
    )]);
    let c = ServiceBusConfig::from_settings(&sas).unwrap();
    assert_eq!(c.namespace, "contoso.servicebus.windows.net");
    assert!(matches!(c.credential, ServiceBusCredential::Sas(_)));
    assert_eq!(c.entity, "integration");

    let mi = settings(&[
        ("SERVICEBUS_NAMESPACE", "Contoso.servicebus.windows.net"),
        ("SERVICEBUS_ENTITY", "integration"),
        ("IDENTITY_ENDPOINT", "http://127.0.0.1:41741/msi/token/"),
        ("IDENTITY_HEADER", "secret-header"),
        ("SERVICEBUS_MANAGED_IDENTITY_CLIENT_ID", "user-assigned"),
    ]);
    let c = ServiceBusConfig::from_settings(&mi).unwrap();
    assert_eq!(c.namespace, "contoso.servicebus.windows.net");
    let ServiceBusCredential::ManagedIdentity(identity) = &c.credential else {
        panic!("{:?}", c.credential);
    };
    assert_eq!(identity.resource, "https://servicebus.azure.net");
    assert_eq!(identity.client_id.as_deref(), Some("user-assigned"));
    assert!(!format!("{c:?}").contains("secret-header"));

    let neither = ServiceBusConfig::from_settings(&settings(&[])).unwrap_err();
    for var in [
        "SERVICEBUS_CONNECTION_STRING",
        "SERVICEBUS_NAMESPACE",
        "SERVICEBUS_CLIENT_ID",
        "IDENTITY_ENDPOINT",
    ] {
        assert!(neither.to_string().contains(var), "{var}: {neither}");
    }

    let no_identity = settings(&[
        ("SERVICEBUS_NAMESPACE", "contoso.servicebus.windows.net"),
        ("SERVICEBUS_ENTITY", "integration"),
    ]);
    let err = ServiceBusConfig::from_settings(&no_identity).unwrap_err();
    assert!(err.to_string().contains("SERVICEBUS_CLIENT_ID"), "{err}");
    assert!(err.to_string().contains("IDENTITY_ENDPOINT"), "{err}");

    let not_qualified = settings(&[
        ("SERVICEBUS_NAMESPACE", "contoso"),
        ("IDENTITY_ENDPOINT", "http://127.0.0.1:41741/msi/token/"),
        ("IDENTITY_HEADER", "h"),
    ]);
    let err = ServiceBusConfig::from_settings(&not_qualified).unwrap_err();
    assert!(err.to_string().contains("SERVICEBUS_NAMESPACE"), "{err}");

    let no_entity = settings(&[
        (
            "SERVICEBUS_NAMESPACE",
            "sb://contoso.servicebus.windows.net/",
        ),
        ("IDENTITY_ENDPOINT", "http://127.0.0.1:41741/msi/token/"),
        ("IDENTITY_HEADER", "h"),
    ]);
    let err = ServiceBusConfig::from_settings(&no_entity).unwrap_err();
    assert!(err.to_string().contains("SERVICEBUS_ENTITY"), "{err}");
}

#[test]
fn a_client_id_chooses_client_credentials_over_the_managed_identity() {
    let app = settings(&[
        ("SERVICEBUS_NAMESPACE", "contoso.servicebus.windows.net"),
        ("SERVICEBUS_ENTITY", "integration"),
        ("SERVICEBUS_CLIENT_ID", "app-client-id"),
        ("SERVICEBUS_CLIENT_SECRET", "app-secret"),
        ("SERVICEBUS_TENANT_ID", "contoso.onmicrosoft.com"),
        ("IDENTITY_ENDPOINT", "http://127.0.0.1:41741/msi/token/"),
        ("IDENTITY_HEADER", "secret-header"),
    ]);
    let c = ServiceBusConfig::from_settings(&app).unwrap();
    let ServiceBusCredential::ClientCredentials(oauth) = &c.credential else {
        panic!("{:?}", c.credential);
    };
    assert_eq!(oauth.client_id, "app-client-id");
    assert_eq!(
        oauth.scope.as_deref(),
        Some("https://servicebus.azure.net/.default")
    );
    assert!(
        oauth.token_url.contains("contoso.onmicrosoft.com"),
        "{}",
        oauth.token_url
    );
    assert!(!format!("{c:?}").contains("app-secret"));
}
