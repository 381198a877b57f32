//! The secret reference convention: a secret setting's value is either the
//! secret itself or `secretsmanager:<secret ARN or name>[#<json key>]` /
//! `ssm:<parameter name or ARN>`.

use std::fmt;

/// The prefix of an AWS Secrets Manager reference.
pub const SECRETS_MANAGER_PREFIX: &str = "secretsmanager:";
/// The prefix of an AWS Systems Manager Parameter Store reference.
pub const SSM_PREFIX: &str = "ssm:";

/// Where a secret setting's value lives when the variable holds a
/// reference instead of the secret. Displaying it shows the reference,
/// never a secret.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SecretRef {
    /// `secretsmanager:<secret ARN or name>[#<json key>]`: the secret's
    /// `SecretString` (`AWSCURRENT`, and `AWSPREVIOUS` while a rotation
    /// keeps it), or one key of it when it is a JSON object.
    SecretsManager {
        /// The secret's ARN or name.
        secret_id: String,
        /// The key of a JSON `SecretString` whose value is the secret.
        json_key: Option<String>,
    },
    /// `ssm:<parameter name or ARN>`: a parameter's value (a
    /// `SecureString` is read with decryption).
    Parameter {
        /// The parameter's name (`/switchyard/erp/client-secret`) or ARN.
        name: String,
    },
}

impl SecretRef {
    /// Reads a setting's value: `Ok(None)` when it is a plain value (the
    /// secret itself), `Ok(Some(..))` for a reference.
    ///
    /// # Errors
    /// A reference without a name, or with an empty JSON key (the reason
    /// holds no secret: a reference is not one).
    pub fn parse(value: &str) -> Result<Option<SecretRef>, String> {
        let value = value.trim();
        if let Some(rest) = value.strip_prefix(SECRETS_MANAGER_PREFIX) {
            let (id, json_key) = match rest.split_once('#') {
                Some((id, key)) => (id.trim(), Some(key.trim())),
                None => (rest.trim(), None),
            };
            if id.is_empty() {
                return Err(format!(
                    "{SECRETS_MANAGER_PREFIX} needs a secret ARN or name: {SECRETS_MANAGER_PREFIX}<secret>[#<json key>]"
                ));
            }
            if json_key.is_some_and(str::is_empty) {
                return Err(format!("{value:?}: no JSON key after #"));
            }
            return Ok(Some(SecretRef::SecretsManager {
                secret_id: id.to_owned(),
                json_key: json_key.map(str::to_owned),
            }));
        }
        if let Some(name) = value.strip_prefix(SSM_PREFIX) {
            let name = name.trim();
            if name.is_empty() {
                return Err(format!(
                    "{SSM_PREFIX} needs a parameter name: {SSM_PREFIX}<parameter name>"
                ));
            }
            return Ok(Some(SecretRef::Parameter {
                name: name.to_owned(),
            }));
        }
        Ok(None)
    }

    /// Whether the store keeps the previous value during a rotation
    /// (Secrets Manager's `AWSPREVIOUS`).
    pub fn has_previous(&self) -> bool {
        matches!(self, SecretRef::SecretsManager { .. })
    }
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretRef::SecretsManager {
                secret_id,
                json_key: None,
            } => write!(f, "{SECRETS_MANAGER_PREFIX}{secret_id}"),
            SecretRef::SecretsManager {
                secret_id,
                json_key: Some(key),
            } => write!(f, "{SECRETS_MANAGER_PREFIX}{secret_id}#{key}"),
            SecretRef::Parameter { name } => write!(f, "{SSM_PREFIX}{name}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_and_plain_values_are_told_apart() {
        assert_eq!(SecretRef::parse("whsec_abc").unwrap(), None);
        assert_eq!(SecretRef::parse("a,b").unwrap(), None);
        let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:erp-AbCdEf";
        let r = SecretRef::parse(&format!("secretsmanager:{arn}#client_secret"))
            .unwrap()
            .unwrap();
        assert_eq!(
            r,
            SecretRef::SecretsManager {
                secret_id: arn.into(),
                json_key: Some("client_secret".into())
            }
        );
        assert_eq!(r.to_string(), format!("secretsmanager:{arn}#client_secret"));
        let p = SecretRef::parse(" ssm:/switchyard/hubspot ")
            .unwrap()
            .unwrap();
        assert_eq!(p.to_string(), "ssm:/switchyard/hubspot");
        assert!(!p.has_previous());
        for bad in ["secretsmanager:", "secretsmanager:x#", "ssm:", "ssm:  "] {
            assert!(SecretRef::parse(bad).is_err(), "{bad}");
        }
    }
}
