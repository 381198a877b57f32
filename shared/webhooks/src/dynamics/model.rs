//! The `RemoteExecutionContext` as Dynamics serialises it for a webhook
//! (DataContractJsonSerializer: PascalCase names, `{key, value}` pair lists,
//! `__type`-tagged values, dates as `/Date(ms±zone)/`).

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

use crate::error::MapError;

/// The plug-in execution context Dynamics posts. Only the fields the
/// mapping reads are typed; the rest are ignored.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RemoteExecutionContext {
    /// The SDK message: `Create`, `Update`, `Delete`, ...
    pub message_name: String,
    /// The entity's logical name: `salesorder`, `contact`, `account`, ...
    pub primary_entity_name: String,
    /// The entity's id (GUID).
    pub primary_entity_id: String,
    /// The id shared by every operation of one user action; our correlation id.
    #[serde(default)]
    pub correlation_id: Option<String>,
    /// The id of this operation (one per pipeline run).
    #[serde(default)]
    pub operation_id: Option<String>,
    /// The id of the request (asynchronous operations).
    #[serde(default)]
    pub request_id: Option<String>,
    /// How deep in a chain of plug-ins/workflows this operation runs (1 = a user action).
    #[serde(default)]
    pub depth: Option<i64>,
    /// The organisation's id.
    #[serde(default)]
    pub organization_id: Option<String>,
    /// The organisation's unique name.
    #[serde(default)]
    pub organization_name: Option<String>,
    /// When the operation ran, `/Date(ms±zone)/`.
    #[serde(default)]
    pub operation_created_on: Option<String>,
    /// The message's parameters; `Target` holds the entity.
    #[serde(default)]
    pub input_parameters: Option<Vec<KeyValue<Value>>>,
    /// Entity images taken before the operation.
    #[serde(default)]
    pub pre_entity_images: Option<Vec<KeyValue<Entity>>>,
    /// Entity images taken after the operation.
    #[serde(default)]
    pub post_entity_images: Option<Vec<KeyValue<Entity>>>,
}

/// One entry of a DataContract key/value list.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct KeyValue<T> {
    /// The key.
    pub key: String,
    /// The value.
    pub value: T,
}

/// An entity: logical name, id and attributes.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Entity {
    /// The logical name.
    #[serde(default)]
    pub logical_name: Option<String>,
    /// The id (GUID).
    #[serde(default)]
    pub id: Option<String>,
    /// The attributes, with typed values.
    #[serde(default)]
    pub attributes: Vec<KeyValue<Value>>,
}

impl RemoteExecutionContext {
    /// The `Target` entity of the input parameters, if it is an entity.
    ///
    /// # Errors
    /// [`MapError::Json`] when `Target` is there but not an entity.
    pub fn target(&self) -> Result<Option<Entity>, MapError> {
        let Some(target) = self
            .input_parameters
            .iter()
            .flatten()
            .find(|p| p.key == "Target")
        else {
            return Ok(None);
        };
        if target.value.get("Attributes").is_none() {
            return Ok(None); // an EntityReference (Delete, Assign...)
        }
        serde_path_to_error::deserialize(&target.value)
            .map(Some)
            .map_err(|e| match MapError::json(e) {
                MapError::Json { path, message } => MapError::Json {
                    path: format!("InputParameters.Target.{path}"),
                    message,
                },
                other => other,
            })
    }
}

/// A typed attribute value.
#[derive(Debug, Clone, PartialEq)]
pub enum AttributeValue {
    /// `null`.
    Null,
    /// A boolean.
    Bool(bool),
    /// A string (text, memo, or a GUID).
    Text(String),
    /// A plain number, as its decimal text.
    Number(String),
    /// `Money`: the amount as decimal text.
    Money(String),
    /// `OptionSetValue`.
    OptionSet(i64),
    /// `EntityReference`.
    Reference {
        /// The referenced entity's logical name.
        logical_name: String,
        /// Its id.
        id: String,
        /// Its primary name, when Dynamics included it.
        name: Option<String>,
    },
    /// A date, `/Date(ms±zone)/`.
    Date(DateTime<Utc>),
    /// Any other typed value (`__type` name).
    Other(String),
}

