//! Under nextest (a process per case) the first process starts the run's agent, the
//! next ones ask it, and it ends with the run. This binary is also the harness under
//! test: with `HARNESS_SUITE` set it is the README's three-line harness on that suite,
//! started the way nextest starts a test binary, by a parent that stands for nextest.
//! With `RUN_SUITE` set it runs a suite and then idles, and with `DOC_SERVER` set it is
//! a small document service: the process a run started, and the target a suite starts,
//! for what an interruption must end.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SUITE: &str = "[targets.local]\nmock = \"mock.toml\"\n[identities.anonymous]\n[identities.viewer]\nbearer = \"viewer-token-0001\"\n";
const MOCK: &str = "[origin.app]\n[[origin.app.token]]\nbearer = \"viewer-token-0001\"\nroles = [\"viewer\"]\n[[origin.app.route]]\nrequest = \"GET /a\"\nroles = [\"viewer\"]\n";
const ROUTES: &str =
    "[[route]]\nrequest = \"GET /a\"\nallow = [\"viewer\"]\nunauthenticated = 401\n";

fn main() -> std::process::ExitCode {
    if let Some(suite) = std::env::var_os("HARNESS_SUITE") {
        return rolecall_runner::harness(PathBuf::from(suite));
    }
    // The service a `RUN_SUITE` process starts inherits its environment.
    if let Some(addr) = std::env::var_os("DOC_SERVER") {
        let listener = TcpListener::bind(addr.to_str().unwrap()).unwrap();
        serve_docs(&listener, &Arc::default(), true);
        return std::process::ExitCode::SUCCESS;
    }
    if let Some(suite) = std::env::var_os("RUN_SUITE") {
        run_then_idle(&PathBuf::from(suite));
    }
    let args = libtest_mimic::Arguments::from_args();
    let trials = vec![
        libtest_mimic::Trial::test("one_agent_serves_the_run_and_ends_with_it", || {
            one_agent_serves_the_run_and_ends_with_it();
            Ok(())
        }),
        libtest_mimic::Trial::test(
            "a_suite_with_a_problem_is_reported_by_each_process_as_without_nextest",
            || {
                a_suite_with_a_problem_is_reported_by_each_process_as_without_nextest();
                Ok(())
            },
        ),
        libtest_mimic::Trial::test(
            "a_snapshot_is_compared_by_the_process_that_runs_its_case",
            || {
                a_snapshot_is_compared_by_the_process_that_runs_its_case();
                Ok(())
            },
        ),
        libtest_mimic::Trial::test(
            "the_agent_sets_up_only_the_fixtures_of_the_cases_asked_for",
            || {
                the_agent_sets_up_only_the_fixtures_of_the_cases_asked_for();
                Ok(())
            },
        ),
        libtest_mimic::Trial::test(
            "a_nextest_partition_creates_only_the_objects_of_its_cases",
            || {
                a_nextest_partition_creates_only_the_objects_of_its_cases();
                Ok(())
            },
        ),
        libtest_mimic::Trial::test("ctrl_c_after_the_run_still_ends_the_process", || {
            ctrl_c_after_the_run_still_ends_the_process();
            Ok(())
        }),
        libtest_mimic::Trial::test(
            "ctrl_c_in_the_middle_of_a_run_stops_the_service_it_started",
            || {
                ctrl_c_in_the_middle_of_a_run_stops_the_service_it_started();
                Ok(())
            },
        ),
    ];
    libtest_mimic::run(&args, trials).exit_code()
}

/// This binary, as the harness.
fn harness() -> PathBuf {
    std::env::current_exe().unwrap()
}

/// A private stand-in for `XDG_RUNTIME_DIR`, so the run directory is where the test looks.
fn runtime_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    dir
}

fn suite(routes: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in [
        ("rolecall.toml", SUITE),
        ("mock.toml", MOCK),
        ("a.toml", routes),
    ] {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

fn run_id(what: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("it-{what}-{}-{nanos}", std::process::id())
}

/// Live (not zombie) processes whose environment holds `needle`.
fn processes_with(needle: &str) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        let zombie = std::fs::read_to_string(entry.path().join("stat")).is_ok_and(|stat| {
            stat.rsplit(')')
                .next()
                .is_some_and(|s| s.trim_start().starts_with('Z'))
        });
        if !zombie && environ.split(|b| *b == 0).any(|v| v == needle.as_bytes()) {
            found.push(pid);
        }
    }
    found
}

