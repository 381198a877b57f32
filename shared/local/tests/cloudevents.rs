//! CloudEvents producers feeding the local stack over real HTTP
//! (`/webhooks/cloudevents`): the Event Grid validation handshake, then
//! structured, binary and batched deliveries that reach the ERP stub
//! through the bus, erp-sync's queue and erp-sync; invalid requests refused
//! with the right status and nothing published.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};
use switchyard_config::Settings;
use switchyard_local::stack::{self, RunningStack, StackConfig, local_default};

fn template() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../template.yaml")
}

async fn start(state: &Path) -> RunningStack {
    stack::start(StackConfig {
        template: Some(template()),
        settings: Settings::from_pairs::<&str, &str>([]),
        ..StackConfig::new(state)
    })
    .await
    .expect("the stack starts")
}

fn token() -> &'static str {
    local_default("SWITCHYARD_CLOUDEVENTS_WEBHOOK_TOKEN").expect("a local token")
}

fn order(order_id: &str) -> Value {
    json!({
        "orderId": order_id, "customerId": "C-1", "currency": "EUR", "lines": [],
        "total": "10.00", "placedAt": "2026-11-23T08:59:00Z"
    })
}

/// A spec-minimal event: the four required attributes and `data` — no
/// `time`, `dataschema`, `dataversion` or `correlationid`.
fn event(id: &str, order_id: &str) -> Value {
    json!({
        "specversion": "1.0", "id": id, "source": "/eventgrid/orders", "type": "order.placed",
        "data": order(order_id)
    })
}

