//! Starting and stopping a real server process on a loopback port.

use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// How long a server may take to accept connections. Apache loading the Core Rule Set
/// is the slowest start here, well under a second on the CI machine.
const READY_TIMEOUT: Duration = Duration::from_secs(15);

/// A port can be taken by another process between probing it and the server binding
/// it; a fresh port is tried this many times before giving up.
const START_ATTEMPTS: usize = 3;

/// A running server, killed and reaped when dropped.
///
/// Servers run as one process (nginx `master_process off`, `apache2 -X`), so killing
/// that process leaves no orphaned workers holding the port.
#[derive(Debug)]
pub(crate) struct Server {
    name: &'static str,
    child: Child,
    pub(crate) port: u16,
    log: PathBuf,
}

impl Server {
    /// Starts `command(port)` until it answers `GET /__ready` on 127.0.0.1:`port` with
    /// a body containing `token`: a bare TCP connect could reach another process that
    /// took the port first. `log` is the server's error log, quoted when start-up fails.
    pub(crate) fn start(
        name: &'static str,
        dir: &Path,
        log: &Path,
        token: &str,
        mut command: impl FnMut(u16) -> Result<Command, String>,
    ) -> Result<Server, String> {
        let mut last_error = String::new();
        for _ in 0..START_ATTEMPTS {
            let port = free_port().map_err(|error| format!("no free loopback port: {error}"))?;
            let stderr = fs::File::create(dir.join(format!("{name}.stderr")))
                .map_err(|error| format!("cannot create {name}.stderr: {error}"))?;
            let child = command(port)?
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(stderr)
                .spawn()
                .map_err(|error| format!("cannot start {name}: {error}"))?;
            let mut server = Server {
                name,
                child,
                port,
                log: log.to_owned(),
            };
            match server.wait_ready(dir, token) {
                Ok(()) => return Ok(server),
                Err(error) => last_error = error,
            }
        }
        Err(last_error)
    }

    fn wait_ready(&mut self, dir: &Path, token: &str) -> Result<(), String> {
        let address = SocketAddr::from(([127, 0, 0, 1], self.port));
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "{} exited during start-up ({status})\n--- stderr\n{}--- error log\n{}",
                    self.name,
                    read(&dir.join(format!("{}.stderr", self.name))),
                    read(&self.log),
                ));
            }
            if probe(address).is_some_and(|answer| answer.contains(token)) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{} did not accept connections on {address} within {READY_TIMEOUT:?}\n--- error log\n{}",
                    self.name,
                    read(&self.log)
                ));
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Already exited servers make kill fail; either way wait reaps the process.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One plain HTTP/1.0 request for the readiness page; `None` until something answers.
fn probe(address: SocketAddr) -> Option<String> {
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_millis(200)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    stream
        .write_all(b"GET /__ready HTTP/1.0\r\nHost: localhost\r\nUser-Agent: rolecall-probe\r\nAccept: */*\r\n\r\n")
        .ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    Some(answer)
}

/// Asks the kernel for a free loopback port. Racy by nature: [`Server::start`] retries.
fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|error| format!("({}: {error})\n", path.display()))
}

/// Finds a server binary: the path in `override_var` when set (for machines that
/// install servers elsewhere), else the usual Debian place, else PATH.
pub(crate) fn find_binary(name: &str, override_var: &str) -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os(override_var) {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(format!("{override_var}={} is not a file", path.display()))
        };
    }
    search(name).ok_or_else(|| format!("{name} is not installed"))
}

fn search(name: &str) -> Option<PathBuf> {
    let sbin = Path::new("/usr/sbin").join(name);
    if sbin.is_file() {
        return Some(sbin);
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// Whether this process runs as root; /proc/self belongs to the effective user.
pub(crate) fn is_root() -> bool {
    fs::metadata("/proc/self").is_ok_and(|meta| meta.uid() == 0)
}

/// The unprivileged account a server started as root should switch to.
pub(crate) fn unprivileged_user() -> (&'static str, &'static str) {
    let passwd = fs::read_to_string("/etc/passwd").unwrap_or_default();
    if passwd.lines().any(|line| line.starts_with("www-data:")) {
        ("www-data", "www-data")
    } else {
        ("nobody", "nogroup")
    }
}

/// Writes `contents` to `dir/relative`, creating parent directories.
pub(crate) fn write(dir: &Path, relative: &str, contents: &str) -> Result<(), String> {
    let path = dir.join(relative);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)
            .map_err(|error| format!("cannot create {}: {error}", parent.display()))?;
    }
    fs::write(&path, contents).map_err(|error| format!("cannot write {}: {error}", path.display()))
}

/// Opens a temporary tree to other users: tempfile creates it 0700, and a server that
/// drops root privileges must still read its document root (and write `writable`).
pub(crate) fn open_up(root: &Path, writable: &[&Path]) -> Result<(), String> {
    fn walk(path: &Path) -> std::io::Result<()> {
        let meta = fs::metadata(path)?;
        let mode = if meta.is_dir() { 0o755 } else { 0o644 };
        fs::set_permissions(path, fs::Permissions::from_mode(mode))?;
        if meta.is_dir() {
            for entry in fs::read_dir(path)? {
                walk(&entry?.path())?;
            }
        }
        Ok(())
    }
    walk(root).map_err(|error| format!("cannot open up {}: {error}", root.display()))?;
    for dir in writable {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o1777))
            .map_err(|error| format!("cannot open up {}: {error}", dir.display()))?;
    }
    Ok(())
}

/// Lets other users traverse the directory holding `dir` (tempfile creates it 0700), for a
/// server whose worker runs under its own account; nothing in it is listed or written.
pub(crate) fn open_up_parent(dir: &Path) -> Result<(), String> {
    let Some(parent) = dir.parent() else {
        return Ok(());
    };
    fs::set_permissions(parent, fs::Permissions::from_mode(0o711))
        .map_err(|error| format!("cannot open up {}: {error}", parent.display()))
}
