//! `ROLECALL_*` variables: honoured by `rolecall run` as by the harness, flags winning,
//! and an invalid value stops `run` and `test` with exit 2 before anything is sent.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::{Method, Uri};

use crate::{text, write};

/// A server on loopback that answers 200 to anything and records `METHOD uri`.
struct Recorder {
    url: String,
    seen: Arc<Mutex<Vec<String>>>,
    _runtime: tokio::runtime::Runtime,
}

impl Recorder {
    fn start() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let app = Router::new().fallback(move |method: Method, uri: Uri| {
            let log = log.clone();
            async move {
                log.lock().unwrap().push(format!("{method} {uri}"));
                "ok"
            }
        });
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        runtime.spawn(async move { axum::serve(listener, app).await.unwrap() });
        Recorder {
            url,
            seen,
            _runtime: runtime,
        }
    }

    fn seen(&self) -> Vec<String> {
        let mut seen = self.seen.lock().unwrap().clone();
        seen.sort();
        seen
    }
}

/// A suite whose own target is a port nothing listens on: a case passes only when the
/// run was sent somewhere else.
fn suite(dir: &Path) {
    write(
        dir,
        &[
            (
                "rolecall.toml",
                "[targets.dead]\nbase_url = \"http://127.0.0.1:9\"\n[identities.anonymous]\n",
            ),
            (
                "r.toml",
                "[[route]]\nrequest = \"GET /read\"\npublic = true\n[[route]]\nrequest = \"DELETE /write\"\npublic = true\n",
            ),
        ],
    );
}

fn rolecall(args: &[&str], env: &[(&str, &str)], dir: &Path) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rolecall"));
    command
        .args(args)
        .current_dir(dir)
        .env_remove("CI")
        .env_remove("GITHUB_ACTIONS")
        .env("NO_COLOR", "1");
    for name in [
        "ROLECALL_BASE_URL",
        "ROLECALL_CONCURRENCY",
        "ROLECALL_ALLOW_MUTATIONS",
        "ROLECALL_TARGET",
    ] {
        command.env_remove(name);
    }
    command.envs(env.iter().copied());
    command.output().unwrap()
}

#[test]
fn run_sends_to_rolecall_base_url_and_a_flag_wins_over_it() {
    let server = Recorder::start();
    let dir = tempfile::tempdir().unwrap();
    suite(dir.path());
    let out = rolecall(
        &["run", "."],
        &[("ROLECALL_BASE_URL", &server.url)],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains(&server.url), "{}", text(&out));
    // The URL came from the environment: writes need their own permission.
    assert_eq!(server.seen(), ["GET /read"]);
    assert!(text(&out).contains("DELETE not sent"), "{}", text(&out));

    let out = rolecall(
        &["run", ".", "--base-url", &server.url],
        &[("ROLECALL_BASE_URL", "http://127.0.0.1:9")],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(server.seen(), ["GET /read", "GET /read"]);
}

#[test]
fn the_permission_to_write_goes_with_the_url_it_was_given_for() {
    let server = Recorder::start();
    let dir = tempfile::tempdir().unwrap();
    suite(dir.path());
    // The environment's URL and permission: writes go there.
    let out = rolecall(
        &["run", "."],
        &[
            ("ROLECALL_BASE_URL", &server.url),
            ("ROLECALL_ALLOW_MUTATIONS", "1"),
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(server.seen(), ["DELETE /write", "GET /read"]);
    // A URL typed on the command line does not take a permission the environment gave.
    let out = rolecall(
        &["run", ".", "--base-url", &server.url],
        &[("ROLECALL_ALLOW_MUTATIONS", "1")],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(server.seen(), ["DELETE /write", "GET /read", "GET /read"]);
    // `--allow-mutations` applies to the environment's URL too.
    let out = rolecall(
        &["run", ".", "--allow-mutations"],
        &[("ROLECALL_BASE_URL", &server.url)],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(server.seen().len(), 5);
    // Without any URL of the run's own, the switch has nothing to apply to.
    let out = rolecall(&["run", ".", "--allow-mutations"], &[], dir.path());
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains(
            "--allow-mutations applies only to a URL given with --base-url or ROLECALL_BASE_URL"
        ),
        "{}",
        text(&out)
    );
}

#[test]
fn an_invalid_variable_exits_2_before_anything_is_sent() {
    let server = Recorder::start();
    let dir = tempfile::tempdir().unwrap();
    suite(dir.path());
    let url = server.url.as_str();
    let cases: [(&str, &str, &str); 11] = [
        (
            "ROLECALL_CONCURRENCY",
            "0",
            "ROLECALL_CONCURRENCY is `0`, out of range",
        ),
        (
            "ROLECALL_CONCURRENCY",
            "-1",
            "ROLECALL_CONCURRENCY is `-1`: expected a whole number from 1 to 4096",
        ),
        (
            "ROLECALL_CONCURRENCY",
            "many",
            "ROLECALL_CONCURRENCY is `many`",
        ),
        (
            "ROLECALL_CONCURRENCY",
            "4097",
            "ROLECALL_CONCURRENCY is `4097`, out of range",
        ),
        (
            "ROLECALL_CONCURRENCY",
            "99999999999999999999",
            "ROLECALL_CONCURRENCY is `99999999999999999999`, out of range",
        ),
        (
            "ROLECALL_BASE_URL",
            "staging.example.com",
            "ROLECALL_BASE_URL is not a valid URL",
        ),
        (
            "ROLECALL_BASE_URL",
            "ftp://127.0.0.1:21",
            "ROLECALL_BASE_URL has scheme `ftp`",
        ),
        (
            "ROLECALL_BASE_URL",
            "http://",
            "ROLECALL_BASE_URL is not a valid URL (empty host)",
        ),
        (
            "ROLECALL_ALLOW_MUTATIONS",
            "yes",
            "ROLECALL_ALLOW_MUTATIONS is `yes`: expected 1, true, 0 or false",
        ),
        (
            "ROLECALL_ALLOW_MUTATIONS",
            "2",
            "ROLECALL_ALLOW_MUTATIONS is `2`",
        ),
        (
            "ROLECALL_ALLOW_MUTATIONS",
            "on",
            "ROLECALL_ALLOW_MUTATIONS is `on`",
        ),
    ];
    for (name, value, message) in cases {
        // The valid URL is there so that a run that ignored the bad value would send.
        let base = if name == "ROLECALL_BASE_URL" {
            value
        } else {
            url
        };
        let env = [(name, value), ("ROLECALL_BASE_URL", base)];
        for args in [&["run", "."][..], &["test", "."][..]] {
            let out = rolecall(args, &env, dir.path());
            assert_eq!(
                out.status.code(),
                Some(2),
                "{args:?} {name}={value}: {}",
                text(&out)
            );
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                stderr.starts_with(&format!("error: {message}")),
                "{args:?} {name}={value}: {stderr}"
            );
            assert!(!stderr.contains("panicked"), "{stderr}");
        }
    }
    assert_eq!(server.seen(), Vec::<String>::new());
}

#[test]
fn a_concurrency_flag_out_of_range_exits_2_and_never_panics() {
    let dir = tempfile::tempdir().unwrap();
    suite(dir.path());
    for value in ["4097", "18446744073709551615"] {
        let out = rolecall(&["run", ".", "--concurrency", value], &[], dir.path());
        assert_eq!(out.status.code(), Some(2), "{value}: {}", text(&out));
        assert!(!text(&out).contains("panicked"), "{}", text(&out));
    }
}
