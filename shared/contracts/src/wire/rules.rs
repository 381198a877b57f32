//! The CloudEvents 1.0 rules an event's attributes must keep (spec.md:
//! naming, the type system, the required and optional attributes) and
//! Switchyard's own for its extensions.

use chrono::{DateTime, Utc};

use super::{Broken, Wire};
use crate::envelope::{DATA_CONTENT_TYPE, SPEC_VERSION};

/// `[a-z0-9]{1,20}`: the spec's attribute naming rule.
pub(crate) fn is_attribute_name(name: &str) -> bool {
    (1..=20).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// RFC 3986 `unreserved` and `reserved` characters, by byte.
const URI_CHARS: [bool; 256] = {
    let mut table = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        table[i] = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b':'
                    | b'/'
                    | b'?'
                    | b'#'
                    | b'['
                    | b']'
                    | b'@'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
            );
        i += 1;
    }
    table
};

/// Checks an RFC 3986 `URI-reference` in one pass over its bytes; returns
/// whether it has a scheme. Every byte must be a URI character (`unreserved`,
/// `reserved`) or part of a well-formed `%XX`; at most one `#`; a `:` before
/// the first `/`, `?` or `#` ends a scheme (`ALPHA *( ALPHA / DIGIT / "+" /
/// "-" / "." )`) — a relative reference's first segment cannot hold one;
/// `[` and `]` only around an IP literal host.
fn reference(s: &str) -> Result<bool, String> {
    let b = s.as_bytes();
    let (mut i, mut hashes, mut brackets) = (0, 0, false);
    let mut colon = None;
    let mut segment_ended = false;
    while i < b.len() {
        let c = b[i];
        match c {
            b'%' => {
                if !(i + 2 < b.len()
                    && b[i + 1].is_ascii_hexdigit()
                    && b[i + 2].is_ascii_hexdigit())
                {
                    return Err("a `%` not followed by two hex digits".to_owned());
                }
                i += 3;
                continue;
            }
            b'#' => {
                hashes += 1;
                segment_ended = true;
            }
            b'/' | b'?' => segment_ended = true,
            b':' if !segment_ended && colon.is_none() => colon = Some(i),
            b'[' | b']' => brackets = true,
            _ if URI_CHARS[usize::from(c)] => {}
            _ => {
                return Err(match s.get(i..).and_then(|r| r.chars().next()) {
                    Some(ch) if ch.is_whitespace() => "whitespace is not allowed".to_owned(),
                    Some(ch) => format!("the character {ch:?} is not allowed (percent-encode it)"),
                    None => "not a URI".to_owned(),
                });
            }
        }
        i += 1;
    }
    if hashes > 1 {
        return Err("more than one `#`".to_owned());
    }
    let scheme = match colon {
        None => false,
        Some(end) => {
            let scheme = &b[..end];
            let valid = scheme.first().is_some_and(u8::is_ascii_alphabetic)
                && scheme
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
            if !valid {
                return Err(format!(
                    "{:?} before the first `:` is not a URI scheme",
                    &s[..end]
                ));
            }
            true
        }
    };
    if brackets && !ip_literal_only(s, scheme) {
        return Err("`[` and `]` are only allowed around an IP literal host".to_owned());
    }
    Ok(scheme)
}

/// Whether the brackets of `s` are exactly those of an IP literal host
/// (`[scheme:]//[userinfo@][v6][:port]...`).
fn ip_literal_only(s: &str, scheme: bool) -> bool {
    let (rest, fragment) = s.split_once('#').unwrap_or((s, ""));
    let hier = rest.split_once('?').map_or(rest, |(h, _)| h);
    let after_scheme = if scheme {
        hier.split_once(':').map_or(hier, |(_, r)| r)
    } else {
        hier
    };
    let Some(authority) = after_scheme.strip_prefix("//") else {
        return false;
    };
    let authority = authority.split('/').next().unwrap_or("");
    let path = &after_scheme[2 + authority.len()..];
    let query = rest.get(hier.len()..).unwrap_or("");
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let no_other = |t: &str| !t.bytes().any(|b| b == b'[' || b == b']');
    host.starts_with('[')
        && host.matches('[').count() == 1
        && host.matches(']').count() == 1
        && host.find(']').is_some_and(|end| {
            let port = &host[end + 1..];
            port.is_empty()
                || port
                    .strip_prefix(':')
                    .is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()))
        })
        && no_other(&authority[..authority.len() - host.len()])
        && no_other(path)
        && no_other(query)
        && no_other(fragment)
}

