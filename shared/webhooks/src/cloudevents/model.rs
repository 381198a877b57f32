//! Reading a CloudEvents HTTP request in its content mode
//! (http-protocol-binding.md §3).

use http::header::CONTENT_TYPE;
use serde_json::{Map, Value};
use switchyard_contracts::is_json_media_type;

use super::{BATCH_CONTENT_TYPE, STRUCTURED_CONTENT_TYPE};
use crate::error::MapError;
use crate::request::SignedRequest;

/// A request's events, by content mode.
#[derive(Debug, Clone, PartialEq)]
pub enum Body<'a> {
    /// Structured mode: one event in the JSON format, the raw body.
    Structured(&'a [u8]),
    /// Batched mode: a JSON array of events, the raw body.
    Batch(&'a [u8]),
    /// Binary mode: the event rebuilt in the JSON format from the `ce-*`
    /// headers, `Content-Type` and body.
    Binary(Value),
}

/// The prefix of binary-mode attribute headers.
const PREFIX: &str = "ce-";

/// Reads the content mode of a request: `application/cloudevents+json` is
/// structured, `application/cloudevents-batch+json` batched, any other
/// request with `ce-specversion` binary.
///
/// # Errors
/// [`MapError::UnsupportedMediaType`] for another event format
/// (`application/cloudevents+avro`, …) or a binary-mode body that is not
/// JSON; [`MapError::Missing`] for a request that is in no mode;
/// [`MapError::Invalid`] / [`MapError::Json`] for malformed binary-mode
/// headers or body.
pub fn parse<'a>(request: &SignedRequest<'a>) -> Result<Body<'a>, MapError> {
    let content_type = match request.headers.get(CONTENT_TYPE).map(|v| v.to_str()) {
        None => None,
        Some(Ok(v)) => Some(v.trim()),
        Some(Err(_)) => return Err(MapError::invalid("content-type", "not visible ASCII")),
    };
    let essence = content_type
        .map(|c| {
            c.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    if essence == STRUCTURED_CONTENT_TYPE {
        return Ok(Body::Structured(request.body));
    }
    if essence == BATCH_CONTENT_TYPE {
        return Ok(Body::Batch(request.body));
    }
    if essence.starts_with("application/cloudevents") {
        return Err(MapError::UnsupportedMediaType(format!(
            "{essence} is not accepted: CloudEvents are read in the JSON event format \
             ({STRUCTURED_CONTENT_TYPE}, {BATCH_CONTENT_TYPE}) or in binary mode"
        )));
    }
    if !request.headers.contains_key("ce-specversion") {
        return Err(MapError::missing(
            "ce-specversion",
            "a CloudEvent is sent with Content-Type application/cloudevents+json (structured \
             mode), application/cloudevents-batch+json (batched), or with ce-specversion, ce-id, \
             ce-source and ce-type headers (binary mode)",
        ));
    }
    binary(request, content_type)
}

/// The event of a binary-mode request in the JSON format.
fn binary(
    request: &SignedRequest<'_>,
    content_type: Option<&str>,
) -> Result<Body<'static>, MapError> {
    let mut event = Map::new();
    for (name, value) in request.headers {
        let Some(attribute) = name.as_str().strip_prefix(PREFIX) else {
            continue;
        };
        if attribute == "data" || attribute == "data_base64" || attribute == "datacontenttype" {
            return Err(MapError::invalid(
                name.as_str(),
                "not an attribute header: in binary mode the body is the data and Content-Type its datacontenttype",
            ));
        }
        if request.headers.get_all(name).iter().count() > 1 {
            return Err(MapError::invalid(name.as_str(), "present more than once"));
        }
        let text = header_value(value.as_bytes())
            .map_err(|reason| MapError::invalid(name.as_str(), reason))?;
        event.insert(attribute.to_owned(), Value::String(text));
    }
    let has_body = !request.body.iter().all(u8::is_ascii_whitespace);
    if has_body {
        let media = content_type.ok_or_else(|| {
            MapError::missing(
                "content-type",
                "the media type of the body (the event's data)",
            )
        })?;
        if !is_json_media_type(media) {
            return Err(MapError::UnsupportedMediaType(format!(
                "{media} data is not accepted: contract data is JSON (*/json or */*+json)"
            )));
        }
        let data: Value = serde_json::from_slice(request.body).map_err(|e| MapError::Json {
            path: "data".to_owned(),
            message: e.to_string(),
        })?;
        event.insert("data".to_owned(), data);
    }
    if let Some(media) = content_type.filter(|_| has_body) {
        event.insert(
            "datacontenttype".to_owned(),
            Value::String(media.to_owned()),
        );
    }
    Ok(Body::Binary(Value::Object(event)))
}

