//! Deterministic zips: entries sorted by name, one fixed modification time
//! (1980-01-01 00:00, the earliest a zip can hold), Unix modes 0755 for
//! executables and 0644 otherwise, deflate. The same inputs give the same
//! bytes, so a package's checksum says whether anything changed.

use std::io::{Cursor, Read, Write};
use std::path::Path;

use anyhow::{Context, Result};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipArchive, ZipWriter};

/// One file of an archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The path inside the archive, `/`-separated.
    pub name: String,
    /// The contents.
    pub data: Vec<u8>,
    /// Mode 0755 (e.g. `bootstrap`) instead of 0644.
    pub executable: bool,
}

impl Entry {
    /// A regular file.
    pub fn file(name: impl Into<String>, data: impl Into<Vec<u8>>) -> Self {
        Entry {
            name: name.into(),
            data: data.into(),
            executable: false,
        }
    }

    /// An executable file.
    pub fn executable(name: impl Into<String>, data: impl Into<Vec<u8>>) -> Self {
        Entry {
            executable: true,
            ..Entry::file(name, data)
        }
    }
}

/// The zip of `entries`, deterministically.
///
/// # Errors
/// The zip writer's error.
pub fn zip_bytes(entries: &[Entry]) -> Result<Vec<u8>> {
    let mut sorted: Vec<&Entry> = entries.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
    for entry in sorted {
        let options = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Deflated)
            .compression_level(Some(9))
            .last_modified_time(DateTime::default())
            .unix_permissions(if entry.executable { 0o755 } else { 0o644 });
        writer
            .start_file(entry.name.as_str(), options)
            .with_context(|| format!("zip entry {}", entry.name))?;
        writer.write_all(&entry.data)?;
    }
    Ok(writer.finish()?.into_inner())
}

/// Writes the zip of `entries` to `path`.
///
/// # Errors
/// The zip writer's or the file system's error.
pub fn write_zip(path: &Path, entries: &[Entry]) -> Result<()> {
    let bytes = zip_bytes(entries)?;
    std::fs::write(path, bytes).with_context(|| format!("write {}", path.display()))
}

/// The entries of a zip (files only), in archive order.
///
/// # Errors
/// The file is not a readable zip.
pub fn read_zip(path: &Path) -> Result<Vec<Entry>> {
    let file = std::fs::File::open(path).with_context(|| format!("open {}", path.display()))?;
    let mut archive =
        ZipArchive::new(file).with_context(|| format!("{} is not a zip", path.display()))?;
    let mut entries = Vec::with_capacity(archive.len());
    for i in 0..archive.len() {
        let mut file = archive.by_index(i)?;
        if file.is_dir() {
            continue;
        }
        let executable = file.unix_mode().is_some_and(|m| m & 0o111 != 0);
        let mut data = Vec::with_capacity(usize::try_from(file.size()).unwrap_or(0));
        file.read_to_end(&mut data)?;
        entries.push(Entry {
            name: file.name().to_owned(),
            data,
            executable,
        });
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_entries_give_the_same_bytes_in_any_order() {
        let a = vec![
            Entry::executable("bootstrap", b"\x7fELF...".to_vec()),
            Entry::file("config/host.json", b"{}".to_vec()),
        ];
        let mut b = a.clone();
        b.reverse();
        assert_eq!(zip_bytes(&a).unwrap(), zip_bytes(&b).unwrap());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.zip");
        write_zip(&path, &b).unwrap();
        let back = read_zip(&path).unwrap();
        assert_eq!(back[0], a[0], "sorted, with the executable bit");
        assert_eq!(back[1], a[1]);
        let before = std::fs::read(&path).unwrap();
        write_zip(&path, &back).unwrap();
        assert_eq!(
            std::fs::read(&path).unwrap(),
            before,
            "read back and rewritten: same bytes"
        );
    }
}
