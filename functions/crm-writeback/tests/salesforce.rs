//! The Salesforce client against the Salesforce sObject rows stub; the
//! stub's answers against the examples of the REST API Developer Guide.

use std::sync::Arc;

use serde_json::{Value, json};
use switchyard_auth::{ClientAuth, Credentials};
use switchyard_config::Settings;
use switchyard_contracts::events::{CrmRecord, CrmSystem};
use switchyard_crm_writeback::salesforce::{SalesforceClient, oauth};
use switchyard_crm_writeback::{CrmApi, Written};
use switchyard_local::crm::{SalesforceState, SalesforceStub};

const FIELD: &str = "ERP_Order_Number__c";

fn client(stub: &SalesforceStub, token: &str) -> SalesforceClient {
    SalesforceClient::new(
        &stub.base_url(),
        Credentials::bearer(token),
        reqwest::Client::new(),
    )
}

fn order(id: &str) -> CrmRecord {
    CrmRecord::new(CrmSystem::Salesforce, "Order", id)
}

#[tokio::test]
async fn writes_the_number_once_and_a_second_call_finds_it_set() {
    let stub = SalesforceStub::start().await;
    let id = stub.create("Order", json!({ "Name": "Order 1" }));
    let c = client(&stub, "00D!session");
    assert_eq!(
        c.write_erp_number(&order(&id), "ERP-000001", "c")
            .await
            .unwrap(),
        Written::Updated
    );
    assert_eq!(stub.writes(&id), 1);
    assert_eq!(stub.field(&id, FIELD), Some(json!("ERP-000001")));
    let requests = stub.requests();
    assert_eq!(
        c.write_erp_number(&order(&id), "ERP-000001", "c")
            .await
            .unwrap(),
        Written::AlreadySet
    );
    assert_eq!(stub.writes(&id), 1, "no second PATCH");
    assert_eq!(stub.requests(), requests + 1, "only the read");
    // a 15-character Id addresses the same record
    let short = CrmRecord::new(CrmSystem::Salesforce, "Order", &id[..15]);
    assert_eq!(
        c.write_erp_number(&short, "ERP-000001", "c").await.unwrap(),
        Written::AlreadySet
    );
    assert_eq!(stub.writes(&id), 1);
}

#[tokio::test]
async fn a_record_changed_between_read_and_write_is_not_overwritten_and_the_retry_writes() {
    let stub = SalesforceStub::start().await;
    let id = stub.create("Order", json!({}));
    stub.touch_after_read(&id);
    let c = client(&stub, "t");
    let e = c
        .write_erp_number(&order(&id), "ERP-2", "c")
        .await
        .unwrap_err();
    assert!(e.is_transient(), "{e}");
    assert!(
        e.to_string().contains("412") && e.to_string().contains("changed since it was read"),
        "{e}"
    );
    assert_eq!(stub.writes(&id), 0);
    assert_eq!(
        c.write_erp_number(&order(&id), "ERP-2", "c").await.unwrap(),
        Written::Updated
    );
    assert_eq!(stub.writes(&id), 1);
}

#[tokio::test]
async fn limits_and_outages_are_transient() {
    let stub = SalesforceStub::start().await;
    let id = stub.create("Order", json!({}));
    let c = client(&stub, "t");
    stub.fail_times(&id, 403, 1);
    let e = c.write_erp_number(&order(&id), "E", "c").await.unwrap_err();
    assert!(
        e.is_transient() && e.to_string().contains("REQUEST_LIMIT_EXCEEDED"),
        "{e}"
    );
    stub.fail_times(&id, 503, 1);
    let e = c.write_erp_number(&order(&id), "E", "c").await.unwrap_err();
    assert!(
        e.is_transient() && e.to_string().contains("SERVER_UNAVAILABLE"),
        "{e}"
    );
    stub.fail_times(&id, 429, 1);
    let e = c.write_erp_number(&order(&id), "E", "c").await.unwrap_err();
    assert!(e.is_transient(), "{e}");
    assert_eq!(stub.writes(&id), 0);
    assert_eq!(
        c.write_erp_number(&order(&id), "E", "c").await.unwrap(),
        Written::Updated
    );
}

#[tokio::test]
async fn a_missing_record_is_permanent_crm_record_not_found() {
    let stub = SalesforceStub::start().await;
    let e = client(&stub, "t")
        .write_erp_number(&order("801000000000001AAA"), "E", "c")
        .await
        .unwrap_err();
    assert_eq!(e.kind(), Some("crm_record_not_found"), "{e}");
    assert!(e.to_string().contains("NOT_FOUND"), "{e}");
}

#[tokio::test]
async fn a_refused_token_is_permanent_crm_unauthorized() {
    let state = SalesforceState::new().with_token_check(Arc::new(|t: &str| t == "good"));
    let stub = SalesforceStub::start_with(state).await;
    let id = stub.create("Order", json!({}));
    let e = client(&stub, "expired")
        .write_erp_number(&order(&id), "E", "c")
        .await
        .unwrap_err();
    assert_eq!(e.kind(), Some("crm_unauthorized"), "{e}");
    assert!(e.to_string().contains("INVALID_SESSION_ID"), "{e}");
    assert_eq!(
        client(&stub, "good")
            .write_erp_number(&order(&id), "E", "c")
            .await
            .unwrap(),
        Written::Updated
    );
}

