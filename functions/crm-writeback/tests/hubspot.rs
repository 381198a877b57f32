//! The HubSpot client against the HubSpot CRM v3 objects stub; the stub's
//! answers against the examples of HubSpot's CRM API and API usage
//! guidelines pages.

use std::sync::Arc;

use serde_json::{Value, json};
use switchyard_auth::Credentials;
use switchyard_config::Settings;
use switchyard_contracts::events::{CrmRecord, CrmSystem};
use switchyard_crm_writeback::hubspot::HubSpotClient;
use switchyard_crm_writeback::{CrmApi, Written};
use switchyard_local::crm::{HubSpotState, HubSpotStub};

const PROPERTY: &str = "erp_order_number";

fn client(stub: &HubSpotStub, token: &str) -> HubSpotClient {
    HubSpotClient::new(
        &stub.base_url(),
        Credentials::bearer(token),
        reqwest::Client::new(),
    )
}

fn deal(id: &str) -> CrmRecord {
    CrmRecord::new(CrmSystem::HubSpot, "deals", id)
}

#[tokio::test]
async fn writes_the_number_once_and_a_second_call_finds_it_set() {
    let stub = HubSpotStub::start().await;
    let id = stub.create("deals", json!({ "dealname": "Big deal" }));
    let c = client(&stub, "pat-na1-x");
    assert_eq!(
        c.write_erp_number(&deal(&id), "ERP-000001", "c")
            .await
            .unwrap(),
        Written::Updated
    );
    assert_eq!(stub.writes(&id), 1);
    assert_eq!(stub.field(&id, PROPERTY), Some(json!("ERP-000001")));
    let requests = stub.requests();
    assert_eq!(
        c.write_erp_number(&deal(&id), "ERP-000001", "c")
            .await
            .unwrap(),
        Written::AlreadySet
    );
    assert_eq!(stub.writes(&id), 1, "no second PATCH");
    assert_eq!(stub.requests(), requests + 1, "only the read");
}

#[tokio::test]
async fn a_different_number_is_overwritten_last_write_wins() {
    let stub = HubSpotStub::start().await;
    let id = stub.create("deals", json!({ PROPERTY: "ERP-OLD" }));
    let c = client(&stub, "t");
    assert_eq!(
        c.write_erp_number(&deal(&id), "ERP-NEW", "c")
            .await
            .unwrap(),
        Written::Updated
    );
    assert_eq!(stub.field(&id, PROPERTY), Some(json!("ERP-NEW")));
}

#[tokio::test]
async fn rate_limits_are_transient_and_name_the_policy() {
    let stub = HubSpotStub::start().await;
    let id = stub.create("deals", json!({}));
    stub.fail_times(&id, 429, 1);
    let c = client(&stub, "t");
    let e = c.write_erp_number(&deal(&id), "E", "c").await.unwrap_err();
    assert!(e.is_transient(), "{e}");
    let reason = e.to_string();
    assert!(
        reason.contains("rate-limit policy SECONDLY, window 10000 ms"),
        "{reason}"
    );
    assert_eq!(stub.writes(&id), 0);
    assert_eq!(
        c.write_erp_number(&deal(&id), "E", "c").await.unwrap(),
        Written::Updated
    );
    stub.fail_times(&id, 502, 1);
    let e = c.write_erp_number(&deal(&id), "F", "c").await.unwrap_err();
    assert!(e.is_transient(), "{e}");
}

#[tokio::test]
async fn a_missing_object_is_permanent_crm_record_not_found() {
    let stub = HubSpotStub::start().await;
    let e = client(&stub, "t")
        .write_erp_number(&deal("999"), "E", "c")
        .await
        .unwrap_err();
    assert_eq!(e.kind(), Some("crm_record_not_found"), "{e}");
    assert!(e.to_string().contains("OBJECT_NOT_FOUND"), "{e}");
}

#[tokio::test]
async fn a_refused_token_is_permanent_crm_unauthorized() {
    let state = HubSpotState::new().with_token_check(Arc::new(|t: &str| t == "pat-good"));
    let stub = HubSpotStub::start_with(state).await;
    let id = stub.create("deals", json!({}));
    let e = client(&stub, "pat-bad")
        .write_erp_number(&deal(&id), "E", "c")
        .await
        .unwrap_err();
    assert_eq!(e.kind(), Some("crm_unauthorized"), "{e}");
    assert!(e.to_string().contains("INVALID_AUTHENTICATION"), "{e}");
    assert_eq!(
        client(&stub, "pat-good")
            .write_erp_number(&deal(&id), "E", "c")
            .await
            .unwrap(),
        Written::Updated
    );
}

