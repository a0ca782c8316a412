//! The outputs of a run as reporters: terminal lines in suite order, and the same JSON
//! report from `rolecall run`, `rolecall test` and `ROLECALL_REPORT`.

use std::path::Path;
use std::process::{Command, Output};

use crate::server::{Recorder, Server};
use crate::{text, write};

/// Four routes × three identities against `server`, some passing, some failing.
fn suite(dir: &Path, server: &Server) {
    write(
        dir,
        &[
            (
                "rolecall.toml",
                &format!(
                    "[targets.local]\nbase_url = \"{}\"\n[identities.anonymous]\n[identities.viewer]\nbearer = \"viewer-token-1234\"\n[identities.admin]\nbearer = \"admin-token-5678\"\n",
                    server.url()
                ),
            ),
            (
                "r.toml",
                "[[route]]\nrequest = \"GET /ok\"\npublic = true\n[[route]]\nrequest = \"GET /admin-only\"\nallow = [\"admin\"]\n[[route]]\nrequest = \"GET /echo\"\nallow = [\"viewer\"]\n[[route]]\nrequest = \"GET /deny-echo\"\nallow = [\"admin\"]\n",
            ),
        ],
    );
}

fn rolecall(args: &[&str], env: &[(&str, &str)], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rolecall"))
        .args(args)
        .current_dir(dir)
        .env_remove("CI")
        .env_remove("GITHUB_ACTIONS")
        .env_remove("ROLECALL_REPORT")
        .env("NO_COLOR", "1")
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

/// `text` with every ` in 12 ms` (how long a response took) as ` in N ms`.
fn untimed(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find(" in ") {
        let (before, after) = rest.split_at(at + 4);
        out.push_str(before);
        let digits = after.len() - after.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        rest = match digits > 0 && after[digits..].starts_with(" ms") {
            true => {
                out.push('N');
                &after[digits..]
            }
            false => after,
        };
    }
    out.push_str(rest);
    out
}

/// The stdout of a run without what says how long it took: its last line, the summary,
/// and each failure's response time.
fn lines(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let summary = stdout.trim_end().rfind('\n').unwrap_or(0);
    untimed(&stdout[..summary])
}

#[test]
fn piped_lines_follow_the_suite_whatever_order_cases_finish_in() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    suite(dir.path(), &server);
    let args = [
        "run",
        ".",
        "-v",
        "--concurrency",
        "8",
        "--report",
        "json=out.json",
    ];
    let first = rolecall(&args, &[], dir.path());
    assert_eq!(first.status.code(), Some(1), "{}", text(&first));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("out.json")).unwrap())
            .unwrap();
    let in_suite_order: Vec<&str> = report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(in_suite_order.len(), 12);
    assert_eq!(in_suite_order[0], "r::get_ok::anonymous");
    let printed: Vec<String> = lines(&first)
        .lines()
        .filter(|l| !l.starts_with(' ') && !l.is_empty())
        .map(|l| l.split_whitespace().nth(1).unwrap().to_owned())
        .collect();
    assert_eq!(printed, in_suite_order, "{}", text(&first));
    for _ in 0..2 {
        let again = rolecall(&args, &[], dir.path());
        assert_eq!(lines(&again), lines(&first));
    }
    // Without -v, only what did not pass.
    let quiet = rolecall(&["run", ".", "--concurrency", "8"], &[], dir.path());
    let quiet = lines(&quiet);
    assert!(!quiet.contains("PASS"), "{quiet}");
    assert!(quiet.contains("FAIL  r::get_echo::anonymous"), "{quiet}");
}

/// A report without what differs between two runs: timings.
fn report(path: &Path) -> serde_json::Value {
    let mut report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    for case in report["cases"].as_array_mut().unwrap() {
        if let Some(observed) = case["observed"].as_object_mut() {
            observed.remove("elapsed_ms");
        }
        if let Some(message) = case["message"].as_str() {
            case["message"] = untimed(message).into();
        }
    }
    report
}

#[test]
fn run_test_and_rolecall_report_write_the_same_json() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    suite(dir.path(), &server);
    let run = rolecall(&["run", ".", "--report", "json=run.json"], &[], dir.path());
    assert_eq!(run.status.code(), Some(1), "{}", text(&run));
    let test = rolecall(
        &["test", ".", "--report", "json=test.json"],
        &[],
        dir.path(),
    );
    assert_eq!(test.status.code(), Some(101), "{}", text(&test));
    // The harness reads ROLECALL_REPORT, as `cargo test` of a suite's crate would.
    let env = rolecall(
        &["test", "."],
        &[("ROLECALL_REPORT", "json=env.json")],
        dir.path(),
    );
    assert_eq!(env.status.code(), Some(101), "{}", text(&env));
    let from_run = report(&dir.path().join("run.json"));
    assert_eq!(from_run["summary"]["pass"], 8, "{from_run:#}");
    assert_eq!(from_run["summary"]["fail"], 4, "{from_run:#}");
    assert_eq!(from_run, report(&dir.path().join("test.json")));
    assert_eq!(from_run, report(&dir.path().join("env.json")));
}

