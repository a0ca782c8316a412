//! Hostile input stops `rolecall` before anything is sent: exit 2, every problem located.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::{text, write};

/// Runs `rolecall` with `env` set, failing the test (instead of hanging it) after 20 s.
fn rolecall_within(args: &[&str], dir: &Path, env: &[(&str, &str)]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rolecall"))
        .args(args)
        .current_dir(dir)
        .env_remove("CI")
        .env_remove("GITHUB_ACTIONS")
        .env("NO_COLOR", "1")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(20) {
            child.kill().unwrap();
            panic!("rolecall {args:?} did not finish within 20 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn a_header_injected_through_the_environment_stops_check_and_run_before_anything_is_sent() {
    // A listener nobody accepts from: any connection rolecall opened waits in its backlog.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let suite = format!(
        "[targets.local]\nbase_url = \"http://127.0.0.1:{port}\"\n[identities.anonymous]\n[identities.admin]\nbearer = \"${{env:INJECTED_TOKEN}}\"\n"
    );
    write(
        dir.path(),
        &[
            ("rolecall.toml", &suite),
            (
                "a.toml",
                "[[route]]\nrequest = \"GET /a\"\nallow = [\"admin\"]\n",
            ),
        ],
    );
    let env = [("INJECTED_TOKEN", "token-4711\r\nX-Evil: 1")];
    for command in ["check", "run"] {
        let out = rolecall_within(&[command, "."], dir.path(), &env);
        let shown = text(&out);
        assert_eq!(out.status.code(), Some(2), "{command}: {shown}");
        assert!(
            shown.contains("rolecall.toml:5:13")
                && shown.contains(
                    "invalid value for header `Authorization`: the value of `INJECTED_TOKEN` contains a line break"
                ),
            "{command}: {shown}"
        );
        assert!(
            !shown.contains("X-Evil") && !shown.contains("token-4711"),
            "{command}: {shown}"
        );
    }
    match listener.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("rolecall connected to the target: {other:?}"),
    }
}

#[test]
fn a_fifo_among_the_route_files_is_refused_without_waiting_for_a_writer() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &[
            (
                "rolecall.toml",
                "[targets.local]\nbase_url = \"http://127.0.0.1:9\"\n[identities.anonymous]\n",
            ),
            ("a.toml", "[[route]]\nrequest = \"GET /a\"\npublic = true\n"),
        ],
    );
    let made = Command::new("mkfifo")
        .arg(dir.path().join("pipe.toml"))
        .status()
        .unwrap();
    assert!(made.success());
    let out = rolecall_within(&["check", "."], dir.path(), &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("error: `pipe.toml` is a FIFO, not a regular file\n--> pipe.toml:1:1"),
        "{}",
        text(&out)
    );
}
