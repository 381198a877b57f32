//! The AWS half of `switchyard package`: one `bootstrap` zip per registered
//! Lambda function, built by `cargo lambda build --release --output-format
//! zip` — each function on its own, so each binary keeps its own feature set
//! — rewritten deterministically, and `template.yaml` with every function's
//! `CodeUri` pointing at its zip (the `rust-cargolambda` build metadata
//! removed, `Architectures` set to the built one), ready for `sam deploy`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, anyhow, bail};
use serde_norway::Value as Yaml;

use crate::package::archive::{self, Entry};
use crate::package::{Arch, Artifact, PackageOptions};

/// One Lambda function to build: its registry name (= its binary's) and the
/// cargo package holding that binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LambdaBuild {
    /// The function's (and binary's) name.
    pub function: &'static str,
    /// The cargo package.
    pub package: String,
}

/// The registered functions with a Lambda trigger, each with the package of
/// its binary (from `cargo metadata`).
///
/// # Errors
/// `cargo metadata` fails, or a function has no binary of its name.
pub fn lambda_functions(root: &Path) -> Result<Vec<LambdaBuild>> {
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()))
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .current_dir(root)
        .output()
        .context("run cargo metadata")?;
    if !out.status.success() {
        bail!("cargo metadata: {}", String::from_utf8_lossy(&out.stderr));
    }
    let metadata: serde_json::Value =
        serde_json::from_slice(&out.stdout).context("cargo metadata's JSON")?;
    let mut packages_of: BTreeMap<String, String> = BTreeMap::new();
    for package in metadata["packages"].as_array().into_iter().flatten() {
        for target in package["targets"].as_array().into_iter().flatten() {
            let is_bin = target["kind"]
                .as_array()
                .is_some_and(|k| k.iter().any(|k| k == "bin"));
            if let (true, Some(bin), Some(name)) =
                (is_bin, target["name"].as_str(), package["name"].as_str())
            {
                packages_of.insert(bin.to_owned(), name.to_owned());
            }
        }
    }
    switchyard_registry::functions()
        .into_iter()
        .filter(|f| f.triggers.iter().any(|t| t.is_aws()))
        .map(|f| {
            let package = packages_of
                .get(f.name)
                .cloned()
                .ok_or_else(|| anyhow!("function {} has no binary named {0}", f.name))?;
            Ok(LambdaBuild {
                function: f.name,
                package,
            })
        })
        .collect()
}

/// `cargo lambda build --release` of one binary into `lambda_dir/<bin>/`:
/// `bootstrap.zip` (`zip`) or the `bootstrap` executable (`binary`).
/// cargo lambda links against an old glibc with zig, so the binary runs on
/// the cloud's image, not only on this machine's.
pub fn cargo_lambda_build(
    cargo_lambda: &Path,
    opts: &PackageOptions,
    (package, bin): (&str, &str),
    output_format: &str,
    lambda_dir: &Path,
) -> Command {
    let mut command = Command::new(cargo_lambda);
    // cargo lambda finds zig (the `ziglang` package installed beside it) on PATH
    if let Some(dir) = cargo_lambda.parent() {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let paths = std::iter::once(dir.to_owned()).chain(std::env::split_paths(&path));
        if let Ok(joined) = std::env::join_paths(paths) {
            command.env("PATH", joined);
        }
    }
    command
        .args([
            "lambda",
            "build",
            "--release",
            "--output-format",
            output_format,
        ])
        .arg("--lambda-dir")
        .arg(lambda_dir)
        .args(["-p", package, "--bin", bin])
        .arg(match opts.arch {
            Arch::X86_64 => "--x86-64",
            Arch::Arm64 => "--arm64",
        })
        .current_dir(&opts.root);
    command
}

/// `cargo lambda build` for one function, its zip under `lambda_dir/<name>/`.
pub fn build_command(
    cargo_lambda: &Path,
    opts: &PackageOptions,
    build: &LambdaBuild,
    lambda_dir: &Path,
) -> Command {
    cargo_lambda_build(
        cargo_lambda,
        opts,
        (&build.package, build.function),
        "zip",
        lambda_dir,
    )
}

/// Where `cargo lambda build --lambda-dir <dir>` left a function's zip.
pub fn built_zip(lambda_dir: &Path, function: &str) -> PathBuf {
    lambda_dir.join(function).join("bootstrap.zip")
}

