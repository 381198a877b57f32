//! The deployable artifacts `switchyard package` wrote, for tests that run
//! them: the package directory comes from `SWITCHYARD_PACKAGE_DIR`, which
//! the test command sets after packaging; without it a test fails, saying
//! how to run it.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use crate::HOW_TO_RUN;

/// `<SWITCHYARD_PACKAGE_DIR>/aws/<function>.zip`'s `bootstrap` (its only
/// entry, executable in the zip), unzipped with mode 0755 into
/// `<dir>/<function>/bootstrap`; its path.
///
/// # Panics
/// When the variable is unset, the zip is missing or unreadable, or it
/// holds anything but an executable `bootstrap`.
pub fn lambda_bootstrap(function: &str, dir: &Path) -> PathBuf {
    let package = std::env::var("SWITCHYARD_PACKAGE_DIR").unwrap_or_else(|_| {
        panic!(
            "SWITCHYARD_PACKAGE_DIR is not set: this test runs the artifacts of `switchyard package`; {HOW_TO_RUN}"
        )
    });
    let zip = Path::new(&package)
        .join("aws")
        .join(format!("{function}.zip"));
    let file = std::fs::File::open(&zip)
        .unwrap_or_else(|e| panic!("{}: {e}; {HOW_TO_RUN}", zip.display()));
    let mut archive = zip::ZipArchive::new(file)
        .unwrap_or_else(|e| panic!("{} is not a zip: {e}", zip.display()));
    assert_eq!(archive.len(), 1, "a Lambda zip holds only bootstrap");
    let mut entry = archive
        .by_index(0)
        .unwrap_or_else(|e| panic!("{}: {e}", zip.display()));
    assert_eq!(entry.name(), "bootstrap", "{}", zip.display());
    assert!(
        entry.unix_mode().is_some_and(|m| m & 0o111 != 0),
        "bootstrap is executable in {}",
        zip.display()
    );
    let mut data = Vec::new();
    entry
        .read_to_end(&mut data)
        .unwrap_or_else(|e| panic!("{}: {e}", zip.display()));
    let out = dir.join(function);
    std::fs::create_dir_all(&out).unwrap_or_else(|e| panic!("{}: {e}", out.display()));
    let path = out.join("bootstrap");
    std::fs::write(&path, &data).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    path
}
