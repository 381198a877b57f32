//! `ManagedIdentity` against an in-test identity endpoint that checks the
//! header and the query and answers as the App Service endpoint documents
//! it (`expires_on` as a string of unix seconds).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use switchyard_auth::{ManagedIdentity, ManagedIdentityConfig, TokenError, TokenSource};

const SECRET: &str = "identity-header-secret";
const RESOURCE: &str = "https://servicebus.azure.net";

#[derive(Clone)]
struct Endpoint {
    requests: Arc<AtomicU64>,
    /// Seconds from now each answered token expires in.
    lifetime_secs: u64,
    /// Answer this status instead of a token.
    fail: Option<StatusCode>,
    /// The client_id of the last request.
    client_ids: Arc<Mutex<Vec<Option<String>>>>,
}

async fn token(State(e): State<Endpoint>, headers: HeaderMap, uri: Uri) -> Response {
    let q: HashMap<String, String> = reqwest::Url::parse(&format!("http://endpoint{uri}"))
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    let n = e.requests.fetch_add(1, Ordering::SeqCst) + 1;
    e.client_ids
        .lock()
        .unwrap()
        .push(q.get("client_id").cloned());
    if headers
        .get("x-identity-header")
        .and_then(|v| v.to_str().ok())
        != Some(SECRET)
    {
        return (StatusCode::UNAUTHORIZED, "missing X-IDENTITY-HEADER").into_response();
    }
    if q.get("api-version").map(String::as_str) != Some("2019-08-01")
        || q.get("resource").map(String::as_str) != Some(RESOURCE)
    {
        return (StatusCode::BAD_REQUEST, "bad query").into_response();
    }
    if let Some(status) = e.fail {
        let body = serde_json::json!({"statusCode": status.as_u16(), "message": "no identity"});
        return (status, axum::Json(body)).into_response();
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    axum::Json(serde_json::json!({
        "access_token": format!("token-{n}"),
        "expires_on": (now + e.lifetime_secs).to_string(),
        "resource": RESOURCE,
        "token_type": "Bearer",
        "client_id": "00000000-0000-0000-0000-000000000001",
    }))
    .into_response()
}

async fn start(lifetime_secs: u64, fail: Option<StatusCode>) -> (String, Endpoint) {
    let endpoint = Endpoint {
        requests: Arc::new(AtomicU64::new(0)),
        lifetime_secs,
        fail,
        client_ids: Arc::new(Mutex::new(Vec::new())),
    };
    let app = axum::Router::new()
        .route("/msi/token", axum::routing::get(token))
        .with_state(endpoint.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/msi/token"), endpoint)
}

fn identity(url: &str, header: &str, client_id: Option<&str>) -> ManagedIdentity {
    ManagedIdentity::new(
        ManagedIdentityConfig {
            endpoint: url.to_owned(),
            header: header.to_owned(),
            resource: RESOURCE.to_owned(),
            client_id: client_id.map(str::to_owned),
        },
        reqwest::Client::new(),
    )
}

#[tokio::test]
async fn one_request_serves_many_callers() {
    let (url, endpoint) = start(3600, None).await;
    let mi = Arc::new(identity(&url, SECRET, None));
    let calls = (0..20).map(|_| {
        let mi = mi.clone();
        tokio::spawn(async move { mi.token().await.unwrap() })
    });
    for call in calls {
        assert_eq!(&*call.await.unwrap(), "token-1");
    }
    assert_eq!(&*mi.token().await.unwrap(), "token-1");
    assert_eq!(endpoint.requests.load(Ordering::SeqCst), 1);
    assert_eq!(mi.requests(), 1);
    assert_eq!(endpoint.client_ids.lock().unwrap()[0], None);
}

#[tokio::test]
async fn a_token_near_expiry_is_refreshed_and_an_invalidated_one_dropped() {
    // A 2 s token is reused, then replaced once it is (nearly) expired.
    let (url, endpoint) = start(2, None).await;
    let mi = identity(&url, SECRET, Some("user-assigned-id"));
    assert_eq!(&*mi.token().await.unwrap(), "token-1");
    assert_eq!(&*mi.token().await.unwrap(), "token-1");
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert_eq!(&*mi.token().await.unwrap(), "token-2");
    assert_eq!(endpoint.requests.load(Ordering::SeqCst), 2);
    assert_eq!(
        endpoint.client_ids.lock().unwrap()[0].as_deref(),
        Some("user-assigned-id")
    );

    let (url, endpoint) = start(3600, None).await;
    let mi: Arc<dyn TokenSource> = Arc::new(identity(&url, SECRET, None));
    let first = mi.token().await.unwrap();
    mi.invalidate("not-the-cached-one");
    assert_eq!(mi.token().await.unwrap(), first);
    mi.invalidate(&first);
    assert_eq!(&*mi.token().await.unwrap(), "token-2");
    assert_eq!(endpoint.requests.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_4xx_is_refused_and_a_5xx_unavailable() {
    let (url, _) = start(3600, Some(StatusCode::BAD_REQUEST)).await;
    let err = identity(&url, SECRET, None).token().await.unwrap_err();
    assert!(matches!(err, TokenError::Refused(_)), "{err}");
    assert!(!err.is_transient());
    assert!(err.to_string().contains("400"), "{err}");

    let (url, _) = start(3600, Some(StatusCode::INTERNAL_SERVER_ERROR)).await;
    let err = identity(&url, SECRET, None).token().await.unwrap_err();
    assert!(matches!(err, TokenError::Unavailable(_)), "{err}");
    assert!(err.is_transient());

    let (url, _) = start(3600, Some(StatusCode::TOO_MANY_REQUESTS)).await;
    let err = identity(&url, SECRET, None).token().await.unwrap_err();
    assert!(err.is_transient(), "{err}");

    // A wrong header secret is refused, and the message never repeats it.
    let (url, _) = start(3600, None).await;
    let err = identity(&url, "wrong-secret", None)
        .token()
        .await
        .unwrap_err();
    assert!(matches!(err, TokenError::Refused(_)), "{err}");
    assert!(!err.to_string().contains("wrong-secret"), "{err}");

    // Nobody listening: unavailable.
    let err = identity("http://127.0.0.1:9/msi/token", SECRET, None)
        .token()
        .await
        .unwrap_err();
    assert!(matches!(err, TokenError::Unavailable(_)), "{err}");
}
