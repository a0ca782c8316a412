//! The terminal and JSON reporters, fed events directly: order, verbosity, colour.

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rolecall_runner::{
    CaseFinished, CaseResult, JsonReporter, Outcome, Reporter, Reporters, RunFinished, RunStarted,
    Summary, TerminalOptions, TerminalReporter,
};
use rolecall_scenario::Suite;

/// A writer whose bytes the test reads while the reporter still holds it.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Shared {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

/// Two routes × three identities; only `admin` may GET /a, everyone may GET /b.
fn six_cases() -> (tempfile::TempDir, Arc<Suite>) {
    crate::suite(&[
        (
            "rolecall.toml",
            "[targets.local]\nbase_url = \"http://127.0.0.1:9\"\n[identities.anonymous]\n[identities.viewer]\nbearer = \"viewer-token-1234\"\n[identities.admin]\nbearer = \"admin-token-5678\"\n",
        ),
        (
            "r.toml",
            "[[route]]\nrequest = \"GET /a\"\nallow = [\"admin\"]\n[[route]]\nrequest = \"GET /b\"\npublic = true\n",
        ),
    ])
}

/// Case `index` with `outcome`; failures explain themselves in two lines.
fn result(index: usize, outcome: Outcome) -> CaseResult {
    CaseResult {
        index,
        outcome,
        observed: None,
        attribution: None,
        request_id: None,
        verdict: None,
        message: (outcome != Outcome::Pass).then(|| format!("why {index}\nsecond line")),
    }
}

/// Feeds `order` (case indices, with their outcome) to `reporter`, recording what `out`
/// held after each case.
fn feed(
    reporter: &mut dyn Reporter,
    suite: &Suite,
    order: &[(usize, Outcome)],
    out: &Shared,
) -> Vec<String> {
    let selected: Vec<usize> = (0..suite.cases.len()).collect();
    let secrets = Arc::new(suite.secrets.clone());
    reporter
        .run_started(&RunStarted {
            suite,
            selected: &selected,
            secrets: &secrets,
        })
        .unwrap();
    let mut seen = Vec::new();
    let mut summary = Summary::default();
    for &(index, outcome) in order {
        summary.add(outcome);
        reporter
            .case_finished(&CaseFinished {
                suite,
                result: &result(index, outcome),
                secrets: &secrets,
            })
            .unwrap();
        seen.push(out.text());
    }
    finish(reporter, suite, summary, &secrets);
    seen
}

/// Ends the run fed to `reporter`, `secrets` known by then.
fn finish(
    reporter: &mut dyn Reporter,
    suite: &Suite,
    summary: Summary,
    secrets: &Arc<rolecall_scenario::Secrets>,
) {
    reporter
        .run_finished(&RunFinished {
            suite,
            summary,
            base_url: "http://127.0.0.1:9",
            elapsed: Duration::from_millis(1500),
            secrets,
            teardown_failures: &[],
        })
        .unwrap();
}

/// Every case, last first; case 1 (`r::get_a::viewer`) fails.
fn reversed() -> Vec<(usize, Outcome)> {
    (0..6)
        .rev()
        .map(|i| (i, if i == 1 { Outcome::Fail } else { Outcome::Pass }))
        .collect()
}

fn terminal(options: TerminalOptions, order: &[(usize, Outcome)]) -> (Vec<String>, String) {
    let (_dir, suite) = six_cases();
    let out = Shared::default();
    let mut reporter = TerminalReporter::new(out.clone(), options);
    let seen = feed(&mut reporter, &suite, order, &out);
    (seen, out.text())
}

const SUMMARY: &str = "\n5 passed, 1 failed, 0 skipped, 0 errors; 6 of 6 cases in 1.50s (target `local`, http://127.0.0.1:9)\n";

#[test]
fn piped_lines_come_in_suite_order_and_passes_only_when_verbose() {
    let piped = TerminalOptions::default();
    let (_, quiet) = terminal(piped, &reversed());
    assert_eq!(
        quiet,
        format!("FAIL  r::get_a::viewer\n      why 1\n      second line\n{SUMMARY}")
    );
    let verbose = TerminalOptions {
        verbose: true,
        ..piped
    };
    let (_, all) = terminal(verbose, &reversed());
    let names: Vec<&str> = all
        .lines()
        .filter(|l| l.starts_with("PASS") || l.starts_with("FAIL"))
        .collect();
    assert_eq!(
        names,
        [
            "PASS  r::get_a::anonymous",
            "FAIL  r::get_a::viewer",
            "PASS  r::get_a::admin",
            "PASS  r::get_b::anonymous",
            "PASS  r::get_b::viewer",
            "PASS  r::get_b::admin",
        ]
    );
    // The same events in another order print the same text.
    let mut shuffled = reversed();
    shuffled.swap(0, 3);
    shuffled.swap(1, 5);
    assert_eq!(terminal(verbose, &shuffled).1, all);
}

