//! The outbound-message SOAP envelope (WSDL namespace
//! `http://soap.sforce.com/2005/09/outbound`): `notifications` with the
//! organisation id, the action id and up to 100 `Notification`s, each an id
//! and one `sObject` whose child elements are the fields the rule selected.

use std::collections::BTreeMap;

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use crate::error::MapError;

/// Salesforce sends at most 100 notifications per message.
pub const MAX_NOTIFICATIONS: usize = 100;
const MAX_DEPTH: usize = 16;

/// A parsed `notifications` element.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Notifications {
    /// The sending organisation (15 or 18 characters).
    pub organization_id: String,
    /// The outbound-message action.
    pub action_id: Option<String>,
    /// The notifications, in document order.
    pub notifications: Vec<Notification>,
}

/// One notification: one record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Notification {
    /// The notification's id; the dedupe id (retries repeat it).
    pub id: String,
    /// The sObject type from `xsi:type` (`Contact`, `Order`, ...).
    pub sobject_type: String,
    /// The record's fields by local name (`Id`, `Email`, ...); nil fields are absent.
    pub fields: BTreeMap<String, String>,
}

fn xml_err(e: impl std::fmt::Display) -> MapError {
    MapError::Xml(e.to_string())
}

fn local(name: &[u8]) -> String {
    let name = String::from_utf8_lossy(name);
    match name.rsplit_once(':') {
        Some((_, l)) => l.to_owned(),
        None => name.into_owned(),
    }
}

fn attr(start: &BytesStart<'_>, wanted: &str) -> Result<Option<String>, MapError> {
    for a in start.attributes() {
        let a = a.map_err(xml_err)?;
        if local(a.key.as_ref()) == wanted {
            return Ok(Some(
                a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                    .map_err(xml_err)?
                    .into_owned(),
            ));
        }
    }
    Ok(None)
}

fn predefined(name: &str) -> Option<char> {
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        _ => return None,
    })
}

/// Parses an outbound message.
///
/// # Errors
/// [`MapError::Empty`], [`MapError::Xml`] for anything that is not a
/// well-formed `notifications` envelope (DTDs are refused), [`MapError::TooMany`].
/// A missing `OrganizationId` is left empty for [`super::verify`] to refuse.
pub fn parse(body: &[u8]) -> Result<Notifications, MapError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(MapError::Empty);
    }
    let mut reader = Reader::from_reader(body);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<String> = Vec::new();
    let mut text = String::new();
    let mut out = Notifications::default();
    let mut seen_notifications = false;
    let mut current: Option<Notification> = None;
    let mut nil = false;
    loop {
        let event = reader.read_event().map_err(xml_err)?;
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let name = local(e.name().as_ref());
                let empty = matches!(event, Event::Empty(_));
                let parent = stack.last().map(String::as_str);
                match (parent, name.as_str()) {
                    (None, "Envelope")
                    | (Some("Envelope"), "Header" | "Body")
                    | (Some("Body"), "notifications") => {}
                    (None, _) => {
                        return Err(MapError::Xml(
                            "the root element is not a SOAP Envelope".into(),
                        ));
                    }
                    (Some("Body"), _) => {
                        return Err(MapError::Xml(
                            "the SOAP Body holds no Salesforce notifications element".into(),
                        ));
                    }
                    _ => {}
                }
                if name == "notifications" {
                    seen_notifications = true;
                }
                if parent == Some("notifications") && name == "Notification" {
                    if out.notifications.len() >= MAX_NOTIFICATIONS {
                        return Err(MapError::TooMany {
                            count: MAX_NOTIFICATIONS + 1,
                            max: MAX_NOTIFICATIONS,
                        });
                    }
                    current = Some(Notification::default());
                }
                if parent == Some("Notification") && name == "sObject" {
                    let ty = attr(e, "type")?.unwrap_or_default();
                    if let Some(n) = current.as_mut() {
                        n.sobject_type = local(ty.as_bytes());
                    }
                }
                nil = attr(e, "nil")?.as_deref() == Some("true");
                text.clear();
                if !empty {
                    stack.push(name);
                    if stack.len() > MAX_DEPTH {
                        return Err(MapError::Xml("nested too deeply".into()));
                    }
                } else {
                    // an empty element is a start and an end at once
                    stack.push(name);
                    close(&stack, &mut text, nil, &mut out, &mut current)?;
                    stack.pop();
                }
            }
            Event::End(_) => {
                close(&stack, &mut text, nil, &mut out, &mut current)?;
                nil = false;
                stack.pop();
            }
            Event::Text(t) => text.push_str(&t.decode().map_err(xml_err)?),
            Event::CData(t) => text.push_str(&t.decode().map_err(xml_err)?),
            Event::GeneralRef(r) => {
                if r.is_char_ref() {
                    match r.resolve_char_ref().map_err(xml_err)? {
                        Some(c) => text.push(c),
                        None => return Err(MapError::Xml("invalid character reference".into())),
                    }
                } else {
                    let name = r.decode().map_err(xml_err)?;
                    match predefined(&name) {
                        Some(c) => text.push(c),
                        None => return Err(MapError::Xml("undefined entity reference".into())),
                    }
                }
            }
            Event::DocType(_) => return Err(MapError::Xml("a DOCTYPE is not allowed".into())),
            Event::Eof if stack.is_empty() => break,
            Event::Eof => {
                return Err(MapError::Xml(
                    "the document ends before its elements are closed (truncated?)".into(),
                ));
            }
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
        }
    }
    if !seen_notifications {
        return Err(MapError::Xml("no Salesforce notifications element".into()));
    }
    Ok(out)
}

fn close(
    stack: &[String],
    text: &mut String,
    nil: bool,
    out: &mut Notifications,
    current: &mut Option<Notification>,
) -> Result<(), MapError> {
    let n = stack.len();
    let name = stack.last().map(String::as_str).unwrap_or("");
    let parent = n
        .checked_sub(2)
        .and_then(|i| stack.get(i))
        .map(String::as_str);
    let value = std::mem::take(text).trim().to_owned();
    match (parent, name) {
        (Some("notifications"), "OrganizationId") => out.organization_id = value,
        (Some("notifications"), "ActionId") => out.action_id = Some(value),
        (Some("notifications"), "Notification") => {
            let notification = current.take().unwrap_or_default();
            if notification.id.is_empty() {
                return Err(MapError::missing(
                    "Notification.Id",
                    "every notification carries an Id",
                ));
            }
            if notification.sobject_type.is_empty() {
                return Err(MapError::missing(
                    "Notification.sObject",
                    "every notification carries an sObject with xsi:type",
                ));
            }
            out.notifications.push(notification);
        }
        (Some("Notification"), "Id") => {
            if let Some(c) = current.as_mut() {
                c.id = value;
            }
        }
        (Some("sObject"), field) if !nil => {
            if let Some(c) = current.as_mut() {
                c.fields.insert(field.to_owned(), value);
            }
        }
        _ => {}
    }
    Ok(())
}
