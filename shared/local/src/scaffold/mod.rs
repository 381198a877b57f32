//! `switchyard new function NAME --trigger ... [--consumes TYPE ...]`:
//! writes a function crate (a typed handler, its registration, a test that
//! runs it through the pipeline, a README), registers it in the registry,
//! and prints the IaC to add — the only other thing a new function needs.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use switchyard_contracts::catalog::{EventVersion, catalog};
use switchyard_triggers::registry::Trigger;

mod templates;
use templates::{cargo_toml, http_lib, iac, main_rs, message_lib, readme};

/// The marker line in `functions/registry/src/lib.rs` new entries go above.
pub const REGISTRY_MARKER: &str = "// switchyard new: registered functions above this line";

/// The function could not be scaffolded; nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    /// The name is not a valid function name.
    #[error(
        "invalid function name {0:?}: use lower-case letters, digits and '-', starting with a letter (e.g. invoice-sync)"
    )]
    Name(String),
    /// A consumed type is not a contract event type.
    #[error("unknown event type {event_type:?}: known types are {known}")]
    UnknownType {
        /// The type asked for.
        event_type: String,
        /// The known ones.
        known: String,
    },
    /// The trigger list is unusable.
    #[error("{0}")]
    Triggers(String),
    /// No workspace with a registry was found.
    #[error(
        "no Switchyard workspace found at or above {0} (a Cargo.toml beside functions/registry)"
    )]
    NoWorkspace(String),
    /// The function exists already.
    #[error("functions/{0} exists already")]
    Exists(String),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

/// What to scaffold.
#[derive(Debug, Clone)]
pub struct NewFunction {
    /// The function's name, e.g. `invoice-sync`.
    pub name: String,
    /// Its triggers.
    pub triggers: Vec<Trigger>,
    /// The event types it consumes (message functions).
    pub consumes: Vec<String>,
}

/// What was written, and the IaC to add by hand.
#[derive(Debug, Clone)]
pub struct Scaffolded {
    /// Files created or changed, relative to the workspace root.
    pub files: Vec<PathBuf>,
    /// The snippets for `template.yaml` and `infra/azure`.
    pub iac: String,
}

/// The workspace root at or above `start`: the directory whose Cargo.toml
/// sits beside `functions/registry`.
///
/// # Errors
/// [`ScaffoldError::NoWorkspace`].
pub fn find_workspace(start: &Path) -> Result<PathBuf, ScaffoldError> {
    let mut dir = Some(start);
    while let Some(d) = dir {
        if d.join("Cargo.toml").is_file() && d.join("functions/registry/src/lib.rs").is_file() {
            return Ok(d.to_owned());
        }
        dir = d.parent();
    }
    Err(ScaffoldError::NoWorkspace(start.display().to_string()))
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-')
        && !name.contains("--")
}

fn pascal(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut c = part.chars();
            match c.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + c.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

fn snake(name: &str) -> String {
    name.replace('-', "_")
}

/// The latest version of each consumed type.
fn resolve(consumes: &[String]) -> Result<Vec<EventVersion>, ScaffoldError> {
    let all = catalog();
    let known: BTreeSet<&str> = all.iter().map(|e| e.event_type).collect();
    consumes
        .iter()
        .map(|t| {
            all.iter()
                .filter(|e| e.event_type == t)
                .max_by_key(|e| e.version)
                .copied()
                .ok_or_else(|| ScaffoldError::UnknownType {
                    event_type: t.clone(),
                    known: known.iter().copied().collect::<Vec<_>>().join(", "),
                })
        })
        .collect()
}

fn write(
    root: &Path,
    rel: &str,
    text: &str,
    files: &mut Vec<PathBuf>,
) -> Result<(), ScaffoldError> {
    let path = root.join(rel);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| ScaffoldError::Io {
            path: dir.display().to_string(),
            source,
        })?;
    }
    std::fs::write(&path, text).map_err(|source| ScaffoldError::Io {
        path: path.display().to_string(),
        source,
    })?;
    files.push(PathBuf::from(rel));
    Ok(())
}

fn read(path: &Path) -> Result<String, ScaffoldError> {
    std::fs::read_to_string(path).map_err(|source| ScaffoldError::Io {
        path: path.display().to_string(),
        source,
    })
}

