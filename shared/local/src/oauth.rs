//! The OAuth 2.0 token endpoint stub of the local stack (and of tests):
//! client-credentials grants as Entra ID v2 and Salesforce answer them,
//! and a record of the tokens it issued so a resource stub can check them.
//!
//! `POST /{tenant}/oauth2/v2.0/token` (Entra ID v2): a registered client's
//! `client_secret`, or a `client_assertion` (RS256 JWT, RFC 7523) signed by
//! a registered certificate's key; success is
//! `{"token_type":"Bearer","expires_in":N,"ext_expires_in":N,"access_token":..}`,
//! errors carry Entra's `error`, `error_description` (with its AADSTS code),
//! `error_codes`, `timestamp`, `trace_id`, `correlation_id`, with 400, or
//! 401 for `invalid_client`.
//!
//! `POST /services/oauth2/token` (Salesforce's client-credentials flow):
//! success has `access_token`, `instance_url`, `id`, `token_type`,
//! `issued_at`, `signature` and no `expires_in`; errors are
//! `{"error":..,"error_description":..}` with 400.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_lc_rs::digest;
use axum::Router;
use axum::routing::post;

mod entra;
mod salesforce;

struct Certificate {
    thumbprint_sha256: [u8; 32],
    public_key_der: Vec<u8>,
}

struct Records {
    secrets: HashMap<String, String>,
    certificates: HashMap<String, Certificate>,
    /// token → when it expires
    issued: HashMap<String, Instant>,
    lifetime: Duration,
    unavailable: bool,
    requests: usize,
}

impl Default for Records {
    fn default() -> Self {
        Records {
            secrets: HashMap::new(),
            certificates: HashMap::new(),
            issued: HashMap::new(),
            lifetime: Duration::from_secs(3599),
            unavailable: false,
            requests: 0,
        }
    }
}

/// The stub's routes and records, to mount in another server. Clones share
/// the records.
#[derive(Clone, Default)]
pub struct OAuthState {
    records: Arc<Mutex<Records>>,
}

impl OAuthState {
    /// New records: no client, tokens valid for 3599 s.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Records> {
        self.records.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The routes: `POST /{tenant}/oauth2/v2.0/token` and
    /// `POST /services/oauth2/token`.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/{tenant}/oauth2/v2.0/token", post(entra::token))
            .route("/services/oauth2/token", post(salesforce::token))
            .with_state(self.clone())
    }

    /// `client_id` authenticates with `secret`.
    pub fn register_secret(&self, client_id: &str, secret: &str) {
        self.lock()
            .secrets
            .insert(client_id.to_owned(), secret.to_owned());
    }

    /// `client_id` authenticates with assertions signed by the key of
    /// `certificate_der` (its SHA-256 thumbprint is expected in `x5t#S256`),
    /// whose public key is `public_key_der` (SubjectPublicKeyInfo or PKCS#1).
    pub fn register_certificate(
        &self,
        client_id: &str,
        certificate_der: &[u8],
        public_key_der: &[u8],
    ) {
        let mut thumbprint_sha256 = [0u8; 32];
        thumbprint_sha256
            .copy_from_slice(digest::digest(&digest::SHA256, certificate_der).as_ref());
        self.lock().certificates.insert(
            client_id.to_owned(),
            Certificate {
                thumbprint_sha256,
                public_key_der: public_key_der.to_vec(),
            },
        );
    }

    /// Tokens issued from now on are valid for `lifetime`.
    pub fn set_lifetime(&self, lifetime: Duration) {
        self.lock().lifetime = lifetime;
    }

    /// While `true`, every token request is answered 503.
    pub fn set_unavailable(&self, unavailable: bool) {
        self.lock().unavailable = unavailable;
    }

    /// True when `token` was issued here, is not revoked and has not expired.
    pub fn accepts(&self, token: &str) -> bool {
        self.lock()
            .issued
            .get(token)
            .is_some_and(|expires| Instant::now() < *expires)
    }

    /// Revokes every token issued so far.
    pub fn revoke_all(&self) {
        self.lock().issued.clear();
    }

    /// How many token requests arrived (answered or refused).
    pub fn requests(&self) -> usize {
        self.lock().requests
    }

    fn issue(&self) -> (String, Duration) {
        let mut records = self.lock();
        let token = format!("stub-{}", uuid::Uuid::new_v4().simple());
        let lifetime = records.lifetime;
        records
            .issued
            .insert(token.clone(), Instant::now() + lifetime);
        (token, lifetime)
    }
}

impl crate::stub::StubState for OAuthState {
    const NAME: &'static str = "OAuth";

    fn router(&self) -> Router {
        OAuthState::router(self)
    }
}

/// The token endpoint stub on its own port; derefs to its [`OAuthState`].
pub type OAuthStub = crate::stub::Stub<OAuthState>;

impl OAuthStub {
    /// The Entra ID v2 token URL of `tenant` on this stub.
    pub fn entra_token_url(&self, tenant: &str) -> String {
        format!("{}/{tenant}/oauth2/v2.0/token", self.base_url())
    }

    /// The Salesforce token URL on this stub.
    pub fn salesforce_token_url(&self) -> String {
        format!("{}/services/oauth2/token", self.base_url())
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

fn form(body: &[u8]) -> HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}
