//! The mock edge standalone: same verdicts as in-process, and as a started target.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use crate::text;

fn example_suite() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../scenarios"))
}

/// `rolecall mock serve` on a free port; the child is killed on drop.
struct Served {
    child: Child,
    url: String,
}

impl Served {
    fn start(config: &Path) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_rolecall"))
            .args(["mock", "serve", "--listen", "127.0.0.1:0", "--config"])
            .arg(config)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap()
            .to_owned();
        Served { child, url }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `name outcome` per case, sorted: the verdicts of a run.
fn verdicts(stdout: &str) -> Vec<String> {
    let mut v: Vec<String> = stdout
        .lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            let outcome = words.next()?;
            let name = words.next()?;
            matches!(outcome, "PASS" | "FAIL" | "SKIP" | "ERROR")
                .then(|| format!("{name} {outcome}"))
        })
        .collect();
    v.sort();
    v
}

#[test]
fn mock_serve_and_the_in_process_mock_give_the_same_verdicts() {
    let served = Served::start(&example_suite().join("mock.toml"));
    let run = |extra: &[&str]| {
        let mut args = vec!["run", "scenarios", "--verbose"];
        args.extend_from_slice(extra);
        Command::new(env!("CARGO_BIN_EXE_rolecall"))
            .args(&args)
            .current_dir(example_suite().parent().unwrap())
            .output()
            .unwrap()
    };
    let in_process = run(&[]);
    // A typed URL never inherits the permission to write: opt in, as the README says.
    let standalone = run(&["--base-url", &served.url, "--allow-mutations"]);
    assert!(in_process.status.success(), "{}", text(&in_process));
    assert!(standalone.status.success(), "{}", text(&standalone));
    let a = verdicts(&String::from_utf8_lossy(&in_process.stdout));
    let b = verdicts(&String::from_utf8_lossy(&standalone.stdout));
    assert!(a.len() > 300, "{}", a.len());
    assert_eq!(a, b);
}

/// A free loopback port and a suite whose target is `mock serve` on it, started by
/// `command` with `prelude` run first in the same shell.
fn service_suite(prelude: &str, identities: &str) -> (tempfile::TempDir, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    // The mock configuration lives outside the suite: inside it, it would be read as routes.
    let edge = example_suite().join("mock.toml");
    let rolecall = env!("CARGO_BIN_EXE_rolecall");
    crate::write(
        dir.path(),
        &[
            (
                "rolecall.toml",
                &format!(
                    "[targets.service]\nbase_url = \"http://127.0.0.1:{port}\"\ncommand = \"{prelude}exec '{rolecall}' mock serve --config '{}' --listen 127.0.0.1:{port}\"\nready = \"/v1/health\"\nready_timeout = \"20s\"\n[identities.anonymous]\n{identities}",
                    edge.display()
                ),
            ),
            (
                "routes.toml",
                "[[route]]\nrequest = \"GET /v1/health\"\npublic = true\n[[route]]\nrequest = \"GET /admin/\"\n[[route.case]]\nidentity = \"anonymous\"\nstatus = 403\nlayer = \"server\"\nvendor = \"nginx\"\n",
            ),
        ],
    );
    (dir, port)
}

#[test]
fn a_target_command_is_started_for_the_run_and_stopped_after() {
    let (dir, port) = service_suite("", "");
    let out = crate::rolecall(&["run", "."], dir.path());
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("2 passed"),
        "{}",
        text(&out)
    );
    // The whole process group was stopped: nothing listens on the port any more.
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the target outlived the run"
    );
}

/// A started service's output is the run's output: what it prints of a credential is
/// masked like everything else.
#[test]
fn a_started_services_output_is_redacted() {
    let (dir, _port) = service_suite(
        "echo received Bearer $ADMIN_TOKEN; echo token=$ADMIN_TOKEN >&2; ",
        "[identities.admin]\nbearer = \"${env:ADMIN_TOKEN}\"\n",
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rolecall"))
        .args(["run", "."])
        .current_dir(dir.path())
        .env_remove("CI")
        .env_remove("GITHUB_ACTIONS")
        .env("NO_COLOR", "1")
        .env("ADMIN_TOKEN", "svc-adm1n-t0ken")
        .output()
        .unwrap();
    let all = text(&out);
    assert!(
        all.contains("received Bearer ***"),
        "the service's output is lost:\n{all}"
    );
    assert!(
        all.contains("token=***"),
        "the service's errors are lost:\n{all}"
    );
    assert!(!all.contains("svc-adm1n-t0ken"), "leaked:\n{all}");
}