/// A `ce-*` header value: percent-encoded UTF-8 (http-protocol-binding.md
/// §3.1.3.2); every `%XX` is decoded, a malformed escape or invalid UTF-8
/// is refused.
fn header_value(raw: &[u8]) -> Result<String, &'static str> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'%' {
            let hex = raw
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok());
            let byte = hex
                .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or("a `%` not followed by two hex digits")?;
            out.push(byte);
            i += 3;
        } else {
            out.push(raw[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "the percent-decoded value is not UTF-8")
}

#[cfg(test)]
mod tests {
    use http::HeaderMap;
    use serde_json::json;

    use super::*;

    fn request<'a>(headers: &'a HeaderMap, body: &'a [u8]) -> SignedRequest<'a> {
        SignedRequest {
            method: "POST",
            uri: "https://h/webhooks/cloudevents",
            headers,
            body,
        }
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn the_content_type_picks_the_mode() {
        let h = headers(&[(
            "content-type",
            "application/cloudevents+json; charset=UTF-8",
        )]);
        assert_eq!(parse(&request(&h, b"{}")), Ok(Body::Structured(b"{}")));
        let h = headers(&[("content-type", "application/cloudevents-batch+json")]);
        assert_eq!(parse(&request(&h, b"[]")), Ok(Body::Batch(b"[]")));
        let h = headers(&[("content-type", "application/cloudevents+avro")]);
        assert!(matches!(
            parse(&request(&h, b"")),
            Err(MapError::UnsupportedMediaType(_))
        ));
        let h = headers(&[("content-type", "application/json")]);
        assert!(matches!(
            parse(&request(&h, b"{}")),
            Err(MapError::Missing { .. })
        ));
    }

    #[test]
    fn binary_mode_from_the_spec_example() {
        // http-protocol-binding.md §3.1.4, with JSON data
        let h = headers(&[
            ("ce-specversion", "1.0"),
            ("ce-type", "com.example.someevent"),
            ("ce-time", "2018-04-05T03:56:24Z"),
            ("ce-id", "1234-1234-1234"),
            ("ce-source", "/mycontext/subcontext"),
            ("ce-comexampleextension1", "value"),
            ("ce-subject", "Euro%20%E2%82%AC%20%F0%9F%98%80"),
            ("content-type", "application/json; charset=utf-8"),
        ]);
        let Body::Binary(event) = parse(&request(&h, br#"{"a":1}"#)).unwrap() else {
            panic!("binary")
        };
        assert_eq!(
            event,
            json!({
                "specversion": "1.0", "type": "com.example.someevent",
                "time": "2018-04-05T03:56:24Z", "id": "1234-1234-1234",
                "source": "/mycontext/subcontext", "comexampleextension1": "value",
                "subject": "Euro € 😀",
                "datacontenttype": "application/json; charset=utf-8", "data": { "a": 1 }
            })
        );
        // no body: no data
        let h = headers(&[("ce-specversion", "1.0"), ("ce-id", "1")]);
        let Body::Binary(event) = parse(&request(&h, b"")).unwrap() else {
            panic!("binary")
        };
        assert!(event.get("data").is_none());
    }

    #[test]
    fn binary_mode_refusals() {
        let base = [("ce-specversion", "1.0"), ("ce-id", "1")];
        let with = |extra: &[(&'static str, &str)]| {
            let mut all = base.to_vec();
            all.extend_from_slice(extra);
            headers(&all)
        };
        let h = with(&[("content-type", "application/xml")]);
        assert!(matches!(
            parse(&request(&h, b"<x/>")),
            Err(MapError::UnsupportedMediaType(_))
        ));
        let h = with(&[("content-type", "application/json")]);
        assert!(matches!(
            parse(&request(&h, b"{")),
            Err(MapError::Json { .. })
        ));
        let h = with(&[]);
        assert!(matches!(
            parse(&request(&h, b"{}")),
            Err(MapError::Missing { .. })
        ));
        for bad in ["%", "%4", "%zz", "%FF"] {
            let h = with(&[("ce-subject", bad)]);
            assert!(
                matches!(parse(&request(&h, b"")), Err(MapError::Invalid { .. })),
                "{bad}"
            );
        }
        let h = with(&[("ce-id", "2")]);
        assert!(matches!(
            parse(&request(&h, b"")),
            Err(MapError::Invalid { .. })
        ));
        let h = with(&[("ce-datacontenttype", "application/json")]);
        assert!(matches!(
            parse(&request(&h, b"")),
            Err(MapError::Invalid { .. })
        ));
    }
}