#[tokio::test]
async fn invalid_records_are_refused_before_any_request() {
    let stub = HubSpotStub::start().await;
    let c = client(&stub, "t");
    for (object, id) in [
        ("deals", "12a"),
        ("deals", ""),
        ("deals", "1/../2"),
        ("de/als", "1"),
        ("deals?x", "1"),
    ] {
        let record = CrmRecord::new(CrmSystem::HubSpot, object, id);
        let e = c.write_erp_number(&record, "E", "c").await.unwrap_err();
        assert_eq!(e.kind(), Some("invalid_crm_record"), "{object}/{id}: {e}");
    }
    assert_eq!(stub.requests(), 0);
}

#[tokio::test]
async fn from_settings_is_none_without_the_token_has_defaults_and_names_bad_variables() {
    let http = reqwest::Client::new;
    assert!(
        HubSpotClient::from_settings(
            &Settings::from_pairs([("HUBSPOT_URL", "https://x")]),
            http()
        )
        .unwrap()
        .is_none()
    );
    let s = Settings::from_pairs([("HUBSPOT_ACCESS_TOKEN", "pat-na1-secret")]);
    let debug = format!(
        "{:?}",
        HubSpotClient::from_settings(&s, http()).unwrap().unwrap()
    );
    assert!(
        debug.contains("\"https://api.hubapi.com\"") && debug.contains("\"erp_order_number\""),
        "{debug}"
    );
    assert!(
        debug.contains("Credentials::Bearer(..)") && !debug.contains("pat-na1-secret"),
        "{debug}"
    );
    // the token is sent as a bearer token, to HUBSPOT_URL, into HUBSPOT_ERP_NUMBER_PROPERTY
    let stub = HubSpotStub::start_with(
        HubSpotState::new().with_token_check(Arc::new(|t: &str| t == "pat-na1-secret")),
    )
    .await;
    let id = stub.create("deals", json!({}));
    let s = Settings::from_pairs([
        ("HUBSPOT_ACCESS_TOKEN", "pat-na1-secret".to_owned()),
        ("HUBSPOT_URL", stub.base_url()),
        ("HUBSPOT_ERP_NUMBER_PROPERTY", "erp_number".to_owned()),
    ]);
    let c = HubSpotClient::from_settings(&s, http()).unwrap().unwrap();
    assert_eq!(
        c.write_erp_number(&deal(&id), "E-1", "c").await.unwrap(),
        Written::Updated
    );
    assert_eq!(stub.field(&id, "erp_number"), Some(json!("E-1")));
    for (pairs, var) in [
        (
            vec![
                ("HUBSPOT_ACCESS_TOKEN", "t"),
                ("HUBSPOT_URL", "api.hubapi.com"),
            ],
            "HUBSPOT_URL",
        ),
        (
            vec![
                ("HUBSPOT_ACCESS_TOKEN", "t"),
                ("HUBSPOT_ERP_NUMBER_PROPERTY", "erp number"),
            ],
            "HUBSPOT_ERP_NUMBER_PROPERTY",
        ),
    ] {
        let e = HubSpotClient::from_settings(&Settings::from_pairs(pairs), http()).unwrap_err();
        assert!(e.to_string().contains(var), "{e}");
    }
}

