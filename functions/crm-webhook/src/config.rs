//! crm-webhook's settings, read from the environment (documented in
//! README.md). Secret values are never part of an error message.

use std::collections::HashMap;
use std::time::Duration;

use http::HeaderName;
use switchyard_config::Settings;
use switchyard_contracts::Currency;
use switchyard_contracts::catalog::known_versions;
use switchyard_secrets::SecretResolver;
use switchyard_webhooks::cloudevents::{AllowedOrigins, AllowedRate, CloudEventsAuth};
use switchyard_webhooks::dynamics::{DEFAULT_KEY_HEADER, DynamicsAuth};
use switchyard_webhooks::hubspot::HubSpotAuth;
use switchyard_webhooks::salesforce::SalesforceAuth;
use switchyard_webhooks::standard::StandardAuth;
use switchyard_webhooks::stripe::StripeAuth;
use switchyard_webhooks::{InvalidSecret, MapOptions, Secrets};

use crate::keys::Keys;

/// The default body limit: 1 MiB.
pub const DEFAULT_BODY_LIMIT_BYTES: usize = 1024 * 1024;
/// The default dedupe window: 3 days, HubSpot's retry horizon (Salesforce
/// retries for 24 hours, Dynamics for minutes).
pub const DEFAULT_DEDUPE_SECS: u64 = 3 * 24 * 3600;
/// The default claim time of one delivery (a Lambda invocation's timeout).
pub const DEFAULT_CLAIM_SECS: u64 = 30;

pub use switchyard_config::ConfigError;

/// A pass-through provider (Standard Webhooks, Stripe-style): its secrets
/// and the contract type a wrapper's payload is read as when the sender's
/// type is not a contract type.
#[derive(Debug, Clone)]
pub struct PassThroughConfig<A> {
    /// The verified secrets.
    pub auth: A,
    /// `SWITCHYARD_*_WEBHOOK_EVENT_TYPE`, e.g. `order.placed`.
    pub event_type: Option<String>,
}

/// The providers with a secret; `None` answers 404. Each secret is a
/// plain list or a secret store reference ([`Keys`]: re-read after the TTL).
#[derive(Debug, Clone, Default)]
pub struct Providers {
    /// `/webhooks/dynamics`.
    pub dynamics: Option<Keys<DynamicsAuth>>,
    /// `/webhooks/hubspot`.
    pub hubspot: Option<Keys<HubSpotAuth>>,
    /// `/webhooks/salesforce` (org ids are no secret).
    pub salesforce: Option<SalesforceAuth>,
    /// `/webhooks/standard`.
    pub standard: Option<PassThroughConfig<Keys<StandardAuth>>>,
    /// `/webhooks/stripe`.
    pub stripe: Option<PassThroughConfig<Keys<StripeAuth>>>,
    /// `/webhooks/cloudevents`.
    pub cloudevents: Option<Keys<CloudEventsAuth>>,
}

impl Providers {
    /// Reads every referenced secret once and builds its verifier, so that
    /// a missing or malformed secret fails the start-up.
    ///
    /// # Errors
    /// [`ConfigError`] naming the variable and the reference.
    pub async fn check(&self) -> Result<(), ConfigError> {
        if let Some(k) = &self.dynamics {
            k.check().await?;
        }
        if let Some(k) = &self.hubspot {
            k.check().await?;
        }
        if let Some(p) = &self.standard {
            p.auth.check().await?;
        }
        if let Some(p) = &self.stripe {
            p.auth.check().await?;
        }
        if let Some(k) = &self.cloudevents {
            k.check().await?;
        }
        Ok(())
    }
}

/// `var`'s keys, when set.
fn keys<A: Send + Sync + 'static>(
    settings: &Settings,
    secrets: &SecretResolver,
    var: &str,
    parse: impl Fn(&str) -> Result<A, InvalidSecret> + Send + Sync + 'static,
) -> Result<Option<Keys<A>>, ConfigError> {
    match secrets.secret(settings, var)? {
        None => Ok(None),
        Some(secret) => Keys::new(secret, parse).map(Some),
    }
}

/// Every setting of crm-webhook.
#[derive(Debug, Clone)]
pub struct Config {
    /// The verified provider settings.
    pub providers: Providers,
    /// What the CRM payloads cannot say (currencies).
    pub map_options: MapOptions,
    /// `SWITCHYARD_WEBHOOK_BODY_LIMIT_BYTES` (default 1 MiB).
    pub body_limit_bytes: usize,
    /// `SWITCHYARD_PUBLIC_BASE_URL`: the URL the CRM calls, for schemes that sign the URI.
    pub public_base_url: Option<String>,
    /// `SWITCHYARD_WEBHOOK_CLAIM_SECS` (default 30).
    pub claim_ttl: Duration,
}

