//! The Azure Function App package: `<out>/azure/functionapp/` — the
//! `azure-app` binary (executable), `host.json` and one
//! `<function>/function.json` per hosted function, generated from the
//! registry (`switchyard_runtime::azure_files`) — and the same files as
//! `<out>/azure/functionapp.zip` (deterministic), ready for a zip deploy.

use std::path::Path;

use anyhow::{Context, Result, bail};
use switchyard_runtime::azure_files::{EXECUTABLE, function_json, host_json, hosted, json_text};
use switchyard_triggers::registry::Function;

use crate::package::archive::{self, Entry};
use crate::package::{Arch, Artifact, PackageOptions};

/// The folder under `<out>` the Azure artifacts go to.
pub const DIR: &str = "azure";
/// The Function App folder, under [`DIR`].
pub const FOLDER: &str = "functionapp";
/// The Function App zip, under [`DIR`].
pub const ZIP: &str = "functionapp.zip";

/// ELF `e_machine` of x86-64.
const EM_X86_64: u16 = 62;

/// Writes the Function App folder and zip for the registry's hosted
/// functions, around `binary` — `azure-app` built in release for
/// `x86_64-unknown-linux-gnu`. The folder is replaced, so a function
/// removed from the registry leaves no folder behind.
///
/// # Errors
/// `opts.arch` is arm64 (Linux Consumption runs custom handlers on x86_64
/// only), `binary` is not an x86_64 Linux executable, or a file cannot be
/// written.
pub fn package(opts: &PackageOptions, binary: &Path) -> Result<Vec<Artifact>> {
    if opts.arch == Arch::Arm64 {
        bail!(
            "Azure Functions runs custom handlers on x86_64 on Linux Consumption; package Azure with --arch x86_64"
        );
    }
    let bytes = std::fs::read(binary).with_context(|| format!("read {}", binary.display()))?;
    check_x86_64_elf(&bytes).with_context(|| format!("{}", binary.display()))?;
    let entries = entries(&hosted(switchyard_registry::functions()), bytes)?;

    let root = opts.out.join(DIR);
    let folder = root.join(FOLDER);
    if folder.exists() {
        std::fs::remove_dir_all(&folder)
            .with_context(|| format!("remove the old {}", folder.display()))?;
    }
    let mut folder_bytes = 0;
    for entry in &entries {
        write_entry(&folder, entry)?;
        folder_bytes += entry.data.len() as u64;
    }
    let zip = root.join(ZIP);
    archive::write_zip(&zip, &entries)?;
    let count = entries.len() - 2;
    Ok(vec![
        Artifact {
            path: folder,
            bytes: folder_bytes,
            what: format!("Function App folder ({count} functions)"),
        },
        Artifact::of(&zip, "Function App")?,
    ])
}

/// The package's files: `azure-app` (executable), `host.json`, and
/// `<name>/function.json` for each of `functions`.
///
/// # Errors
/// A function the Function App would serve has no `function.json` (an
/// Azure trigger its kind cannot run), or two functions share a name.
pub fn entries(functions: &[Function], binary: Vec<u8>) -> Result<Vec<Entry>> {
    let mut entries = vec![
        Entry::executable(EXECUTABLE, binary),
        Entry::file("host.json", json_text(&host_json())),
    ];
    let mut names = std::collections::BTreeSet::new();
    for function in functions {
        let Some(json) = function_json(function) else {
            bail!(
                "{}: its triggers {:?} give no function.json ({} functions run on Service Bus or HTTP triggers only)",
                function.name,
                function.triggers,
                if function.is_http() {
                    "HTTP"
                } else {
                    "message"
                }
            );
        };
        if !names.insert(function.name) {
            bail!("{}: registered twice", function.name);
        }
        entries.push(Entry::file(
            format!("{}/function.json", function.name),
            json_text(&json),
        ));
    }
    Ok(entries)
}

fn write_entry(folder: &Path, entry: &Entry) -> Result<()> {
    let path = folder.join(&entry.name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("create {}", parent.display()))?;
    }
    std::fs::write(&path, &entry.data).with_context(|| format!("write {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = if entry.executable { 0o755 } else { 0o644 };
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
            .with_context(|| format!("chmod {}", path.display()))?;
    }
    Ok(())
}

