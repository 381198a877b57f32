//! Test support: the Service Bus fake wired as in `infra/azure/main.bicep`,
//! the ERP stub, the app on a local port, and `FunctionsHost`, a driver that
//! plays the Azure Functions host for the Service Bus trigger.
#![allow(dead_code, unreachable_pub)]

use std::collections::HashMap;
use std::time::Duration;

use base64::Engine as _;
use chrono::Utc;
use serde_json::{Value, json};
use switchyard_config::Settings;
use switchyard_local::erp::ErpStub;
use switchyard_publish::servicebus::{
    ConnectionString, LockedMessage, ServiceBusHttpClient, ServiceBusReceiver,
};
use switchyard_testkit::servicebus_fake::{
    Filter, QueueOptions, ReceiveSettings, Right, ServiceBusFake, TopicOptions,
};
use switchyard_webhooks::standard;

pub const TOPIC: &str = "integration";
pub const SUBSCRIPTION: &str = "integration/subscriptions/erp-sync";
pub const AUDIT: &str = "integration/subscriptions/audit";
pub const PARK: &str = "park";
/// `maxDeliveryCount` of the erp-sync subscription, read from the default
/// of `param erpSyncMaxDeliveryCount` in `infra/azure/main.bicep`, so the
/// fake is configured as the deployment is.
pub fn max_delivery_count() -> u32 {
    let path = format!(
        "{}/../../infra/azure/main.bicep",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap();
    text.lines()
        .find_map(|l| l.trim().strip_prefix("param erpSyncMaxDeliveryCount int ="))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no erpSyncMaxDeliveryCount default in {path}"))
}
/// The Standard Webhooks specification's published test secret.
pub const STANDARD_SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
const STANDARD_KEY_B64: &str = "C2FVsBQIhrscChlQIMV+b5sSYspob7oD";

pub struct Stack {
    /// Holds the audit table file.
    pub state: tempfile::TempDir,
    pub fake: ServiceBusFake,
    pub erp: ErpStub,
    pub host: FunctionsHost,
    pub base_url: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Stack {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The namespace of `main.bicep`: topic `integration` with duplicate
/// detection; subscription `erp-sync` (correlation filters on the `type`
/// property, `maxDeliveryCount` 3), `audit` (SQL filter); queue `park`;
/// a Send-only rule for the app, a Listen-only rule for the host.
pub async fn namespace(lock: Duration) -> ServiceBusFake {
    let fake = ServiceBusFake::start(&switchyard_testkit::unique_name("switchyard")).await;
    fake.add_rule("switchyard-send", "send-key-for-tests", &[Right::Send]);
    fake.add_rule("functions-host", "listen-key-for-tests", &[Right::Listen]);
    fake.create_topic(
        TOPIC,
        TopicOptions {
            duplicate_detection_window: Some(Duration::from_secs(600)),
        },
    );
    let settings = ReceiveSettings {
        max_delivery_count: max_delivery_count(),
        lock_duration: lock,
        dead_lettering_on_message_expiration: true,
        default_message_time_to_live: None,
    };
    fake.create_subscription(
        TOPIC,
        "erp-sync",
        settings.clone(),
        &[
            ("order-placed", Filter::type_is("order.placed")),
            ("customer-updated", Filter::type_is("customer.updated")),
        ],
    )
    .unwrap();
    fake.create_subscription(
        TOPIC,
        "audit",
        settings,
        &[(
            "erp-synced",
            Filter::Sql("type = 'erp.order-synced'".into()),
        )],
    )
    .unwrap();
    fake.create_queue(
        PARK,
        QueueOptions {
            duplicate_detection_window: Some(Duration::from_secs(600)),
            ..QueueOptions::default()
        },
    );
    fake
}

pub fn settings(fake: &ServiceBusFake, erp: &ErpStub) -> HashMap<&'static str, String> {
    HashMap::from([
        ("ERP_BASE_URL", erp.base_url()),
        ("ERP_TIMEOUT_MS", "2000".to_owned()),
        ("SWITCHYARD_IDEMPOTENCY", "memory".to_owned()),
        (
            "SERVICEBUS_CONNECTION_STRING",
            fake.connection_string("switchyard-send").unwrap(),
        ),
        ("SERVICEBUS_ENTITY", TOPIC.to_owned()),
        ("SERVICEBUS_ENDPOINT_URL", fake.endpoint_url()),
        ("PUBLISH_MAX_ATTEMPTS", "1".to_owned()),
        ("SWITCHYARD_PARK_QUEUE", PARK.to_owned()),
        ("SWITCHYARD_SERVICEBUS_SOURCE", SUBSCRIPTION.to_owned()),
        ("SWITCHYARD_INVOCATION_TIMEOUT_MS", "20000".to_owned()),
        (
            "SWITCHYARD_STANDARD_WEBHOOK_SECRET",
            STANDARD_SECRET.to_owned(),
        ),
        // audit-log's own values, as per-function app settings
        ("AUDIT_LOG__SWITCHYARD_SERVICEBUS_SOURCE", AUDIT.to_owned()),
    ])
}

pub async fn stack_with(
    lock: Duration,
    edit: impl FnOnce(&mut HashMap<&'static str, String>),
) -> Stack {
    let fake = namespace(lock).await;
    let erp = ErpStub::start().await;
    let state = tempfile::tempdir().unwrap();
    let mut vars = settings(&fake, &erp);
    vars.insert(
        "AUDIT_STORE",
        format!("file:{}", state.path().join("audit.redb").display()),
    );
    edit(&mut vars);
    let settings = Settings::from_pairs(vars);
    let app = switchyard_azure_app::build(&switchyard_azure_app::functions(), &settings)
        .await
        .expect("the app builds");
    let router = switchyard_azure_app::router(app);
    // As the Functions host starts it: on 127.0.0.1, a port of its choosing.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base_url = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    let host = FunctionsHost::new(&fake, &base_url, "erp-sync", SUBSCRIPTION);
    Stack {
        state,
        fake,
        erp,
        host,
        base_url,
        task,
    }
}

pub async fn stack() -> Stack {
    stack_with(Duration::from_secs(30), |_| {}).await
}

/// What the driver did with one message.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub message_id: String,
    pub delivery_count: u32,
    pub status: u16,
    pub response: Value,
    pub settled: Settled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    Completed,
    Abandoned,
    /// Left unsettled (the "host" died): the lock runs out.
    Left,
}

/// Plays the Functions host for a Service Bus trigger: peek-locks from the
/// subscription (Listen-only rule), POSTs the custom-handler request to
/// `/{function}`, completes on 2xx and abandons otherwise.
pub struct FunctionsHost {
    receiver: ServiceBusReceiver,
    http: reqwest::Client,
    url: String,
    path: String,
    function: String,
}

impl FunctionsHost {
    pub fn new(fake: &ServiceBusFake, base_url: &str, function: &str, path: &str) -> Self {
        let connection: ConnectionString = fake
            .connection_string("functions-host")
            .unwrap()
            .parse()
            .unwrap();
        let http = ServiceBusHttpClient::new(Some(&fake.endpoint_url())).unwrap();
        FunctionsHost {
            receiver: ServiceBusReceiver::new(http.shared(), connection),
            http: reqwest::Client::new(),
            url: format!("{base_url}/{function}"),
            path: path.to_owned(),
            function: function.to_owned(),
        }
    }

    /// The request the host sends for `m`, with its quirks: string metadata
    /// JSON-encoded a second time, numbers as strings, properties as objects.
    pub fn invocation(&self, m: &LockedMessage) -> Value {
        let q = |s: &str| Value::from(serde_json::to_string(s).unwrap());
        let opt = |s: &Option<String>| s.as_deref().map_or(Value::Null, q);
        let props: serde_json::Map<String, Value> = m
            .properties
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        json!({
            "Data": { "message": m.text() },
            "Metadata": {
                "MessageReceiver": {},
                "MessageActions": {},
                "Client": {},
                "DeliveryCount": m.broker.delivery_count.to_string(),
                "DeadLetterSource": null,
                "LockToken": opt(&m.broker.lock_token),
                "EnqueuedTimeUtc": opt(&m.broker.enqueued_time_utc),
                "MessageId": opt(&m.broker.message_id),
                "ContentType": opt(&m.content_type),
                "SequenceNumber": m.broker.sequence_number.to_string(),
                "Label": opt(&m.broker.label),
                "Subject": opt(&m.broker.label),
                "CorrelationId": opt(&m.broker.correlation_id),
                "UserProperties": props.clone(),
                "ApplicationProperties": props,
                "sys": {
                    "MethodName": self.function,
                    "UtcNow": Utc::now().to_rfc3339(),
                    "RandGuid": "00000000-0000-4000-8000-000000000000",
                },
            }
        })
    }

    /// Delivers the next message, if any; `settle = false` plays a host that
    /// dies after the handler answered.
    pub async fn deliver_next(&self, settle: bool) -> Option<Delivery> {
        let m = self
            .receiver
            .peek_lock(&self.path, Duration::ZERO)
            .await
            .expect("peek-lock")?;
        let answer = self
            .http
            .post(&self.url)
            .json(&self.invocation(&m))
            .send()
            .await
            .expect("the custom handler answers");
        let status = answer.status().as_u16();
        let response: Value = answer.json().await.expect("a JSON answer");
        let settled = if !settle {
            Settled::Left
        } else if (200..300).contains(&status) {
            self.receiver.complete(&m).await.expect("complete");
            Settled::Completed
        } else {
            self.receiver.abandon(&m).await.expect("abandon");
            Settled::Abandoned
        };
        Some(Delivery {
            message_id: m.broker.message_id.clone().unwrap_or_default(),
            delivery_count: m.broker.delivery_count,
            status,
            response,
            settled,
        })
    }

    /// Delivers until the subscription is empty (at most `max` deliveries).
    pub async fn drain(&self, max: usize) -> Vec<Delivery> {
        let mut done = Vec::new();
        while done.len() < max {
            match self.deliver_next(true).await {
                Some(d) => done.push(d),
                None => break,
            }
        }
        done
    }
}

pub fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// The recorded HTTP invocation, re-signed now (Standard Webhooks refuses
/// old timestamps), with a given webhook id and body.
pub fn webhook_invocation(webhook_id: &str, body: Option<&str>) -> Value {
    let mut inv = fixture("functions-host-http-standard-webhook.json");
    let req = &mut inv["Data"]["req"];
    if let Some(body) = body {
        req["Body"] = Value::from(body);
        req["Headers"]["Content-Length"] = json!([body.len().to_string()]);
    }
    let body = req["Body"].as_str().unwrap().to_owned();
    let key = base64::engine::general_purpose::STANDARD
        .decode(STANDARD_KEY_B64)
        .unwrap();
    let ts = Utc::now().timestamp();
    let sig = standard::sign(&key, webhook_id, ts, body.as_bytes());
    req["Headers"]["webhook-id"] = json!([webhook_id]);
    req["Headers"]["webhook-timestamp"] = json!([ts.to_string()]);
    req["Headers"]["webhook-signature"] = json!([sig]);
    inv
}

/// A Standard Webhooks `order.placed` payload for `order_id`.
pub fn order_body(order_id: &str) -> String {
    json!({
        "type": "order.placed",
        "timestamp": "2026-11-20T09:00:00Z",
        "data": {
            "orderId": order_id, "customerId": "C-42", "currency": "EUR",
            "lines": [{"sku": "BIKE-1", "quantity": "1", "unitPrice": "500.00", "lineTotal": "500.00"}],
            "total": "500.00", "placedAt": "2026-11-20T08:59:00Z"
        }
    })
    .to_string()
}

/// POSTs an invocation to `/crm-webhook` as the host would; returns the
/// host-facing status and `Outputs.res`.
pub async fn call_webhook(stack: &Stack, invocation: &Value) -> (u16, Value) {
    let answer = reqwest::Client::new()
        .post(format!("{}/crm-webhook", stack.base_url))
        .json(invocation)
        .send()
        .await
        .unwrap();
    let status = answer.status().as_u16();
    let body: Value = answer.json().await.unwrap();
    (status, body["Outputs"]["res"].clone())
}
