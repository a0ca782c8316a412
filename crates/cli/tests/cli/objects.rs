//! Objects a suite creates are removed when `rolecall run` or the libtest harness
//! (`rolecall test`) is interrupted mid-run, and never created on a read-only target:
//! a recording server shows what arrived.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Uri};
use axum::response::Response;

use crate::{rolecall, text, write};

/// Creates documents, removes them, and never answers `GET /slow/…`.
struct Recording {
    addr: std::net::SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
    _runtime: tokio::runtime::Runtime,
}

impl Recording {
    fn start() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let log = Arc::new(Mutex::new(Vec::<String>::new()));
        let seen = log.clone();
        let app = Router::new().fallback(move |method: Method, uri: Uri| {
            let seen = seen.clone();
            async move {
                let line = format!("{method} {}", uri.path());
                let created = {
                    let mut seen = seen.lock().unwrap();
                    seen.push(line.clone());
                    seen.iter().filter(|l| l.starts_with("POST")).count()
                };
                if uri.path().starts_with("/slow/") {
                    tokio::time::sleep(Duration::from_secs(60)).await;
                }
                let (status, body) = match method.as_str() {
                    "POST" => (201, format!(r#"{{"id":"d{created}"}}"#)),
                    "DELETE" => (204, String::new()),
                    _ => (200, "{}".to_owned()),
                };
                Response::builder()
                    .status(status)
                    .body(Body::from(body))
                    .unwrap()
            }
        });
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        runtime.spawn(async move { axum::serve(listener, app).await.unwrap() });
        Recording {
            addr,
            log,
            _runtime: runtime,
        }
    }

    fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    fn count(&self, prefix: &str) -> usize {
        self.log().iter().filter(|l| l.starts_with(prefix)).count()
    }

    /// Waits (at most 20 s) until `done` holds for the log.
    fn wait_for(&self, done: impl Fn(&[String]) -> bool) {
        let start = Instant::now();
        while !done(&self.log()) {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "waited in vain; the server saw {:?}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn suite(dir: &Path, server: &Recording, allow_mutations: bool) {
    write(
        dir,
        &[
            (
                "rolecall.toml",
                &format!(
                    r#"
[defaults]
timeout = "60s"
[targets.t]
base_url = "http://{}"
allow_mutations = {allow_mutations}
[identities.alice]
bearer = "alice-token-1234"
[identities.bob]
bearer = "bob-token-1234"
"#,
                    server.addr
                ),
            ),
            (
                "docs.toml",
                r#"
[[fixture]]
name = "doc"
per_identity = ["alice", "bob"]
request = "POST /docs"
status = 201
capture.id = "/id"
teardown = "DELETE /docs/{doc.id}"

[[route]]
request = "GET /slow/{doc.id}"
owner = "doc"
allow = ["owner"]
"#,
            ),
        ],
    );
}

/// `journeys.toml`: a journey `share` walked by `identities` (a TOML list) that creates a
/// document (removed by its teardown), then sends `read`.
fn journey(dir: &Path, identities: &str, read: &str) {
    let text = format!(
        r#"
[[journey]]
name = "share"
identities = {identities}

[[journey.step]]
name = "create"
request = "POST /docs"
allow = {identities}
capture.id = "/id"
teardown = "DELETE /docs/{{share.id}}"

[[journey.step]]
name = "read"
request = "{read}"
allow = {identities}
"#
    );
    write(dir, &[("journeys.toml", &text)]);
}

fn spawn(args: &[&str], dir: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_rolecall"))
        .args(args)
        .current_dir(dir)
        .env_remove("CI")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Sends `signal` to the child once both objects exist and cases hang, and returns its
/// exit code and stderr.
fn interrupt(server: &Recording, child: Child, signal: &str) -> (Option<i32>, String) {
    server.wait_for(|log| {
        log.iter().filter(|l| l.starts_with("POST")).count() == 2
            && log.iter().any(|l| l.starts_with("GET /slow/"))
    });
    let status = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let start = Instant::now();
    let mut child = child;
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "still running after {signal}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn sigterm_in_the_middle_of_rolecall_run_removes_every_object() {
    let server = Recording::start();
    let dir = tempfile::tempdir().unwrap();
    suite(dir.path(), &server, true);
    let child = spawn(&["run", "."], dir.path());
    let (code, stderr) = interrupt(&server, child, "TERM");
    assert_eq!(code, Some(143), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert_eq!(server.count("DELETE /docs/"), 2, "{:?}", server.log());
}

#[test]
fn sigint_in_the_middle_of_the_libtest_harness_removes_every_object() {
    let server = Recording::start();
    let dir = tempfile::tempdir().unwrap();
    suite(dir.path(), &server, true);
    let child = spawn(&["test", "."], dir.path());
    let (code, stderr) = interrupt(&server, child, "INT");
    assert_eq!(code, Some(130), "{stderr}");
    assert_eq!(server.count("DELETE /docs/"), 2, "{:?}", server.log());
}

#[test]
fn sigterm_in_the_middle_of_a_journey_undoes_every_step_sent() {
    let server = Recording::start();
    let dir = tempfile::tempdir().unwrap();
    suite(dir.path(), &server, true);
    journey(dir.path(), "[\"alice\", \"bob\"]", "GET /slow/{share.id}");
    // Only the journey: each walk creates a document, then hangs on its second step.
    let child = spawn(&["run", ".", "journeys::"], dir.path());
    let (code, stderr) = interrupt(&server, child, "TERM");
    assert_eq!(code, Some(143), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    let log = server.log();
    let mut created: Vec<String> = log
        .iter()
        .filter(|l| l.starts_with("POST /docs"))
        .enumerate()
        .map(|(i, _)| format!("DELETE /docs/d{}", i + 1))
        .collect();
    let mut removed: Vec<String> = log
        .iter()
        .filter(|l| l.starts_with("DELETE"))
        .cloned()
        .collect();
    created.sort();
    removed.sort();
    assert_eq!(created.len(), 2, "{log:?}");
    assert_eq!(removed, created, "every document a step created is removed");
}

#[test]
fn a_read_only_target_gets_no_fixture_write_and_the_cases_say_why() {
    let server = Recording::start();
    let dir = tempfile::tempdir().unwrap();
    suite(dir.path(), &server, false);
    let out = rolecall(&["run", "."], dir.path());
    assert_eq!(
        server.log(),
        Vec::<String>::new(),
        "0 requests reach the target"
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let shown = text(&out);
    assert!(
        shown.contains("fixture `doc` (")
            && shown.contains("not created: POST not sent: target `t` does not allow mutations"),
        "{shown}"
    );
    // Every case of the owner matrix (2 actors × 2 owners) is skipped, none sent.
    assert!(
        shown.contains("0 passed, 0 failed, 4 skipped, 0 errors; 4 of 4 cases"),
        "{shown}"
    );
}

#[test]
fn a_read_only_target_gets_no_journey_write_and_the_later_steps_say_why() {
    let server = Recording::start();
    let dir = tempfile::tempdir().unwrap();
    suite(dir.path(), &server, false);
    journey(dir.path(), "[\"alice\"]", "GET /docs/{share.id}");
    let out = rolecall(&["run", ".", "journeys::"], dir.path());
    assert_eq!(
        server.log(),
        Vec::<String>::new(),
        "0 requests, so 0 writes, reach the target"
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let shown = text(&out);
    assert!(
        shown.contains("journeys::share::alice::read")
            && shown.contains(
                "step `create` was not sent: POST not sent: target `t` does not allow mutations"
            ),
        "{shown}"
    );
}
