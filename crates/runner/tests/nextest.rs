//! Under nextest (a process per case) the first process starts the run's agent, the
//! next ones ask it, and it ends with the run. This binary is also the harness under
//! test: with `HARNESS_SUITE` set it is the README's three-line harness on that suite,
//! started the way nextest starts a test binary, by a parent that stands for nextest.

use std::io::{BufRead as _, BufReader, Write as _};
use std::os::unix::fs::PermissionsExt as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SUITE: &str = "[targets.local]\nmock = \"mock.toml\"\n[identities.anonymous]\n[identities.viewer]\nbearer = \"viewer-token-0001\"\n";
const MOCK: &str = "[origin.app]\n[[origin.app.token]]\nbearer = \"viewer-token-0001\"\nroles = [\"viewer\"]\n[[origin.app.route]]\nrequest = \"GET /a\"\nroles = [\"viewer\"]\n";
const ROUTES: &str =
    "[[route]]\nrequest = \"GET /a\"\nallow = [\"viewer\"]\nunauthenticated = 401\n";

fn main() -> std::process::ExitCode {
    if let Some(suite) = std::env::var_os("HARNESS_SUITE") {
        return rolecall_runner::harness(PathBuf::from(suite));
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

fn one_agent_serves_the_run_and_ends_with_it() {
    let suite = suite(ROUTES);
    let runtime = runtime_dir();
    let id = run_id("agent");
    // `sh` stands for nextest: it starts one process per case, then waits for a line.
    let mut run = Command::new("sh")
        .arg("-c")
        .arg(r#""$0" --exact "$1" && "$0" --exact "$2" && read _"#)
        .arg(harness())
        .arg("a::get_a::viewer")
        .arg("a::get_a::anonymous")
        .env("HARNESS_SUITE", suite.path())
        .env("NEXTEST_RUN_ID", &id)
        .env("XDG_RUNTIME_DIR", runtime.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
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
    let deadline = Instant::now() + Duration::from_secs(10);
    while !processes_with(&needle).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
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