#[test]
fn piped_failures_are_printed_once_the_cases_before_them_are() {
    let in_order: Vec<_> = reversed().into_iter().rev().collect();
    let (seen, _) = terminal(TerminalOptions::default(), &in_order);
    assert_eq!(seen[0], "", "case 0 passed: nothing to print");
    assert!(seen[1].starts_with("FAIL  r::get_a::viewer"), "{seen:?}");
    // Out of order, the failure waits for case 0, which comes last.
    let (seen, _) = terminal(TerminalOptions::default(), &reversed());
    assert!(seen[..5].iter().all(String::is_empty), "{seen:?}");
    assert!(seen[5].starts_with("FAIL  r::get_a::viewer"), "{seen:?}");
}

#[test]
fn live_failures_are_printed_as_they_happen_in_colour_when_asked() {
    let live = TerminalOptions {
        live: true,
        ..TerminalOptions::default()
    };
    let (seen, text) = terminal(live, &reversed());
    // Case 1 is the fifth to finish: printed then, before case 0 has finished.
    assert_eq!(seen[3], "");
    assert!(seen[4].starts_with("FAIL  r::get_a::viewer"), "{seen:?}");
    assert!(
        !text.contains('\x1b'),
        "colour without being asked: {text:?}"
    );
    let (_, coloured) = terminal(
        TerminalOptions {
            color: true,
            ..live
        },
        &reversed(),
    );
    assert!(
        coloured.starts_with("\x1b[1;31mFAIL \x1b[0m r::get_a::viewer"),
        "{coloured:?}"
    );
}

#[test]
fn the_json_report_lists_cases_in_suite_order_whatever_order_they_finish_in() {
    let (_dir, suite) = six_cases();
    let out = Shared::default();
    let mut reporter = JsonReporter::new(out.clone());
    feed(&mut reporter, &suite, &reversed(), &out);
    let report: serde_json::Value = serde_json::from_str(&out.text()).unwrap();
    let names: Vec<&str> = report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    let expected: Vec<&str> = suite.cases.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, expected);
    assert_eq!(report["summary"]["fail"], 1);
    assert_eq!(report["cases"][1]["outcome"], "fail");
    assert_eq!(report["cases"][1]["message"], "why 1\nsecond line");
    assert_eq!(report["target"], "local");
}

/// Counts the cases it is fed; fails from the `fail_at`th on.
struct Counting {
    cases: Arc<AtomicUsize>,
    fail_at: usize,
}

impl Reporter for Counting {
    fn case_finished(&mut self, _: &CaseFinished<'_>) -> std::io::Result<()> {
        let n = self.cases.fetch_add(1, Ordering::SeqCst) + 1;
        match n >= self.fail_at {
            true => Err(std::io::Error::other("disk full")),
            false => Ok(()),
        }
    }
}

#[test]
fn a_failing_reporter_is_dropped_with_its_error_and_the_others_go_on() {
    let (_dir, suite) = six_cases();
    let (good, bad) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut reporters = Reporters::new();
    reporters.push(
        "good",
        Box::new(Counting {
            cases: good.clone(),
            fail_at: usize::MAX,
        }),
    );
    reporters.push(
        "bad",
        Box::new(Counting {
            cases: bad.clone(),
            fail_at: 2,
        }),
    );
    let order: Vec<_> = (0..6).map(|i| (i, Outcome::Pass)).collect();
    feed(&mut reporters, &suite, &order, &Shared::default());
    assert_eq!(
        (good.load(Ordering::SeqCst), bad.load(Ordering::SeqCst)),
        (6, 2)
    );
    assert_eq!(reporters.errors(), ["cannot write bad: disk full"]);
}

/// Feeds every case of `suite` to a JSON reporter, each explaining itself with
/// `message`, redacted with the suite's secrets, and finishes the run with `last`.
fn json_with(suite: &Suite, message: &str, last: &Arc<rolecall_scenario::Secrets>) -> String {
    let out = Shared::default();
    let mut reporter = JsonReporter::new(out.clone());
    let secrets = Arc::new(suite.secrets.clone());
    let mut summary = Summary::default();
    for index in (0..suite.cases.len()).rev() {
        let mut result = result(index, Outcome::Fail);
        result.message = Some(format!("{message} {index}"));
        summary.add(Outcome::Fail);
        reporter
            .case_finished(&CaseFinished {
                suite,
                result: &result,
                secrets: &secrets,
            })
            .unwrap();
    }
    finish(&mut reporter, suite, summary, last);
    out.text()
}

#[test]
fn spooled_json_cases_are_copied_as_is_only_while_no_secret_was_learned_since() {
    let (_dir, suite) = six_cases();
    let echoed = "echoed viewer-token-1234 and captured-token-9999";
    let same = Arc::new(suite.secrets.clone());
    let copied = json_with(&suite, echoed, &same);
    assert!(
        copied.contains("\"echoed *** and captured-token-9999 0\""),
        "{copied}"
    );
    // A value learned after the cases were spooled: they are redacted again with it.
    let mut grown = suite.secrets.clone();
    grown.insert("captured-token-9999");
    let again = json_with(&suite, echoed, &Arc::new(grown));
    assert!(!again.contains("captured-token-9999"), "{again}");
    assert_eq!(again, copied.replace("captured-token-9999", "***"));
    // Copied or parsed and written again, the report is the same bytes.
    let mut unrelated = suite.secrets.clone();
    unrelated.insert("appears-nowhere-0000");
    assert_eq!(json_with(&suite, echoed, &Arc::new(unrelated)), copied);
}