/// Writes `<out>/aws/<function>.zip` (normalised) for every built function
/// and `<out>/aws/template.yaml`.
///
/// # Errors
/// A zip is missing or holds no executable `bootstrap`; the template does
/// not declare exactly the built functions.
pub fn package(
    opts: &PackageOptions,
    builds: &[LambdaBuild],
    lambda_dir: &Path,
) -> Result<Vec<Artifact>> {
    let dir = opts.out.join("aws");
    std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
    let mut artifacts = Vec::new();
    let mut zips = BTreeMap::new();
    for build in builds {
        let built = built_zip(lambda_dir, build.function);
        let entries = archive::read_zip(&built)?;
        let Some(bootstrap) = entries.iter().find(|e| e.name == "bootstrap") else {
            bail!("{} holds no bootstrap", built.display());
        };
        let entries = vec![Entry::executable("bootstrap", bootstrap.data.clone())];
        let name = format!("{}.zip", build.function);
        let path = dir.join(&name);
        archive::write_zip(&path, &entries)?;
        artifacts.push(Artifact::of(&path, format!("Lambda {}", build.function))?);
        zips.insert(build.function.to_owned(), name);
    }
    let template_path = opts.root.join("template.yaml");
    let text = std::fs::read_to_string(&template_path)
        .with_context(|| format!("read {}", template_path.display()))?;
    let packaged = packaged_template(&text, &zips, opts.arch)?;
    let path = dir.join("template.yaml");
    std::fs::write(&path, packaged).with_context(|| format!("write {}", path.display()))?;
    artifacts.push(Artifact::of(&path, "SAM template")?);
    Ok(artifacts)
}

/// The `rust-cargolambda` functions of a template: logical id → binary.
fn cargo_lambda_functions(template: &Yaml) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Some(resources) = template.get("Resources").and_then(Yaml::as_mapping) else {
        return out;
    };
    for (id, resource) in resources {
        let metadata = resource.get("Metadata");
        let is_cargo_lambda = metadata
            .and_then(|m| m.get("BuildMethod"))
            .and_then(Yaml::as_str)
            == Some("rust-cargolambda");
        let binary = metadata
            .and_then(|m| m.get("BuildProperties"))
            .and_then(|p| p.get("Binary"))
            .and_then(Yaml::as_str);
        if let (true, Some(id), Some(binary)) = (is_cargo_lambda, id.as_str(), binary) {
            out.insert(id.to_owned(), binary.to_owned());
        }
    }
    out
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// The `Metadata` keys of a function that only `sam build` reads.
const BUILD_METADATA_KEYS: [&str; 2] = ["BuildMethod", "BuildProperties"];

/// A function's `Metadata` block (its lines below `    Metadata:`) without
/// the build keys; `None` when nothing else is left (e.g. `checkov` skips
/// stay, so policy checks see the same template).
fn without_build_metadata(block: &[&str]) -> Option<String> {
    let mut kept = String::new();
    let mut dropping = false;
    for line in block {
        if indent(line) == 6 && !line.trim().is_empty() {
            let key = line.trim().split(':').next().unwrap_or_default();
            dropping = BUILD_METADATA_KEYS.contains(&key);
        }
        if !dropping {
            kept.push_str(line);
            kept.push('\n');
        }
    }
    (!kept.trim().is_empty()).then(|| format!("    Metadata:\n{kept}"))
}