#[test]
fn an_invalid_rolecall_report_exits_2_and_sends_nothing() {
    let recorder = Recorder::start();
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &[
            (
                "rolecall.toml",
                &format!(
                    "[targets.local]\nbase_url = \"{}\"\n[identities.anonymous]\n",
                    recorder.url()
                ),
            ),
            ("r.toml", "[[route]]\nrequest = \"GET /a\"\npublic = true\n"),
        ],
    );
    std::fs::create_dir(dir.path().join("a-dir")).unwrap();
    for (value, needle) in [
        ("xml=out.xml", "unknown format `xml`"),
        ("json=missing/out.json", "no directory `missing`"),
        ("json=", "no file after `json=`"),
        ("json=a-dir", "a directory"),
        (
            "json=ok.json,json=missing/out.json",
            "no directory `missing`",
        ),
    ] {
        for command in ["run", "test"] {
            let out = rolecall(&[command, "."], &[("ROLECALL_REPORT", value)], dir.path());
            let all = text(&out);
            assert_eq!(out.status.code(), Some(2), "{command} {value}: {all}");
            assert!(all.contains(needle), "missing `{needle}` in:\n{all}");
            assert_eq!(recorder.connections(), 0, "{command} {value} sent:\n{all}");
        }
    }
    assert!(!dir.path().join("ok.json").exists());
    // A flag replaces the variable; a valid one sends.
    let out = rolecall(
        &["run", ".", "--report", "json=ok.json"],
        &[("ROLECALL_REPORT", "xml=out.xml")],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let out = rolecall(
        &["test", "."],
        &[("ROLECALL_REPORT", "json=a-dir/ok.json")],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(recorder.connections() > 0);
    assert!(dir.path().join("a-dir/ok.json").exists());
}

/// Every file format from `rolecall run` and `rolecall test` alike, and GitHub
/// annotations on stdout by default in GitHub Actions, at the failing route's line.
#[test]
fn every_format_is_written_by_run_and_test_and_github_annotates_in_actions() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    suite(dir.path(), &server);
    let flags = |prefix: &str| -> Vec<String> {
        [
            "junit=J.xml",
            "sarif=J.sarif",
            "markdown=J.md",
            "html=J.html",
        ]
        .iter()
        .flat_map(|spec| ["--report".to_owned(), spec.replace('J', prefix)])
        .collect()
    };
    for (command, expected) in [("run", 1), ("test", 101)] {
        let mut args = vec![command.to_owned(), ".".to_owned()];
        args.extend(flags(command));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = rolecall(&args, &[("GITHUB_ACTIONS", "true")], dir.path());
        let all = text(&out);
        assert_eq!(out.status.code(), Some(expected), "{command}: {all}");
        assert!(
            all.contains("::error file=r.toml,line=9,col=1,title=possible privilege escalation"),
            "{command}: no annotation at the route's line:\n{all}"
        );
        let junit = std::fs::read_to_string(dir.path().join(format!("{command}.xml"))).unwrap();
        assert_eq!(junit.matches("<testcase ").count(), 12, "{junit}");
        let sarif: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.path().join(format!("{command}.sarif"))).unwrap(),
        )
        .unwrap();
        assert_eq!(sarif["version"], "2.1.0");
        let markdown = std::fs::read_to_string(dir.path().join(format!("{command}.md"))).unwrap();
        assert!(markdown.contains('|'), "{markdown}");
        let html = std::fs::read_to_string(dir.path().join(format!("{command}.html"))).unwrap();
        assert_eq!(html.matches("<div class=\"c ").count(), 12, "{html}");
        assert!(html.contains("<section id=\"escalations\""), "{html}");
    }
    // Outside GitHub Actions, no annotations unless asked for.
    let out = rolecall(&["run", "."], &[], dir.path());
    assert!(!text(&out).contains("::error"), "{}", text(&out));
    let out = rolecall(&["run", ".", "--report", "github"], &[], dir.path());
    assert!(text(&out).contains("::error file="), "{}", text(&out));
}
