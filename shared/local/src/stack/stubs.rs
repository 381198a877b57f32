//! The systems around the integration, stood in for by the stack: the ERP
//! (`/_erp`), an OAuth 2.0 token endpoint (`/_oauth`, Entra ID v2 form),
//! the Dataverse Web API (`/_dataverse`), HubSpot (`/_hubspot`) and
//! Salesforce (`/_salesforce`, with its own token endpoint). The settings
//! that point the functions at them are fallbacks: the environment wins,
//! so a real CRM or ERP can be used instead.

use std::sync::Arc;

use axum::Router;
use switchyard_config::Settings;

use crate::crm::{DataverseState, HubSpotState, SalesforceState};
use crate::erp::ErpState;
use crate::oauth::OAuthState;

/// The Entra ID tenant of the local token endpoint.
pub const LOCAL_TENANT: &str = "local";

/// The OAuth clients the local token endpoint knows: (client id, secret).
const CLIENTS: &[(&str, &str)] = &[
    ("local-erp-sync", "local-erp-secret"),
    ("local-dataverse-app", "local-dataverse-secret"),
    ("local-salesforce-app", "local-salesforce-secret"),
];

/// The HubSpot private app token the local HubSpot accepts.
const HUBSPOT_TOKEN: &str = "local-hubspot-token";

/// The settings pointing the functions at the stubs of the stack at `base`
/// (`http://127.0.0.1:<port>`); the ERP's credentials only when the ERP is
/// the built-in stub.
pub(crate) fn fallbacks(base: &str, builtin_erp: bool) -> Vec<(&'static str, String)> {
    let token_url = format!("{base}/_oauth/{LOCAL_TENANT}/oauth2/v2.0/token");
    let mut out = vec![
        ("DATAVERSE_URL", format!("{base}/_dataverse")),
        ("DATAVERSE_CLIENT_ID", CLIENTS[1].0.to_owned()),
        ("DATAVERSE_CLIENT_SECRET", CLIENTS[1].1.to_owned()),
        ("DATAVERSE_TOKEN_URL", token_url.clone()),
        ("HUBSPOT_URL", format!("{base}/_hubspot")),
        ("HUBSPOT_ACCESS_TOKEN", HUBSPOT_TOKEN.to_owned()),
        // its token endpoint defaults to {SALESFORCE_URL}/services/oauth2/token
        ("SALESFORCE_URL", format!("{base}/_salesforce")),
        ("SALESFORCE_CLIENT_ID", CLIENTS[2].0.to_owned()),
        ("SALESFORCE_CLIENT_SECRET", CLIENTS[2].1.to_owned()),
    ];
    if builtin_erp {
        out.extend([
            ("ERP_CLIENT_ID", CLIENTS[0].0.to_owned()),
            ("ERP_CLIENT_SECRET", CLIENTS[0].1.to_owned()),
            ("ERP_TOKEN_URL", token_url),
            ("ERP_SCOPE", "api://local-erp/.default".to_owned()),
        ]);
    }
    out
}

/// The stubs' records, shared with the stack's handle.
#[derive(Clone)]
pub(crate) struct Stubs {
    pub(crate) erp: ErpState,
    pub(crate) oauth: OAuthState,
    pub(crate) dataverse: DataverseState,
    pub(crate) hubspot: HubSpotState,
    pub(crate) salesforce: SalesforceState,
}

impl Stubs {
    /// The stubs, accepting only the tokens the functions are configured
    /// with (`settings`: the effective settings, before per-function scoping).
    pub(crate) fn new(settings: &Settings, base: &str) -> Stubs {
        let oauth = OAuthState::new();
        for (id, secret) in CLIENTS {
            oauth.register_secret(id, secret);
        }
        let issued = |oauth: &OAuthState| -> crate::crm::TokenCheck {
            let oauth = oauth.clone();
            Arc::new(move |token: &str| oauth.accepts(token))
        };
        let erp = ErpState::new();
        // the built-in ERP asks for tokens when erp-sync is set to fetch them here
        let local_tokens = format!("{base}/_oauth/");
        if settings
            .scoped("erp-sync")
            .optional("ERP_TOKEN_URL")
            .is_some_and(|url| url.starts_with(&local_tokens))
        {
            erp.require_tokens(issued(&oauth));
        }
        let hubspot_token = settings
            .scoped("crm-writeback")
            .optional("HUBSPOT_ACCESS_TOKEN")
            .unwrap_or_else(|| HUBSPOT_TOKEN.to_owned());
        Stubs {
            dataverse: DataverseState::new().with_token_check(issued(&oauth)),
            salesforce: SalesforceState::new().with_token_check(issued(&oauth)),
            hubspot: HubSpotState::new()
                .with_token_check(Arc::new(move |token: &str| token == hubspot_token)),
            erp,
            oauth,
        }
    }

    /// Their routes, to merge into the stack's server.
    pub(crate) fn router(&self) -> Router {
        Router::new()
            .nest("/_erp", self.erp.router())
            .nest("/_oauth", self.oauth.router())
            .nest("/_dataverse", self.dataverse.router())
            .nest("/_hubspot", self.hubspot.router())
            .nest(
                "/_salesforce",
                self.salesforce.router().merge(self.oauth.router()),
            )
    }
}
