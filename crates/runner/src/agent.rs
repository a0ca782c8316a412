//! One engine per nextest run: nextest starts a process per test, and loading the suite,
//! compiling its secrets and rules and starting its target (the in-process mock) costs
//! each of them far more than sending its one case.
//!
//! The first test process of a run that finds no agent starts one: the same test binary,
//! told by `ROLECALL_AGENT` to load the suite, start the engine and answer on a Unix
//! socket in the run's private directory ([`RunDir`]). Every test process then sends its
//! case's name and gets back the verdict, already redacted; the case is sent by the agent
//! when the process asks, so retries, filters and partitions send exactly what they would,
//! and the fixtures (and journey steps before it) a case needs are set up when a process
//! first asks for a case that needs them, once, and removed when the run ends.
//! The agent stops its target and exits when the nextest process that ran the first test
//! exits, so nothing outlives the run.
//!
//! Whatever goes wrong on the way (no private directory, an agent that cannot start or
//! does not answer, a suite with problems) sends the process the long way: it loads the
//! suite itself, which reports the problem as it would without an agent.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::os::unix::net::{UnixListener, UnixStream};
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use libtest_mimic::{Arguments, Completion, Failed, Trial};
use serde::{Deserialize, Serialize};

use crate::config::RunConfig;
use crate::engine::{Engine, Retain};
use crate::results::Outcome;
use crate::rundir::RunDir;
use crate::snapshot;

/// Set on the agent process: the id of the process whose end ends the agent, and the
/// name of the agent's files in the run directory (`PID:NAME`).
const AGENT: &str = "ROLECALL_AGENT";
/// `0` runs every test process on its own, as outside nextest.
const SHARE: &str = "ROLECALL_NEXTEST_SHARE";
/// How long a test process waits for the agent it started to be ready (the suite's own
/// target may take its `ready_timeout` to answer).
const START_TIMEOUT: Duration = Duration::from_secs(300);
/// Connections the agent serves at once; nextest runs a test per core.
const MAX_CLIENTS: usize = 256;
/// The longest request line the agent reads: a case name.
const MAX_REQUEST: u64 = 64 * 1024;

/// What the agent's status file holds once it is serving, or once it gave up.
const READY: &str = "ready\n";
const FAILED: &str = "failed\n";

/// What a test process asks.
#[derive(Debug, Serialize, Deserialize)]
struct Request {
    case: String,
}

/// What the agent answers: the trial's outcome, its message (redacted), and for a
/// passing case with a deny-body snapshot, the snapshot to compare.
#[derive(Debug, Serialize, Deserialize)]
struct Answer {
    outcome: Answered,
    message: String,
    snapshot: Option<snapshot::Check>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Answered {
    Pass,
    Fail,
    Skipped,
    /// No case has that name: the process runs the long way, as libtest would.
    Unknown,
}

/// In the agent process, serves the suite at `path` until the run ends; `None` in
/// any other process.
pub(crate) fn serve_if_asked(path: &Path) -> Option<ExitCode> {
    let asked = std::env::var(AGENT).ok()?;
    let (pid, name) = asked.split_once(':')?;
    let pid = pid
        .parse::<i32>()
        .ok()
        .and_then(rustix::process::Pid::from_raw)?;
    let dir = RunDir::for_nextest_run()?.ok()?;
    let status = dir.file(&format!("{name}.status"));
    let socket = dir.file(&format!("{name}.sock"));
    // The status file says `ready` or `failed`, nothing else: no secret goes there.
    let set_status = |ready: bool| std::fs::write(&status, if ready { READY } else { FAILED });
    let _ = std::fs::remove_file(&socket);
    let started = Agent::start(path).zip(UnixListener::bind(&socket).ok());
    let Some((agent, listener)) = started else {
        let _ = set_status(false);
        return Some(ExitCode::FAILURE);
    };
    let agent = Arc::new(agent);
    let serving = agent.clone();
    std::thread::spawn(move || serving.accept(listener));
    let _ = set_status(true);
    wait_for_exit(pid);
    let _ = std::fs::remove_file(&socket);
    let _ = std::fs::remove_file(&status);
    // The target (a command's process group, the mock) stops with the engine; a case
    // still in flight holds it for at most its timeout.
    agent.stop();
    dir.remove_if_idle();
    Some(ExitCode::SUCCESS)
}

/// In a test process run by nextest for one case (`--exact NAME`), gets the case's
/// verdict from the run's agent, starting it if needed, and reports it as libtest
/// would; `None` when the process must run the case itself.
pub(crate) fn run_through_agent(path: &Path, args: &Arguments) -> Option<ExitCode> {
    let one_case = args.exact && args.skip.is_empty() && !args.list && !args.ignored;
    let name = args.filter.as_deref().filter(|_| one_case)?;
    match std::env::var(SHARE).as_deref() {
        Err(_) | Ok("1") => {}
        Ok("0") => return None,
        // Checked like every ROLECALL_ variable: the long way reports it.
        Ok(_) => return None,
    }
    if std::env::var_os("ROLECALL_REPORT").is_some()
        || std::env::var_os("ROLECALL_RECORD").is_some()
    {
        // Each process would write its own report over the others'; a recording is
        // written by the process whose case it is.
        return None;
    }
    let dir = RunDir::for_nextest_run()?.ok()?;
    let key = agent_key(path)?;
    let mut stream = connect(&dir, &key)?;
    let request = serde_json::to_string(&Request {
        case: name.to_owned(),
    })
    .ok()?;
    stream.write_all(format!("{request}\n").as_bytes()).ok()?;
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).ok()?;
    let answer: Answer = serde_json::from_str(&line).ok()?;
    if answer.outcome == Answered::Unknown {
        return None;
    }
    let trial = Trial::ignorable_test(name.to_owned(), move || match answer.outcome {
        Answered::Pass => match answer.snapshot.as_ref().and_then(snapshot::Check::run) {
            None => Ok(Completion::Completed),
            Some((_, message)) => Err(Failed::from(message)),
        },
        Answered::Skipped => Ok(Completion::ignored_with(answer.message)),
        Answered::Fail | Answered::Unknown => Err(Failed::from(answer.message)),
    });
    let mut args = args.clone();
    args.test_threads = Some(1);
    Some(libtest_mimic::run(&args, vec![trial]).exit_code())
}