fn number<T: std::str::FromStr>(
    settings: &Settings,
    var: &str,
    default: T,
) -> Result<T, ConfigError> {
    match settings.optional(var) {
        None => Ok(default),
        Some(v) => v.parse().map_err(|_| {
            ConfigError::invalid(
                settings.source_of(var),
                format!("{v:?} is not a positive whole number"),
            )
        }),
    }
}

fn event_type(settings: &Settings, var: &str) -> Result<Option<String>, ConfigError> {
    match settings.optional(var) {
        None => Ok(None),
        Some(t) if known_versions(&t).is_empty() => Err(ConfigError::invalid(
            settings.source_of(var),
            format!("{t:?} is not a contract event type"),
        )),
        Some(t) => Ok(Some(t)),
    }
}

impl Config {
    /// Reads every setting, secrets as plain values (a secret store
    /// reference is refused, naming the variable). Secret values are never
    /// part of an error.
    ///
    /// # Errors
    /// [`ConfigError`] naming the first missing or malformed variable.
    pub fn from_settings(settings: &Settings) -> Result<Self, ConfigError> {
        Self::read(settings, &SecretResolver::plain_only())
    }

    /// Reads every setting; a secret may be a reference `secrets` resolves
    /// (`secretsmanager:..`, `ssm:..`), read once now and re-read after the
    /// TTL by the requests that verify with it.
    ///
    /// # Errors
    /// [`ConfigError`] naming the first missing or malformed variable, or
    /// the secret that cannot be read (and its reference).
    pub async fn load(settings: &Settings, secrets: &SecretResolver) -> Result<Self, ConfigError> {
        let config = Self::read(settings, secrets)?;
        config.providers.check().await?;
        Ok(config)
    }

