//! The Service Bus fake against the request and response examples of
//! Microsoft's REST reference ("Send Message", "Send Message Batch",
//! "Peek-Lock Message (Non-Destructive Read)", "Unlock Message",
//! "Delete Message", "Renew-Lock for a Message"), spoken over raw HTTP so
//! that nothing of the project's own client is involved.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use switchyard_testkit::servicebus_fake::{
    Filter, QueueOptions, ROOT_RULE, ReceiveSettings, Right, ServiceBusFake, TopicOptions,
};

const NS: &str = "your-namespace";
const QUEUE: &str = "HttpClientSampleQueue";

/// Every byte but `A-Z a-z 0-9 - _ .` as `%XX`: `form_urlencoded`, with a
/// space (its own `+` chunk) as `%20` and `*` (which it leaves alone) escaped.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for chunk in url::form_urlencoded::byte_serialize(s.as_bytes()) {
        match chunk {
            "+" => out.push_str("%20"),
            unchanged => out.push_str(&unchanged.replace('*', "%2A")),
        }
    }
    out
}

#[test]
fn encode_keeps_only_its_unreserved_set() {
    let unreserved = "AZaz09-_.";
    assert_eq!(encode(unreserved), unreserved);
    assert_eq!(encode(" *+/=:~%é"), "%20%2A%2B%2F%3D%3A%7E%25%C3%A9");
}

/// The documented token: sr = url-encoded URI, sig over "sr\nse".
fn token(uri: &str, rule: &str, key: &str) -> String {
    let se = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 600;
    let sr = encode(uri);
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(format!("{sr}\n{se}").as_bytes());
    let sig = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    format!(
        "SharedAccessSignature sr={sr}&sig={}&se={se}&skn={rule}",
        encode(&sig)
    )
}

struct Client {
    fake: ServiceBusFake,
    http: reqwest::Client,
    rule: String,
    key: String,
}

impl Client {
    async fn new() -> Client {
        let fake = ServiceBusFake::start(NS).await;
        let conn = fake.connection_string(ROOT_RULE).unwrap();
        let key = conn.split("SharedAccessKey=").nth(1).unwrap().to_owned();
        Client {
            fake,
            http: reqwest::Client::new(),
            rule: ROOT_RULE.to_owned(),
            key,
        }
    }

    fn public(&self, path: &str) -> String {
        format!("https://{NS}.servicebus.windows.net/{path}")
    }

    /// A request for the public URL, sent to the fake.
    fn request(&self, method: reqwest::Method, public_url: &str) -> reqwest::RequestBuilder {
        let local = public_url.replace(
            &format!("https://{NS}.servicebus.windows.net"),
            &self.fake.endpoint_url(),
        );
        let resource = public_url.split('?').next().unwrap();
        self.http
            .request(method, local)
            .header("authorization", token(resource, &self.rule, &self.key))
    }
}