/// The agent's name in the run directory: one per test binary, suite and environment
/// that changes what a run does, so two harnesses in one run never share an agent.
fn agent_key(path: &Path) -> Option<String> {
    use std::hash::{Hash as _, Hasher as _};
    use std::os::unix::fs::MetadataExt as _;

    let exe = std::env::current_exe().ok()?;
    let meta = std::fs::metadata(&exe).ok()?;
    let mut hasher = std::hash::DefaultHasher::new();
    (
        &exe,
        meta.len(),
        meta.mtime(),
        meta.mtime_nsec(),
        meta.ino(),
    )
        .hash(&mut hasher);
    path.hash(&mut hasher);
    std::env::current_dir().ok()?.hash(&mut hasher);
    let mut vars: Vec<_> = std::env::vars_os()
        .filter(|(k, _)| k.to_str().is_some_and(|k| k.starts_with("ROLECALL_")))
        .collect();
    vars.sort();
    vars.hash(&mut hasher);
    Some(format!("agent-{:016x}", hasher.finish()))
}

/// A connection to the run's agent, started by this process under the run's lock if
/// none answers.
fn connect(dir: &RunDir, key: &str) -> Option<UnixStream> {
    let socket = dir.file(&format!("{key}.sock"));
    let status = dir.file(&format!("{key}.status"));
    if let Ok(stream) = UnixStream::connect(&socket) {
        return Some(stream);
    }
    let _lock = dir.lock(key).ok()?;
    // Started by another process while this one waited for the lock.
    if let Ok(stream) = UnixStream::connect(&socket) {
        return Some(stream);
    }
    if std::fs::read_to_string(&status).is_ok_and(|s| s == FAILED) {
        return None;
    }
    // Left by an agent that is gone.
    let _ = std::fs::remove_file(&socket);
    let _ = std::fs::remove_file(&status);
    // nextest: the run ends when it does.
    let run = rustix::process::getppid()?;
    if run.as_raw_nonzero().get() <= 1 {
        return None;
    }
    let mut child = Command::new(std::env::current_exe().ok()?)
        .args(std::env::args_os().skip(1))
        .env(AGENT, format!("{}:{key}", run.as_raw_nonzero()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        // Out of the test's process group: nextest may signal that when the test ends.
        .process_group(0)
        .spawn()
        .ok()?;
    let deadline = Instant::now() + START_TIMEOUT;
    while Instant::now() < deadline {
        match std::fs::read_to_string(&status).as_deref() {
            Ok(READY) => return UnixStream::connect(&socket).ok(),
            Ok(FAILED) => return None,
            _ => {}
        }
        if let Ok(Some(_)) = child.try_wait() {
            return None;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    None
}

/// Waits until the process `pid` has exited.
fn wait_for_exit(pid: rustix::process::Pid) {
    if let Ok(fd) = rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()) {
        let mut fds = [rustix::event::PollFd::new(
            &fd,
            rustix::event::PollFlags::IN,
        )];
        // Readable once the process has exited.
        while rustix::event::poll(&mut fds, None).is_err() {}
        return;
    }
    while rustix::process::test_kill_process(pid).is_ok() {
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The loaded suite and its engine, shared by every connection.
struct Agent {
    suite: Arc<rolecall_scenario::Suite>,
    names: std::collections::HashMap<String, usize>,
    engine: Mutex<Option<Result<Arc<Engine>, String>>>,
    clients: AtomicUsize,
}

impl Agent {
    /// Loads the suite as the harness does; `None` if it has any problem (each test
    /// process then reports it itself).
    fn start(path: &Path) -> Option<Agent> {
        let config = RunConfig::from_env().ok()?;
        let suite = crate::target::load_suite(path).ok()?;
        let names = suite
            .cases
            .iter()
            .enumerate()
            .map(|(i, c)| (suite.secrets.redact(&c.name), i))
            .collect();
        let engine = Engine::start(suite.clone(), &config)
            .map(Arc::new)
            .map_err(|e| suite.secrets.redact(&e.to_string()));
        if let Ok(engine) = &engine {
            engine.prepare();
            // No object is planned here: each case asked for plans what it needs (and
            // what is planned already is not set up again), so a filter or a partition
            // creates only the objects of the cases it runs.
        }
        Some(Agent {
            suite,
            names,
            engine: Mutex::new(Some(engine)),
            clients: AtomicUsize::new(0),
        })
    }

    fn accept(self: Arc<Self>, listener: UnixListener) {
        let me = rustix::process::geteuid();
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            // The directory is this user's alone; a peer of another user is refused
            // all the same.
            if !rustix::net::sockopt::socket_peercred(&stream).is_ok_and(|c| c.uid == me) {
                continue;
            }
            if self.clients.fetch_add(1, Ordering::AcqRel) >= MAX_CLIENTS {
                self.clients.fetch_sub(1, Ordering::AcqRel);
                continue;
            }
            let agent = self.clone();
            std::thread::spawn(move || {
                agent.serve(stream);
                agent.clients.fetch_sub(1, Ordering::AcqRel);
            });
        }
    }

    fn serve(&self, stream: UnixStream) {
        let mut line = String::new();
        let Ok(reader) = stream.try_clone() else {
            return;
        };
        if BufReader::new(reader.take(MAX_REQUEST))
            .read_line(&mut line)
            .is_err()
        {
            return;
        }
        let Ok(request) = serde_json::from_str::<Request>(&line) else {
            return;
        };
        let answer = self.answer(&request.case);
        if let Ok(text) = serde_json::to_string(&answer) {
            let mut stream = stream;
            let _ = stream.write_all(format!("{text}\n").as_bytes());
        }
    }

    fn answer(&self, name: &str) -> Answer {
        let answer = |outcome, message: String| Answer {
            outcome,
            message,
            snapshot: None,
        };
        let Some(&index) = self.names.get(name) else {
            return answer(Answered::Unknown, String::new());
        };
        let engine = match self.engine.lock().map(|e| e.clone()) {
            Ok(Some(Ok(engine))) => engine,
            Ok(Some(Err(error))) => {
                return answer(Answered::Fail, format!("target not started: {error}"));
            }
            _ => return answer(Answered::Fail, "the run was interrupted".to_owned()),
        };
        let (tx, rx) = std::sync::mpsc::channel();
        engine.execute_all(vec![index], Retain::Failures, move |finished| {
            let _ = tx.send(finished);
        });
        let Ok(finished) = rx.recv() else {
            return answer(Answered::Fail, "the run was interrupted".to_owned());
        };
        let result = engine.judged(finished, Retain::Failures);
        let secrets = engine.secrets();
        let message = secrets.redact(result.message.as_deref().unwrap_or_default());
        match result.outcome {
            Outcome::Pass => Answer {
                outcome: Answered::Pass,
                message,
                snapshot: self.suite.cases[index]
                    .expect
                    .snapshot
                    .then(|| snapshot::Check::of(&self.suite, &secrets, name, &result))
                    .flatten(),
            },
            Outcome::Skipped => answer(Answered::Skipped, message),
            Outcome::Fail | Outcome::Error => answer(Answered::Fail, message),
        }
    }

    /// Stops the engine (and with it the target) once the cases in flight are done, or
    /// after 30 s whatever is still in flight: objects are removed and the target is
    /// stopped either way.
    fn stop(&self) {
        let engine = self.engine.lock().ok().and_then(|mut e| e.take());
        if let Some(Ok(mut engine)) = engine {
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                match Arc::try_unwrap(engine) {
                    Ok(engine) => return drop(engine),
                    Err(shared) if Instant::now() < deadline => engine = shared,
                    Err(shared) => {
                        let _ = shared.shutdown();
                        return;
                    }
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}