    fn read(settings: &Settings, secrets: &SecretResolver) -> Result<Self, ConfigError> {
        let invalid = |var: &str, reason: &dyn std::fmt::Display| {
            ConfigError::invalid(settings.source_of(var), reason)
        };
        let mut providers = Providers::default();
        if settings
            .optional("SWITCHYARD_DYNAMICS_WEBHOOK_KEY")
            .is_some()
        {
            let header = settings
                .optional("SWITCHYARD_DYNAMICS_WEBHOOK_HEADER")
                .unwrap_or_else(|| DEFAULT_KEY_HEADER.to_owned());
            let header = HeaderName::try_from(header.to_ascii_lowercase()).map_err(|_| {
                invalid(
                    "SWITCHYARD_DYNAMICS_WEBHOOK_HEADER",
                    &"not a valid HTTP header name",
                )
            })?;
            providers.dynamics = keys(
                settings,
                secrets,
                "SWITCHYARD_DYNAMICS_WEBHOOK_KEY",
                move |list| {
                    Ok(DynamicsAuth {
                        header: header.clone(),
                        keys: Secrets::parse_plain(list)?,
                    })
                },
            )?;
        }
        if settings
            .optional("SWITCHYARD_HUBSPOT_CLIENT_SECRET")
            .is_some()
        {
            let accept_legacy = match settings
                .optional("SWITCHYARD_HUBSPOT_ACCEPT_LEGACY_SIGNATURES")
                .as_deref()
            {
                None | Some("false") => false,
                Some("true") => true,
                Some(_) => {
                    return Err(invalid(
                        "SWITCHYARD_HUBSPOT_ACCEPT_LEGACY_SIGNATURES",
                        &"expected true or false",
                    ));
                }
            };
            providers.hubspot = keys(
                settings,
                secrets,
                "SWITCHYARD_HUBSPOT_CLIENT_SECRET",
                move |list| {
                    Ok(HubSpotAuth {
                        secrets: Secrets::parse_plain(list)?,
                        accept_legacy,
                    })
                },
            )?;
        }
        if let Some(ids) = settings.optional("SWITCHYARD_SALESFORCE_ORG_IDS") {
            providers.salesforce = Some(
                SalesforceAuth::parse(&ids)
                    .map_err(|e| invalid("SWITCHYARD_SALESFORCE_ORG_IDS", &e))?,
            );
        }
        if let Some(auth) = keys(
            settings,
            secrets,
            "SWITCHYARD_STANDARD_WEBHOOK_SECRET",
            StandardAuth::parse,
        )? {
            providers.standard = Some(PassThroughConfig {
                auth,
                event_type: event_type(settings, "SWITCHYARD_STANDARD_WEBHOOK_EVENT_TYPE")?,
            });
        }
        if let Some(auth) = keys(
            settings,
            secrets,
            "SWITCHYARD_STRIPE_WEBHOOK_SECRET",
            |list| {
                Ok(StripeAuth {
                    secrets: Secrets::parse_plain(list)?,
                })
            },
        )? {
            providers.stripe = Some(PassThroughConfig {
                auth,
                event_type: event_type(settings, "SWITCHYARD_STRIPE_WEBHOOK_EVENT_TYPE")?,
            });
        }
        if settings
            .optional("SWITCHYARD_CLOUDEVENTS_WEBHOOK_TOKEN")
            .is_some()
        {
            let rate = match settings.optional("SWITCHYARD_CLOUDEVENTS_ALLOWED_RATE") {
                None => AllowedRate::Unlimited,
                Some(r) => AllowedRate::parse(&r)
                    .map_err(|e| invalid("SWITCHYARD_CLOUDEVENTS_ALLOWED_RATE", &e))?,
            };
            let origins = AllowedOrigins::parse(
                &settings
                    .optional("SWITCHYARD_CLOUDEVENTS_ALLOWED_ORIGINS")
                    .unwrap_or_default(),
            );
            providers.cloudevents = keys(
                settings,
                secrets,
                "SWITCHYARD_CLOUDEVENTS_WEBHOOK_TOKEN",
                move |list| {
                    Ok(CloudEventsAuth {
                        origins: origins.clone(),
                        rate,
                        ..CloudEventsAuth::parse(list)?
                    })
                },
            )?;
        }
        if providers.dynamics.is_none()
            && providers.hubspot.is_none()
            && providers.salesforce.is_none()
            && providers.standard.is_none()
            && providers.stripe.is_none()
            && providers.cloudevents.is_none()
        {
            return Err(ConfigError::missing(
                "SWITCHYARD_DYNAMICS_WEBHOOK_KEY, SWITCHYARD_HUBSPOT_CLIENT_SECRET, SWITCHYARD_SALESFORCE_ORG_IDS, SWITCHYARD_STANDARD_WEBHOOK_SECRET, SWITCHYARD_STRIPE_WEBHOOK_SECRET or SWITCHYARD_CLOUDEVENTS_WEBHOOK_TOKEN",
                "no webhook provider is configured: set at least one, or every route answers 404",
            ));
        }
        let public_base_url = settings.optional("SWITCHYARD_PUBLIC_BASE_URL");
        if let Some(url) = &public_base_url {
            if !(url.starts_with("https://") || url.starts_with("http://")) || url.contains('?') {
                return Err(invalid(
                    "SWITCHYARD_PUBLIC_BASE_URL",
                    &"expected scheme://host[:port][/path], without a query",
                ));
            }
        }
        let body_limit_bytes = number(
            settings,
            "SWITCHYARD_WEBHOOK_BODY_LIMIT_BYTES",
            DEFAULT_BODY_LIMIT_BYTES,
        )?;
        if body_limit_bytes == 0 {
            return Err(invalid(
                "SWITCHYARD_WEBHOOK_BODY_LIMIT_BYTES",
                &"must be positive",
            ));
        }
        Ok(Config {
            providers,
            map_options: MapOptions {
                default_currency: match settings.optional("SWITCHYARD_DEFAULT_CURRENCY") {
                    None => None,
                    Some(c) => Some(
                        c.parse::<Currency>()
                            .map_err(|e| invalid("SWITCHYARD_DEFAULT_CURRENCY", &e))?,
                    ),
                },
                dynamics_currencies: dynamics_currencies(settings)?,
            },
            body_limit_bytes,
            public_base_url,
            claim_ttl: Duration::from_secs(
                number(
                    settings,
                    "SWITCHYARD_WEBHOOK_CLAIM_SECS",
                    DEFAULT_CLAIM_SECS,
                )?
                .max(1),
            ),
        })
    }
}

