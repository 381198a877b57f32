//! The organisation check and the Ack.

use crate::error::VerifyError;
use crate::secret::Secrets;

use super::model::Notifications;

/// The answer that tells Salesforce a message was received.
pub const ACK: &str = concat!(
    r#"<?xml version="1.0" encoding="UTF-8"?>"#,
    r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">"#,
    r#"<soapenv:Body><notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound">"#,
    r#"<Ack>true</Ack></notificationsResponse></soapenv:Body></soapenv:Envelope>"#
);

/// The organisations whose messages are accepted.
#[derive(Debug, Clone)]
pub struct SalesforceAuth {
    /// Organisation ids, compared on their case-sensitive 15-character form.
    pub org_ids: Secrets,
}

impl SalesforceAuth {
    /// From a comma-separated list of 15- or 18-character organisation ids.
    ///
    /// # Errors
    /// [`crate::InvalidSecret`] when the list is empty or an id has the wrong length.
    pub fn parse(list: &str) -> Result<Self, crate::InvalidSecret> {
        let mut ids = Vec::new();
        for (i, id) in list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .enumerate()
        {
            if !(id.len() == 15 || id.len() == 18) || !id.bytes().all(|b| b.is_ascii_alphanumeric())
            {
                return Err(crate::InvalidSecret::Malformed {
                    position: i + 1,
                    reason: "an organization id has 15 or 18 letters and digits",
                });
            }
            ids.push(crate::Secret::new(&id.as_bytes()[..15]));
        }
        Ok(SalesforceAuth {
            org_ids: Secrets::new(ids)?,
        })
    }
}

/// Accepts a parsed message only from a configured organisation.
///
/// # Errors
/// [`VerifyError::Missing`] without an organisation id,
/// [`VerifyError::UnknownOrganization`] for any other.
pub fn verify(message: &Notifications, auth: &SalesforceAuth) -> Result<(), VerifyError> {
    let id = message.organization_id.as_bytes();
    if id.is_empty() {
        return Err(VerifyError::Missing("OrganizationId"));
    }
    let short = if id.len() == 18 { &id[..15] } else { id };
    if auth.org_ids.matches_key(short) {
        Ok(())
    } else {
        Err(VerifyError::UnknownOrganization)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(org: &str) -> Notifications {
        Notifications {
            organization_id: org.into(),
            ..Notifications::default()
        }
    }

    #[test]
    fn fifteen_and_eighteen_character_ids_match() {
        let auth = SalesforceAuth::parse("00D000000000062EAA, 00D5e000000AbCd").unwrap();
        assert_eq!(verify(&message("00D000000000062EAA"), &auth), Ok(()));
        assert_eq!(verify(&message("00D000000000062"), &auth), Ok(()));
        assert_eq!(verify(&message("00D5e000000AbCdXYZ"), &auth), Ok(()));
        assert_eq!(
            verify(&message("00D5e000000abcd"), &auth),
            Err(VerifyError::UnknownOrganization)
        );
        assert_eq!(
            verify(&message(""), &auth),
            Err(VerifyError::Missing("OrganizationId"))
        );
        assert!(SalesforceAuth::parse("short").is_err());
        assert!(SalesforceAuth::parse("").is_err());
    }

    #[test]
    fn the_ack_is_well_formed() {
        assert!(ACK.contains("<Ack>true</Ack>") && ACK.contains("notificationsResponse"));
    }
}
