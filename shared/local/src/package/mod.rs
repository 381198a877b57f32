//! `switchyard package`: the deployable artifacts for Lambda and Azure
//! Functions, built from the registry, deterministic, checked.

use std::path::{Path, PathBuf};

pub mod archive;
pub mod aws;
pub mod azure;

/// The CPU the artifacts run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Arch {
    /// x86_64 (Lambda's default; the only one Azure Functions custom handlers on Linux Consumption run).
    #[value(name = "x86_64")]
    X86_64,
    /// arm64 (Graviton on Lambda).
    #[value(name = "arm64")]
    Arm64,
}

impl Arch {
    /// This machine's CPU (arm64 on aarch64, else x86_64).
    pub fn host() -> Arch {
        if std::env::consts::ARCH == "aarch64" {
            Arch::Arm64
        } else {
            Arch::X86_64
        }
    }

    /// The name `template.yaml`'s `Architectures` uses.
    pub fn lambda_name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Arm64 => "arm64",
        }
    }
}

/// What to build, where.
#[derive(Debug, Clone)]
pub struct PackageOptions {
    /// The workspace root (where `Cargo.toml` and `template.yaml` are).
    pub root: PathBuf,
    /// The output directory: `<out>/aws/...`, `<out>/azure/...`.
    pub out: PathBuf,
    /// The CPU architecture.
    pub arch: Arch,
}

/// One artifact written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    /// Where it is.
    pub path: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
    /// What it is, e.g. `Lambda erp-sync` or `Function App`.
    pub what: String,
}

impl Artifact {
    /// The artifact at `path`, with its size.
    ///
    /// # Errors
    /// The file cannot be read.
    pub fn of(path: &Path, what: impl Into<String>) -> anyhow::Result<Self> {
        let bytes = std::fs::metadata(path)
            .map_err(|e| anyhow::anyhow!("stat {}: {e}", path.display()))?
            .len();
        Ok(Artifact {
            path: path.to_owned(),
            bytes,
            what: what.into(),
        })
    }
}

/// Which cloud's artifacts to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Target {
    /// The Lambda zips and the packaged SAM template.
    Aws,
    /// The Function App folder and zip.
    Azure,
    /// Both.
    All,
}

/// `cargo-lambda`: the test command's `.tools/venv/bin/cargo-lambda`
/// (`SWITCHYARD_TOOLS_DIR`, or `.tools` under the workspace), else the one
/// on `PATH`.
///
/// # Errors
/// Neither exists.
pub fn find_cargo_lambda(root: &Path) -> anyhow::Result<PathBuf> {
    let tools = std::env::var_os("SWITCHYARD_TOOLS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join(".tools"));
    let local = tools.join("venv/bin/cargo-lambda");
    if local.exists() {
        return Ok(local);
    }
    let on_path = std::env::var_os("PATH").into_iter().flat_map(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("cargo-lambda"))
            .collect::<Vec<_>>()
    });
    for candidate in on_path {
        if candidate.exists() {
            return Ok(candidate);
        }
    }
    anyhow::bail!(
        "cargo-lambda not found in {} or on PATH: run `bash scripts/test.sh` once (it installs the pinned one into .tools/), or `pip install cargo-lambda`",
        local.display()
    )
}

/// Runs one build step, its output on this terminal; fails naming it.
fn run_step(what: &str, command: &mut std::process::Command) -> anyhow::Result<()> {
    let status = command
        .status()
        .map_err(|e| anyhow::anyhow!("{what}: cannot start {:?}: {e}", command.get_program()))?;
    if !status.success() {
        anyhow::bail!("{what} failed ({status})");
    }
    Ok(())
}

/// Builds and packages `target`'s artifacts, printing each step and
/// artifact (with its size) as it goes.
///
/// # Errors
/// A build step fails, or an artifact cannot be written.
pub fn run(opts: &PackageOptions, target: Target) -> anyhow::Result<Vec<Artifact>> {
    let cargo_lambda = find_cargo_lambda(&opts.root)?;
    let build_dir = opts.out.join(".build");
    let mut artifacts = Vec::new();
    if matches!(target, Target::Aws | Target::All) {
        let builds = aws::lambda_functions(&opts.root)?;
        let lambda_dir = build_dir.join("lambda");
        for (i, build) in builds.iter().enumerate() {
            println!(
                "[{}/{}] Lambda {} ({}, {}): cargo lambda build --release",
                i + 1,
                builds.len(),
                build.function,
                build.package,
                opts.arch.lambda_name()
            );
            run_step(
                &format!("building {}", build.function),
                &mut aws::build_command(&cargo_lambda, opts, build, &lambda_dir),
            )?;
        }
        let written = aws::package(opts, &builds, &lambda_dir)?;
        report(&written);
        artifacts.extend(written);
    }
    if matches!(target, Target::Azure | Target::All) {
        // Linux Consumption runs custom handlers on x86_64, whatever the Lambdas use.
        let opts = PackageOptions {
            arch: Arch::X86_64,
            ..opts.clone()
        };
        println!(
            "[azure] Function App (switchyard-azure-app, x86_64): cargo lambda build --release"
        );
        let azure_dir = build_dir.join("azure");
        run_step(
            "building azure-app",
            &mut aws::cargo_lambda_build(
                &cargo_lambda,
                &opts,
                ("switchyard-azure-app", "azure-app"),
                "binary",
                &azure_dir,
            ),
        )?;
        let written = azure::package(&opts, &azure_dir.join("azure-app").join("bootstrap"))?;
        report(&written);
        artifacts.extend(written);
    }
    Ok(artifacts)
}

/// Prints artifacts with their sizes.
pub fn report(artifacts: &[Artifact]) {
    for a in artifacts {
        println!(
            "  {:<34} {:>10} bytes ({:.1} MB)  {}",
            a.what,
            a.bytes,
            a.bytes as f64 / 1e6,
            a.path.display()
        );
    }
}
