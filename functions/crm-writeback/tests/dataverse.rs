//! The Dataverse client against the Dataverse Web API stub; the stub's
//! answers against the examples of Microsoft's Web API pages.

use std::sync::Arc;

use serde_json::{Value, json};
use switchyard_auth::Credentials;
use switchyard_config::Settings;
use switchyard_contracts::events::{CrmRecord, CrmSystem};
use switchyard_crm_writeback::dataverse::{DataverseClient, entity_set};
use switchyard_crm_writeback::{CrmApi, Written};
use switchyard_local::crm::{DataverseState, DataverseStub};

const COLUMN: &str = "new_erpordernumber";

fn client(stub: &DataverseStub, token: &str) -> DataverseClient {
    DataverseClient::new(
        &stub.base_url(),
        Credentials::bearer(token),
        reqwest::Client::new(),
    )
}

fn order(id: &str) -> CrmRecord {
    CrmRecord::new(CrmSystem::Dynamics, "salesorder", id)
}

#[tokio::test]
async fn writes_the_number_once_and_a_second_call_finds_it_set() {
    let stub = DataverseStub::start().await;
    let id = stub.create("salesorders", json!({ "name": "SO-1" }));
    let c = client(&stub, "t");
    let w = c
        .write_erp_number(&order(&id), "ERP-000001", "corr-1")
        .await
        .unwrap();
    assert_eq!(w, Written::Updated);
    assert_eq!(stub.writes(&id), 1);
    assert_eq!(stub.field(&id, COLUMN), Some(json!("ERP-000001")));
    let requests = stub.requests();
    let w = c
        .write_erp_number(&order(&id), "ERP-000001", "corr-1")
        .await
        .unwrap();
    assert_eq!(w, Written::AlreadySet);
    assert_eq!(stub.writes(&id), 1, "no second PATCH");
    assert_eq!(stub.requests(), requests + 1, "only the read");
}

#[tokio::test]
async fn a_row_changed_between_read_and_write_is_not_overwritten_and_the_retry_writes() {
    let stub = DataverseStub::start().await;
    let id = stub.create("salesorders", json!({}));
    stub.touch_after_read(&id);
    let c = client(&stub, "t");
    let e = c
        .write_erp_number(&order(&id), "ERP-7", "c")
        .await
        .unwrap_err();
    assert!(e.is_transient(), "{e}");
    assert!(
        e.to_string().contains("412") && e.to_string().contains("changed since it was read"),
        "{e}"
    );
    assert_eq!(stub.writes(&id), 0);
    assert_eq!(stub.field(&id, COLUMN), None);
    assert_eq!(
        c.write_erp_number(&order(&id), "ERP-7", "c").await.unwrap(),
        Written::Updated
    );
    assert_eq!(stub.writes(&id), 1);
}

#[tokio::test]
async fn throttling_is_transient_and_names_retry_after_and_the_code() {
    let stub = DataverseStub::start().await;
    let id = stub.create("salesorders", json!({}));
    stub.fail_times(&id, 429, 1);
    let c = client(&stub, "t");
    let e = c
        .write_erp_number(&order(&id), "ERP-1", "c")
        .await
        .unwrap_err();
    assert!(e.is_transient(), "{e}");
    let reason = e.to_string();
    assert!(
        reason.contains("retry after 5 s") && reason.contains("0x80072322"),
        "{reason}"
    );
    assert_eq!(
        c.write_erp_number(&order(&id), "ERP-1", "c").await.unwrap(),
        Written::Updated
    );
}

#[tokio::test]
async fn outages_are_transient() {
    let stub = DataverseStub::start().await;
    let id = stub.create("salesorders", json!({}));
    stub.fail_times(&id, 503, 1);
    let e = client(&stub, "t")
        .write_erp_number(&order(&id), "ERP-1", "c")
        .await
        .unwrap_err();
    assert!(e.is_transient(), "{e}");
    let unreachable = DataverseClient::new(
        "http://127.0.0.1:9",
        Credentials::None,
        reqwest::Client::new(),
    );
    let e = unreachable
        .write_erp_number(&order("00000000-0000-0000-0000-000000000001"), "E", "c")
        .await
        .unwrap_err();
    assert!(e.is_transient(), "{e}");
}

