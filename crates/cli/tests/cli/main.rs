//! End-to-end tests of the `rolecall` binary: exit codes, output, reports, secrets.

use std::path::Path;
use std::process::{Command, Output};

mod args;
mod coverage;
mod drift;
mod environment;
mod hostile_input;
mod hostile_target;
mod mock_config;
mod mock_serve;
mod objects;
mod outputs;
mod radicale;
mod reports;
mod server;
mod snapshots;

fn rolecall(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rolecall"))
        .args(args)
        .current_dir(dir)
        .env_remove("CI")
        .env_remove("GITHUB_ACTIONS")
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn write(dir: &Path, files: &[(&str, &str)]) {
    for (name, content) in files {
        std::fs::write(dir.join(name), content).unwrap();
    }
}

const SUITE: &str = r#"
[targets.local]
base_url = "http://127.0.0.1:9"
[identities.anonymous]
[identities.viewer]
bearer = "viewer-token-1234"
[identities.admin]
bearer = "admin-token-5678"
"#;

#[test]
fn check_prints_the_case_count() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &[
            ("rolecall.toml", SUITE),
            (
                "a.toml",
                "[[route]]\nrequest = \"GET /a\"\nallow = [\"admin\"]\n[[route]]\nrequest = \"DELETE /a\"\nallow = [\"admin\"]\n",
            ),
        ],
    );
    let out = rolecall(&["check", "."], dir.path());
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        text(&out),
        "ok: 1 route file, 2 routes, 3 identities, 6 cases (target `local`)\n"
    );
}

#[test]
fn check_reports_every_problem_with_its_location_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &[
            ("rolecall.toml", SUITE),
            (
                "reports.toml",
                "[[route]]\nrequest = \"GET /v1/reports\"\nalow = [\"admin\"]\nallow = [\"admn\"]\nstatus = 999\n",
            ),
        ],
    );
    let out = rolecall(&["check", "."], dir.path());
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for needle in [
        "error: unknown key `alow`\n --> reports.toml:3:1",
        "help: did you mean `allow`?",
        "error: unknown identity `admn`\n --> reports.toml:4:10",
        "help: did you mean `admin`?",
        "error: invalid status 999\n --> reports.toml:5:10",
        "error: could not load the suite due to 3 previous errors",
    ] {
        assert!(stderr.contains(needle), "missing `{needle}` in:\n{stderr}");
    }
    // Nothing is sent from an invalid suite: `run` refuses with the same diagnostics.
    let out = rolecall(&["run", "."], dir.path());
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn run_writes_a_json_report_and_exits_by_outcome() {
    let server = server::Server::start();
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &[
            ("rolecall.toml", SUITE),
            (
                "r.toml",
                "[[route]]\nrequest = \"GET /ok\"\npublic = true\n[[route]]\nrequest = \"GET /admin-only\"\nallow = [\"admin\"]\n",
            ),
        ],
    );
    let base = server.url();
    let out = rolecall(
        &["run", "--base-url", &base, ".", "--report", "json=out.json"],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("out.json")).unwrap())
            .unwrap();
    let cases = report["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 6);
    let viewer = cases
        .iter()
        .find(|c| c["name"] == "r::get_admin_only::viewer")
        .unwrap();
    assert_eq!(viewer["identity"], "viewer");
    assert_eq!(viewer["method"], "GET");
    assert_eq!(viewer["path"], "/admin-only");
    assert_eq!(viewer["expected"]["status"], "403");
    assert_eq!(viewer["observed"]["status"], 403);
    assert_eq!(viewer["observed"]["request_id"], "req-42");
    assert_eq!(viewer["observed"]["layer"], "app");
    assert_eq!(viewer["observed"]["vendor"], "app");
    assert_eq!(viewer["outcome"], "pass");

    // A filter selects cases; a wrong expectation fails the run with exit code 1.
    write(
        dir.path(),
        &[(
            "r.toml",
            "[[route]]\nrequest = \"GET /ok\"\nallow = [\"admin\"]\n",
        )],
    );
    let out = rolecall(&["run", "--base-url", &base, ".", "viewer"], dir.path());
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("FAIL  r::get_ok::viewer 200 (expected 403)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("0 passed, 1 failed, 0 skipped, 0 errors; 1 of 3 cases"),
        "{stdout}"
    );
}

#[test]
fn no_secret_reaches_output_reports_or_snapshots() {
    let server = server::Server::start();
    let dir = tempfile::tempdir().unwrap();
    let suite = format!(
        r#"
[defaults]
snapshot = true
[targets.local]
base_url = "{}"
allow_mutations = true   # the login flow POSTs
[identities.anonymous]
[identities.env_user]
bearer = "${{env:ROLECALL_TEST_TOKEN}}"
[identities.jwt_user]
jwt = {{ secret = "jwt-signing-secret-31", claims = {{ role = "admin" }} }}
[identities.session]
login = {{ request = "POST /login", token = "/access_token" }}
"#,
        server.url()
    );
    // Every route echoes the credentials it received, and most cases fail.
    write(
        dir.path(),
        &[
            ("rolecall.toml", &suite),
            (
                "r.toml",
                "[[route]]\nrequest = \"GET /echo\"\nallow = [\"session\"]\n[[route]]\nrequest = \"GET /deny-echo\"\nallow = [\"env_user\"]\n",
            ),
        ],
    );
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_rolecall"))
            .args(args)
            .current_dir(dir.path())
            .env("ROLECALL_TEST_TOKEN", "env-token-5b1e0c77")
            .env("INSTA_UPDATE", "always")
            .env("INSTA_WORKSPACE_ROOT", dir.path())
            .env_remove("CI")
            .env_remove("GITHUB_ACTIONS")
            .output()
            .unwrap()
    };
    let run_out = run(&["run", ".", "-v", "--report", "json=report.json"]);
    assert_eq!(run_out.status.code(), Some(1), "{}", text(&run_out));
    let test_out = run(&[
        "test",
        ".",
        "--report",
        "json=test-report.json",
        "--",
        "--test-threads",
        "2",
    ]);
    assert!(!test_out.status.success());
    let mut everything = text(&run_out) + &text(&test_out);
    everything += &std::fs::read_to_string(dir.path().join("report.json")).unwrap();
    everything += &std::fs::read_to_string(dir.path().join("test-report.json")).unwrap();
    let snapshots = dir.path().join("snapshots");
    let mut snapshot_count = 0;
    for entry in std::fs::read_dir(&snapshots).unwrap() {
        everything += &std::fs::read_to_string(entry.unwrap().path()).unwrap();
        snapshot_count += 1;
    }
    assert!(snapshot_count >= 1, "no snapshot was written");
    assert!(
        everything.contains("***"),
        "nothing was redacted, so nothing was tested"
    );
    let mut secrets = vec![
        "env-token-5b1e0c77".to_owned(),
        "jwt-signing-secret-31".to_owned(),
        server::SESSION_TOKEN.to_owned(),
    ];
    let sent = server.authorizations();
    assert!(
        sent.iter().any(|t| t.matches('.').count() == 2),
        "no JWT was minted: {sent:?}"
    );
    assert!(
        sent.iter().any(|t| t == server::SESSION_TOKEN),
        "the login flow did not run: {sent:?}"
    );
    secrets.extend(sent);
    let mut found = Vec::new();
    for secret in &secrets {
        if everything.contains(secret.as_str()) {
            found.push(secret.clone());
        }
    }
    assert!(
        found.is_empty(),
        "{} secret value(s) leaked: {found:?}",
        found.len()
    );
}
