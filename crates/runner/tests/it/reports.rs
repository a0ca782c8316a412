//! Every report format, fed the events of a real run (passes, an over-restriction, an
//! escalation, a skip and an error): JUnit and SARIF checked by validators against their
//! published schemas, Markdown and GitHub annotations by snapshots.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use rolecall_runner::{
    CaseFinished, GithubReporter, HtmlReporter, JunitReporter, MarkdownReporter, Outcome, Reporter,
    RunFinished, RunOutput, RunStarted, SarifReporter, Summary,
};
use rolecall_scenario::Suite;

use crate::server::TestServer;
use crate::{run_all, suite};

const ROUTES: &str = r#"[[route]]
name = "archive"
request = "GET /status/200"
allow = ["admin"]

[[route]]
name = "list"
request = "GET /status/200"
allow = ["admin", "viewer"]

[[route]]
name = "settings"
request = "GET /status/403"
allow = ["admin"]

[[route]]
name = "create"
request = "POST /status/201"
allow = ["admin"]
"#;

const MORE_ROUTES: &str = r#"[[route]]
name = "export"
request = "GET /redirect?to=http://127.0.0.1:9/gone"
public = true

[[route.case]]
identity = "viewer"
status = 200
follow_redirects = true

[[route]]
name = "pipes"
request = "GET /status/403?q=a|b"
allow = ["admin"]
status = 403

[[route]]
name = "guarded"
request = "GET /status/403?g=1"
public = true
status = 403

[[route.case]]
identity = "viewer"
status = 403
layer = "cdn"

[[route.case]]
identity = "admin"
status = 403
body = { contains = "geo_blocked" }
"#;

/// A run of `reports.toml` and `more.toml` against a real server.
pub(crate) struct Fixture {
    dir: tempfile::TempDir,
    pub(crate) suite: Arc<Suite>,
    pub(crate) run: RunOutput,
    url: String,
    _server: TestServer,
}

pub(crate) fn fixture() -> Fixture {
    let server = TestServer::start();
    let url = server.url();
    let suite_file = format!(
        "[targets.local]\nbase_url = \"{url}\"\n[identities.anonymous]\n[identities.viewer]\nbearer = \"${{env:TEST_TOKEN}}\"\n[identities.admin]\nbearer = \"admin-token-2222\"\n"
    );
    let (dir, suite) = suite(&[
        ("rolecall.toml", &suite_file),
        ("reports.toml", ROUTES),
        ("more.toml", MORE_ROUTES),
    ]);
    let run = run_all(&suite);
    Fixture {
        dir,
        suite,
        run,
        url,
        _server: server,
    }
}

/// Feeds `reporter` the run's events, the cases in suite order.
pub(crate) fn feed(reporter: &mut impl Reporter, suite: &Suite, run: &RunOutput) {
    let selected: Vec<usize> = run.results.iter().map(|r| r.index).collect();
    reporter
        .run_started(&RunStarted {
            suite,
            selected: &selected,
            secrets: &run.secrets,
        })
        .unwrap();
    for result in &run.results {
        reporter
            .case_finished(&CaseFinished {
                suite,
                result,
                secrets: &run.secrets,
            })
            .unwrap();
    }
    reporter
        .run_finished(&RunFinished {
            suite,
            summary: Summary::of(&run.results),
            base_url: &run.base_url,
            elapsed: Duration::from_millis(1234),
            secrets: &run.secrets,
            teardown_failures: &[],
        })
        .unwrap();
}

fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap()
}

fn junit(suite: &Suite, run: &RunOutput) -> String {
    let mut reporter = JunitReporter::new(Vec::new());
    feed(&mut reporter, suite, run);
    text(reporter.into_inner().unwrap())
}

fn sarif(suite: &Suite, run: &RunOutput) -> String {
    let mut reporter = SarifReporter::new(Vec::new());
    feed(&mut reporter, suite, run);
    text(reporter.into_inner().unwrap())
}

fn markdown(suite: &Suite, run: &RunOutput, limit: usize) -> String {
    let mut reporter = MarkdownReporter::with_limit(Vec::new(), limit);
    feed(&mut reporter, suite, run);
    text(reporter.into_inner().unwrap())
}

pub(crate) fn html(suite: &Suite, run: &RunOutput) -> String {
    let mut reporter = HtmlReporter::new(Vec::new());
    feed(&mut reporter, suite, run);
    text(reporter.into_inner().unwrap())
}

fn github(suite: &Suite, run: &RunOutput) -> String {
    let mut reporter = GithubReporter::new(Vec::new());
    feed(&mut reporter, suite, run);
    text(reporter.into_inner().unwrap())
}