/// The stub against the examples of the CRM objects API and the API usage
/// guidelines (rate limits, error bodies).
#[tokio::test]
async fn stub_answers_match_the_documented_examples() {
    let stub = HubSpotStub::start().await;
    let http = reqwest::Client::new();
    let base = format!("{}/crm/v3/objects", stub.base_url());
    let auth = "Bearer pat-na1-x";

    // create: 201 with the object
    let r = http
        .post(format!("{base}/deals"))
        .header("Authorization", auth)
        .json(&json!({ "properties": { "dealname": "New deal", "amount": "1500.00" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(id.bytes().all(|b| b.is_ascii_digit()));
    assert_eq!(created["properties"]["dealname"], "New deal");
    assert_eq!(created["archived"], false);
    assert!(created["createdAt"].as_str().unwrap().ends_with('Z'));

    // read with ?properties=: the requested ones (null when unset) and hs_object_id
    let r = http
        .get(format!("{base}/deals/{id}?properties=dealname,{PROPERTY}"))
        .header("Authorization", auth)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let object: Value = r.json().await.unwrap();
    assert_eq!(object["id"], id.as_str());
    assert_eq!(object["properties"]["dealname"], "New deal");
    assert_eq!(object["properties"][PROPERTY], Value::Null);
    assert_eq!(object["properties"]["hs_object_id"], id.as_str());
    assert!(
        object["properties"].get("amount").is_none(),
        "only what was asked for"
    );

    // update: 200 with the object
    let r = http
        .patch(format!("{base}/deals/{id}"))
        .header("Authorization", auth)
        .json(&json!({ "properties": { PROPERTY: "ERP-9" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<Value>().await.unwrap()["properties"][PROPERTY],
        "ERP-9"
    );
    assert_eq!(stub.writes(&id), 1);

    // 429: the RATE_LIMIT body and the X-HubSpot-RateLimit-* headers
    stub.fail_times(&id, 429, 1);
    let r = http
        .get(format!("{base}/deals/{id}"))
        .header("Authorization", auth)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    for h in [
        "Daily",
        "Daily-Remaining",
        "Interval-Milliseconds",
        "Max",
        "Remaining",
    ] {
        assert!(
            r.headers()
                .contains_key(format!("X-HubSpot-RateLimit-{h}").as_str()),
            "{h}"
        );
    }
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["status"], "error");
    assert_eq!(body["message"], "You have reached your secondly limit.");
    assert_eq!(body["errorType"], "RATE_LIMIT");
    assert_eq!(body["policyName"], "SECONDLY");
    assert!(body["correlationId"].is_string() && body["requestId"].is_string());

    // errors: status, message, correlationId, category
    let r = http
        .get(format!("{base}/deals/424242"))
        .header("Authorization", auth)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        (body["status"].as_str(), body["category"].as_str()),
        (Some("error"), Some("OBJECT_NOT_FOUND"))
    );
    assert!(body["message"].is_string() && body["correlationId"].is_string());
    let r = http.get(format!("{base}/deals/{id}")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.json::<Value>().await.unwrap()["category"],
        "INVALID_AUTHENTICATION"
    );
    let r = http
        .get(format!("{base}/deals/abc"))
        .header("Authorization", auth)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<Value>().await.unwrap()["category"],
        "VALIDATION_ERROR"
    );
    let r = http
        .patch(format!("{base}/deals/{id}"))
        .header("Authorization", auth)
        .json(&json!({ PROPERTY: "no properties wrapper" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<Value>().await.unwrap()["category"],
        "VALIDATION_ERROR"
    );
    assert_eq!(stub.writes(&id), 1);
}

/// `HUBSPOT_ACCESS_TOKEN` as a secret store reference: read at build, sent
/// per request; after a rotation, the 401 to the cached token re-reads the
/// store and the write goes through with the new one.
#[tokio::test]
async fn a_referenced_token_is_read_from_the_store_and_re_read_after_a_401() {
    use std::sync::Mutex;
    use std::time::Duration;
    use switchyard_secrets::{MemorySecretStore, SecretResolver, Versions};

    let live = Arc::new(Mutex::new("pat-1".to_owned()));
    let check = live.clone();
    let stub = HubSpotStub::start_with(
        HubSpotState::new()
            .with_token_check(Arc::new(move |t: &str| t == check.lock().unwrap().as_str())),
    )
    .await;
    let store = MemorySecretStore::new();
    store.set("/crm/hubspot-token", Versions::current("pat-1"));
    let secrets = SecretResolver::new(Arc::new(store.clone()), Duration::from_secs(3600));
    let s = Settings::from_pairs([
        ("HUBSPOT_ACCESS_TOKEN", "ssm:/crm/hubspot-token".to_owned()),
        ("HUBSPOT_URL", stub.base_url()),
    ]);
    let c = HubSpotClient::from_settings_with(&s, reqwest::Client::new(), &secrets)
        .unwrap()
        .unwrap();
    c.credentials().check().await.unwrap();
    let id = stub.create("deals", json!({}));
    assert_eq!(
        c.write_erp_number(&deal(&id), "E-1", "c").await.unwrap(),
        Written::Updated
    );
    store.set("/crm/hubspot-token", Versions::current("pat-2"));
    *live.lock().unwrap() = "pat-2".to_owned();
    assert_eq!(
        c.write_erp_number(&deal(&id), "E-2", "c").await.unwrap(),
        Written::Updated
    );
    assert_eq!(stub.field(&id, "erp_order_number"), Some(json!("E-2")));

    // without a store the reference is refused; a missing one names itself
    let err = HubSpotClient::from_settings(&s, reqwest::Client::new())
        .unwrap_err()
        .to_string();
    assert!(err.contains("HUBSPOT_ACCESS_TOKEN"), "{err}");
    let gone = Settings::from_pairs([("HUBSPOT_ACCESS_TOKEN", "ssm:/crm/none")]);
    let c = HubSpotClient::from_settings_with(&gone, reqwest::Client::new(), &secrets)
        .unwrap()
        .unwrap();
    let err = c.credentials().check().await.unwrap_err().to_string();
    assert!(
        err.contains("HUBSPOT_ACCESS_TOKEN") && err.contains("ssm:/crm/none"),
        "{err}"
    );
}