/// RFC 3986 `URI-reference` (a URI or a relative reference).
pub(crate) fn uri_reference(s: &str) -> Result<(), String> {
    reference(s).map(|_scheme| ())
}

/// An RFC 3339 `date-time`: `T` (or `t`) between date and time, and an offset.
pub(crate) fn timestamp(s: &str) -> Result<DateTime<Utc>, String> {
    let separator = s.as_bytes().get(10).copied();
    if !matches!(separator, Some(b'T' | b't')) {
        return Err(format!("{s:?} is not an RFC 3339 timestamp"));
    }
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("{s:?} is not an RFC 3339 timestamp: {e}"))
}

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
}

/// An RFC 2046 media type: `type/subtype` and optional `; name=value` parameters.
pub(crate) fn media_type(s: &str) -> Result<(), String> {
    if s == DATA_CONTENT_TYPE {
        return Ok(()); // what Switchyard writes: no need to take it apart
    }
    let mut parts = s.split(';');
    let essence = parts.next().unwrap_or("").trim();
    let valid = essence
        .split_once('/')
        .is_some_and(|(t, sub)| is_token(t) && is_token(sub));
    if !valid {
        return Err(format!("{s:?} is not a media type (type/subtype)"));
    }
    for p in parts {
        let p = p.trim();
        if p.is_empty() {
            continue;
        }
        if !p
            .split_once('=')
            .is_some_and(|(n, v)| is_token(n.trim()) && !v.trim().is_empty())
        {
            return Err(format!("{s:?} has a malformed parameter {p:?}"));
        }
    }
    Ok(())
}

/// Whether a media type declares JSON: `*/json` or `*/*+json`, parameters aside.
pub fn is_json_media_type(s: &str) -> bool {
    if s == DATA_CONTENT_TYPE {
        return true;
    }
    let essence = s.split(';').next().unwrap_or("").trim();
    essence.split_once('/').is_some_and(|(_, sub)| {
        sub.eq_ignore_ascii_case("json")
            || (sub.len() > 5
                && sub.is_char_boundary(sub.len() - 5)
                && sub[sub.len() - 5..].eq_ignore_ascii_case("+json"))
    })
}

fn broken(path: &str, message: impl Into<String>) -> Broken {
    Broken {
        path: path.to_owned(),
        message: message.into(),
    }
}