#[tokio::test]
async fn invalid_records_are_refused_before_any_request() {
    let stub = SalesforceStub::start().await;
    let c = client(&stub, "t");
    for (object, id) in [
        ("Order", "8010000000000"),
        ("Order", "801000000000001AA"),
        ("Order", "801000000000001-AA"),
        ("Order", "../../../limits/x"),
        ("Or der", "801000000000001AAA"),
        ("1Order", "801000000000001AAA"),
    ] {
        let record = CrmRecord::new(CrmSystem::Salesforce, object, id);
        let e = c.write_erp_number(&record, "E", "c").await.unwrap_err();
        assert_eq!(e.kind(), Some("invalid_crm_record"), "{object}/{id}: {e}");
    }
    assert_eq!(stub.requests(), 0);
}

#[test]
fn from_settings_is_none_without_the_url_has_defaults_and_names_bad_variables() {
    let http = reqwest::Client::new;
    assert!(
        SalesforceClient::from_settings(&Settings::from_pairs([("X", "y")]), http())
            .unwrap()
            .is_none()
    );
    let s = Settings::from_pairs([("SALESFORCE_URL", "https://acme.my.salesforce.com/")]);
    let debug = format!(
        "{:?}",
        SalesforceClient::from_settings(&s, http())
            .unwrap()
            .unwrap()
    );
    for part in [
        "\"https://acme.my.salesforce.com\"",
        "\"v62.0\"",
        "\"ERP_Order_Number__c\"",
        "Credentials::None",
    ] {
        assert!(debug.contains(part), "{part}: {debug}");
    }
    let s = Settings::from_pairs([
        ("SALESFORCE_URL", "https://acme.my.salesforce.com"),
        ("SALESFORCE_API_VERSION", "v60.0"),
        ("SALESFORCE_ERP_NUMBER_FIELD", "ERP_No__c"),
        ("SALESFORCE_CLIENT_ID", "3MVG9-consumer-key"),
        ("SALESFORCE_CLIENT_SECRET", "consumer-secret"),
    ]);
    let debug = format!(
        "{:?}",
        SalesforceClient::from_settings(&s, http())
            .unwrap()
            .unwrap()
    );
    for part in ["\"v60.0\"", "\"ERP_No__c\"", "Credentials::OAuth(..)"] {
        assert!(debug.contains(part), "{part}: {debug}");
    }
    assert!(!debug.contains("consumer-secret"), "{debug}");
    for (pairs, var) in [
        (vec![("SALESFORCE_URL", "acme")], "SALESFORCE_URL"),
        (
            vec![
                ("SALESFORCE_URL", "https://a"),
                ("SALESFORCE_API_VERSION", "62.0"),
            ],
            "SALESFORCE_API_VERSION",
        ),
        (
            vec![
                ("SALESFORCE_URL", "https://a"),
                ("SALESFORCE_ERP_NUMBER_FIELD", "ERP-No"),
            ],
            "SALESFORCE_ERP_NUMBER_FIELD",
        ),
        (
            vec![
                ("SALESFORCE_URL", "https://a"),
                ("SALESFORCE_CLIENT_ID", "k"),
            ],
            "SALESFORCE_CLIENT_SECRET",
        ),
    ] {
        let e = SalesforceClient::from_settings(&Settings::from_pairs(pairs), http()).unwrap_err();
        assert!(e.to_string().contains(var), "{e}");
    }
}

#[test]
fn the_token_url_defaults_to_the_instance() {
    let s = Settings::from_pairs([
        ("SALESFORCE_CLIENT_ID", "3MVG9-consumer-key"),
        ("SALESFORCE_CLIENT_SECRET", "consumer-secret"),
        ("SALESFORCE_SCOPE", "api"),
    ]);
    let config = oauth(&s, "https://acme.my.salesforce.com")
        .unwrap()
        .unwrap();
    assert_eq!(
        config.token_url,
        "https://acme.my.salesforce.com/services/oauth2/token"
    );
    assert_eq!(config.client_id, "3MVG9-consumer-key");
    assert!(
        matches!(&config.auth, ClientAuth::Secret(s) if s.reference().is_none() && s.var() == "SALESFORCE_CLIENT_SECRET")
    );
    assert_eq!(config.scope.as_deref(), Some("api"));
    assert!(
        oauth(&Settings::from_pairs([("X", "y")]), "https://a")
            .unwrap()
            .is_none()
    );
}