/// `bytes` is a 64-bit little-endian ELF for x86-64.
fn check_x86_64_elf(bytes: &[u8]) -> Result<()> {
    let Some(header) = bytes.get(..20) else {
        bail!("not an executable: {} bytes", bytes.len());
    };
    if header[..4] != *b"\x7fELF" || header[4] != 2 || header[5] != 1 {
        bail!(
            "not a 64-bit little-endian ELF executable: build azure-app for x86_64-unknown-linux-gnu"
        );
    }
    let machine = u16::from_le_bytes([header[18], header[19]]);
    if machine != EM_X86_64 {
        bail!(
            "an ELF for machine {machine}, not x86-64 ({EM_X86_64}): build azure-app for x86_64-unknown-linux-gnu"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first 20 bytes of an x86-64 ELF, and some body.
    fn elf(machine: u16) -> Vec<u8> {
        let mut bytes = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x02\0".to_vec();
        bytes.extend(machine.to_le_bytes());
        bytes.extend(b"body");
        bytes
    }

    fn opts(out: &Path, arch: Arch) -> PackageOptions {
        PackageOptions {
            root: out.to_owned(),
            out: out.to_owned(),
            arch,
        }
    }

    #[test]
    fn the_folder_and_zip_hold_the_binary_host_json_and_one_folder_per_function() {
        let dir = tempfile::tempdir().unwrap();
        let binary = dir.path().join("azure-app-built");
        std::fs::write(&binary, elf(EM_X86_64)).unwrap();
        let out = dir.path().join("out");
        // A stale folder from an earlier package goes away.
        std::fs::create_dir_all(out.join("azure/functionapp/removed-function")).unwrap();
        let artifacts = package(&opts(&out, Arch::X86_64), &binary).unwrap();
        assert_eq!(artifacts.len(), 2);
        let folder = out.join("azure/functionapp");
        assert_eq!(artifacts[0].path, folder);
        assert!(!folder.join("removed-function").exists());
        let names: Vec<String> = archive::read_zip(&artifacts[1].path)
            .unwrap()
            .into_iter()
            .map(|e| format!("{}{}", e.name, if e.executable { " (x)" } else { "" }))
            .collect();
        assert_eq!(
            names,
            [
                "audit-log/function.json",
                "azure-app (x)",
                "crm-webhook/function.json",
                "crm-writeback/function.json",
                "erp-sync/function.json",
                "host.json"
            ]
        );
        for entry in archive::read_zip(&artifacts[1].path).unwrap() {
            assert_eq!(std::fs::read(folder.join(&entry.name)).unwrap(), entry.data);
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &str| {
                std::fs::metadata(folder.join(p))
                    .unwrap()
                    .permissions()
                    .mode()
            };
            assert_eq!(mode("azure-app") & 0o777, 0o755);
            assert_eq!(mode("host.json") & 0o777, 0o644);
        }
        let host = std::fs::read_to_string(folder.join("host.json")).unwrap();
        assert!(host.ends_with("}\n") && host.contains("\n  \"customHandler\": {"));

        // Same inputs, same bytes.
        let first = std::fs::read(&artifacts[1].path).unwrap();
        package(&opts(&out, Arch::X86_64), &binary).unwrap();
        assert_eq!(std::fs::read(&artifacts[1].path).unwrap(), first);
    }

    #[test]
    fn arm64_and_foreign_binaries_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let binary = dir.path().join("azure-app");
        std::fs::write(&binary, elf(EM_X86_64)).unwrap();
        let err = package(&opts(dir.path(), Arch::Arm64), &binary).unwrap_err();
        assert!(err.to_string().contains("x86_64"), "{err}");
        std::fs::write(&binary, elf(183)).unwrap(); // aarch64
        let err = format!(
            "{:#}",
            package(&opts(dir.path(), Arch::X86_64), &binary).unwrap_err()
        );
        assert!(err.contains("not x86-64"), "{err}");
        std::fs::write(&binary, b"#!/bin/sh\n").unwrap();
        let err = format!(
            "{:#}",
            package(&opts(dir.path(), Arch::X86_64), &binary).unwrap_err()
        );
        assert!(err.contains("not"), "{err}");
        assert!(!dir.path().join("azure").exists(), "nothing written");
    }

    #[test]
    fn a_function_the_app_cannot_serve_is_refused() {
        let mut f = switchyard_erp_sync_like();
        f.triggers = &[switchyard_triggers::registry::Trigger::Http];
        let err = entries(&[f], Vec::new()).unwrap_err();
        assert!(err.to_string().contains("no function.json"), "{err}");
    }

    fn switchyard_erp_sync_like() -> Function {
        switchyard_registry::functions()
            .into_iter()
            .find(|f| !f.is_http())
            .unwrap()
    }
}