/// Every rule of an event read by [`Wire`]; returns its `time`.
pub(crate) fn check<D>(w: &Wire<D>) -> Result<Option<DateTime<Utc>>, Broken> {
    if let Some(b) = &w.broken {
        return Err(b.clone());
    }
    match w.specversion.as_deref() {
        None => return Err(broken("specversion", "missing required attribute")),
        Some(SPEC_VERSION) => {}
        Some(other) => {
            return Err(broken(
                "specversion",
                format!("expected \"{SPEC_VERSION}\", got {other:?}"),
            ));
        }
    }
    for (path, value) in [
        ("id", &w.id),
        ("source", &w.source),
        ("type", &w.event_type),
    ] {
        match value.as_deref() {
            None => return Err(broken(path, "missing required attribute")),
            Some("") => return Err(broken(path, "must not be empty")),
            Some(_) => {}
        }
    }
    for (path, value) in [
        ("subject", &w.subject),
        ("datacontenttype", &w.datacontenttype),
        ("dataschema", &w.dataschema),
        // Switchyard's extensions: when present, not empty
        ("correlationid", &w.correlationid),
        ("causationid", &w.causationid),
    ] {
        if value.as_deref() == Some("") {
            return Err(broken(path, "must not be empty when present"));
        }
    }
    if let Some(source) = &w.source {
        uri_reference(source).map_err(|m| broken("source", format!("not a URI-reference: {m}")))?;
    }
    if let Some(schema) = &w.dataschema {
        // spec.md types `dataschema` as a URI; a URI-reference is accepted,
        // as Azure Event Grid sends `"dataschema": "#"`
        uri_reference(schema)
            .map_err(|m| broken("dataschema", format!("not a URI-reference: {m}")))?;
    }
    if let Some(media) = &w.datacontenttype {
        media_type(media).map_err(|m| broken("datacontenttype", m))?;
    }
    if w.data.is_some() && w.data_base64.is_some() {
        return Err(broken(
            "data_base64",
            "`data` and `data_base64` are mutually exclusive",
        ));
    }
    w.time
        .as_deref()
        .map(timestamp)
        .transpose()
        .map_err(|m| broken("time", m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_names() {
        for ok in ["a", "id", "comexampleextension1", "a1234567890123456789"] {
            assert!(is_attribute_name(ok), "{ok}");
        }
        for bad in [
            "",
            "A",
            "com_example",
            "com-example",
            "a12345678901234567890",
            "é",
        ] {
            assert!(!is_attribute_name(bad), "{bad}");
        }
    }

    #[test]
    fn uri_references_from_the_spec() {
        for ok in [
            "https://github.com/cloudevents",
            "mailto:cncf-wg-serverless@lists.cncf.io",
            "urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66",
            "cloudevents/spec/pull/123",
            "/sensors/tn-1234567/alerts",
            "1-555-123-4567",
            "/mycontext",
            "switchyard/crm-webhook/dynamics/contoso",
            "http://[::1]:8080/x?y=1#z",
            "a%20b",
            "//host/path",
        ] {
            assert_eq!(uri_reference(ok), Ok(()), "{ok}");
        }
        for bad in [
            "has space",
            "a\"b",
            "http://x/%zz",
            "%4",
            ":no-scheme",
            "1a:b",
            "a#b#c",
            "a[b]",
            "<tag>",
            "tab\there",
        ] {
            assert!(uri_reference(bad).is_err(), "{bad}");
        }
        assert_eq!(reference("urn:switchyard:schema:order.placed:v2"), Ok(true));
        assert_eq!(reference("#"), Ok(false));
    }

    #[test]
    fn timestamps() {
        for ok in [
            "2018-04-05T17:31:00Z",
            "1985-04-12T23:20:50.52Z",
            "1996-12-19T16:39:57-08:00",
            "2018-04-05t17:31:00z",
        ] {
            assert!(timestamp(ok).is_ok(), "{ok}");
        }
        for bad in [
            "yesterday",
            "2018-04-05",
            "2018-04-05T17:31:00",
            "2018-04-05 17:31:00Z",
            "2018-13-05T17:31:00Z",
            "1716811200",
        ] {
            assert!(timestamp(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn media_types() {
        for ok in [
            "application/json",
            "application/json; charset=utf-8",
            "application/vnd.apache.thrift.binary",
            "text/xml",
        ] {
            assert!(media_type(ok).is_ok(), "{ok}");
        }
        for bad in ["json", "application/", "/json", "application/json; charset"] {
            assert!(media_type(bad).is_err(), "{bad}");
        }
        assert!(is_json_media_type("application/json; charset=utf-8"));
        assert!(is_json_media_type("application/cloudevents+json"));
        assert!(is_json_media_type("text/json"));
        assert!(!is_json_media_type("application/xml"));
        assert!(!is_json_media_type("application/jsonx"));
    }
}