/// `<transactioncurrencyid>=<ISO>,...`.
fn dynamics_currencies(settings: &Settings) -> Result<HashMap<String, Currency>, ConfigError> {
    const VAR: &str = "SWITCHYARD_DYNAMICS_CURRENCIES";
    let invalid =
        |reason: &dyn std::fmt::Display| ConfigError::invalid(settings.source_of(VAR), reason);
    let list = settings.optional(VAR);
    let mut map = HashMap::new();
    for entry in list
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
    {
        let (id, code) = entry
            .split_once('=')
            .ok_or_else(|| invalid(&format!("{entry:?} is not <currency id>=<ISO code>")))?;
        let currency = code.trim().parse::<Currency>().map_err(|e| invalid(&e))?;
        map.insert(id.trim().to_ascii_lowercase(), currency);
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_settings(&Settings::from_fn(move |k| vars.get(k).cloned()))
    }

    #[test]
    fn no_provider_is_an_error_naming_the_variables() {
        let err = config(&[("SWITCHYARD_IDEMPOTENCY", "memory")]).unwrap_err();
        assert!(
            err.to_string().contains("SWITCHYARD_HUBSPOT_CLIENT_SECRET"),
            "{err}"
        );
    }

    #[test]
    fn malformed_values_are_named_without_echoing_secrets() {
        let err = config(&[
            ("SWITCHYARD_IDEMPOTENCY", "memory"),
            ("SWITCHYARD_STANDARD_WEBHOOK_SECRET", "whsec_not*base64"),
        ])
        .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("SWITCHYARD_STANDARD_WEBHOOK_SECRET") && !text.contains("not*base64"),
            "{text}"
        );
        for (var, val) in [
            ("SWITCHYARD_WEBHOOK_BODY_LIMIT_BYTES", "lots"),
            ("SWITCHYARD_DEFAULT_CURRENCY", "EURO"),
            ("SWITCHYARD_DYNAMICS_CURRENCIES", "abc"),
            ("SWITCHYARD_PUBLIC_BASE_URL", "hooks.example.com"),
            ("SWITCHYARD_STRIPE_WEBHOOK_EVENT_TYPE", "order.cancelled"),
            ("SWITCHYARD_HUBSPOT_ACCEPT_LEGACY_SIGNATURES", "yes"),
            ("SWITCHYARD_CLOUDEVENTS_ALLOWED_RATE", "fast"),
        ] {
            let err = config(&[
                ("SWITCHYARD_IDEMPOTENCY", "memory"),
                ("SWITCHYARD_STRIPE_WEBHOOK_SECRET", "s"),
                ("SWITCHYARD_HUBSPOT_CLIENT_SECRET", "h"),
                ("SWITCHYARD_CLOUDEVENTS_WEBHOOK_TOKEN", "t"),
                (var, val),
            ])
            .unwrap_err();
            assert!(err.to_string().contains(var), "{var}: {err}");
        }
    }

    #[test]
    fn a_full_config_reads() {
        let c = config(&[
            ("SWITCHYARD_IDEMPOTENCY", "dynamodb:idem"),
            ("SWITCHYARD_DYNAMICS_WEBHOOK_KEY", "k1,k2"),
            ("SWITCHYARD_DYNAMICS_WEBHOOK_HEADER", "X-Contoso-Key"),
            ("SWITCHYARD_HUBSPOT_CLIENT_SECRET", "a,b"),
            ("SWITCHYARD_SALESFORCE_ORG_IDS", "00D5e000000AbCdEAF"),
            (
                "SWITCHYARD_STANDARD_WEBHOOK_SECRET",
                "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
            ),
            ("SWITCHYARD_STRIPE_WEBHOOK_SECRET", "whsec_x"),
            ("SWITCHYARD_STRIPE_WEBHOOK_EVENT_TYPE", "order.placed"),
            ("SWITCHYARD_CLOUDEVENTS_WEBHOOK_TOKEN", "t1,t2"),
            (
                "SWITCHYARD_CLOUDEVENTS_ALLOWED_ORIGINS",
                "eventgrid.azure.net",
            ),
            ("SWITCHYARD_CLOUDEVENTS_ALLOWED_RATE", "100"),
            ("SWITCHYARD_PUBLIC_BASE_URL", "https://hooks.example.com"),
            ("SWITCHYARD_WEBHOOK_BODY_LIMIT_BYTES", "2048"),
            (
                "SWITCHYARD_DYNAMICS_CURRENCIES",
                "0B6C3F1E-1C2B-E711-8118-000D3A1A0E11=EUR",
            ),
        ])
        .unwrap();
        assert_eq!(
            c.providers
                .dynamics
                .as_ref()
                .and_then(|d| d.now())
                .map(|d| d.header.as_str().to_owned())
                .as_deref(),
            Some("x-contoso-key")
        );
        assert_eq!(
            c.providers
                .hubspot
                .as_ref()
                .and_then(|h| h.now())
                .map(|h| h.secrets.len()),
            Some(2)
        );
        assert_eq!(c.body_limit_bytes, 2048);
        assert!(
            c.map_options
                .dynamics_currencies
                .contains_key("0b6c3f1e-1c2b-e711-8118-000d3a1a0e11")
        );
        assert_eq!(
            c.providers.stripe.and_then(|s| s.event_type).as_deref(),
            Some("order.placed")
        );
        assert!(!format!("{:?}", c.providers.hubspot).contains("\"a\""));
        let ce = c.providers.cloudevents.as_ref().unwrap().now().unwrap();
        assert_eq!(ce.tokens.len(), 2);
        assert_eq!(ce.rate, AllowedRate::PerMinute(100));
        assert_eq!(
            ce.origins,
            AllowedOrigins::List(vec!["eventgrid.azure.net".into()])
        );
    }
}