async fn post(url: &str, headers: &[(&str, &str)], body: impl Into<reqwest::Body>) -> (u16, Value) {
    let mut request = reqwest::Client::new().post(url).body(body);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let resp = request.send().await.expect("the stack answers");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn structured(base: &str, content_type: &str, body: &Value) -> (u16, Value) {
    let bearer = format!("Bearer {}", token());
    post(
        &format!("{base}/webhooks/cloudevents"),
        &[("content-type", content_type), ("authorization", &bearer)],
        body.to_string(),
    )
    .await
}

async fn wait_for_orders(stack: &RunningStack, ids: &[&str]) {
    let started = Instant::now();
    loop {
        let accepted: Vec<String> = stack
            .handle
            .erp
            .accepted()
            .into_iter()
            .map(|c| c.id)
            .collect();
        if ids.iter().all(|id| accepted.iter().any(|a| a == id)) {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "timed out waiting for {ids:?}; accepted {accepted:?}; {}",
            stack.handle.status()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_grid_handshake_is_answered() {
    let state = tempfile::tempdir().unwrap();
    let stack = start(state.path()).await;
    let url = format!("{}/webhooks/cloudevents", stack.base_url());
    let client = reqwest::Client::new();
    let resp = client
        .request(reqwest::Method::OPTIONS, &url)
        .header("WebHook-Request-Origin", "eventgrid.azure.net")
        .header("WebHook-Request-Rate", "120")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let h = resp.headers();
    assert_eq!(h["webhook-allowed-origin"], "eventgrid.azure.net");
    assert_eq!(h["webhook-allowed-rate"], "*");
    assert!(h["allow"].to_str().unwrap().contains("POST"));
    // not a validation request: no consent
    let resp = client
        .request(reqwest::Method::OPTIONS, &url)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    assert!(resp.headers().get("webhook-allowed-origin").is_none());
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn structured_binary_and_batched_events_reach_the_erp() {
    let state = tempfile::tempdir().unwrap();
    let stack = start(state.path()).await;
    let base = stack.base_url();

    // structured mode, a spec-minimal event
    let (status, body) = structured(
        &base,
        "application/cloudevents+json; charset=utf-8",
        &event("ce-1", "O-CE-1"),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(
        body["eventIds"],
        json!(["ce-1"]),
        "the producer's id is kept"
    );
    // the same event again: a duplicate
    let (status, body) = structured(
        &base,
        "application/cloudevents+json",
        &event("ce-1", "O-CE-1"),
    )
    .await;
    assert_eq!((status, body["status"].as_str()), (200, Some("duplicate")));

    // binary mode, the token as the access_token parameter
    let (status, body) = post(
        &format!("{base}/webhooks/cloudevents?access_token={}", token()),
        &[
            ("ce-specversion", "1.0"),
            ("ce-id", "ce-2"),
            ("ce-source", "/knative/orders"),
            ("ce-type", "order.placed"),
            ("ce-time", "2026-11-23T09:00:00Z"),
            ("ce-subject", "O-CE-2%20%E2%82%AC"),
            ("ce-dataversion", "2"),
            ("ce-comexampleextension1", "value"),
            ("content-type", "application/json"),
        ],
        order("O-CE-2").to_string(),
    )
    .await;
    assert_eq!(status, 202, "{body}");

    // batched mode: two orders (one as data_base64) and a type no contract knows
    let encoded = base64::engine::general_purpose::STANDARD.encode(order("O-CE-4").to_string());
    let batch = json!([
        event("ce-3", "O-CE-3"),
        {
            "specversion": "1.0", "id": "ce-4", "source": "/dapr/orders", "type": "order.placed",
            "time": "2026-11-23T09:01:00Z", "datacontenttype": "application/json",
            "dataversion": null, "data_base64": encoded
        },
        {
            "specversion": "1.0", "id": "ce-5", "source": "/mycontext", "type": "com.example.someevent",
            "data": { "appinfoA": "abc" }
        }
    ]);
    let (status, body) = structured(&base, "application/cloudevents-batch+json", &batch).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["published"], 2, "{body}");
    assert_eq!(
        body["unmapped"][0]["kind"], "com.example.someevent",
        "{body}"
    );

    wait_for_orders(&stack, &["O-CE-1", "O-CE-2", "O-CE-3", "O-CE-4"]).await;
    let mut calls: Vec<String> = stack.handle.erp.calls().into_iter().map(|c| c.id).collect();
    calls.sort();
    assert_eq!(
        calls,
        vec!["O-CE-1", "O-CE-2", "O-CE-3", "O-CE-4"],
        "one call per order"
    );
    stack.stop().await;
}

/// One refused request: what it is, its headers and body, the status and a
/// text the answer's message contains.
struct Case(
    &'static str,
    Vec<(&'static str, String)>,
    String,
    u16,
    &'static str,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_cloudevents_requests_are_refused_and_nothing_is_published() {
    let state = tempfile::tempdir().unwrap();
    let stack = start(state.path()).await;
    let base = stack.base_url();
    let url = format!("{base}/webhooks/cloudevents");
    let bearer = format!("Bearer {}", token());

    // (what, headers, body, status, what the answer names)
    let cases: Vec<Case> = vec![
        Case(
            "no token",
            vec![("content-type", "application/cloudevents+json".into())],
            event("x-1", "O-X-1").to_string(),
            401,
            "Bearer",
        ),
        Case(
            "time is not RFC 3339",
            vec![
                ("content-type", "application/cloudevents+json".into()),
                ("authorization", bearer.clone()),
            ],
            {
                let mut e = event("x-2", "O-X-2");
                e["time"] = json!("2026-11-23 09:00");
                e.to_string()
            },
            400,
            "time",
        ),
        Case(
            "an attribute name with an underscore",
            vec![
                ("content-type", "application/cloudevents+json".into()),
                ("authorization", bearer.clone()),
            ],
            {
                let mut e = event("x-3", "O-X-3");
                e["com_example"] = json!("v");
                e.to_string()
            },
            400,
            "com_example",
        ),
        Case(
            "one invalid event refuses the whole batch",
            vec![
                ("content-type", "application/cloudevents-batch+json".into()),
                ("authorization", bearer.clone()),
            ],
            json!([event("x-4", "O-X-4"), { "specversion": "1.0", "id": "", "source": "/s", "type": "order.placed" }])
                .to_string(),
            400,
            "event 1 of the batch",
        ),
        Case(
            "binary mode with XML data",
            vec![
                ("ce-specversion", "1.0".into()),
                ("ce-id", "x-5".into()),
                ("ce-source", "/s".into()),
                ("ce-type", "order.placed".into()),
                ("content-type", "application/xml".into()),
                ("authorization", bearer.clone()),
            ],
            "<order/>".into(),
            415,
            "application/xml",
        ),
        Case(
            "another event format",
            vec![
                ("content-type", "application/cloudevents+avro".into()),
                ("authorization", bearer.clone()),
            ],
            "x".into(),
            415,
            "JSON event format",
        ),
        Case(
            "neither mode",
            vec![
                ("content-type", "application/json".into()),
                ("authorization", bearer.clone()),
            ],
            order("O-X-7").to_string(),
            400,
            "ce-specversion",
        ),
        Case(
            "data and data_base64",
            vec![
                ("content-type", "application/cloudevents+json".into()),
                ("authorization", bearer.clone()),
            ],
            {
                let mut e = event("x-8", "O-X-8");
                e["data_base64"] = json!("e30=");
                e.to_string()
            },
            400,
            "mutually exclusive",
        ),
    ];
    for Case(name, headers, body, status, names) in cases {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (got, answer) = post(&url, &headers, body).await;
        assert_eq!(got, status, "{name}: {answer}");
        assert!(
            answer["message"].as_str().unwrap_or("").contains(names),
            "{name}: the answer names {names:?}: {answer}"
        );
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(stack.handle.erp.calls().is_empty(), "nothing was published");
    stack.stop().await;
}
