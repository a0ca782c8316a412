//! Starting what the cases are sent to: a URL, a service the suite starts, or the
//! in-process mock edge.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rolecall_scenario::{Endpoint, Suite};

use crate::errors::{RunnerError, RunnerErrorKind};

/// Keeps a started target alive for the run and stops it afterwards.
#[derive(Debug, Default)]
pub(crate) struct TargetGuard {
    process: Option<ProcessGroup>,
    #[cfg(feature = "mock")]
    _mock: Option<rolecall_mock::MockServer>,
}

impl TargetGuard {
    /// Whether the run started a service (`target.command`), which must not outlive it.
    pub(crate) fn runs_a_command(&self) -> bool {
        self.process.is_some()
    }
}

/// A started service: its whole process group is stopped on drop, so a shell that
/// started a server does not leave the server behind.
#[derive(Debug)]
struct ProcessGroup {
    child: Child,
    /// The threads that forward its output, one per stream.
    forwarders: Vec<std::thread::JoinHandle<()>>,
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        self.stop();
        self.drain();
    }
}

impl ProcessGroup {
    fn stop(&mut self) {
        // The child leads its own process group (`process_group(0)`), so its id names it.
        let pid = rustix::process::Pid::from_child(&self.child);
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::TERM);
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
        let _ = self.child.wait();
    }

    /// Lets the forwarding threads write what the service printed last: they end when its
    /// streams close, which its death does, unless something it left behind holds them
    /// open, so the wait is bounded.
    fn drain(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(1);
        while self.forwarders.iter().any(|f| !f.is_finished()) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

fn target_error(message: impl Into<String>) -> RunnerError {
    RunnerError::new(RunnerErrorKind::Target, message)
}

/// Starts the suite's target (or uses `base_override`) and returns its base URL.
pub(crate) async fn start(
    suite: &Suite,
    base_override: Option<&str>,
) -> Result<(String, TargetGuard), RunnerError> {
    let mut guard = TargetGuard::default();
    if let Some(base) = base_override {
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(target_error(format!(
                "invalid base URL `{base}`: expected http:// or https://"
            )));
        }
        return Ok((base.trim_end_matches('/').to_owned(), guard));
    }
    let target = &suite.target;
    let base = match &target.endpoint {
        Endpoint::BaseUrl(url) => url.clone(),
        Endpoint::Mock(path) => start_mock(path, &mut guard).await?,
    };
    if let Some(command) = &target.command {
        let ready = format!("{base}{}", target.ready.as_deref().unwrap_or("/"));
        // Something already answering would pass the readiness check for a command that
        // never started: a server left over from an earlier run would be tested instead.
        if readiness_client()?.get(&ready).send().await.is_ok() {
            return Err(target_error(format!(
                "something already answers at {ready} before `{command}` started; stop it or use another port"
            )));
        }
        let child = Command::new("sh")
            .arg("-c")
            .arg(command)
            .current_dir(&suite.root)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .map_err(|e| {
                target_error(format!(
                    "cannot start `{command}` for target `{}`: {e}",
                    target.name
                ))
            })?;
        let mut child = child;
        // A service logs what it receives, credentials included: its output reaches ours
        // only through the suite's secrets. Both of its streams go to our stderr: stdout
        // carries the run's own lines and what machines read (GitHub annotations), which
        // a service's log lines must not interleave with.
        let mut forwarders = Vec::new();
        if let Some(out) = child.stdout.take() {
            forwarders.push(forward_redacted(out, std::io::stderr(), &suite.secrets));
        }
        if let Some(err) = child.stderr.take() {
            forwarders.push(forward_redacted(err, std::io::stderr(), &suite.secrets));
        }
        guard.process = Some(ProcessGroup { child, forwarders });
        wait_ready(&ready, target.ready_timeout, guard.process.as_mut()).await?;
    }
    Ok((base, guard))
}

use std::os::unix::process::CommandExt as _;

/// Copies a started service's output to `to` line by line, redacted, on a thread of its
/// own that ends when the service closes the stream.
fn forward_redacted(
    from: impl std::io::Read + Send + 'static,
    to: impl std::io::Write + Send + 'static,
    secrets: &rolecall_scenario::Secrets,
) -> std::thread::JoinHandle<()> {
    use std::io::BufRead as _;
    let mut to = rolecall_scenario::Redacted::new(secrets.clone(), to);
    std::thread::spawn(move || {
        let mut from = std::io::BufReader::new(from);
        let mut line = Vec::new();
        while from.read_until(b'\n', &mut line).is_ok_and(|n| n > 0) {
            if std::io::Write::write_all(&mut to, &line)
                .and_then(|()| std::io::Write::flush(&mut to))
                .is_err()
            {
                return;
            }
            line.clear();
        }
    })
}

