//! The event-pattern table (`fixtures/event-patterns.json`, see its
//! README), shared by `event_patterns.rs` and `event_patterns_moto.rs`.

use std::path::Path;

use serde_json::Value;

/// The table.
pub(crate) struct Table(Value);

impl Table {
    /// Reads the fixture.
    pub(crate) fn load() -> Table {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/event-patterns.json");
        let text = std::fs::read_to_string(&path).expect("the fixture is readable");
        Table(serde_json::from_str(&text).expect("the fixture is JSON"))
    }

    /// The cases: `name`, `section`, `pattern`, `event`, `matches`.
    pub(crate) fn cases(&self) -> &[Value] {
        self.list("cases")
    }

    /// The invalid patterns: `name`, `section`, `pattern`, `error`.
    pub(crate) fn invalid(&self) -> &[Value] {
        self.list("invalid")
    }

    /// A case's event: written in the case, or one of the named events.
    pub(crate) fn event<'a>(&'a self, case: &'a Value) -> &'a Value {
        match &case["event"] {
            Value::String(name) => {
                let event = &self.0["events"][name.as_str()];
                assert!(event.is_object(), "no event named {name:?}");
                event
            }
            inline => inline,
        }
    }

    fn list(&self, key: &str) -> &[Value] {
        self.0[key]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
    }
}