#[tokio::test]
async fn a_missing_row_is_permanent_crm_record_not_found() {
    let stub = DataverseStub::start().await;
    let e = client(&stub, "t")
        .write_erp_number(&order("00000000-0000-0000-0000-0000000000aa"), "ERP-1", "c")
        .await
        .unwrap_err();
    assert_eq!(e.kind(), Some("crm_record_not_found"), "{e}");
    assert_eq!(
        stub.writes("00000000-0000-0000-0000-0000000000aa"),
        0,
        "no upsert"
    );
}

#[tokio::test]
async fn a_refused_token_is_permanent_crm_unauthorized() {
    let state = DataverseState::new().with_token_check(Arc::new(|t: &str| t == "good"));
    let stub = DataverseStub::start_with(state).await;
    let id = stub.create("salesorders", json!({}));
    let e = client(&stub, "bad")
        .write_erp_number(&order(&id), "E", "c")
        .await
        .unwrap_err();
    assert_eq!(e.kind(), Some("crm_unauthorized"), "{e}");
    let none = DataverseClient::new(&stub.base_url(), Credentials::None, reqwest::Client::new());
    let e = none
        .write_erp_number(&order(&id), "E", "c")
        .await
        .unwrap_err();
    assert_eq!(e.kind(), Some("crm_unauthorized"), "{e}");
    let w = client(&stub, "good")
        .write_erp_number(&order(&id), "E", "c")
        .await
        .unwrap();
    assert_eq!(w, Written::Updated);
}

#[tokio::test]
async fn invalid_records_are_refused_before_any_request() {
    let stub = DataverseStub::start().await;
    let c = client(&stub, "t");
    for (object, id) in [
        ("salesorder", "not-a-guid"),
        ("salesorder", "00000000-0000-0000-0000-00000000000g"),
        ("salesorder", "00000000-0000-0000-0000-000000000001)?$x=1"),
        ("sales/order", "00000000-0000-0000-0000-000000000001"),
        ("SalesOrder", "00000000-0000-0000-0000-000000000001"),
    ] {
        let record = CrmRecord::new(CrmSystem::Dynamics, object, id);
        let e = c.write_erp_number(&record, "E", "c").await.unwrap_err();
        assert_eq!(e.kind(), Some("invalid_crm_record"), "{object}/{id}: {e}");
    }
    assert_eq!(stub.requests(), 0);
}

#[test]
fn entity_sets_are_the_plurals_of_logical_names() {
    assert_eq!(entity_set("salesorder"), "salesorders");
    assert_eq!(entity_set("opportunity"), "opportunities");
    assert_eq!(entity_set("quote"), "quotes");
    assert_eq!(entity_set("invoice"), "invoices");
    assert_eq!(entity_set("account"), "accounts");
}

#[test]
fn from_settings_is_none_without_the_url_has_defaults_and_names_bad_variables() {
    let http = reqwest::Client::new;
    let none = DataverseClient::from_settings(&Settings::from_pairs([("X", "y")]), http()).unwrap();
    assert!(none.is_none());
    let s = Settings::from_pairs([("DATAVERSE_URL", "https://contoso.crm.dynamics.com/")]);
    let c = DataverseClient::from_settings(&s, http()).unwrap().unwrap();
    let debug = format!("{c:?}");
    assert!(
        debug.contains("\"https://contoso.crm.dynamics.com\""),
        "{debug}"
    );
    assert!(
        debug.contains("\"new_erpordernumber\"") && debug.contains("Credentials::None"),
        "{debug}"
    );
    let s = Settings::from_pairs([
        ("DATAVERSE_URL", "https://x.crm.dynamics.com"),
        ("DATAVERSE_ERP_NUMBER_COLUMN", "cr1_erp"),
    ]);
    let debug = format!(
        "{:?}",
        DataverseClient::from_settings(&s, http()).unwrap().unwrap()
    );
    assert!(debug.contains("\"cr1_erp\""), "{debug}");
    for (pairs, var) in [
        (vec![("DATAVERSE_URL", "contoso")], "DATAVERSE_URL"),
        (vec![("DATAVERSE_URL", "ftp://contoso")], "DATAVERSE_URL"),
        (
            vec![
                ("DATAVERSE_URL", "https://x"),
                ("DATAVERSE_ERP_NUMBER_COLUMN", "New Col"),
            ],
            "DATAVERSE_ERP_NUMBER_COLUMN",
        ),
    ] {
        let e = DataverseClient::from_settings(&Settings::from_pairs(pairs), http()).unwrap_err();
        assert!(e.to_string().contains(var), "{e}");
    }
    let scoped =
        Settings::from_pairs([("CRM_WRITEBACK__DATAVERSE_URL", "nope")]).scoped("crm-writeback");
    let e = DataverseClient::from_settings(&scoped, http()).unwrap_err();
    assert!(
        e.to_string().contains("CRM_WRITEBACK__DATAVERSE_URL"),
        "{e}"
    );
}