/// The template with each `rust-cargolambda` function's `CodeUri` set to
/// its zip (`zips`: binary → file name, beside the template), its build
/// `Metadata` keys removed (`BuildMethod`, `BuildProperties`; other keys,
/// such as `checkov` skips, stay), and `Globals.Function.Architectures` set
/// to `arch`. Everything else is kept byte for byte (comments, tags, order).
///
/// # Errors
/// Not YAML; a template function without a zip or a zip without a function.
pub fn packaged_template(
    text: &str,
    zips: &BTreeMap<String, String>,
    arch: Arch,
) -> Result<String> {
    let template: Yaml = serde_norway::from_str(text).context("template.yaml is not YAML")?;
    let functions = cargo_lambda_functions(&template);
    let binaries: Vec<&String> = functions.values().collect();
    for binary in zips.keys() {
        if !binaries.contains(&binary) {
            bail!("template.yaml has no rust-cargolambda function with Binary: {binary}");
        }
    }
    let mut out = String::with_capacity(text.len());
    let mut current: Option<&str> = None; // the binary of the resource being read
    let mut in_resources = false;
    let mut metadata: Option<Vec<&str>> = None; // a function's Metadata block being read
    let mut arch_next = false;
    let mut code_uris = 0;
    for line in text.lines() {
        if let Some(block) = metadata.as_mut() {
            if line.trim().is_empty() || indent(line) > 4 {
                block.push(line);
                continue;
            }
            out.push_str(&without_build_metadata(block).unwrap_or_default());
            metadata = None;
        }
        if indent(line) == 0 && !line.trim().is_empty() {
            in_resources = line.trim_end() == "Resources:";
            current = None;
        } else if in_resources && indent(line) == 2 && line.trim_end().ends_with(':') {
            let id = line.trim().trim_end_matches(':');
            current = functions.get(id).map(String::as_str);
        }
        let trimmed = line.trim();
        if let Some(binary) = current {
            if trimmed == "Metadata:" && indent(line) == 4 {
                metadata = Some(Vec::new());
                continue;
            }
            if trimmed.starts_with("CodeUri:") && indent(line) == 6 {
                let zip = zips
                    .get(binary)
                    .ok_or_else(|| anyhow!("no zip was built for the template's {binary}"))?;
                out.push_str(&format!("      CodeUri: {zip}\n"));
                code_uris += 1;
                continue;
            }
        }
        if arch_next && trimmed.starts_with("- ") {
            out.push_str(&" ".repeat(indent(line)));
            out.push_str(&format!("- {}\n", arch.lambda_name()));
            arch_next = false;
            continue;
        }
        arch_next = trimmed == "Architectures:";
        out.push_str(line);
        out.push('\n');
    }
    if let Some(block) = metadata {
        out.push_str(&without_build_metadata(&block).unwrap_or_default());
    }
    if code_uris != functions.len() {
        bail!(
            "{} rust-cargolambda functions but {code_uris} CodeUri lines at the usual indentation",
            functions.len()
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template() -> String {
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../template.yaml"))
            .unwrap()
    }

    fn zips() -> BTreeMap<String, String> {
        ["crm-webhook", "erp-sync", "audit-log", "crm-writeback"]
            .iter()
            .map(|b| ((*b).to_owned(), format!("{b}.zip")))
            .collect()
    }

    #[test]
    fn every_function_points_at_its_zip_and_nothing_else_changes() {
        let text = template();
        let packaged = packaged_template(&text, &zips(), Arch::X86_64).unwrap();
        assert!(!packaged.contains("rust-cargolambda"));
        assert!(!packaged.contains("CodeUri: ."));
        for b in ["crm-webhook", "erp-sync", "audit-log", "crm-writeback"] {
            assert!(packaged.contains(&format!("CodeUri: {b}.zip")), "{b}");
        }
        assert!(packaged.contains("Architectures:\n      - x86_64\n"));
        let parsed: Yaml = serde_norway::from_str(&packaged).unwrap();
        assert!(cargo_lambda_functions(&parsed).is_empty());
        // the policy checks' inline skips stay: checkov sees the same template
        let original: Yaml = serde_norway::from_str(&text).unwrap();
        let functions = cargo_lambda_functions(&original);
        for id in functions.keys() {
            let skips = |t: &Yaml| t["Resources"][id.as_str()]["Metadata"]["checkov"].clone();
            assert!(!skips(&original).is_null(), "{id} has no checkov skips");
            assert_eq!(skips(&parsed), skips(&original), "{id}");
        }
        // only the build metadata, CodeUri and architecture lines differ
        let removed = text.lines().count() - packaged.lines().count();
        assert_eq!(
            removed,
            functions.len() * 3,
            "BuildMethod, BuildProperties, Binary per function (Metadata stays for its checkov skips)"
        );
        let arm = packaged_template(&text, &zips(), Arch::Arm64).unwrap();
        assert!(arm.contains("Architectures:\n      - arm64\n"));
        assert_eq!(
            packaged_template(&text, &zips(), Arch::X86_64).unwrap(),
            packaged
        );
    }

    #[test]
    fn a_metadata_block_of_build_keys_only_is_removed_whole() {
        let text = "Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Metadata:\n      BuildMethod: rust-cargolambda\n      BuildProperties:\n        Binary: f\n\n    Properties:\n      CodeUri: .\n  G:\n    Type: AWS::Serverless::Function\n    Metadata:\n      checkov:\n        skip:\n        - id: CKV_AWS_117\n          comment: \"why\"\n      BuildMethod: rust-cargolambda\n      BuildProperties:\n        Binary: g\n    Properties:\n      CodeUri: .\n";
        let zips = [("f", "f.zip"), ("g", "g.zip")]
            .map(|(b, z)| (b.to_owned(), z.to_owned()))
            .into();
        let packaged = packaged_template(text, &zips, Arch::Arm64).unwrap();
        assert_eq!(
            packaged,
            "Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: f.zip\n  G:\n    Type: AWS::Serverless::Function\n    Metadata:\n      checkov:\n        skip:\n        - id: CKV_AWS_117\n          comment: \"why\"\n    Properties:\n      CodeUri: g.zip\n"
        );
    }

    #[test]
    fn a_function_without_a_zip_or_a_zip_without_a_function_is_an_error() {
        let text = template();
        let mut missing = zips();
        missing.remove("erp-sync");
        let err = packaged_template(&text, &missing, Arch::X86_64).unwrap_err();
        assert!(err.to_string().contains("erp-sync"), "{err}");
        let mut extra = zips();
        extra.insert("invoice-sync".to_owned(), "invoice-sync.zip".to_owned());
        let err = packaged_template(&text, &extra, Arch::X86_64).unwrap_err();
        assert!(err.to_string().contains("invoice-sync"), "{err}");
    }
}
