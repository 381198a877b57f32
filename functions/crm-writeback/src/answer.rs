//! What the three CRM clients share: sending with credentials, reading the
//! answer, classifying a failed answer into transient and permanent
//! [`HandlerError`]s, a body excerpt for reasons, `Retry-After`, and the
//! encoding of ids into URL path segments.

use reqwest::header::HeaderMap;
use switchyard_auth::Credentials;
use switchyard_contracts::events::CrmRecord;
use switchyard_triggers::HandlerError;

/// The most characters of a CRM's answer a reason quotes.
pub const EXCERPT_CHARS: usize = 200;

/// One answer, read whole.
#[derive(Debug)]
pub(crate) struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    /// The body as JSON (`None` when it is not).
    pub(crate) fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// A header's text.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Sends the request `build` makes with `credentials` and reads the answer.
///
/// # Errors
/// Transient when the CRM or the token endpoint could not be reached;
/// permanent `crm_unauthorized` when the token endpoint refused the client.
pub(crate) async fn send(
    crm: &str,
    credentials: &Credentials,
    build: impl Fn() -> reqwest::RequestBuilder,
) -> Result<Answer, HandlerError> {
    let response = credentials.send(build).await.map_err(|e| {
        if e.is_transient() {
            HandlerError::transient(format!("{crm} unreachable: {e}"))
        } else {
            HandlerError::permanent("crm_unauthorized", format!("{crm}: {e}"))
        }
    })?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response
        .bytes()
        .await
        .map_err(|e| HandlerError::transient(format!("{crm} answer cut off: {e}")))?
        .to_vec();
    Ok(Answer {
        status,
        headers,
        body,
    })
}

/// Up to [`EXCERPT_CHARS`] characters of `body`, on one line, with any
/// `Bearer <token>` an API echoes replaced by `Bearer [redacted]`.
pub fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut out = String::new();
    let mut rest: &str = &text;
    while let Some(at) = rest.find("Bearer ") {
        let (before, after) = rest.split_at(at + "Bearer ".len());
        out.push_str(before);
        let end = after
            .find(|c: char| c.is_whitespace() || c == '"' || c == ',')
            .unwrap_or(after.len());
        if end > 0 {
            out.push_str("[redacted]");
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(EXCERPT_CHARS)
        .collect()
}

/// `Retry-After` (seconds or an HTTP date) as a phrase: `retry after 5 s`.
pub fn retry_after(headers: &HeaderMap) -> Option<String> {
    let value = headers.get("retry-after")?.to_str().ok()?.trim();
    if value.is_empty() {
        None
    } else if value.bytes().all(|b| b.is_ascii_digit()) {
        Some(format!("retry after {value} s"))
    } else {
        Some(format!("retry after {}", excerpt(value.as_bytes())))
    }
}

/// Percent-encodes a path segment: every byte but RFC 3986's unreserved
/// characters (`A-Z a-z 0-9 - . _ ~`) becomes `%XX`.
pub fn segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for chunk in url::form_urlencoded::byte_serialize(text.as_bytes()) {
        match chunk {
            "+" => out.push_str("%20"),
            "%7E" => out.push('~'),
            unchanged => out.push_str(&unchanged.replace('*', "%2A")),
        }
    }
    out
}

/// A record whose object or id this CRM cannot address: permanent
/// `invalid_crm_record`, raised before any request.
pub(crate) fn invalid(crm: &str, record: &CrmRecord, why: &str) -> HandlerError {
    HandlerError::permanent(
        "invalid_crm_record",
        format!(
            "{crm} record {}/{} cannot be addressed: {why}",
            excerpt(record.object.as_bytes()),
            excerpt(record.id.as_bytes())
        ),
    )
}

