//! A report file that is known to be writable before the run starts, and is never seen
//! half-written.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

/// A report file: the report goes to a temporary file beside it, which replaces the real
/// one only once complete (a failed run leaves an earlier report as it was).
#[derive(Debug)]
pub struct ReportFile {
    path: PathBuf,
    temp: tempfile::NamedTempFile,
}

impl ReportFile {
    /// Creates the temporary file now, so a missing or read-only directory is reported
    /// before anything is sent; it is removed again if the report is never put in place.
    pub fn prepare(path: &Path) -> Result<Self, String> {
        let cannot =
            |e: &dyn std::fmt::Display| format!("cannot write report `{}`: {e}", path.display());
        if path.is_dir() {
            return Err(cannot(&"it is a directory"));
        }
        // An existing report must stay writable; opening it to append changes nothing.
        if path.exists() {
            OpenOptions::new()
                .append(true)
                .open(path)
                .map_err(|e| cannot(&e))?;
        }
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let temp = tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .suffix(".tmp")
            // Subject to the umask, as a file created the ordinary way.
            .permissions(std::fs::Permissions::from_mode(0o666))
            .tempfile_in(dir)
            .map_err(|e| cannot(&format!("cannot create a file in `{}`: {e}", dir.display())))?;
        Ok(ReportFile {
            path: path.to_owned(),
            temp,
        })
    }

    /// Where the report goes.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A handle on the temporary file, to write the report to; write only through a
    /// [`Redacted`](rolecall_scenario::Redacted) writer.
    pub fn writer(&self) -> io::Result<File> {
        self.temp.as_file().try_clone()
    }

    /// Puts the written report in place.
    pub fn persist(self) -> io::Result<()> {
        self.temp.persist(&self.path).map(drop).map_err(|e| e.error)
    }
}
