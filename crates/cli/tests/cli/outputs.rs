//! Every way out of rolecall goes through redaction.
//!
//! Output leaves through [`Redacted`](rolecall_scenario::Redacted) (streams, reports)
//! or, for text a library prints (libtest, insta), through `Secrets::redact`. This test
//! counts the calls that print or write in the runner and the binary; a new one (a new
//! report format, a new message) fails it until it is routed through one of the two and
//! counted below.

use std::path::{Path, PathBuf};

/// Calls through which bytes leave the process.
const WAYS_OUT: [&str; 20] = [
    "print!(",
    "println!(",
    "eprint!(",
    "eprintln!(",
    "stdout()",
    "stderr()",
    "File::create(",
    "OpenOptions",
    "fs::write(",
    "BufWriter::new(",
    "impl Write",
    "impl std::io::Write",
    "dyn Write",
    "dyn std::io::Write",
    "Failed::from(",
    "Trial::test(",
    "Trial::ignorable_test(",
    "ignored_with(",
    "assert_snapshot!(",
    "set_description(",
];

/// Each file's ways out, reviewed: how each is redacted.
const REVIEWED: [(&str, usize, &str); 18] = [
    (
        "cli/src/coverage.rs",
        3,
        "suite, description, capture and report errors through Redacted with the suite's secrets (LoadError::render redacts); the summary, gate lines and every report (a temporary file renamed into place) through Redacted",
    ),
    (
        "cli/src/diff.rs",
        4,
        "reports (already redacted) compared and errors through Redacted with no secrets; the buffer a run's JSON reporter (which redacts) writes for the baseline comparison",
    ),
    (
        "cli/src/main.rs",
        4,
        "a terminal test, `check`'s summary through Redacted, LoadError::render (redacts), the mock check (redacted by rolecall_runner::check_mock)",
    ),
    (
        "cli/src/mock.rs",
        7,
        "`mock serve` logs what the mock edge receives; it holds no run's secrets",
    ),
    (
        "cli/src/new.rs",
        1,
        "the files written and their TODO count through Redacted; the drafts themselves through coverage.rs's Redacted writer",
    ),
    (
        "cli/src/run.rs",
        10,
        "LoadError::render, argument, environment and report-path errors before any secret is read (a URL is never repeated), stdout for the terminal reporter (which redacts), run and report errors and the baseline's drift through Redacted",
    ),
    (
        "coverage/src/lib.rs",
        3,
        "the crate manual's example writes its own fixture files; the crate itself only returns text",
    ),
    (
        "runner/src/agent.rs",
        5,
        "the nextest agent's status file (`ready` or `failed`, nothing else); a test process's trial, its name as nextest passed it and the message the agent redacted with the run's Secrets",
    ),
    (
        "runner/src/engine.rs",
        2,
        "an interrupted run's notice and its failed teardowns on stderr, through Redacted with the run's secrets (captured ones included)",
    ),
    (
        "runner/src/harness.rs",
        12,
        "environment, report-path and recording-directory errors (no value but a cut number or a path the user gave repeated), LoadError::render, the mock check and report errors through Secrets::redact; trial names, failure and skip messages through Secrets::redact; constant messages",
    ),
    (
        "runner/src/record.rs",
        2,
        "a recording's TOML and body through Redacted (the body already redacted when judged); the recordings folder's marker, a constant text",
    ),
    (
        "runner/src/reporters/file.rs",
        2,
        "opens an existing report only to check it is writable; reports are written through their reporter's Redacted",
    ),
    (
        "runner/src/reporters/mod.rs",
        3,
        "the writer a file reporter wraps in Redacted; stdout for GitHub annotations, which their reporter redacts",
    ),
    (
        "runner/src/reporters/spool.rs",
        1,
        "an anonymous temporary file of per-case texts, each already redacted by its reporter (JSON cases through Redacted::write_json_remembering; HTML and JUnit markup, explanations, headlines and waiting terminal lines through Secrets::redact)",
    ),
    (
        "runner/src/reporters/terminal.rs",
        3,
        "is-a-terminal tests; the progress bar, which shows counts only; lines through Redacted",
    ),
    (
        "runner/src/rundir.rs",
        5,
        "a run directory's lock files, which stay empty; its tests write marker files",
    ),
    (
        "runner/src/snapshot.rs",
        2,
        "content and description, redacted by the harness before the call",
    ),
    (
        "runner/src/target.rs",
        4,
        "a started service's output through Redacted; a unit test's fixture files",
    ),
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Occurrences of `way` that start a word: `print!(` is not counted inside `eprint!(`.
fn occurrences(text: &str, way: &str) -> usize {
    text.match_indices(way)
        .filter(|(at, _)| {
            !text[..*at]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || c == '_')
        })
        .count()
}

#[test]
fn every_way_out_goes_through_redaction() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut files = Vec::new();
    // rolecall-coverage computes and renders text only: its callers write it.
    for dir in ["cli/src", "runner/src", "coverage/src"] {
        rust_files(&crates.join(dir), &mut files);
    }
    files.sort();
    let mut found = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let count: usize = WAYS_OUT.iter().map(|way| occurrences(&text, way)).sum();
        if count > 0 {
            let name = file.strip_prefix(crates).unwrap();
            found.push((name.to_string_lossy().replace('\\', "/"), count));
        }
    }
    let reviewed: Vec<(String, usize)> = REVIEWED
        .iter()
        .map(|(file, count, _)| ((*file).to_owned(), *count))
        .collect();
    assert_eq!(
        found, reviewed,
        "a way out of rolecall was added or removed: route new output through \
         rolecall_scenario::Redacted (or Secrets::redact for text a library prints), \
         then update REVIEWED"
    );
}
