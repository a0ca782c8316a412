//! No reporter holds every case's text: each report format, and the terminal reporter, is
//! fed many failing cases whose explanations are 10 KiB each, writing to `io::sink()`, and
//! the live heap (counted by a wrapping global allocator) must stay far below what
//! holding those explanations would take.

use std::alloc::System;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use cap::Cap;
use rolecall_runner::{
    CaseFinished, CaseResult, Format, Outcome, Reporter, RunFinished, RunStarted, Summary,
    TerminalOptions, TerminalReporter, file_reporter,
};
use rolecall_scenario::Suite;

#[global_allocator]
static ALLOCATOR: Cap<System> = Cap::new(System, usize::MAX);

/// Routes × identities: the cases fed to every reporter.
const ROUTES: usize = 200;
const IDENTITIES: usize = 10;
/// Each case's explanation.
const MESSAGE: usize = 10 * 1024;
/// The most live heap a reporter may add while it is fed: holding the explanations would
/// take `ROUTES × IDENTITIES × MESSAGE` = 20 MiB; a few numbers per case and the
/// buffers of its writers take well under this (about 1 MiB at most when written). The
/// count is kept small because redaction in the dev profile scans a few MB/s.
const BOUND: usize = 4 * 1024 * 1024;

/// A suite of `ROUTES × IDENTITIES` cases, loaded the ordinary way.
fn suite() -> (tempfile::TempDir, Suite) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = String::from("[targets.local]\nbase_url = \"http://127.0.0.1:9\"\n");
    for i in 0..IDENTITIES {
        config.push_str(&format!(
            "[identities.user{i}]\nbearer = \"memory-test-token-{i:04}\"\n"
        ));
    }
    let mut routes = String::new();
    for r in 0..ROUTES {
        routes.push_str(&format!(
            "[[route]]\nrequest = \"GET /r/{r}\"\nallow = [\"user{}\"]\n",
            r % IDENTITIES
        ));
    }
    std::fs::write(dir.path().join("rolecall.toml"), config).unwrap();
    std::fs::write(dir.path().join("routes.toml"), routes).unwrap();
    let suite = rolecall_scenario::load(dir.path(), &rolecall_scenario::LoadOptions::new())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(suite.cases.len(), ROUTES * IDENTITIES);
    (dir, suite)
}

/// A failing case's explanation: a headline and indented evidence, `MESSAGE` bytes, with
/// the case index in it so that no two are alike.
fn message(index: usize) -> String {
    let mut text = format!("expected 403, got 200 (case {index})\n");
    while text.len() < MESSAGE {
        text.push_str("    body: {\"items\":[1,2,3,4,5,6,7,8,9,10],\"owner\":\"someone\"}\n");
    }
    text.truncate(MESSAGE);
    text
}

/// Feeds every case of `suite` to `reporter` (in reverse suite order, so that
/// suite-ordered output has to wait for the last case) and returns the largest live heap
/// seen above what was live before, after each event.
fn peak_while_fed(suite: &Suite, mut reporter: Box<dyn Reporter + Send>) -> usize {
    let selected: Vec<usize> = (0..suite.cases.len()).collect();
    let secrets = Arc::new(suite.secrets.clone());
    let base = ALLOCATOR.allocated();
    let mut peak = 0;
    let mut sample = || peak = peak.max(ALLOCATOR.allocated().saturating_sub(base));
    reporter
        .run_started(&RunStarted {
            suite,
            selected: &selected,
            secrets: &secrets,
        })
        .unwrap();
    let mut summary = Summary::default();
    for index in (0..suite.cases.len()).rev() {
        let result = CaseResult {
            index,
            outcome: Outcome::Fail,
            observed: None,
            attribution: None,
            request_id: None,
            verdict: None,
            message: Some(message(index)),
        };
        summary.add(result.outcome);
        reporter
            .case_finished(&CaseFinished {
                suite,
                result: &result,
                secrets: &secrets,
            })
            .unwrap();
        drop(result);
        sample();
    }
    reporter
        .run_finished(&RunFinished {
            suite,
            summary,
            base_url: "http://127.0.0.1:9",
            elapsed: Duration::from_secs(1),
            secrets: &secrets,
            teardown_failures: &[],
        })
        .unwrap();
    sample();
    drop(reporter);
    peak
}

#[test]
fn no_reporter_holds_every_cases_explanation() {
    let (_dir, suite) = suite();
    let mut reporters: Vec<(String, Box<dyn Reporter + Send>)> = Format::ALL
        .into_iter()
        .map(|format| {
            let reporter = file_reporter(format, Box::new(io::sink()));
            (format.to_string(), reporter)
        })
        .collect();
    reporters.push((
        "terminal (piped, in suite order)".to_owned(),
        Box::new(TerminalReporter::new(
            io::sink(),
            TerminalOptions::default(),
        )),
    ));
    let mut over = Vec::new();
    for (name, reporter) in reporters {
        let peak = peak_while_fed(&suite, reporter);
        eprintln!("{name}: {} KiB live at most", peak / 1024);
        if peak > BOUND {
            over.push(format!("{name}: {} KiB", peak / 1024));
        }
    }
    assert!(
        over.is_empty(),
        "reporters holding per-case text ({} cases × {} KiB; bound {} KiB): {}",
        ROUTES * IDENTITIES,
        MESSAGE / 1024,
        BOUND / 1024,
        over.join(", ")
    );
}