fn readiness_client() -> Result<reqwest::Client, RunnerError> {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .no_proxy()
        .build()
        .map_err(|e| target_error(format!("cannot build the readiness client: {e}")))
}

/// Polls `url` until anything answers over HTTP.
async fn wait_ready(
    url: &str,
    timeout: Duration,
    mut process: Option<&mut ProcessGroup>,
) -> Result<(), RunnerError> {
    let client = readiness_client()?;
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(p) = process.as_deref_mut()
            && let Ok(Some(status)) = p.child.try_wait()
        {
            return Err(target_error(format!(
                "the target's command exited ({status}) before {url} answered"
            )));
        }
        if client.get(url).send().await.is_ok() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(target_error(format!(
                "{url} did not answer within {}s",
                timeout.as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[cfg(feature = "mock")]
async fn start_mock(
    path: &std::path::Path,
    guard: &mut TargetGuard,
) -> Result<String, RunnerError> {
    let config = rolecall_mock::MockConfig::from_path(path)
        .map_err(|e| target_error(format!("invalid mock configuration:\n{e}")))?;
    let server = rolecall_mock::MockServer::start(config, ([127, 0, 0, 1], 0).into())
        .await
        .map_err(|e| target_error(format!("cannot start the mock edge: {e}")))?;
    let url = server.url().trim_end_matches('/').to_owned();
    guard._mock = Some(server);
    Ok(url)
}

/// The suite at `path` for the target `ROLECALL_TARGET` names, with its mock
/// configuration checked: `Err` holds every problem, rendered (and redacted).
pub(crate) fn load_suite(path: &std::path::Path) -> Result<std::sync::Arc<Suite>, String> {
    let mut options = rolecall_scenario::LoadOptions::new();
    if let Ok(target) = std::env::var("ROLECALL_TARGET") {
        options = options.target(target);
    }
    let suite = rolecall_scenario::load(path, &options)
        .map(std::sync::Arc::new)
        .map_err(|error| error.render(rolecall_scenario::RenderStyle::Plain))?;
    // A broken mock configuration is a broken suite: every problem, before any trial.
    check_mock(&suite, rolecall_scenario::RenderStyle::Plain)?;
    Ok(suite)
}

/// The mock configuration the suite's target names, validated up front: `Err` holds
/// every problem, rendered in `style`, with the suite's secrets redacted (a mock's token
/// table holds the same credentials the identities send).
#[cfg_attr(not(feature = "mock"), allow(unused_variables))]
pub fn check_mock(suite: &Suite, style: rolecall_scenario::RenderStyle) -> Result<(), String> {
    match &suite.target.endpoint {
        #[cfg(feature = "mock")]
        Endpoint::Mock(path) => rolecall_mock::MockConfig::from_path(path)
            .map(drop)
            .map_err(|e| suite.secrets.redact(&e.render(style))),
        _ => Ok(()),
    }
}

#[cfg(not(feature = "mock"))]
async fn start_mock(
    path: &std::path::Path,
    _guard: &mut TargetGuard,
) -> Result<String, RunnerError> {
    Err(target_error(format!(
        "target uses the mock edge ({}), but rolecall-runner was built without its `mock` feature \
         (add `features = [\"mock\"]` to its dependency)",
        path.display()
    )))
}

#[cfg(all(test, feature = "mock"))]
mod tests {
    use super::*;

    /// The harness refuses a suite whose mock configuration is broken before any trial
    /// runs: every problem, located.
    #[test]
    fn a_broken_mock_configuration_is_reported_up_front() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
        write(
            "rolecall.toml",
            "[targets.local]\nmock = \"edge.toml\"\n[identities.anonymous]\n",
        );
        write("r.toml", "[[route]]\nrequest = \"GET /a\"\npublic = true\n");
        write(
            "edge.toml",
            "[edge]\ncolour = \"red\"\n[[layer]]\nip = { persona = \"nginx\", deny = [\"10.0.0.0/33\"] }\n[origin.app]\n",
        );
        let suite = rolecall_scenario::load(dir.path(), &Default::default()).unwrap();
        let rendered = check_mock(&suite, rolecall_scenario::RenderStyle::Plain).unwrap_err();
        assert!(rendered.contains("edge.toml:2:1"), "{rendered}");
        assert!(rendered.contains("edge.toml:4:35"), "{rendered}");
        write("edge.toml", "[origin.app]\n");
        assert_eq!(
            check_mock(&suite, rolecall_scenario::RenderStyle::Plain),
            Ok(())
        );
    }
}