/// Every format of a run, for the secret tests.
pub(crate) fn every_format(suite: &Suite, run: &RunOutput) -> Vec<(&'static str, String)> {
    vec![
        ("junit", junit(suite, run)),
        ("sarif", sarif(suite, run)),
        (
            "markdown",
            markdown(suite, run, rolecall_runner::MARKDOWN_LIMIT),
        ),
        ("html", html(suite, run)),
        ("github", github(suite, run)),
    ]
}

/// What varies between runs (the temporary directory, the server's port, timings)
/// replaced with fixed words.
fn stable(fixture: &Fixture, text: &str) -> String {
    let dir = fixture.dir.path().display().to_string();
    let text = text
        .replace(&dir, "DIR")
        .replace(&fixture.url, "http://SERVER");
    regex::Regex::new(r"\d+ ms")
        .unwrap()
        .replace_all(&text, "N ms")
        .into_owned()
}

fn schema(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/schemas")
        .join(name)
}

fn outcome_count(run: &RunOutput, outcome: Outcome) -> usize {
    run.results.iter().filter(|r| r.outcome == outcome).count()
}

#[test]
fn the_fixture_has_every_kind_of_outcome() {
    let f = fixture();
    let names: Vec<String> = crate::outcomes(&f.suite, &f.run);
    assert_eq!(outcome_count(&f.run, Outcome::Skipped), 3, "{names:#?}");
    assert_eq!(outcome_count(&f.run, Outcome::Error), 1, "{names:#?}");
    assert!(outcome_count(&f.run, Outcome::Fail) >= 3, "{names:#?}");
    assert!(outcome_count(&f.run, Outcome::Pass) >= 3, "{names:#?}");
    let escalation = f
        .run
        .results
        .iter()
        .find(|r| f.suite.cases[r.index].name == "reports::archive::viewer")
        .unwrap();
    assert!(escalation.verdict.as_ref().unwrap().escalation);
}

// --- JUnit -----------------------------------------------------------------------------

/// Validates `xml` against the published JUnit schema with `xmllint`, returning its
/// complaints; `None` when xmllint is not installed outside CI (under `CI=true` a missing
/// xmllint fails the test).
fn xmllint(xml: &str) -> Option<Result<(), String>> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("junit.xml");
    std::fs::write(&file, xml).unwrap();
    let output = match Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(schema("JUnit.xsd"))
        .arg(&file)
        .output()
    {
        Ok(output) => output,
        Err(e) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("xmllint is required under CI=true (Debian: libxml2-utils): {e}")
        }
        Err(e) => {
            eprintln!("xmllint not run ({e}); install libxml2-utils");
            return None;
        }
    };
    Some(if output.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    })
}

#[track_caller]
fn assert_valid_junit(xml: &str) {
    if let Some(Err(e)) = xmllint(xml) {
        panic!("invalid JUnit XML: {e}\n{xml}");
    }
}

