//! The CloudEvents 1.0 JSON format as it arrives from anyone: every optional
//! attribute may be absent or `null`, `data` may be absent, JSON or
//! `data_base64`, and extensions are any attributes beyond the spec's.
//!
//! [`Wire`] reads one event in a single pass without building a map of its
//! members: the attributes Switchyard knows go to their fields, and every
//! other member is checked as an extension (its name and its value's type)
//! and skipped. A rule a member breaks is remembered
//! ([`Wire::broken`]), not raised, so the error names the attribute whether
//! or not paths are tracked; [`rules`] checks the rest and
//! [`crate::decode`] normalizes the event into an [`Envelope`](crate::Envelope).

pub(crate) mod read;
pub(crate) mod rules;

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};

/// One attribute rule broken while reading: the attribute and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Broken {
    pub(crate) path: String,
    pub(crate) message: String,
}

/// An event in the CloudEvents JSON format, `D` the JSON `data` member
/// (`&RawValue` on the fast path, `Value` on the tracked one).
#[derive(Debug)]
pub(crate) struct Wire<D> {
    pub(crate) specversion: Option<String>,
    pub(crate) id: Option<String>,
    pub(crate) source: Option<String>,
    pub(crate) event_type: Option<String>,
    pub(crate) time: Option<String>,
    pub(crate) subject: Option<String>,
    pub(crate) datacontenttype: Option<String>,
    pub(crate) dataschema: Option<String>,
    pub(crate) dataversion: Option<u32>,
    pub(crate) correlationid: Option<String>,
    pub(crate) causationid: Option<String>,
    pub(crate) traceparent: Option<String>,
    /// `data` when the member is present (`Some` even for an explicit `null`).
    pub(crate) data: Option<D>,
    pub(crate) data_base64: Option<String>,
    /// The first rule a member broke while reading.
    pub(crate) broken: Option<Broken>,
}

impl<D> Default for Wire<D> {
    fn default() -> Self {
        Wire {
            specversion: None,
            id: None,
            source: None,
            event_type: None,
            time: None,
            subject: None,
            datacontenttype: None,
            dataschema: None,
            dataversion: None,
            correlationid: None,
            causationid: None,
            traceparent: None,
            data: None,
            data_base64: None,
            broken: None,
        }
    }
}

impl<D> Wire<D> {
    fn breaks(&mut self, path: &str, message: impl Into<String>) {
        if self.broken.is_none() {
            self.broken = Some(Broken {
                path: path.to_owned(),
                message: message.into(),
            });
        }
    }
}

/// A member name, borrowed from the input when it can be.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<De: Deserializer<'de>>(d: De) -> Result<Self, De::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an attribute name")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