/// `script` run by `sh` as nextest would run the two `cases` of `suite` (`$0` is this
/// binary as the harness), with stdin and stdout piped.
fn nextest(
    script: &str,
    cases: [&str; 2],
    suite: &tempfile::TempDir,
    runtime: &tempfile::TempDir,
    id: &str,
) -> std::process::Child {
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(harness())
        .args(cases)
        .env("HARNESS_SUITE", suite.path())
        .env("NEXTEST_RUN_ID", id)
        .env("XDG_RUNTIME_DIR", runtime.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

/// Waits (at most `secs`) until no live process has `needle` in its environment.
fn wait_until_gone(needle: &str, secs: u64) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !processes_with(needle).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn one_agent_serves_the_run_and_ends_with_it() {
    let suite = suite(ROUTES);
    let runtime = runtime_dir();
    let id = run_id("agent");
    // `sh` stands for nextest: it starts one process per case, then waits for a line.
    let mut run = nextest(
        r#""$0" --exact "$1" && "$0" --exact "$2" && read _"#,
        ["a::get_a::viewer", "a::get_a::anonymous"],
        &suite,
        &runtime,
        &id,
    );
    let stdout = BufReader::new(run.stdout.take().unwrap());
    let (lines, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    let mut passed = 0;
    while passed < 2 {
        let line = received
            .recv_timeout(Duration::from_secs(120))
            .expect("both cases report");
        assert!(!line.contains("FAILED"), "{line}");
        passed += usize::from(line.contains("test result: ok. 1 passed"));
    }
    // Both cases are done; the run is not: its agent is still there, alone.
    let run_dir = runtime
        .path()
        .join("rolecall")
        .join(format!("nextest-{id}"));
    let needle = format!("NEXTEST_RUN_ID={id}");
    let agents: Vec<u32> = processes_with(&needle)
        .into_iter()
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ")).is_ok_and(|e| {
                e.split(|b| *b == 0)
                    .any(|v| v.starts_with(b"ROLECALL_AGENT="))
            })
        })
        .collect();
    assert_eq!(agents.len(), 1, "one agent for the run: {agents:?}");
    let sockets: Vec<_> = std::fs::read_dir(&run_dir)
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "sock"))
        .collect();
    assert_eq!(sockets.len(), 1, "{sockets:?}");
    let mode = std::fs::metadata(&run_dir).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700, "the run directory is private");
    // The run ends: the agent, and the mock it serves, end with it.
    run.stdin.take().unwrap().write_all(b"done\n").unwrap();
    assert!(run.wait().unwrap().success());
    wait_until_gone(&needle, 10);
    assert_eq!(
        processes_with(&needle),
        Vec::<u32>::new(),
        "nothing outlives the run"
    );
    assert!(!run_dir.exists(), "the run directory is removed");
}

fn a_suite_with_a_problem_is_reported_by_each_process_as_without_nextest() {
    let suite = suite("[[route]]\nrequest = \"GET /a\"\nallow = [\"viewr\"]\n");
    let runtime = runtime_dir();
    let id = run_id("broken");
    let output = Command::new(harness())
        .args(["--exact", "a::get_a::viewer"])
        .env("HARNESS_SUITE", suite.path())
        .env("NEXTEST_RUN_ID", &id)
        .env("XDG_RUNTIME_DIR", runtime.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("a.toml:3:"), "{stderr}");
    assert!(stderr.contains("viewr"), "{stderr}");
}

fn a_snapshot_is_compared_by_the_process_that_runs_its_case() {
    let suite = suite(&format!(
        "{ROUTES}[[route.case]]\nidentity = \"anonymous\"\nsnapshot = true\n"
    ));
    let runtime = runtime_dir();
    let id = run_id("snapshot");
    // The first case starts the agent; the second is answered by it, with a snapshot
    // that was never reviewed.
    let output = Command::new("sh")
        .arg("-c")
        .arg(r#""$0" --exact "$1" && "$0" --exact "$2"; echo "exit $?""#)
        .arg(harness())
        .arg("a::get_a::viewer")
        .arg("a::get_a::anonymous")
        .env("HARNESS_SUITE", suite.path())
        .env("NEXTEST_RUN_ID", &id)
        .env("XDG_RUNTIME_DIR", runtime.path())
        .env("INSTA_UPDATE", "no")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("exit 101"), "{stdout}");
    assert!(
        stdout.contains("deny-body snapshot `a__get_a__anonymous` has not been reviewed"),
        "{stdout}"
    );
    assert!(
        !suite.path().join("snapshots").exists(),
        "nothing is written with INSTA_UPDATE=no"
    );
}

