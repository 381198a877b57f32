//! The Azure package runs as the Functions host runs it: unzip
//! `$SWITCHYARD_PACKAGE_DIR/azure/functionapp.zip` (written by
//! `switchyard package` in `scripts/test.sh`), start the executable its
//! `host.json` names with the working directory = the package root and
//! `FUNCTIONS_CUSTOMHANDLER_PORT` set, and drive one HTTP trigger
//! invocation (crm-webhook: a signed Standard Webhooks delivery, on the
//! route its `function.json` declares) and one Service Bus trigger
//! invocation (erp-sync: the message crm-webhook published, from the
//! topic and subscription its `function.json` declares, under its binding
//! name) against the Service Bus fake and the ERP stub.
//!
//! It never skips: without the package it fails, saying how to build it.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use serde_json::{Map, Value, json};
use switchyard_local::erp::ErpStub;
use switchyard_local::package::archive;
use switchyard_testkit::servicebus_fake::{
    Filter, ReceiveSettings, Right, ServiceBusFake, TopicOptions,
};

/// The Standard Webhooks specification's published test secret (as in
/// `functions/azure-app/tests/common`).
const STANDARD_SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
const STANDARD_KEY_B64: &str = "C2FVsBQIhrscChlQIMV+b5sSYspob7oD";

/// The package's zip, or a panic saying how to make it.
fn package_zip() -> PathBuf {
    let Some(dir) = std::env::var_os("SWITCHYARD_PACKAGE_DIR") else {
        panic!(
            "SWITCHYARD_PACKAGE_DIR is not set: this test checks the built packages. \
             Run `bash scripts/test.sh` (it runs `switchyard package --target all --out <dir>` \
             and exports SWITCHYARD_PACKAGE_DIR=<dir>)"
        );
    };
    let zip = Path::new(&dir).join("azure/functionapp.zip");
    assert!(
        zip.is_file(),
        "{} is missing: run `bash scripts/test.sh` (or `switchyard package --target all --out {}`)",
        zip.display(),
        Path::new(&dir).display()
    );
    zip
}

/// Unzips `zip` into `root`, restoring the executable bits.
fn unzip(zip: &Path, root: &Path) {
    for entry in archive::read_zip(zip).unwrap_or_else(|e| panic!("{}: {e:#}", zip.display())) {
        let path = root.join(&entry.name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &entry.data).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = if entry.executable { 0o755 } else { 0o644 };
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        }
    }
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The started custom handler; killed (by its PID) when dropped, also when
/// the test panics.
struct Running {
    child: Child,
    logs: PathBuf,
}

