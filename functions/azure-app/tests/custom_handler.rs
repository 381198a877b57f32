//! The custom-handler contract: recorded host requests in, the host's
//! response shape out; and the binary's start-up (port, JSON logs, errors
//! naming the variable).

mod common;

use std::process::Command;

use common::*;
use serde_json::{Value, json};

#[test]
fn the_http_fixture_round_trips() {
    let raw = fixture("functions-host-http-standard-webhook.json");
    let parsed: switchyard_triggers::servicebus::InvocationRequest =
        serde_json::from_value(raw.clone()).unwrap();
    assert_eq!(serde_json::to_value(&parsed).unwrap(), raw);
    let req = switchyard_triggers::servicebus::request::http_request(&parsed, "req").unwrap();
    assert_eq!(req.method, "POST");
    assert!(req.url.ends_with("/api/webhooks/standard"));
    assert!(
        req.headers
            .iter()
            .any(|(k, v)| k == "webhook-id" && v.starts_with("msg_"))
    );
    assert!(req.body.starts_with(b"{\"type\":\"order.placed\""));
}

#[tokio::test]
async fn the_recorded_webhook_answers_through_outputs_res() {
    let stack = stack().await;
    let (status, res) = call_webhook(&stack, &webhook_invocation("msg_fixture", None)).await;
    assert_eq!(status, 200);
    assert_eq!(res["statusCode"], 202, "{res}");
    assert_eq!(res["headers"]["content-type"], "application/json");
    let body: Value = serde_json::from_str(res["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["status"], "published", "{body}");
    assert_eq!(body["published"], 1);
    // The fixture's order is O-1001, routed by the subscription's filter.
    let m = &stack.fake.messages(SUBSCRIPTION)[0];
    assert!(m.body.contains("\"O-1001\""));
}

#[tokio::test]
async fn crm_refusals_come_back_in_outputs_res() {
    let stack = stack().await;
    let mut inv = webhook_invocation("msg_bad", None);
    inv["Data"]["req"]["Headers"]["webhook-signature"] = json!(["v1,AAAA"]);
    let (status, res) = call_webhook(&stack, &inv).await;
    assert_eq!(status, 200, "the invocation itself worked");
    assert_eq!(res["statusCode"], 401);
    // A route that does not exist behind the prefix.
    let mut inv = webhook_invocation("msg_404", None);
    inv["Data"]["req"]["Url"] =
        json!("https://switchyard-func.azurewebsites.net/api/webhooks/nope");
    let (_, res) = call_webhook(&stack, &inv).await;
    assert_eq!(res["statusCode"], 404);
    assert!(stack.fake.messages(SUBSCRIPTION).is_empty());
}

#[tokio::test]
async fn unreadable_invocations_are_refused() {
    let stack = stack().await;
    let client = reqwest::Client::new();
    for (path, body) in [
        ("crm-webhook", "not json"),
        ("crm-webhook", r#"{"Data": {}, "Metadata": {}}"#),
        ("erp-sync", "not json"),
        ("erp-sync", r#"{"Data": {}, "Metadata": {}}"#),
    ] {
        let answer = client
            .post(format!("{}/{path}", stack.base_url))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 400, "{path} {body}");
        let json: Value = answer.json().await.unwrap();
        assert!(json["Logs"][0].as_str().unwrap().contains(path), "{json}");
        assert_eq!(json["Outputs"], json!({}));
    }
}

#[test]
fn the_binary_names_missing_settings_in_json_logs() {
    let bin = env!("CARGO_BIN_EXE_azure-app");
    let out = Command::new(bin).env_clear().output().unwrap();
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("FUNCTIONS_CUSTOMHANDLER_PORT"), "{text}");

    let out = Command::new(bin)
        .env_clear()
        .env("FUNCTIONS_CUSTOMHANDLER_PORT", "0")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let line: Value = serde_json::from_str(text.lines().last().unwrap_or(""))
        .unwrap_or_else(|e| panic!("{e}: {text}"));
    assert!(
        line["fields"]["error"]
            .as_str()
            .unwrap()
            .contains("SERVICEBUS_CONNECTION_STRING"),
        "{line}"
    );
}