impl AttributeValue {
    /// Reads one attribute value.
    pub fn from_json(value: &Value) -> AttributeValue {
        match value {
            Value::Null => AttributeValue::Null,
            Value::Bool(b) => AttributeValue::Bool(*b),
            Value::Number(n) => AttributeValue::Number(n.to_string()),
            Value::String(s) => match parse_date(s) {
                Ok(date) if s.starts_with("/Date(") => AttributeValue::Date(date),
                _ => AttributeValue::Text(s.clone()),
            },
            Value::Array(_) => AttributeValue::Other("array".to_owned()),
            Value::Object(map) => {
                let kind = map
                    .get("__type")
                    .and_then(Value::as_str)
                    .and_then(|t| t.split(':').next())
                    .unwrap_or("");
                match kind {
                    "Money" => match map.get("Value") {
                        Some(Value::Number(n)) => AttributeValue::Money(n.to_string()),
                        _ => AttributeValue::Other("Money".to_owned()),
                    },
                    "OptionSetValue" => match map.get("Value").and_then(Value::as_i64) {
                        Some(v) => AttributeValue::OptionSet(v),
                        None => AttributeValue::Other("OptionSetValue".to_owned()),
                    },
                    "EntityReference" => {
                        let text = |k: &str| map.get(k).and_then(Value::as_str).map(str::to_owned);
                        match (text("LogicalName"), text("Id")) {
                            (Some(logical_name), Some(id)) => AttributeValue::Reference {
                                logical_name,
                                id,
                                name: text("Name"),
                            },
                            _ => AttributeValue::Other("EntityReference".to_owned()),
                        }
                    }
                    other => AttributeValue::Other(other.to_owned()),
                }
            }
        }
    }

    /// The value as text, for text and numbers.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            AttributeValue::Text(s) | AttributeValue::Number(s) => Some(s),
            _ => None,
        }
    }
}

/// Parses a DataContract date, `/Date(1495147347000+0000)/` (milliseconds
/// since the epoch in UTC; the zone suffix is informational) or `/Date(ms)/`.
///
/// # Errors
/// [`MapError::Invalid`] naming the expected form.
pub fn parse_date(text: &str) -> Result<DateTime<Utc>, MapError> {
    let bad = || {
        MapError::invalid(
            "OperationCreatedOn",
            "expected a date of the form /Date(1495147347000+0000)/",
        )
    };
    let inner = text
        .strip_prefix("/Date(")
        .and_then(|t| t.strip_suffix(")/"))
        .ok_or_else(bad)?;
    // The milliseconds may be negative; a zone starts at a sign after the first char.
    let split = inner
        .char_indices()
        .skip(1)
        .find(|(_, c)| *c == '+' || *c == '-')
        .map(|(i, _)| i);
    let (ms, zone) = match split {
        Some(i) => inner.split_at(i),
        None => (inner, ""),
    };
    if !zone.is_empty() && (zone.len() != 5 || !zone[1..].bytes().all(|b| b.is_ascii_digit())) {
        return Err(bad());
    }
    let digits = ms.strip_prefix('-').unwrap_or(ms);
    if digits.is_empty() || digits.len() > 15 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let ms: i64 = ms.parse().map_err(|_| bad())?;
    DateTime::from_timestamp_millis(ms).ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_parse_in_every_documented_form() {
        let want = DateTime::from_timestamp_millis(1_495_147_347_000).unwrap();
        assert_eq!(parse_date("/Date(1495147347000+0000)/").unwrap(), want);
        assert_eq!(parse_date("/Date(1495147347000-0700)/").unwrap(), want);
        assert_eq!(parse_date("/Date(1495147347000)/").unwrap(), want);
        assert_eq!(parse_date("/Date(-1000)/").unwrap().timestamp(), -1);
        for bad in [
            "",
            "/Date()/",
            "/Date(abc)/",
            "/Date(1+00)/",
            "2024-01-01",
            "/Date(1495147347000+0000)",
            "/Date(99999999999999999)/",
        ] {
            assert!(parse_date(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn typed_values_are_recognised() {
        let money = serde_json::json!({"__type": "Money:http://schemas.microsoft.com/xrm/2011/Contracts", "Value": 1234.5});
        assert_eq!(
            AttributeValue::from_json(&money),
            AttributeValue::Money("1234.5".into())
        );
        let opt = serde_json::json!({"__type": "OptionSetValue:http://schemas.microsoft.com/xrm/2011/Contracts", "Value": 3});
        assert_eq!(
            AttributeValue::from_json(&opt),
            AttributeValue::OptionSet(3)
        );
        let reference = serde_json::json!({"__type": "EntityReference:http://schemas.microsoft.com/xrm/2011/Contracts", "Id": "a", "LogicalName": "account", "Name": null});
        assert_eq!(
            AttributeValue::from_json(&reference),
            AttributeValue::Reference {
                logical_name: "account".into(),
                id: "a".into(),
                name: None
            }
        );
        assert!(matches!(
            AttributeValue::from_json(&serde_json::json!("/Date(0)/")),
            AttributeValue::Date(_)
        ));
        assert_eq!(
            AttributeValue::from_json(&serde_json::json!("x")),
            AttributeValue::Text("x".into())
        );
    }
}
