//! The hostile target of the runner's tests, through the `rolecall` binary: no form of a
//! credential it echoes reaches `rolecall run`'s output, report, baseline or drift,
//! `rolecall diff`'s output, `rolecall test`'s output, `--list`, or a snapshot; and a case
//! name made from a request line that reads the environment shows `${env:NAME}`, never
//! the value.

use std::process::{Command, Output};

use crate::{text, write};

#[path = "../../../runner/tests/it/hostile.rs"]
mod hostile;

use hostile::{API_KEY, AUTH_TOKEN, BEARER, COOKIE, Encoding, Hostile, PASSWORD, suite_file};

const TENANT: &str = "tenant-from-env-5e1";

/// What the hostile target answers for an encoding, so that a case can expect it and
/// pass, and thereby be snapshotted.
fn status(encoding: Encoding) -> u16 {
    match encoding {
        Encoding::PercentUpper | Encoding::PercentLower | Encoding::FormEncoded => 302,
        _ => 400,
    }
}

#[test]
fn no_form_of_an_echoed_credential_reaches_any_output_of_the_binary() {
    let hostile = Hostile::start();
    let dir = tempfile::tempdir().unwrap();
    let suite = suite_file(&hostile.url());
    // Per encoding: a route every identity fails (its message quotes the answer) and one
    // every identity passes with a snapshot. And a request line that reads the
    // environment.
    let mut routes = String::new();
    for encoding in Encoding::ALL {
        let path = encoding.path();
        let name = path.trim_start_matches('/').replace('-', "_");
        routes += &format!(
            "[[route]]\nrequest = \"GET {path}\"\n\n[[route]]\nname = \"snapshot_{name}\"\nrequest = \"GET {path}\"\ndeny = {}\nsnapshot = true\n\n",
            status(encoding)
        );
    }
    routes += "[[route]]\nrequest = \"GET /v1/${env:HOSTILE_TENANT}/landing\"\n";
    write(
        dir.path(),
        &[("rolecall.toml", &suite), ("routes.toml", &routes)],
    );
    let rolecall = |args: &[&str]| -> Output {
        Command::new(env!("CARGO_BIN_EXE_rolecall"))
            .args(args)
            .current_dir(dir.path())
            .env("HOSTILE_BEARER", BEARER)
            .env("HOSTILE_PASSWORD", PASSWORD)
            .env("HOSTILE_TENANT", TENANT)
            // `test` (the harness) records here; `run --record` elsewhere.
            .env("ROLECALL_RECORD", "test-recordings")
            .env("INSTA_UPDATE", "always")
            .env("INSTA_WORKSPACE_ROOT", dir.path())
            .env("NO_COLOR", "1")
            .env_remove("CI")
            .env_remove("GITHUB_ACTIONS")
            .output()
            .unwrap()
    };
    // Verbose: passing cases' lines are scanned too.
    let run = rolecall(&[
        "run",
        ".",
        "-v",
        "--report",
        "json=report.json",
        "--report",
        "junit=report.xml",
        "--report",
        "sarif=report.sarif",
        "--report",
        "markdown=report.md",
        "--report",
        "html=report.html",
        "--report",
        "github",
        "--baseline",
        "baseline.json",
        "--record",
        "recordings",
    ]);
    assert!(text(&run).contains("::error file="), "{}", text(&run));
    assert_eq!(run.status.code(), Some(1), "{}", text(&run));
    // A second run prints its drift since the baseline the first one wrote, and `diff`
    // compares the two reports.
    let rerun = rolecall(&["run", ".", "--baseline", "baseline.json"]);
    assert!(
        text(&rerun).contains("\nbaseline `baseline.json`: "),
        "{}",
        text(&rerun)
    );
    let diff = rolecall(&["diff", "baseline.json", "report.json"]);
    assert_eq!(diff.status.code(), Some(0), "{}", text(&diff));
    let list = rolecall(&["test", ".", "--", "--list"]);
    assert!(list.status.success(), "{}", text(&list));
    let test = rolecall(&[
        "test",
        ".",
        "--report",
        "json=test-report.json",
        "--",
        "--test-threads",
        "2",
    ]);
    assert!(!test.status.success(), "{}", text(&test));

    // The name shows the placeholder, in `--list` and in a run's lines alike.
    let name = "routes::get_v1_env_hostile_tenant_landing::bearer";
    assert!(
        text(&list).contains(&format!("{name}: test")),
        "{}",
        text(&list)
    );
    assert!(text(&run).contains(name), "{}", text(&run));

    // Coverage of the same suite: its route paths read the environment, and every one of
    // its outputs is scanned like a run's.
    std::fs::write(
        dir.path().join("openapi.yaml"),
        "openapi: 3.1.0\ninfo: {title: t, version: '1'}\nsecurity: []\npaths:\n  /v1/{tenant}/landing:\n    get: {}\n",
    )
    .unwrap();
    let coverage = rolecall(&[
        "coverage",
        ".",
        "--openapi",
        "openapi.yaml",
        "--report",
        "json=coverage.json",
        "--report",
        "markdown=coverage.md",
        "--report",
        "html=coverage.html",
    ]);
    assert_eq!(coverage.status.code(), Some(0), "{}", text(&coverage));

    let mut everything = text(&run) + &text(&list) + &text(&test) + &text(&coverage);
    for report in ["coverage.json", "coverage.md", "coverage.html"] {
        everything += &std::fs::read_to_string(dir.path().join(report)).unwrap();
    }
    everything += &std::fs::read_to_string(dir.path().join("report.json")).unwrap();
    for report in [
        "test-report.json",
        "report.xml",
        "report.sarif",
        "report.md",
        "report.html",
    ] {
        everything += &std::fs::read_to_string(dir.path().join(report)).unwrap();
    }
    // The HTML report with its escaping undone too, so an echo hidden by it is found.
    everything += &std::fs::read_to_string(dir.path().join("report.html"))
        .unwrap()
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    everything += &std::fs::read_to_string(dir.path().join("baseline.json")).unwrap();
    everything += &(text(&rerun) + &text(&diff));
    let mut snapshots = 0;
    for entry in std::fs::read_dir(dir.path().join("snapshots")).unwrap() {
        everything += &std::fs::read_to_string(entry.unwrap().path()).unwrap();
        snapshots += 1;
    }
    assert!(
        snapshots >= Encoding::ALL.len() * 4,
        "{snapshots} snapshots written"
    );
    // Every recorded refusal, its description and its body, from `run` and from `test`.
    for recordings in ["recordings", "test-recordings"] {
        let mut files = Vec::new();
        every_file(&dir.path().join(recordings), &mut files);
        assert!(
            files.len() >= Encoding::ALL.len() * 4,
            "{} files recorded in {recordings}",
            files.len()
        );
        for file in files {
            everything += &String::from_utf8_lossy(&std::fs::read(file).unwrap());
        }
    }
    assert!(
        everything.contains("***"),
        "nothing was redacted, so nothing was tested"
    );

    let echoes = hostile.echoes();
    for encoding in Encoding::ALL {
        assert!(
            echoes.iter().any(|e| e.form == encoding),
            "nothing echoed as {encoding:?}"
        );
    }
    let mut leaks: Vec<String> = [BEARER, PASSWORD, API_KEY, AUTH_TOKEN, COOKIE, TENANT]
        .into_iter()
        .filter(|raw| everything.contains(raw))
        .map(|raw| format!("raw {raw}"))
        .collect();
    leaks.extend(echoes.iter().filter_map(|echo| echo.leak_in(&everything)));
    assert!(
        leaks.is_empty(),
        "{} form(s) leaked: {leaks:#?}",
        leaks.len()
    );
}

/// Every file under `dir`, recursively.
fn every_file(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            every_file(&path, out);
        } else {
            out.push(path);
        }
    }
}