/// Every request as `METHOD path`.
type Log = Arc<Mutex<Vec<String>>>;

/// A document service on loopback: `POST /docs` (with any query) creates `dN`, `DELETE /docs/…` removes,
/// `GET /slow/…` never answers in time, anything else answers 200 to a bearer and 401
/// without one. Each request is logged (and printed, if `print`).
fn serve_docs(listener: &TcpListener, log: &Log, print: bool) {
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let log = log.clone();
        std::thread::spawn(move || answer(stream, &log, print));
    }
}

fn answer(mut stream: TcpStream, log: &Log, print: bool) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 64 * 1024 {
        if stream.read(&mut byte).unwrap_or(0) == 0 {
            return;
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let mut words = head.split_whitespace();
    let line = format!(
        "{} {}",
        words.next().unwrap_or_default(),
        words.next().unwrap_or_default()
    );
    let bearer = head
        .to_ascii_lowercase()
        .contains("\r\nauthorization: bearer ");
    let created = {
        let mut log = log.lock().unwrap();
        log.push(line.clone());
        log.iter().filter(|l| l.starts_with("POST")).count()
    };
    if print {
        println!("request {line}");
    }
    let (status, body) = if line == "POST /docs" || line.starts_with("POST /docs?") {
        ("201 Created", format!(r#"{{"id":"d{created}"}}"#))
    } else if line.starts_with("DELETE /docs/") {
        ("204 No Content", String::new())
    } else if line.starts_with("GET /slow/") {
        std::thread::sleep(Duration::from_secs(60));
        ("200 OK", "{}".to_owned())
    } else if bearer || line == "GET /" {
        ("200 OK", "{}".to_owned())
    } else {
        (
            "401 Unauthorized",
            r#"{"error":"unauthenticated"}"#.to_owned(),
        )
    };
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\nwww-authenticate: Bearer\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
}

/// The document service on a free loopback port, in this process.
fn doc_server() -> (String, Log) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let log = Log::default();
    let serving = log.clone();
    std::thread::spawn(move || serve_docs(&listener, &serving, false));
    (addr, log)
}

const DOCS: &str = "[[fixture]]\nname = \"doc\"\nidentity = \"viewer\"\nrequest = \"POST /docs\"\ncapture.id = \"/id\"\nteardown = \"DELETE /docs/{doc.id}\"\n[[route]]\nrequest = \"GET /docs/{doc.id}\"\nallow = [\"viewer\"]\nunauthenticated = 401\n";

/// A suite sent to `addr`, which may write, with `extra` in its target and `files`.
fn suite_at(addr: &str, extra: &str, files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "[targets.local]\nbase_url = \"http://{addr}\"\nallow_mutations = true\n{extra}[identities.anonymous]\n[identities.viewer]\nbearer = \"viewer-token-0001\"\n"
    );
    std::fs::write(dir.path().join("rolecall.toml"), config).unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

fn logged(log: &Log, prefix: &str) -> usize {
    log.lock()
        .unwrap()
        .iter()
        .filter(|l| l.starts_with(prefix))
        .count()
}

/// `n` route files `fN.toml`, each with its own fixture `fN` (`POST /docs?f=fN`,
/// removed by `DELETE /docs/{fN.id}`) and a route at the object: two cases each.
fn fixture_files(n: usize) -> Vec<(String, String)> {
    (1..=n)
        .map(|i| {
            let text = format!(
                "[[fixture]]\nname = \"f{i}\"\nidentity = \"viewer\"\nrequest = \"POST /docs?f=f{i}\"\ncapture.id = \"/id\"\nteardown = \"DELETE /docs/{{f{i}.id}}\"\n[[route]]\nrequest = \"GET /docs/{{f{i}.id}}\"\nallow = [\"viewer\"]\nunauthenticated = 401\n"
            );
            (format!("f{i}.toml"), text)
        })
        .collect()
}

/// The fixtures (`fN`) whose creation or removal reached the server, sorted.
fn fixtures_created(log: &Log) -> Vec<String> {
    let mut created: Vec<String> = log
        .lock()
        .unwrap()
        .iter()
        .filter_map(|l| l.strip_prefix("POST /docs?f="))
        .map(str::to_owned)
        .collect();
    created.sort();
    created
}

fn the_agent_sets_up_only_the_fixtures_of_the_cases_asked_for() {
    let (addr, log) = doc_server();
    let files = fixture_files(3);
    let mut all: Vec<(&str, &str)> = vec![("a.toml", ROUTES)];
    all.extend(files.iter().map(|(n, t)| (n.as_str(), t.as_str())));
    let suite = suite_at(&addr, "", &all);
    let runtime = runtime_dir();
    let id = run_id("fixtures");
    // The first case needs no object; the agent serves the second, which needs `f2`
    // only: `f1` and `f3` belong to cases this run leaves out.
    let mut run = nextest(
        r#""$0" --exact "$1" && "$0" --exact "$2"; echo "exit $?"; read _"#,
        ["a::get_a::viewer", "f2::get_docs_f2_id::viewer"],
        &suite,
        &runtime,
        &id,
    );
    let mut stdout = BufReader::new(run.stdout.take().unwrap());
    let mut seen = String::new();
    while !seen.contains("exit ") {
        assert_ne!(stdout.read_line(&mut seen).unwrap(), 0, "{seen}");
    }
    assert!(seen.contains("exit 0"), "{seen}");
    assert_eq!(
        seen.matches("test result: ok. 1 passed").count(),
        2,
        "{seen}"
    );
    assert_eq!(fixtures_created(&log), ["f2"], "{:?}", log.lock().unwrap());
    // The run ends: its agent removes the object it created, and nothing else.
    run.stdin.take().unwrap().write_all(b"done\n").unwrap();
    assert!(run.wait().unwrap().success());
    let needle = format!("NEXTEST_RUN_ID={id}");
    wait_until_gone(&needle, 20);
    assert_eq!(
        log.lock()
            .unwrap()
            .iter()
            .filter(|l| l.starts_with("DELETE"))
            .collect::<Vec<_>>(),
        ["DELETE /docs/d1"]
    );
}

/// What `cargo nextest run` needs to run this binary without building it (its reuse of
/// a build): the binary, and the workspace's metadata.
fn reuse_build(dir: &std::path::Path) -> (PathBuf, PathBuf) {
    let manifest_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let metadata = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--offline"])
        .current_dir(manifest_dir)
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    assert!(metadata.status.success(), "cargo metadata");
    let parsed: serde_json::Value = serde_json::from_slice(&metadata.stdout).unwrap();
    let package = parsed["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "rolecall-runner")
        .unwrap()["id"]
        .clone();
    let exe = harness();
    // target/<profile>/deps/<binary>
    let profile_dir = exe.parent().unwrap().parent().unwrap();
    let target = profile_dir.parent().unwrap();
    let triple = "x86_64-unknown-linux-gnu";
    let binaries = serde_json::json!({
        "rust-build-meta": {
            "target-directory": target,
            "base-output-directories": [profile_dir.file_name().unwrap().to_str().unwrap()],
            "non-test-binaries": {},
            "build-script-out-dirs": {},
            "linked-paths": [],
            "target-platforms": [{"triple": triple, "target-features": "unknown"}],
            "target-platform": null,
        },
        "rust-binaries": {
            "rolecall-runner::nextest": {
                "binary-id": "rolecall-runner::nextest",
                "binary-name": "nextest",
                "package-id": package,
                "kind": "test",
                "binary-path": exe,
                "build-platform": "target",
            }
        }
    });
    let (cargo_path, binaries_path) = (dir.join("cargo.json"), dir.join("binaries.json"));
    std::fs::write(&cargo_path, &metadata.stdout).unwrap();
    std::fs::write(&binaries_path, binaries.to_string()).unwrap();
    (cargo_path, binaries_path)
}

fn a_nextest_partition_creates_only_the_objects_of_its_cases() {
    if Command::new("cargo-nextest")
        .arg("--version")
        .output()
        .is_err()
    {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "cargo-nextest is missing; .ci/run installs it"
        );
        eprintln!("skipped: cargo-nextest is not installed");
        return;
    }
    let (addr, log) = doc_server();
    let files = fixture_files(4);
    let all: Vec<(&str, &str)> = files
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .collect();
    let suite = suite_at(&addr, "", &all);
    let runtime = runtime_dir();
    let work = tempfile::tempdir().unwrap();
    let (cargo_metadata, binaries) = reuse_build(work.path());
    // Eight cases (two per fixture); a quarter of them runs, as one CI shard would.
    let output = Command::new("cargo-nextest")
        .args([
            "nextest",
            "run",
            "--no-fail-fast",
            "--partition",
            "count:1/4",
        ])
        .arg("--binaries-metadata")
        .arg(&binaries)
        .arg("--cargo-metadata")
        .arg(&cargo_metadata)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("HARNESS_SUITE", suite.path())
        .env("XDG_RUNTIME_DIR", runtime.path())
        .env_remove("NEXTEST_RUN_ID")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{text}");
    // The cases the partition ran, and so the fixtures they need.
    let mut ran: Vec<String> = text
        .lines()
        .filter(|l| l.trim_start().starts_with("PASS"))
        .filter_map(|l| l.split_whitespace().last())
        .filter_map(|name| name.split("::").next())
        .map(str::to_owned)
        .collect();
    assert_eq!(ran.len(), 2, "a quarter of eight cases: {text}");
    ran.sort();
    ran.dedup();
    // nextest has exited; the agent tears down and ends with the run.
    let needle = format!("HARNESS_SUITE={}", suite.path().display());
    wait_until_gone(&needle, 20);
    let requests = log.lock().unwrap().clone();
    assert_eq!(fixtures_created(&log), ran, "{requests:?}");
    assert_eq!(
        logged(&log, "DELETE /docs/"),
        ran.len(),
        "each object created is removed: {requests:?}"
    );
    println!(
        "partition 1/4: {} of 4 fixtures created, {} requests in all",
        ran.len(),
        requests.len()
    );
}

/// In a `RUN_SUITE` process: runs the suite, says so, and idles for a minute.
fn run_then_idle(path: &std::path::Path) -> ! {
    let suite = rolecall_scenario::load(path, &rolecall_scenario::LoadOptions::new())
        .unwrap_or_else(|e| panic!("{e}"));
    let all: Vec<usize> = (0..suite.cases.len()).collect();
    let output = rolecall_runner::run(
        Arc::new(suite),
        &rolecall_runner::RunConfig::default(),
        &all,
        rolecall_runner::Keep::Reports,
        |_, _, _| {},
    )
    .unwrap();
    println!("ran {} cases", output.results.len());
    std::thread::sleep(Duration::from_secs(60));
    std::process::exit(0)
}

/// Sends SIGINT to `child` and returns its exit code, failing after 20 s.
fn interrupt(child: &mut std::process::Child) -> Option<i32> {
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("still running 20 s after SIGINT");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn ctrl_c_after_the_run_still_ends_the_process() {
    let (addr, log) = doc_server();
    let suite = suite_at(&addr, "", &[("docs.toml", DOCS)]);
    let mut child = Command::new(harness())
        .env("RUN_SUITE", suite.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "ran 2 cases\n");
    assert_eq!(logged(&log, "DELETE /docs/d1"), 1, "torn down at the end");
    // The run watched for Ctrl-C while it had objects; after it, Ctrl-C still ends it.
    assert_eq!(interrupt(&mut child), Some(130));
}

fn ctrl_c_in_the_middle_of_a_run_stops_the_service_it_started() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let command = format!(
        "command = \"DOC_SERVER={addr} exec '{}'\"\n",
        harness().display()
    );
    let slow = "[[route]]\nrequest = \"GET /slow/a\"\nallow = [\"viewer\"]\n";
    let suite = suite_at(&addr, &command, &[("a.toml", slow)]);
    let mut child = Command::new(harness())
        .env("RUN_SUITE", suite.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The service's output reaches the run's stderr: wait for a slow case to arrive.
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    while !seen.contains("request GET /slow/a") {
        assert_ne!(stderr.read_line(&mut seen).unwrap(), 0, "{seen}");
    }
    let needle = format!("DOC_SERVER={addr}");
    assert_eq!(processes_with(&needle).len(), 1, "the service runs");
    assert_eq!(interrupt(&mut child), Some(130));
    wait_until_gone(&needle, 10);
    assert_eq!(
        processes_with(&needle),
        Vec::<u32>::new(),
        "the service the run started is stopped"
    );
}
