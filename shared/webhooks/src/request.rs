//! What a verifier sees of an HTTP request, and the timestamp window.

use chrono::{DateTime, Utc};
use http::HeaderMap;

use crate::error::VerifyError;

/// The replay window of every timestamped scheme: five minutes either way.
pub const TOLERANCE_SECS: i64 = 5 * 60;

/// An incoming request as the sender signed it.
#[derive(Debug, Clone, Copy)]
pub struct SignedRequest<'a> {
    /// The HTTP method, e.g. `POST`.
    pub method: &'a str,
    /// The full URI as the sender addressed it, `scheme://host/path?query`
    /// (rebuilt from the public base URL behind a proxy; see [`public_uri`]).
    pub uri: &'a str,
    /// The request headers.
    pub headers: &'a HeaderMap,
    /// The raw body, exactly as received.
    pub body: &'a [u8],
}

impl<'a> SignedRequest<'a> {
    /// A header's value; `Ok(None)` when absent.
    ///
    /// # Errors
    /// [`VerifyError::Malformed`] when present twice or not visible ASCII.
    pub fn header(&self, name: &'static str) -> Result<Option<&'a str>, VerifyError> {
        let mut values = self.headers.get_all(name).iter();
        let Some(first) = values.next() else {
            return Ok(None);
        };
        if values.next().is_some() {
            return Err(VerifyError::Malformed {
                header: name,
                reason: "present more than once",
            });
        }
        first
            .to_str()
            .map(|v| Some(v.trim()))
            .map_err(|_| VerifyError::Malformed {
                header: name,
                reason: "not visible ASCII",
            })
    }

    /// A header's value that must be present.
    ///
    /// # Errors
    /// [`VerifyError::Missing`] when absent, [`VerifyError::Malformed`] as [`SignedRequest::header`].
    pub fn required_header(&self, name: &'static str) -> Result<&'a str, VerifyError> {
        match self.header(name)? {
            Some(v) if !v.is_empty() => Ok(v),
            _ => Err(VerifyError::Missing(name)),
        }
    }

    /// The percent-decoded value of a query parameter of [`SignedRequest::uri`].
    pub fn query_param(&self, name: &str) -> Option<Vec<u8>> {
        let query = self.uri.split_once('?')?.1;
        let query = query.split('#').next().unwrap_or(query);
        query.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k.as_bytes()) == name.as_bytes()).then(|| percent_decode(v.as_bytes()))
        })
    }
}

/// Decodes `%XX` escapes and `+` (as a space); invalid escapes stay as they are.
pub fn percent_decode(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'%' if i + 2 < input.len() => {
                let hex = std::str::from_utf8(&input[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// The URI the sender addressed: `public_base_url` (e.g.
/// `https://hooks.example.com`, no trailing slash needed) joined with the
/// request's path and query. Without a base URL, `https://<host>` from the
/// `Host` header (a Lambda function URL sees its own host there).
pub fn public_uri(
    public_base_url: Option<&str>,
    headers: &HeaderMap,
    path_and_query: &str,
) -> String {
    let base = match public_base_url {
        Some(base) => base.trim_end_matches('/').to_owned(),
        None => {
            let host = headers
                .get(http::header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("localhost");
            let proto = headers
                .get("x-forwarded-proto")
                .and_then(|h| h.to_str().ok())
                .filter(|p| *p == "http" || *p == "https")
                .unwrap_or("https");
            format!("{proto}://{host}")
        }
    };
    format!("{base}{path_and_query}")
}

/// Checks a signed timestamp (seconds since the epoch) against `now`.
///
/// # Errors
/// [`VerifyError::Stale`] or [`VerifyError::Future`] outside ±[`TOLERANCE_SECS`].
pub fn check_window(signed_secs: i64, now: DateTime<Utc>) -> Result<(), VerifyError> {
    let delta = now.timestamp().saturating_sub(signed_secs);
    if delta > TOLERANCE_SECS {
        Err(VerifyError::Stale {
            age_secs: delta,
            tolerance_secs: TOLERANCE_SECS,
        })
    } else if delta < -TOLERANCE_SECS {
        Err(VerifyError::Future {
            ahead_secs: delta.saturating_neg(),
            tolerance_secs: TOLERANCE_SECS,
        })
    } else {
        Ok(())
    }
}

/// Parses a decimal timestamp header.
///
/// # Errors
/// [`VerifyError::Malformed`] when it is not a plain integer.
pub fn parse_timestamp(header: &'static str, value: &str) -> Result<i64, VerifyError> {
    if value.is_empty() || value.len() > 19 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(VerifyError::Malformed {
            header,
            reason: "not a decimal timestamp",
        });
    }
    value.parse().map_err(|_| VerifyError::Malformed {
        header,
        reason: "not a decimal timestamp",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_is_five_minutes_either_way() {
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        assert!(check_window(1_700_000_000 - 300, now).is_ok());
        assert!(check_window(1_700_000_000 + 300, now).is_ok());
        assert!(matches!(
            check_window(1_700_000_000 - 301, now),
            Err(VerifyError::Stale { .. })
        ));
        assert!(matches!(
            check_window(1_700_000_000 + 301, now),
            Err(VerifyError::Future { .. })
        ));
        assert!(check_window(i64::MIN, now).is_err());
    }

    #[test]
    fn query_params_are_percent_decoded() {
        let headers = HeaderMap::new();
        let req = SignedRequest {
            method: "POST",
            uri: "https://h/p?a=1&code=ab%2Bc%3D%3D&x",
            headers: &headers,
            body: b"",
        };
        assert_eq!(req.query_param("code"), Some(b"ab+c==".to_vec()));
        assert_eq!(req.query_param("x"), Some(Vec::new()));
        assert_eq!(req.query_param("missing"), None);
        assert_eq!(percent_decode(b"%zz%4"), b"%zz%4");
    }

    #[test]
    fn timestamps_are_plain_integers() {
        assert_eq!(parse_timestamp("t", "1649367553"), Ok(1_649_367_553));
        for bad in ["", "-1", "1e9", " 1", "99999999999999999999"] {
            assert!(parse_timestamp("t", bad).is_err(), "{bad}");
        }
    }
}