/// A failed answer (any status the client does not treat as success):
///
/// | status | error |
/// |---|---|
/// | 412 | transient: the record changed since it was read; the retry reads it again |
/// | 404 | permanent `crm_record_not_found` |
/// | 408, 425, 429, 5xx | transient, naming `Retry-After` and `detail` (the rate-limit policy, the error code) |
/// | 401, 403 | permanent `crm_unauthorized` (the credentials already retried a refused OAuth token once) |
/// | other 4xx | permanent `rejected_by_crm` |
/// | anything else | transient |
pub(crate) fn failure(
    crm: &str,
    step: &str,
    record: &CrmRecord,
    answer: &Answer,
    detail: Option<String>,
) -> HandlerError {
    let status = answer.status;
    let what = format!(
        "{crm} answered {status} to the {step} of {}/{}",
        excerpt(record.object.as_bytes()),
        excerpt(record.id.as_bytes())
    );
    let detail = detail.map(|d| format!(" ({d})")).unwrap_or_default();
    let body = excerpt(&answer.body);
    match status {
        412 => HandlerError::transient(format!(
            "{what}{detail}: the record changed since it was read; the retry reads it again"
        )),
        404 => HandlerError::permanent(
            "crm_record_not_found",
            format!("{what}{detail}: no such record: {body}"),
        ),
        408 | 425 | 429 | 500..=599 => {
            let wait = retry_after(&answer.headers)
                .map(|w| format!("; {w}"))
                .unwrap_or_default();
            HandlerError::transient(format!("{what}{detail}{wait}: {body}"))
        }
        401 | 403 => HandlerError::permanent(
            "crm_unauthorized",
            format!("{what}{detail}: the credentials were refused: {body}"),
        ),
        400..=499 => HandlerError::permanent("rejected_by_crm", format!("{what}{detail}: {body}")),
        _ => HandlerError::transient(format!("{what}{detail}: unexpected status: {body}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, headers: &[(&'static str, &'static str)], body: &str) -> Answer {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.insert(*k, reqwest::header::HeaderValue::from_static(v));
        }
        Answer {
            status,
            headers: map,
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn statuses_are_classified() {
        let record = CrmRecord::new(
            switchyard_contracts::events::CrmSystem::HubSpot,
            "deals",
            "1",
        );
        let cases: &[(u16, Option<&str>)] = &[
            (412, None),
            (404, Some("crm_record_not_found")),
            (408, None),
            (425, None),
            (429, None),
            (500, None),
            (502, None),
            (503, None),
            (401, Some("crm_unauthorized")),
            (403, Some("crm_unauthorized")),
            (400, Some("rejected_by_crm")),
            (409, Some("rejected_by_crm")),
            (422, Some("rejected_by_crm")),
            (302, None),
        ];
        for (status, expected) in cases {
            let e = failure("HubSpot", "read", &record, &answer(*status, &[], ""), None);
            assert_eq!(e.kind(), *expected, "{status}: {e}");
        }
        let e = failure("X", "update", &record, &answer(412, &[], ""), None);
        assert!(e.to_string().contains("changed since it was read"), "{e}");
    }

    #[test]
    fn retry_after_is_named_in_seconds_or_as_a_date() {
        let record = CrmRecord::new(
            switchyard_contracts::events::CrmSystem::Dynamics,
            "salesorder",
            "x",
        );
        let e = failure(
            "D",
            "read",
            &record,
            &answer(429, &[("retry-after", "7")], ""),
            None,
        );
        assert!(e.to_string().contains("retry after 7 s"), "{e}");
        let a = answer(503, &[("retry-after", "Wed, 21 Oct 2026 07:28:00 GMT")], "");
        let e = failure("D", "read", &record, &a, None);
        assert!(
            e.to_string()
                .contains("retry after Wed, 21 Oct 2026 07:28:00 GMT"),
            "{e}"
        );
    }

    #[test]
    fn excerpts_are_short_and_never_carry_a_bearer_token() {
        let long = "x".repeat(500);
        assert_eq!(excerpt(long.as_bytes()).chars().count(), EXCERPT_CHARS);
        let echoed = r#"{"message":"token Bearer pat-na1-secret-123 refused","h":"Bearer abc"}"#;
        let e = excerpt(echoed.as_bytes());
        assert!(
            !e.contains("pat-na1-secret-123") && !e.contains("abc\""),
            "{e}"
        );
        assert!(e.contains("Bearer [redacted] refused"), "{e}");
        assert_eq!(excerpt(b"a\nb"), "a b");
    }

    #[test]
    fn segments_are_percent_encoded() {
        assert_eq!(segment("abc-1.2_~"), "abc-1.2_~");
        assert_eq!(segment("a b/c?d#e*"), "a%20b%2Fc%3Fd%23e%2A");
    }
}