/// The stub against the examples of *Update and delete table rows*,
/// *Perform conditional operations* and *Service protection API limits*.
#[tokio::test]
async fn stub_answers_match_the_documented_examples() {
    let stub = DataverseStub::start().await;
    let http = reqwest::Client::new();
    let base = format!("{}/api/data/v9.2", stub.base_url());
    let auth = "Bearer t";

    // create: 204 with OData-EntityId
    let r = http
        .post(format!("{base}/salesorders"))
        .header("Authorization", auth)
        .json(&json!({ "name": "Sample Order" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let entity = r.headers()["OData-EntityId"].to_str().unwrap().to_owned();
    let id = entity
        .rsplit_once('(')
        .unwrap()
        .1
        .trim_end_matches(')')
        .to_owned();
    assert!(
        entity.ends_with(&format!("/api/data/v9.2/salesorders({id})")),
        "{entity}"
    );

    // retrieve with $select: @odata.context, a weak @odata.etag, null for an unset column
    let r = http
        .get(format!("{base}/salesorders({id})?$select=name,{COLUMN}"))
        .header("Authorization", auth)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let row: Value = r.json().await.unwrap();
    let etag = row["@odata.etag"].as_str().unwrap().to_owned();
    assert!(etag.starts_with("W/\"") && etag.ends_with('"'), "{etag}");
    assert!(
        row["@odata.context"]
            .as_str()
            .unwrap()
            .contains("$metadata#salesorders(name,new_erpordernumber)/$entity")
    );
    assert_eq!(row["name"], "Sample Order");
    assert_eq!(row[COLUMN], Value::Null);

    // optimistic concurrency: a stale ETag is refused with 412
    let r = http
        .patch(format!("{base}/salesorders({id})"))
        .header("Authorization", auth)
        .header("If-Match", "W/\"1\"")
        .json(&json!({ "name": "x" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 412);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body,
        json!({ "error": { "code": "0x80060882",
        "message": "The version of the existing record doesn't match the RowVersion property provided." } })
    );
    // the current one is accepted (204) and changes the ETag
    let r = http
        .patch(format!("{base}/salesorders({id})"))
        .header("Authorization", auth)
        .header("If-Match", &etag)
        .json(&json!({ "name": "Updated" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let row: Value = http
        .get(format!("{base}/salesorders({id})?$select=name"))
        .header("Authorization", auth)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_ne!(row["@odata.etag"].as_str().unwrap(), etag);
    assert_eq!(stub.writes(&id), 1);

    // prevent create in upsert: If-Match: * on a missing row is 404
    let missing = "00000000-0000-0000-0000-000000000099";
    let r = http
        .patch(format!("{base}/salesorders({missing})"))
        .header("Authorization", auth)
        .header("If-Match", "*")
        .json(&json!({ "name": "x" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "0x80040217");
    assert_eq!(stub.writes(missing), 0);
    // without If-Match a PATCH is an upsert: the row is created
    let r = http
        .patch(format!("{base}/salesorders({missing})"))
        .header("Authorization", auth)
        .json(&json!({ "name": "Upserted" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(stub.field(missing, "name"), Some(json!("Upserted")));

    // service protection: 429, Retry-After in seconds, the documented code and message
    stub.fail_times(&id, 429, 1);
    let r = http
        .get(format!("{base}/salesorders({id})"))
        .header("Authorization", auth)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["Retry-After"], "5");
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body,
        json!({ "error": { "code": "0x80072322",
        "message": "Number of requests exceeded the limit of 6000 over time window of 300 seconds." } })
    );

    // no token: 401, WWW-Authenticate: Bearer, empty body
    let r = http
        .get(format!("{base}/salesorders({id})"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(
        r.headers()["WWW-Authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer ")
    );
    assert!(r.bytes().await.unwrap().is_empty());

    // a malformed key and a payload that is not an object: 400 in the error shape
    let r = http
        .get(format!("{base}/salesorders(42)"))
        .header("Authorization", auth)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "0x80060888"
    );
    let r = http
        .patch(format!("{base}/salesorders({id})"))
        .header("Authorization", auth)
        .header("Content-Type", "application/json")
        .body("[1]")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "0x80048d19"
    );
}