#[tokio::test]
async fn send_then_peek_lock_as_in_the_reference_examples() {
    let c = Client::new().await;
    c.fake.create_queue(QUEUE, QueueOptions::default());

    // "Send Message" example: broker properties in a header, custom
    // properties as plain headers, 201.
    let sent = c
        .request(
            reqwest::Method::POST,
            &c.public(&format!("{QUEUE}/messages?timeout=60")),
        )
        .header(
            "BrokerProperties",
            r#"{"Label":"M1","State":"Active","TimeToLive":10}"#,
        )
        .header("Priority", "High")
        .header("Customer", "12345,ABC")
        .header(
            "Content-Type",
            "application/atom+xml;type=entry;charset=utf-8",
        )
        .body("This is a message.")
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 201);

    // "Peek-Lock Message" example: 201, Location lock URL, BrokerProperties,
    // custom properties back as (JSON-quoted) headers, the body.
    let locked = c
        .request(
            reqwest::Method::POST,
            &c.public(&format!("{QUEUE}/messages/head?timeout=60")),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(locked.status(), 201);
    let headers = locked.headers().clone();
    let location = headers["location"].to_str().unwrap().to_owned();
    let broker: Value =
        serde_json::from_str(headers["brokerproperties"].to_str().unwrap()).unwrap();
    assert_eq!(broker["DeliveryCount"], 1);
    assert_eq!(broker["Label"], "M1");
    assert_eq!(broker["State"], "Active");
    assert_eq!(broker["TimeToLive"], 10.0);
    assert_eq!(broker["SequenceNumber"], 1);
    assert_eq!(
        broker["MessageId"].as_str().unwrap().len(),
        32,
        "broker-assigned id"
    );
    let lock_token = broker["LockToken"].as_str().unwrap();
    assert!(
        location.starts_with(&format!(
            "https://{NS}.servicebus.windows.net/{QUEUE}/messages/"
        )) && location.ends_with(lock_token),
        "{location}"
    );
    for field in ["EnqueuedTimeUtc", "LockedUntilUtc"] {
        let t = broker[field].as_str().unwrap();
        assert!(
            t.ends_with(" GMT") && t.contains(", "),
            "{field} is RFC 1123: {t}"
        );
    }
    assert_eq!(headers["priority"], "\"High\"");
    assert_eq!(headers["customer"], "\"12345,ABC\"");
    assert_eq!(
        headers["content-type"],
        "application/atom+xml;type=entry;charset=utf-8"
    );
    assert_eq!(locked.text().await.unwrap(), "This is a message.");

    // While locked, nobody else gets it: 204 after the timeout.
    let empty = c
        .request(
            reqwest::Method::POST,
            &c.public(&format!("{QUEUE}/messages/head?timeout=0")),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(empty.status(), 204);

    // "Renew-Lock": 200. "Unlock Message": 200, delivered again with
    // DeliveryCount 2. "Delete Message" with the new lock: 200; the old lock: 404.
    let renew = c
        .request(reqwest::Method::POST, &location)
        .send()
        .await
        .unwrap();
    assert_eq!(renew.status(), 200);
    let unlock = c
        .request(reqwest::Method::PUT, &location)
        .send()
        .await
        .unwrap();
    assert_eq!(unlock.status(), 200);
    let again = c
        .request(
            reqwest::Method::POST,
            &c.public(&format!("{QUEUE}/messages/head?timeout=5")),
        )
        .send()
        .await
        .unwrap();
    let again_broker: Value =
        serde_json::from_str(again.headers()["brokerproperties"].to_str().unwrap()).unwrap();
    assert_eq!(again_broker["DeliveryCount"], 2);
    let again_location = again.headers()["location"].to_str().unwrap().to_owned();
    let stale = c
        .request(reqwest::Method::DELETE, &location)
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 404);
    let done = c
        .request(reqwest::Method::DELETE, &again_location)
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 200);
    assert!(c.fake.messages(QUEUE).is_empty());
}

#[tokio::test]
async fn send_batch_as_in_the_reference_example() {
    let c = Client::new().await;
    c.fake.create_queue(QUEUE, QueueOptions::default());
    // The reference's batch: a TimeToLiveTimeSpan, then custom properties.
    let body = json!([
        {"Body": "This is the first message", "BrokerProperties": {"Label": "M1", "TimeToLiveTimeSpan": "0.00:00:40"}},
        {"Body": "This is the second message", "BrokerProperties": {"Label": "M2"}, "UserProperties": {"Priority": "Low"}},
        {"Body": "This is the third message", "BrokerProperties": {"Label": "M3"}, "UserProperties": {"Priority": "Medium", "Customer": "ABC"}}
    ]);
    let sent = c
        .request(
            reqwest::Method::POST,
            &c.public(&format!("{QUEUE}/messages?timeout=60")),
        )
        .header("Content-Type", "application/vnd.microsoft.servicebus.json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 201);
    let messages = c.fake.messages(QUEUE);
    assert_eq!(
        messages.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(),
        [
            "This is the first message",
            "This is the second message",
            "This is the third message"
        ]
    );
    assert_eq!(messages[2].property("Customer"), Some("ABC"));
    assert_eq!(messages[1].label.as_deref(), Some("M2"));

    // A malformed batch is refused whole.
    let bad = c
        .request(
            reqwest::Method::POST,
            &c.public(&format!("{QUEUE}/messages")),
        )
        .header("Content-Type", "application/vnd.microsoft.servicebus.json")
        .body(r#"[{"Body": "ok"}, {"NoBody": true}]"#)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert_eq!(c.fake.messages(QUEUE).len(), 3);
}

#[tokio::test]
async fn sas_is_checked() {
    let mut c = Client::new().await;
    c.fake.create_queue("q", QueueOptions::default());
    c.fake
        .add_rule("listen-only", "listen-key", &[Right::Listen]);
    let url = c.public("q/messages");
    // No token, a wrong signature, the wrong right: 401, nothing enqueued.
    let none = c
        .http
        .post(url.replace(
            &format!("https://{NS}.servicebus.windows.net"),
            &c.fake.endpoint_url(),
        ))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), 401);
    let key = c.key.clone();
    c.key = "not-the-key".into();
    let wrong = c
        .request(reqwest::Method::POST, &url)
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    assert!(wrong.text().await.unwrap().contains("signature"));
    c.rule = "listen-only".into();
    c.key = "listen-key".into();
    let no_send = c
        .request(reqwest::Method::POST, &url)
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(no_send.status(), 401);
    assert!(c.fake.messages("q").is_empty());
    // The right key: 201; an unknown entity: 410.
    c.rule = ROOT_RULE.into();
    c.key = key;
    let ok = c
        .request(reqwest::Method::POST, &url)
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 201);
    let gone = c
        .request(reqwest::Method::POST, &c.public("nope/messages"))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 410);
}