#[test]
fn junit_is_valid_against_the_published_schema_with_a_testcase_per_case() {
    let f = fixture();
    let xml = junit(&f.suite, &f.run);
    assert_valid_junit(&xml);
    assert_eq!(
        xml.matches("<testcase ").count(),
        f.run.results.len(),
        "{xml}"
    );
    assert_eq!(xml.matches("<testsuite ").count(), 2, "{xml}");
    assert_eq!(xml.matches("<skipped ").count(), 3, "{xml}");
    assert_eq!(xml.matches("<error ").count(), 1, "{xml}");
    assert_eq!(
        xml.matches("<failure ").count(),
        outcome_count(&f.run, Outcome::Fail),
        "{xml}"
    );
    // The escalation: classname `file::route`, name the identity, the explanation.
    let at = xml
        .find(r#"<testcase name="viewer" classname="reports::archive""#)
        .unwrap_or_else(|| panic!("{xml}"));
    let failure = &xml[at..xml[at..].find("</testcase>").unwrap() + at];
    assert!(
        failure.contains(r#"<failure message="POSSIBLE PRIVILEGE ESCALATION; expected status 403 (deny), observed 200"#)
            && failure.contains(r#"type="escalation""#)
            && failure.contains("scenario:"),
        "{failure}"
    );
    let reports = xml.find(r#"<testsuite name="reports""#).unwrap();
    let suite_tag = &xml[reports..reports + xml[reports..].find('>').unwrap()];
    assert!(
        suite_tag.contains(r#"tests="12""#)
            && suite_tag.contains(r#"skipped="3""#)
            && suite_tag.contains(r#"errors="0""#),
        "{suite_tag}"
    );
}

#[test]
fn junit_stays_valid_when_a_message_holds_characters_xml_forbids() {
    let f = fixture();
    let mut run = f.run.clone();
    let failed = run
        .results
        .iter_mut()
        .find(|r| r.outcome == Outcome::Fail)
        .unwrap();
    let hostile = "body: \u{0}\u{1b}[31mred\u{7} <tag> & \"quotes\" ]]> \u{FFFE}\u{FFFF}";
    failed.message = Some(format!("{hostile}\n  body:   {hostile}\n"));
    let xml = junit(&f.suite, &run);
    assert!(!xml.contains('\u{0}') && !xml.contains('\u{1b}') && !xml.contains('\u{FFFE}'));
    assert!(xml.contains("\u{FFFD}[31mred"), "{xml}");
    assert_valid_junit(&xml);
}

#[test]
fn the_junit_validator_rejects_an_invalid_file() {
    // Without this, a validator that accepts everything would pass the tests above.
    let f = fixture();
    let xml = junit(&f.suite, &f.run).replacen(" tests=\"", " counted=\"", 1);
    if let Some(verdict) = xmllint(&xml) {
        assert!(
            verdict.is_err(),
            "xmllint accepted a testsuite without `tests`"
        );
    }
}

// --- SARIF -----------------------------------------------------------------------------

fn sarif_errors(log: &serde_json::Value) -> Vec<String> {
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(schema("sarif-schema-2.1.0.json")).unwrap())
            .unwrap();
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap();
    validator
        .iter_errors(log)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

#[test]
fn sarif_is_valid_against_the_2_1_0_schema_with_a_result_per_finding() {
    let f = fixture();
    let text = sarif(&f.suite, &f.run);
    let log: serde_json::Value = serde_json::from_str(&text).unwrap();
    let errors = sarif_errors(&log);
    assert!(errors.is_empty(), "{errors:#?}\n{text}");

    let run = &log["runs"][0];
    let rules: Vec<&str> = run["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        rules,
        [
            "escalation",
            "over-restriction",
            "status-mismatch",
            "deny-body-leak",
            "wrong-layer",
            "body-header-mismatch",
            "deny-body-contract",
            "no-response"
        ]
    );
    let results = run["results"].as_array().unwrap();
    assert_eq!(
        results.len(),
        outcome_count(&f.run, Outcome::Fail) + outcome_count(&f.run, Outcome::Error)
    );
    let escalation = results
        .iter()
        .find(|r| {
            r["message"]["text"]
                .as_str()
                .unwrap()
                .starts_with("reports::archive::viewer:")
        })
        .unwrap();
    assert_eq!(escalation["ruleId"], "escalation");
    assert_eq!(escalation["level"], "error");
    let archive = f.suite.routes.iter().find(|r| r.name == "archive").unwrap();
    let location = &escalation["locations"][0]["physicalLocation"];
    assert_eq!(location["region"]["startLine"], archive.location.line);
    assert_eq!(location["region"]["startColumn"], archive.location.column);
    assert!(
        location["artifactLocation"]["uri"]
            .as_str()
            .unwrap()
            .ends_with("/reports.toml")
    );
    // The explicit `[[route.case]]` is where the error's expectation was set.
    let export = results
        .iter()
        .find(|r| r["ruleId"] == "no-response")
        .unwrap();
    let case = f
        .suite
        .cases
        .iter()
        .find(|c| c.name == "more::export::viewer")
        .unwrap();
    assert_eq!(
        export["locations"][0]["physicalLocation"]["region"]["startLine"],
        case.expect.explicit_at.as_ref().unwrap().line
    );
    let kinds: Vec<(&str, &str)> = results
        .iter()
        .map(|r| (r["ruleId"].as_str().unwrap(), r["level"].as_str().unwrap()))
        .collect();
    for kind in [
        ("wrong-layer", "warning"),
        ("body-header-mismatch", "warning"),
    ] {
        assert_eq!(kinds.iter().filter(|k| **k == kind).count(), 1, "{kinds:?}");
    }
    let refused = results
        .iter()
        .find(|r| r["ruleId"] == "over-restriction")
        .unwrap();
    assert!(
        refused["message"]["text"]
            .as_str()
            .unwrap()
            .starts_with("reports::settings::admin:")
    );
}

#[test]
fn the_sarif_validator_rejects_an_invalid_log() {
    let f = fixture();
    let mut log: serde_json::Value = serde_json::from_str(&sarif(&f.suite, &f.run)).unwrap();
    log["runs"][0]["results"][0]["level"] = "fatal".into();
    log.as_object_mut().unwrap().remove("version");
    assert_eq!(sarif_errors(&log).len(), 2, "{log:#}");
}

// --- Markdown --------------------------------------------------------------------------

#[test]
fn markdown_lists_escalations_first_then_the_matrix() {
    let f = fixture();
    let md = stable(
        &f,
        &markdown(&f.suite, &f.run, rolecall_runner::MARKDOWN_LIMIT),
    );
    insta::assert_snapshot!("markdown_report", md);
}

#[test]
fn markdown_stays_within_its_limit_and_says_what_it_left_out() {
    let f = fixture();
    let full = markdown(&f.suite, &f.run, rolecall_runner::MARKDOWN_LIMIT);
    for limit in [1_500, 2_000, 2_500] {
        let md = markdown(&f.suite, &f.run, limit);
        assert!(md.len() <= limit, "{} > {limit}:\n{md}", md.len());
        assert!(md.len() < full.len());
        assert!(md.contains("_Left out to stay under"), "{md}");
    }
    let tight = stable(&f, &markdown(&f.suite, &f.run, 2_500));
    insta::assert_snapshot!("markdown_report_bounded", tight);
}

// --- GitHub annotations ------------------------------------------------------------------

#[test]
fn github_annotates_each_failure_and_error_at_its_scenario_line() {
    let f = fixture();
    let out = github(&f.suite, &f.run);
    assert_eq!(
        out.lines().count(),
        outcome_count(&f.run, Outcome::Fail) + outcome_count(&f.run, Outcome::Error)
    );
    assert!(out.lines().all(|l| l.starts_with("::error file=")), "{out}");
    insta::assert_snapshot!("github_annotations", stable(&f, &out));
}

#[test]
fn github_escapes_properties_and_messages() {
    let f = fixture();
    let mut run = f.run.clone();
    let failed = run
        .results
        .iter_mut()
        .find(|r| r.outcome == Outcome::Fail)
        .unwrap();
    failed.message = Some("100% sure: a, b\r\nnext line %0A".to_owned());
    let out = github(&f.suite, &run);
    let line = out.lines().next().unwrap();
    assert!(
        line.ends_with("::100%25 sure: a, b%0D%0Anext line %250A"),
        "{line}"
    );
    // The title holds `:` (the case name's `::`): escaped in a property, not in data.
    assert!(
        line.contains(
            ",title=unexpected status%3A more%3A%3Aexport%3A%3Aanonymous::100%25 sure: a, b"
        ),
        "{line}"
    );
}

#[test]
fn markdown_of_a_large_suite_stays_under_the_pull_request_limit() {
    // 3 files × 1,000 routes × 3 identities, never sent: results made up, which is all a
    // reporter sees. Every tenth case errored, the rest were skipped.
    let routes: String = (0..1_000)
        .map(|i| format!("[[route]]\nrequest = \"GET /items/{i}\"\nallow = [\"admin\"]\n\n"))
        .collect();
    let (_dir, suite) = suite(&[
        (
            "rolecall.toml",
            "[targets.t]\nbase_url = \"http://127.0.0.1:9\"\n[identities.anonymous]\n[identities.viewer]\nbearer = \"viewer-token-1111\"\n[identities.admin]\nbearer = \"admin-token-2222\"\n",
        ),
        ("a.toml", &routes),
        ("b.toml", &routes),
        ("c.toml", &routes),
    ]);
    let results: Vec<rolecall_runner::CaseResult> = (0..suite.cases.len())
        .map(|index| rolecall_runner::CaseResult {
            index,
            outcome: if index % 10 == 0 {
                Outcome::Error
            } else {
                Outcome::Skipped
            },
            observed: None,
            attribution: None,
            request_id: None,
            verdict: None,
            message: Some(format!("cannot connect | case {index}\n  detail")),
        })
        .collect();
    let run = RunOutput {
        results,
        base_url: "http://127.0.0.1:9".to_owned(),
        secrets: Arc::new(suite.secrets.clone()),
        teardown_failures: Vec::new(),
    };
    let md = markdown(&suite, &run, rolecall_runner::MARKDOWN_LIMIT);
    assert!(md.chars().count() <= rolecall_runner::MARKDOWN_LIMIT);
    assert!(md.len() > 40_000, "the budget was used: {} bytes", md.len());
    assert!(
        md.contains("cannot connect \\| case 0\n"),
        "{}",
        &md[..2_000]
    );
    let note = md.lines().last().unwrap();
    assert!(
        note.starts_with("_Left out to stay under 60000 characters: ")
            && note.contains("other failures")
            && note.contains("routes in"),
        "{note}"
    );
}