/// The CloudEvents type of an extension's JSON value, judged without
/// keeping the value.
enum Extension {
    /// `null`: the attribute is absent.
    Absent,
    /// A Boolean, a 32-bit Integer or a String (URI, Timestamp and Binary
    /// are strings in JSON).
    Valid,
    /// Not a CloudEvents type: why.
    Invalid(&'static str),
}

impl<'de> Deserialize<'de> for Extension {
    fn deserialize<De: Deserializer<'de>>(d: De) -> Result<Self, De::Error> {
        struct ExtensionVisitor;
        impl<'de> Visitor<'de> for ExtensionVisitor {
            type Value = Extension;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an extension attribute value")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Extension, E> {
                Ok(Extension::Absent)
            }
            fn visit_none<E: de::Error>(self) -> Result<Extension, E> {
                Ok(Extension::Absent)
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Extension, E> {
                Ok(Extension::Valid)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Extension, E> {
                Ok(integer(i32::try_from(v).is_ok()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Extension, E> {
                Ok(integer(i32::try_from(v).is_ok()))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Extension, E> {
                Ok(Extension::Invalid(
                    "a number with a fraction or exponent is not a CloudEvents Integer",
                ))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Extension, E> {
                Ok(Extension::Valid)
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Extension, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Extension::Invalid(
                    "an array is not a CloudEvents attribute type",
                ))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Extension, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Extension::Invalid(
                    "an object is not a CloudEvents attribute type",
                ))
            }
        }
        d.deserialize_any(ExtensionVisitor)
    }
}

fn integer(in_range: bool) -> Extension {
    if in_range {
        Extension::Valid
    } else {
        Extension::Invalid("outside the 32-bit range of a CloudEvents Integer")
    }
}

/// `dataversion`: a CloudEvents Integer (a JSON number, or its canonical
/// string form, as binary-mode headers carry it) that is a schema version.
enum Version {
    Absent,
    Valid(u32),
    Invalid(String),
}

impl<'de> Deserialize<'de> for Version {
    fn deserialize<De: Deserializer<'de>>(d: De) -> Result<Self, De::Error> {
        struct VersionVisitor;
        impl<'de> Visitor<'de> for VersionVisitor {
            type Value = Version;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a schema version (a non-negative 32-bit integer)")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Version, E> {
                Ok(Version::Absent)
            }
            fn visit_none<E: de::Error>(self) -> Result<Version, E> {
                Ok(Version::Absent)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Version, E> {
                Ok(version(u64::try_from(v).ok(), &v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Version, E> {
                Ok(version(Some(v), &v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Version, E> {
                let canonical = !v.is_empty()
                    && v.bytes().all(|b| b.is_ascii_digit())
                    && (v.len() == 1 || !v.starts_with('0'));
                Ok(version(
                    v.parse::<u64>().ok().filter(|_| canonical),
                    &format_args!("{v:?}"),
                ))
            }
        }
        d.deserialize_any(VersionVisitor)
    }
}

fn version(v: Option<u64>, shown: &dyn fmt::Display) -> Version {
    match v
        .and_then(|v| i32::try_from(v).ok())
        .and_then(|v| u32::try_from(v).ok())
    {
        Some(v) => Version::Valid(v),
        None => Version::Invalid(format!(
            "expected a schema version (a non-negative 32-bit integer), got {shown}"
        )),
    }
}

impl<'de, D: Deserialize<'de>> Deserialize<'de> for Wire<D> {
    fn deserialize<De: Deserializer<'de>>(d: De) -> Result<Self, De::Error> {
        d.deserialize_map(WireVisitor(PhantomData))
    }
}

struct WireVisitor<D>(PhantomData<D>);

/// Reads one optional string attribute, refusing a second occurrence.
fn string<'de, A: MapAccess<'de>>(
    map: &mut A,
    slot: &mut Option<String>,
    seen: &mut bool,
    name: &'static str,
) -> Result<(), A::Error> {
    if std::mem::replace(seen, true) {
        return Err(de::Error::duplicate_field(name));
    }
    *slot = map.next_value::<Option<String>>()?;
    Ok(())
}

impl<'de, D: Deserialize<'de>> Visitor<'de> for WireVisitor<D> {
    type Value = Wire<D>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a CloudEvent (a JSON object)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Wire<D>, A::Error> {
        let mut w = Wire::default();
        // one flag per known member, to refuse duplicates
        let mut seen = [false; 14];
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            match key.as_ref() {
                "specversion" => string(&mut map, &mut w.specversion, &mut seen[0], "specversion")?,
                "id" => string(&mut map, &mut w.id, &mut seen[1], "id")?,
                "source" => string(&mut map, &mut w.source, &mut seen[2], "source")?,
                "type" => string(&mut map, &mut w.event_type, &mut seen[3], "type")?,
                "time" => string(&mut map, &mut w.time, &mut seen[4], "time")?,
                "subject" => string(&mut map, &mut w.subject, &mut seen[5], "subject")?,
                "datacontenttype" => string(
                    &mut map,
                    &mut w.datacontenttype,
                    &mut seen[6],
                    "datacontenttype",
                )?,
                "dataschema" => string(&mut map, &mut w.dataschema, &mut seen[7], "dataschema")?,
                "correlationid" => string(
                    &mut map,
                    &mut w.correlationid,
                    &mut seen[8],
                    "correlationid",
                )?,
                "causationid" => {
                    string(&mut map, &mut w.causationid, &mut seen[9], "causationid")?;
                }
                "traceparent" => {
                    string(&mut map, &mut w.traceparent, &mut seen[10], "traceparent")?;
                }
                "data_base64" => {
                    string(&mut map, &mut w.data_base64, &mut seen[11], "data_base64")?;
                }
                "dataversion" => {
                    if std::mem::replace(&mut seen[12], true) {
                        return Err(de::Error::duplicate_field("dataversion"));
                    }
                    match map.next_value::<Version>()? {
                        Version::Absent => {}
                        Version::Valid(v) => w.dataversion = Some(v),
                        Version::Invalid(message) => w.breaks("dataversion", message),
                    }
                }
                "data" => {
                    if std::mem::replace(&mut seen[13], true) {
                        return Err(de::Error::duplicate_field("data"));
                    }
                    w.data = Some(map.next_value::<D>()?);
                }
                name => {
                    let valid_name = rules::is_attribute_name(name);
                    let value = map.next_value::<Extension>()?;
                    if !valid_name {
                        w.breaks(
                            name,
                            "an attribute name must be 1 to 20 lower-case ASCII letters or digits",
                        );
                    } else if let Extension::Invalid(why) = value {
                        w.breaks(name, format!("invalid extension attribute value: {why}"));
                    }
                }
            }
        }
        Ok(w)
    }
}