/// Writes the crate, registers it and returns the IaC snippets.
///
/// # Errors
/// [`ScaffoldError`]; on a validation error nothing is written.
pub fn new_function(root: &Path, spec: &NewFunction) -> Result<Scaffolded, ScaffoldError> {
    if !valid_name(&spec.name) {
        return Err(ScaffoldError::Name(spec.name.clone()));
    }
    let mut triggers = spec.triggers.clone();
    triggers.sort();
    triggers.dedup();
    if triggers.is_empty() {
        return Err(ScaffoldError::Triggers(
            "give at least one --trigger: sqs, eventbridge, servicebus or http".to_owned(),
        ));
    }
    let http = triggers.contains(&Trigger::Http);
    if http && triggers.len() > 1 {
        return Err(ScaffoldError::Triggers(
            "an http function has only the http trigger (it answers requests; message triggers need a handler of events)".to_owned(),
        ));
    }
    if http && !spec.consumes.is_empty() {
        return Err(ScaffoldError::Triggers(
            "an http function consumes no events; drop --consumes".to_owned(),
        ));
    }
    if !http && spec.consumes.is_empty() {
        return Err(ScaffoldError::Triggers(
            "a message function consumes something: give --consumes TYPE (e.g. order.placed)"
                .to_owned(),
        ));
    }
    let events = resolve(&spec.consumes)?;
    let dir = format!("functions/{}", spec.name);
    if root.join(&dir).exists() {
        return Err(ScaffoldError::Exists(spec.name.clone()));
    }
    let registry_lib = root.join("functions/registry/src/lib.rs");
    let registry_toml = root.join("functions/registry/Cargo.toml");
    let lib_text = read(&registry_lib)?;
    let toml_text = read(&registry_toml)?;
    if !lib_text.contains(REGISTRY_MARKER) {
        return Err(ScaffoldError::Triggers(format!(
            "{} has no line {REGISTRY_MARKER:?} to register the function above",
            registry_lib.display()
        )));
    }

    let mut files = Vec::new();
    let aws = triggers.iter().any(|t| t.is_aws());
    write(
        root,
        &format!("{dir}/Cargo.toml"),
        &cargo_toml(spec, aws, http),
        &mut files,
    )?;
    let lib = if http {
        http_lib(spec, &triggers)
    } else {
        message_lib(spec, &triggers, &events)
    };
    write(root, &format!("{dir}/src/lib.rs"), &lib, &mut files)?;
    if aws {
        write(
            root,
            &format!("{dir}/src/main.rs"),
            &main_rs(spec),
            &mut files,
        )?;
    }
    write(
        root,
        &format!("{dir}/README.md"),
        &readme(spec, &triggers),
        &mut files,
    )?;
    format_sources(&root.join(&dir));

    let crate_name = format!("switchyard-{}", spec.name);
    let entry = format!("        switchyard_{}::function(),\n", snake(&spec.name));
    let lib_text = lib_text.replacen(
        &format!("        {REGISTRY_MARKER}"),
        &format!("{entry}        {REGISTRY_MARKER}"),
        1,
    );
    write(root, "functions/registry/src/lib.rs", &lib_text, &mut files)?;
    let dep = format!(
        "{crate_name} = {{ path = \"../{}\", default-features = false }}\n",
        spec.name
    );
    let toml_text = match toml_text.find("[dependencies]\n") {
        Some(at) => {
            let at = at + "[dependencies]\n".len();
            format!("{}{dep}{}", &toml_text[..at], &toml_text[at..])
        }
        None => format!("{toml_text}\n[dependencies]\n{dep}"),
    };
    write(
        root,
        "functions/registry/Cargo.toml",
        &toml_text,
        &mut files,
    )?;
    Ok(Scaffolded {
        files,
        iac: iac(spec, &triggers, &events),
    })
}

/// Formats the generated sources with the toolchain's rustfmt, as
/// `cargo fmt` would; without rustfmt they stay as generated (valid Rust).
fn format_sources(dir: &Path) {
    let sources = ["src/lib.rs", "src/main.rs"]
        .iter()
        .map(|f| dir.join(f))
        .filter(|p| p.is_file());
    let status = std::process::Command::new("rustfmt")
        .args(["--edition", "2024"])
        .args(sources)
        .status();
    if !matches!(status, Ok(s) if s.success()) {
        tracing::warn!("rustfmt did not run on the generated sources; run cargo fmt");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_cases() {
        assert!(valid_name("invoice-sync"));
        for bad in ["", "Invoice", "1sync", "a--b", "a-", "a_b"] {
            assert!(!valid_name(bad), "{bad}");
        }
        assert_eq!(pascal("invoice-sync"), "InvoiceSync");
        assert_eq!(snake("invoice-sync"), "invoice_sync");
    }

    #[test]
    fn unknown_types_and_bad_trigger_sets_are_refused_before_writing() {
        let dir = std::env::temp_dir().join("switchyard-scaffold-never-written");
        let err = new_function(
            &dir,
            &NewFunction {
                name: "x".into(),
                triggers: vec![Trigger::Sqs],
                consumes: vec!["order.cancelled".into()],
            },
        )
        .unwrap_err();
        assert!(err.to_string().contains("order.placed"), "{err}");
        let err = new_function(
            &dir,
            &NewFunction {
                name: "x".into(),
                triggers: vec![Trigger::Http, Trigger::Sqs],
                consumes: vec![],
            },
        )
        .unwrap_err();
        assert!(err.to_string().contains("http"), "{err}");
        assert!(!dir.exists());
    }
}
