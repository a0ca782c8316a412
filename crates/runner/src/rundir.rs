//! A private directory shared by the processes of one test run (one nextest run): what
//! the first process sets up, the next ones find there.
//!
//! ```text
//! <base>/                 the user's own: XDG_RUNTIME_DIR/rolecall, else TMPDIR/rolecall-<uid>
//!   nextest-<run id>/     one per run, removed by whoever finishes the run last
//!     <name>.lock         taken with `RunDir::lock` while one process sets `<name>` up
//!     <name>.…            whatever the user of the name keeps there
//! ```
//!
//! Nothing found there is trusted unless it is a real directory (not a link) owned by
//! this user and closed to everyone else (mode `0700`): another user could otherwise
//! create a run's directory first and hand this run a socket or a file of theirs.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

/// The directory of one run, checked private to this user.
#[derive(Debug, Clone)]
pub(crate) struct RunDir {
    path: PathBuf,
}

/// An exclusive lock on one name of a run directory, released on drop (or when the
/// process dies, so a crashed process never leaves it held).
#[derive(Debug)]
pub(crate) struct RunLock {
    _file: File,
}

impl RunDir {
    /// The directory of the current nextest run (`NEXTEST_RUN_ID`), created private
    /// to this user if it does not exist; `None` outside nextest.
    pub(crate) fn for_nextest_run() -> Option<io::Result<RunDir>> {
        let id = std::env::var("NEXTEST_RUN_ID").ok()?;
        Some(Self::open(&format!("nextest-{}", safe_name(&id))))
    }

    /// The run directory `name` under this user's private base directory.
    pub(crate) fn open(name: &str) -> io::Result<RunDir> {
        let base = base()?;
        let path = base.join(safe_name(name));
        private_dir(&path)?;
        Ok(RunDir { path })
    }

    /// Where the directory is.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The path of `name` inside the directory.
    pub(crate) fn file(&self, name: &str) -> PathBuf {
        self.path.join(safe_name(name))
    }

    /// Waits for the exclusive lock on `name` (`<name>.lock`).
    pub(crate) fn lock(&self, name: &str) -> io::Result<RunLock> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(self.file(&format!("{name}.lock")))?;
        rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive)?;
        Ok(RunLock { _file: file })
    }

    /// Removes the directory if nothing is left in it but locks nobody holds; quietly
    /// keeps it otherwise (another user of the run is still there).
    pub(crate) fn remove_if_idle(&self) {
        let Ok(entries) = std::fs::read_dir(self.path()) else {
            return;
        };
        let mut locks = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(name) = name.to_str() else { return };
            let Some(_) = name.strip_suffix(".lock") else {
                return;
            };
            let Ok(file) = File::open(entry.path()) else {
                return;
            };
            // Held by someone: they are still using the directory.
            if rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive)
                .is_err()
            {
                return;
            }
            locks.push((entry.path(), file));
        }
        for (path, _file) in &locks {
            let _ = std::fs::remove_file(path);
        }
        let _ = std::fs::remove_dir(&self.path);
    }
}

/// This user's base directory: `$XDG_RUNTIME_DIR/rolecall` (a per-user directory the
/// system made), else `rolecall-<uid>` in the temporary directory.
fn base() -> io::Result<PathBuf> {
    if let Some(runtime) = std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from)
        && runtime.is_absolute()
        && check_private(&runtime).is_ok()
    {
        let base = runtime.join("rolecall");
        private_dir(&base)?;
        return Ok(base);
    }
    let uid = rustix::process::geteuid().as_raw();
    let base = std::env::temp_dir().join(format!("rolecall-{uid}"));
    private_dir(&base)?;
    Ok(base)
}

/// Creates `path` with mode `0700` if it does not exist, then checks it is private.
fn private_dir(path: &Path) -> io::Result<()> {
    match DirBuilder::new().mode(0o700).create(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    check_private(path)
}

/// A real directory (not a link), owned by this user, that no one else may enter.
fn check_private(path: &Path) -> io::Result<()> {
    let meta = std::fs::symlink_metadata(path)?;
    let refuse = |why: &str| {
        Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!("{} {why}", path.display()),
        ))
    };
    if !meta.file_type().is_dir() {
        return refuse("is not a directory");
    }
    if meta.uid() != rustix::process::geteuid().as_raw() {
        return refuse("belongs to another user");
    }
    if meta.mode() & 0o077 != 0 {
        return refuse("is open to other users");
    }
    Ok(())
}

/// `name` with anything but ASCII letters, digits, `-`, `_` and `.` replaced, and no
/// leading dot, so it stays one component of a path.
fn safe_name(name: &str) -> String {
    let mut safe: String = name
        .chars()
        .take(80)
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '-' | '_' | '.' => c,
            _ => '_',
        })
        .collect();
    if safe.starts_with('.') || safe.is_empty() {
        safe.insert(0, '_');
    }
    safe
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    #[test]
    fn names_stay_one_component() {
        assert_eq!(safe_name("../x/y"), "_.._x_y");
        assert_eq!(safe_name(".."), "_..");
        assert_eq!(safe_name(""), "_");
        assert_eq!(
            safe_name("0b3c-11ef_a.sock"),
            "0b3c-11ef_a.sock",
            "a run id and a file name are kept"
        );
    }

    #[test]
    fn only_a_private_directory_of_this_user_is_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let private = dir.path().join("private");
        private_dir(&private).unwrap();
        assert_eq!(
            std::fs::metadata(&private).unwrap().permissions().mode() & 0o777,
            0o700
        );
        // Opened by someone to others: refused, not repaired.
        let open = dir.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        let error = private_dir(&open).unwrap_err();
        assert!(error.to_string().contains("open to other users"), "{error}");
        // A link to a private directory is not the directory.
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&private, &link).unwrap();
        let error = private_dir(&link).unwrap_err();
        assert!(error.to_string().contains("not a directory"), "{error}");
        // A file where the directory should be.
        let file = dir.path().join("file");
        std::fs::write(&file, "").unwrap();
        assert!(private_dir(&file).is_err());
    }

    #[test]
    fn a_lock_is_exclusive_and_an_idle_directory_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir {
            path: dir.path().join("run"),
        };
        private_dir(run.path()).unwrap();
        let held = run.lock("setup").unwrap();
        let other = File::open(run.file("setup.lock")).unwrap();
        assert!(
            rustix::fs::flock(&other, rustix::fs::FlockOperation::NonBlockingLockExclusive)
                .is_err(),
            "a second holder must wait"
        );
        run.remove_if_idle();
        assert!(run.path().is_dir(), "kept while a lock is held");
        drop(held);
        std::fs::write(run.file("state"), "x").unwrap();
        run.remove_if_idle();
        assert!(run.path().is_dir(), "kept while something else is in it");
        std::fs::remove_file(run.file("state")).unwrap();
        run.remove_if_idle();
        assert!(!run.path().exists(), "removed once idle");
    }
}