impl Running {
    fn logs(&self) -> String {
        std::fs::read_to_string(&self.logs).unwrap_or_default()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts what host.json's `customHandler` says, as the host does: in the
/// package root (its `workingDirectory`), with the app settings and the port.
fn start(root: &Path, settings: &[(&str, String)], logs: PathBuf) -> (Running, String) {
    let host = read_json(&root.join("host.json"));
    let description = &host["customHandler"]["description"];
    let exe = description["defaultExecutablePath"].as_str().unwrap();
    let cwd = root.join(description["workingDirectory"].as_str().unwrap_or(""));
    let port = free_port();
    let out = std::fs::File::create(&logs).unwrap();
    let child = Command::new(root.join(exe))
        .current_dir(cwd)
        .env_clear()
        .env("FUNCTIONS_CUSTOMHANDLER_PORT", port.to_string())
        .envs(settings.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap_or_else(|e| panic!("start {}/{exe}: {e}", root.display()));
    let mut running = Running { child, logs };
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = running.child.try_wait().unwrap() {
            panic!("{exe} exited with {status}:\n{}", running.logs());
        }
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{exe} does not listen on {port}:\n{}",
            running.logs()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (running, format!("http://127.0.0.1:{port}"))
}

/// The namespace the package's Service Bus triggers read: the topic and
/// subscription of `erp-sync/function.json` (filtered on the types it
/// consumes, as `main.bicep` does) and audit-log's.
async fn namespace(topic: &str, erp_sync: &str, audit: &str) -> ServiceBusFake {
    let fake = ServiceBusFake::start(&switchyard_testkit::unique_name("package")).await;
    fake.add_rule("switchyard-send", "send-key-for-tests", &[Right::Send]);
    fake.create_topic(topic, TopicOptions::default());
    let settings = ReceiveSettings {
        max_delivery_count: 5,
        lock_duration: Duration::from_secs(30),
        dead_lettering_on_message_expiration: true,
        default_message_time_to_live: None,
    };
    fake.create_subscription(
        topic,
        erp_sync,
        settings.clone(),
        &[("$Default", Filter::type_is("order.placed"))],
    )
    .unwrap();
    fake.create_subscription(
        topic,
        audit,
        settings,
        &[("$Default", Filter::type_is("erp.order-synced"))],
    )
    .unwrap();
    fake
}

/// The recorded HTTP invocation at `path`, re-signed now.
fn webhook_invocation(path: &str) -> Value {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../functions/azure-app/tests/fixtures/functions-host-http-standard-webhook.json");
    let mut inv = read_json(&fixture);
    let req = &mut inv["Data"]["req"];
    req["Url"] = Value::from(format!("https://switchyard-func.azurewebsites.net{path}"));
    let body = req["Body"].as_str().unwrap().to_owned();
    let key = base64::engine::general_purpose::STANDARD
        .decode(STANDARD_KEY_B64)
        .unwrap();
    let ts = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let id = "msg_package_check";
    let sig = switchyard_webhooks::standard::sign(&key, id, ts, body.as_bytes());
    req["Headers"]["webhook-id"] = json!([id]);
    req["Headers"]["webhook-timestamp"] = json!([ts.to_string()]);
    req["Headers"]["webhook-signature"] = json!([sig]);
    inv
}

/// The Service Bus trigger's request for `m`, with the host's quirks
/// (strings JSON-encoded a second time, numbers as strings).
fn servicebus_invocation(
    binding: &str,
    function: &str,
    m: &switchyard_testkit::servicebus_fake::FakeMessage,
) -> Value {
    let q = |s: &str| Value::from(serde_json::to_string(s).unwrap());
    let opt = |s: &Option<String>| s.as_deref().map_or(Value::Null, q);
    let props: Map<String, Value> = m.properties.clone().into_iter().collect();
    let mut data = Map::new();
    data.insert(binding.to_owned(), Value::from(m.body.clone()));
    json!({
        "Data": data,
        "Metadata": {
            "DeliveryCount": (m.delivery_count + 1).to_string(),
            "MessageId": q(&m.message_id),
            "ContentType": opt(&m.content_type),
            "SequenceNumber": m.sequence_number.to_string(),
            "CorrelationId": opt(&m.correlation_id),
            "Label": opt(&m.label),
            "UserProperties": props.clone(),
            "ApplicationProperties": props,
            "sys": {
                "MethodName": function,
                "UtcNow": "2026-12-01T12:00:00Z",
                "RandGuid": "00000000-0000-4000-8000-000000000000",
            },
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_packaged_function_app_serves_a_webhook_and_a_service_bus_message() {
    let zip = package_zip();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("wwwroot");
    unzip(&zip, &root);
    // The folder next to the zip holds the same files.
    let folder = zip.with_file_name("functionapp");
    for entry in archive::read_zip(&zip).unwrap() {
        let path = folder.join(&entry.name);
        let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(
            data == entry.data,
            "{} differs from the zip",
            path.display()
        );
    }

    let host = read_json(&root.join("host.json"));
    let crm = read_json(&root.join("crm-webhook/function.json"));
    let erp = read_json(&root.join("erp-sync/function.json"));
    let audit = read_json(&root.join("audit-log/function.json"));
    let http = &crm["bindings"][0];
    assert_eq!(http["type"], "httpTrigger", "{crm}");
    assert!(
        http["methods"].as_array().unwrap().contains(&json!("post")),
        "{crm}"
    );
    let sb = &erp["bindings"][0];
    assert_eq!(sb["type"], "serviceBusTrigger", "{erp}");
    let topic = sb["topicName"].as_str().unwrap();
    let subscription = sb["subscriptionName"].as_str().unwrap();
    let audit_subscription = audit["bindings"][0]["subscriptionName"].as_str().unwrap();

    let fake = namespace(topic, subscription, audit_subscription).await;
    let erp_stub = ErpStub::start().await;
    let settings = [
        ("ERP_BASE_URL", erp_stub.base_url()),
        ("SWITCHYARD_IDEMPOTENCY", "memory".to_owned()),
        (
            "SERVICEBUS_CONNECTION_STRING",
            fake.connection_string("switchyard-send").unwrap(),
        ),
        ("SERVICEBUS_ENTITY", topic.to_owned()),
        ("SERVICEBUS_ENDPOINT_URL", fake.endpoint_url()),
        ("PUBLISH_MAX_ATTEMPTS", "1".to_owned()),
        (
            "ERP_SYNC__SWITCHYARD_SERVICEBUS_SOURCE",
            format!("{topic}/subscriptions/{subscription}"),
        ),
        (
            "AUDIT_LOG__SWITCHYARD_SERVICEBUS_SOURCE",
            format!("{topic}/subscriptions/{audit_subscription}"),
        ),
        (
            "AUDIT_STORE",
            format!("file:{}", dir.path().join("audit.redb").display()),
        ),
        (
            "SWITCHYARD_STANDARD_WEBHOOK_SECRET",
            STANDARD_SECRET.to_owned(),
        ),
    ];
    let (running, base_url) = start(&root, &settings, dir.path().join("azure-app.log"));
    let client = reqwest::Client::new();

    // HTTP trigger: the host's URL is /<routePrefix>/<route>.
    let prefix = host["extensions"]["http"]["routePrefix"].as_str().unwrap();
    let route = http["route"]
        .as_str()
        .unwrap()
        .replace("{provider}", "standard");
    let answer = client
        .post(format!("{base_url}/crm-webhook"))
        .json(&webhook_invocation(&format!("/{prefix}/{route}")))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200, "{}", running.logs());
    let body: Value = answer.json().await.unwrap();
    let output = crm["bindings"][1]["name"].as_str().unwrap();
    let res = &body["Outputs"][output];
    assert_eq!(res["statusCode"], 202, "{body}\n{}", running.logs());
    let published: Value = serde_json::from_str(res["body"].as_str().unwrap()).unwrap();
    assert_eq!(published["status"], "published", "{published}");
    assert!(
        body["Logs"].as_array().is_some_and(|l| !l.is_empty()),
        "{body}"
    );
    assert_eq!(body["ReturnValue"], Value::Null);

    // Service Bus trigger: the message crm-webhook published, as the host
    // delivers it to erp-sync under the binding's name.
    let path = format!("{topic}/subscriptions/{subscription}");
    let messages = fake.messages(&path);
    assert_eq!(messages.len(), 1, "{}", running.logs());
    let binding = sb["name"].as_str().unwrap();
    let answer = client
        .post(format!("{base_url}/erp-sync"))
        .json(&servicebus_invocation(binding, "erp-sync", &messages[0]))
        .send()
        .await
        .unwrap();
    let status = answer.status();
    let body: Value = answer.json().await.unwrap();
    assert_eq!(status, 200, "{body}\n{}", running.logs());
    assert_eq!(body["Outputs"], json!({}), "{body}");
    assert!(body["Logs"].is_array(), "{body}");
    assert_eq!(body["ReturnValue"], Value::Null);
    let orders = erp_stub.accepted();
    assert_eq!(orders.len(), 1, "{orders:?}");
    assert_eq!(orders[0].id, "O-1001");
    let synced = fake.messages(&format!("{topic}/subscriptions/{audit_subscription}"));
    assert_eq!(
        synced.len(),
        1,
        "erp.order-synced reaches audit-log's subscription"
    );
    assert_eq!(synced[0].property("type"), Some("erp.order-synced"));
    drop(running);
}