#[tokio::test]
async fn topic_fan_out_duplicates_and_dead_lettering() {
    let c = Client::new().await;
    c.fake.create_topic(
        "integration",
        TopicOptions {
            duplicate_detection_window: Some(Duration::from_secs(600)),
        },
    );
    let settings = ReceiveSettings {
        max_delivery_count: 2,
        ..ReceiveSettings::default()
    };
    c.fake
        .create_subscription(
            "integration",
            "erp-sync",
            settings.clone(),
            &[
                ("order-placed", Filter::type_is("order.placed")),
                ("customer-updated", Filter::type_is("customer.updated")),
            ],
        )
        .unwrap();
    c.fake
        .create_subscription(
            "integration",
            "audit",
            settings,
            &[("all", Filter::Sql("1=1".into()))],
        )
        .unwrap();
    let send = |id: &'static str, t: &'static str| {
        c.request(reqwest::Method::POST, &c.public("integration/messages"))
            .header("BrokerProperties", json!({"MessageId": id}).to_string())
            .header("type", format!("\"{t}\""))
            .body(format!("body of {id}"))
            .send()
    };
    assert_eq!(send("m1", "order.placed").await.unwrap().status(), 201);
    assert_eq!(send("m2", "erp.order-synced").await.unwrap().status(), 201);
    assert_eq!(
        send("m1", "order.placed").await.unwrap().status(),
        201,
        "duplicates are accepted..."
    );
    assert_eq!(
        c.fake.duplicates_dropped("integration"),
        1,
        "...and dropped"
    );
    let erp: Vec<_> = c
        .fake
        .messages("integration/subscriptions/erp-sync")
        .into_iter()
        .map(|m| m.message_id)
        .collect();
    assert_eq!(erp, ["m1"]);
    assert_eq!(c.fake.messages("integration/subscriptions/audit").len(), 2);

    // Abandoned until maxDeliveryCount: into $DeadLetterQueue, where it can be received.
    let head = c.public("integration/subscriptions/erp-sync/messages/head?timeout=0");
    for _ in 0..2 {
        let r = c
            .request(reqwest::Method::POST, &head)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let location = r.headers()["location"].to_str().unwrap().to_owned();
        assert_eq!(
            c.request(reqwest::Method::PUT, &location)
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
    }
    assert_eq!(
        c.request(reqwest::Method::POST, &head)
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    let dead = c.fake.dead_letters("integration/subscriptions/erp-sync");
    assert_eq!(dead.len(), 1);
    assert_eq!(
        dead[0].property("DeadLetterReason"),
        Some("MaxDeliveryCountExceeded")
    );
    let dlq = c
        .request(
            reqwest::Method::POST,
            &c.public(
                "integration/subscriptions/erp-sync/$DeadLetterQueue/messages/head?timeout=0",
            ),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(dlq.status(), 201);
    assert_eq!(
        dlq.headers()["deadletterreason"],
        "\"MaxDeliveryCountExceeded\""
    );
    assert_eq!(dlq.text().await.unwrap(), "body of m1");
}

#[tokio::test]
async fn oversized_messages_are_refused() {
    let c = Client::new().await;
    c.fake.create_queue("q", QueueOptions::default());
    c.fake.set_max_message_bytes(100);
    let r = c
        .request(reqwest::Method::POST, &c.public("q/messages"))
        .body("x".repeat(101))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}