/// The stub against the REST API Developer Guide's sObject Basic
/// Information, sObject Rows, Conditional Request Headers and Status Codes
/// and Error Responses.
#[tokio::test]
async fn stub_answers_match_the_documented_examples() {
    let stub = SalesforceStub::start().await;
    let http = reqwest::Client::new();
    let base = format!("{}/services/data/v62.0/sobjects", stub.base_url());
    let auth = "Bearer 00D!session";

    // create: 201 {"id","success","errors"}
    let r = http
        .post(format!("{base}/Order/"))
        .header("Authorization", auth)
        .json(&json!({ "Name": "Order 1" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created, json!({ "id": id, "success": true, "errors": [] }));
    assert!(id.starts_with("801") && id.len() == 18);

    // read with ?fields=: attributes, Id, the fields, an ETag header
    let r = http
        .get(format!(
            "{base}/Order/{id}?fields=Name,{FIELD},LastModifiedDate"
        ))
        .header("Authorization", auth)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let etag = r.headers()["ETag"].to_str().unwrap().to_owned();
    let row: Value = r.json().await.unwrap();
    assert_eq!(
        row["attributes"],
        json!({ "type": "Order", "url": format!("/services/data/v62.0/sobjects/Order/{id}") })
    );
    assert_eq!(
        (row["Id"].as_str(), row["Name"].as_str()),
        (Some(id.as_str()), Some("Order 1"))
    );
    assert_eq!(row[FIELD], Value::Null);
    let modified = row["LastModifiedDate"].as_str().unwrap();
    assert!(
        modified.len() == 28 && modified.ends_with("+0000"),
        "{modified}"
    );

    // If-Match not matching: 412, not processed; matching: 204
    let r = http
        .patch(format!("{base}/Order/{id}"))
        .header("Authorization", auth)
        .header("If-Match", "\"Jbjuzw7dbhaEG3fd90kJbx6A0ow=-gzip\"")
        .json(&json!({ "Name": "x" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 412);
    assert_eq!(
        r.json::<Value>().await.unwrap()[0]["errorCode"],
        "PRECONDITION_FAILED"
    );
    let r = http
        .patch(format!("{base}/Order/{id}"))
        .header("Authorization", auth)
        .header("If-Match", &etag)
        .json(&json!({ "Name": "Order 1b" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(stub.writes(&id), 1);
    // If-Unmodified-Since before the last change: 412; an unreadable date: 400
    let r = http
        .patch(format!("{base}/Order/{id}"))
        .header("Authorization", auth)
        .header("If-Unmodified-Since", "Mon, 10 Aug 2015 00:00:00 GMT")
        .json(&json!({ "Name": "y" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 412);
    let r = http
        .patch(format!("{base}/Order/{id}"))
        .header("Authorization", auth)
        .header("If-Unmodified-Since", "yesterday")
        .json(&json!({ "Name": "y" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(stub.writes(&id), 1);

    // error responses: [{"message","errorCode"}]
    let cases: [(Option<u16>, &str, u16, &str); 4] = [
        (None, "801000000000009AAA", 404, "NOT_FOUND"),
        (None, "bad-id", 400, "MALFORMED_ID"),
        (Some(403), id.as_str(), 403, "REQUEST_LIMIT_EXCEEDED"),
        (Some(503), id.as_str(), 503, "SERVER_UNAVAILABLE"),
    ];
    for (script, target, status, code) in cases {
        if let Some(s) = script {
            stub.fail_times(target, s, 1);
        }
        let r = http
            .get(format!("{base}/Order/{target}"))
            .header("Authorization", auth)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), status, "{code}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body[0]["errorCode"], code);
        assert!(body[0]["message"].is_string(), "{body}");
    }
    let r = http.get(format!("{base}/Order/{id}")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!([{ "message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID" }])
    );
    let r = http
        .patch(format!("{base}/Order/{id}"))
        .header("Authorization", auth)
        .header("Content-Type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<Value>().await.unwrap()[0]["errorCode"],
        "JSON_PARSER_ERROR"
    );
}

/// Without an ETag (Salesforce sends them for Account rows only) the
/// update is conditioned on `If-Unmodified-Since: <LastModifiedDate read>`.
#[tokio::test]
async fn without_etags_a_change_since_the_read_is_caught_by_if_unmodified_since() {
    let stub = SalesforceStub::start_with(SalesforceState::new().without_etags()).await;
    let c = client(&stub, "t");
    let id = stub.create("Order", json!({}));
    assert_eq!(
        c.write_erp_number(&order(&id), "ERP-3", "c").await.unwrap(),
        Written::Updated
    );
    assert_eq!(stub.writes(&id), 1);

    // HTTP dates count whole seconds: the other user's edit lands in a
    // later second than the modification the client reads.
    let other = stub.create("Order", json!({}));
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    stub.touch_after_read(&other);
    let e = c
        .write_erp_number(&order(&other), "ERP-4", "c")
        .await
        .unwrap_err();
    assert!(
        e.is_transient() && e.to_string().contains("changed since it was read"),
        "{e}"
    );
    assert_eq!(stub.writes(&other), 0);
    assert_eq!(
        c.write_erp_number(&order(&other), "ERP-4", "c")
            .await
            .unwrap(),
        Written::Updated
    );
}
