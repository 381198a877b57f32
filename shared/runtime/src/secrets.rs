//! The AWS secret store: `secretsmanager:` references read from Secrets
//! Manager (`AWSCURRENT`, and `AWSPREVIOUS` while a rotation keeps it),
//! `ssm:` references from Parameter Store (with decryption). The trait and
//! the cache are `switchyard-secrets`'; this is its one SDK-bound part.

use std::error::Error as _;
use std::sync::Arc;

use aws_sdk_secretsmanager::error::{ProvideErrorMetadata, SdkError};
use switchyard_config::{ConfigError, Settings};
use switchyard_secrets::{SecretRef, SecretResolver, SecretStore, StoreError, Versions};

/// Secrets Manager and Parameter Store clients.
#[derive(Debug, Clone)]
pub struct AwsSecretStore {
    secrets: aws_sdk_secretsmanager::Client,
    parameters: aws_sdk_ssm::Client,
}

impl AwsSecretStore {
    /// Both clients from one SDK config (its endpoint, region and
    /// credentials: `AWS_ENDPOINT_URL` points them at an emulator).
    pub fn new(aws: &aws_config::SdkConfig) -> Self {
        AwsSecretStore {
            secrets: aws_sdk_secretsmanager::Client::new(aws),
            parameters: aws_sdk_ssm::Client::new(aws),
        }
    }
}

/// The Lambda host's resolver: [`AwsSecretStore`] with the TTL of
/// `SWITCHYARD_SECRETS_TTL_SECS`.
///
/// # Errors
/// [`ConfigError`] naming the TTL variable.
pub fn resolver(
    settings: &Settings,
    aws: &aws_config::SdkConfig,
) -> Result<SecretResolver, ConfigError> {
    SecretResolver::from_settings(settings, Arc::new(AwsSecretStore::new(aws)))
}

/// A store error from an SDK error: not found and access denied (IAM or
/// KMS) are permanent, throttling, 5xx and anything that never got an
/// answer are transient.
fn classify<E: ProvideErrorMetadata + std::error::Error + 'static, R: std::fmt::Debug>(
    e: &SdkError<E, R>,
) -> StoreError {
    let Some(service) = e.as_service_error() else {
        // dispatch, timeout, unreadable response: the store was not reached
        let reason = match e.source() {
            Some(source) => format!("{e}: {source}"),
            None => e.to_string(),
        };
        return StoreError::Unavailable(reason);
    };
    let code = service.code().unwrap_or("Unknown");
    let message = format!("{code}: {}", service.message().unwrap_or(""));
    match code {
        "ResourceNotFoundException" | "ParameterNotFound" | "ParameterVersionNotFound" => {
            StoreError::NotFound(message)
        }
        "AccessDeniedException"
        | "AccessDenied"
        | "DecryptionFailure"
        | "UnrecognizedClientException"
        | "InvalidKeyId"
        | "KMSAccessDeniedException"
        | "InvalidRequestException" => StoreError::Denied(message),
        _ => StoreError::Unavailable(message),
    }
}

impl AwsSecretStore {
    async fn stage(&self, secret_id: &str, stage: &str) -> Result<Option<String>, StoreError> {
        match self
            .secrets
            .get_secret_value()
            .secret_id(secret_id)
            .version_stage(stage)
            .send()
            .await
        {
            Ok(out) => match out.secret_string {
                Some(s) => Ok(Some(s)),
                None => Err(StoreError::Malformed(
                    "the secret holds SecretBinary, not SecretString".to_owned(),
                )),
            },
            Err(e) => Err(classify(&e)),
        }
    }
}

#[async_trait::async_trait]
impl SecretStore for AwsSecretStore {
    async fn read(&self, reference: &SecretRef) -> Result<Versions, StoreError> {
        match reference {
            SecretRef::SecretsManager { secret_id, .. } => {
                let current = self.stage(secret_id, "AWSCURRENT").await?.ok_or_else(|| {
                    StoreError::NotFound("the secret has no AWSCURRENT version".to_owned())
                })?;
                // no AWSPREVIOUS (never rotated, or the stage was moved off)
                let previous = match self.stage(secret_id, "AWSPREVIOUS").await {
                    Ok(previous) => previous,
                    Err(StoreError::NotFound(_)) => None,
                    Err(e) => return Err(e),
                };
                Ok(Versions { current, previous })
            }
            SecretRef::Parameter { name } => {
                let out = self
                    .parameters
                    .get_parameter()
                    .name(name)
                    .with_decryption(true)
                    .send()
                    .await
                    .map_err(|e| classify(&e))?;
                let value = out
                    .parameter
                    .and_then(|p| p.value)
                    .ok_or_else(|| StoreError::NotFound("the parameter has no value".to_owned()))?;
                Ok(Versions::current(value))
            }
        }
    }
}
