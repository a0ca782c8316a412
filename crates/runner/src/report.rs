//! The JSON report: read-only view of results, written for dashboards and baselines.

use std::io::Write as _;

use serde::Serialize;

use rolecall_scenario::{Redacted, Suite};

use crate::results::CaseResult;

#[derive(Serialize)]
struct Report<'a> {
    target: &'a str,
    base_url: &'a str,
    summary: Summary,
    cases: Cases<'a>,
}

/// The cases, serialized one at a time as they are written: a report of thousands of
/// cases is never held in memory whole.
struct Cases<'a> {
    suite: &'a Suite,
    results: &'a [CaseResult],
}

impl Serialize for Cases<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.results.iter().map(|r| report_case(self.suite, r)))
    }
}

/// Counts by outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Cases whose expectations held.
    pub pass: usize,
    /// Cases whose response differed.
    pub fail: usize,
    /// Cases not sent on purpose.
    pub skipped: usize,
    /// Cases without a response.
    pub error: usize,
}

impl Summary {
    /// Counts `results`.
    pub fn of(results: &[CaseResult]) -> Self {
        let mut s = Summary::default();
        for r in results {
            match r.outcome {
                crate::Outcome::Pass => s.pass += 1,
                crate::Outcome::Fail => s.fail += 1,
                crate::Outcome::Skipped => s.skipped += 1,
                crate::Outcome::Error => s.error += 1,
            }
        }
        s
    }
}

#[derive(Serialize)]
struct ReportCase<'a> {
    name: &'a str,
    identity: &'a str,
    method: &'a str,
    path: &'a str,
    location: String,
    expected: Expected<'a>,
    observed: Option<ObservedReport<'a>>,
    outcome: &'static str,
    message: Option<&'a str>,
    /// Added after the fields above, which a baseline reads: never rename those.
    mismatches: Vec<ReportMismatch<'a>>,
}

/// One typed mismatch, located at the key that set the expectation.
#[derive(Serialize)]
struct ReportMismatch<'a> {
    kind: &'static str,
    expected: &'a str,
    observed: &'a str,
    /// `file:line:col`, as `location` of the case.
    location: String,
    file: String,
    line: u32,
    column: u32,
    message: &'a str,
}

#[derive(Serialize)]
struct Expected<'a> {
    status: String,
    decision: &'static str,
    layer: Option<&'static str>,
    vendor: Option<&'a str>,
}

#[derive(Serialize)]
struct ObservedReport<'a> {
    status: u16,
    request_id: Option<&'a str>,
    layer: &'static str,
    vendor: &'a str,
    evidence: &'a [String],
    ambiguity: Option<&'a str>,
    elapsed_ms: u128,
}

/// Renders the JSON report of a run. Every secret known to the run (including minted
/// and captured tokens), in every form, is redacted.
pub fn json_report(suite: &Suite, run: &crate::RunOutput) -> String {
    let mut out = Redacted::new(run.secrets.clone(), Vec::new());
    write_json_report(suite, run, &mut out).expect("writing to a Vec does not fail");
    let json = out.into_inner().expect("writing to a Vec does not fail");
    String::from_utf8(json).expect("serde_json writes UTF-8")
}

/// Writes the JSON report of a run to `out`, case by case: what [`json_report`] returns,
/// without building it in memory first. `out` redacts every string (keys included)
/// before it is escaped, with the run's secrets: no field can carry one, and the
/// report's structure stays valid whatever a secret looks like.
pub fn write_json_report<W: std::io::Write>(
    suite: &Suite,
    run: &crate::RunOutput,
    out: &mut Redacted<W>,
) -> std::io::Result<()> {
    out.learn(&run.secrets);
    let report = Report {
        target: &suite.target.name,
        base_url: &run.base_url,
        summary: Summary::of(&run.results),
        cases: Cases {
            suite,
            results: &run.results,
        },
    };
    out.write_json(&report)?;
    out.write_all(b"\n")
}

fn report_case<'a>(suite: &'a Suite, r: &'a CaseResult) -> ReportCase<'a> {
    let case = &suite.cases[r.index];
    let route = suite.route(case);
    ReportCase {
        name: &case.name,
        identity: &suite.identity(case).name,
        method: route.method.as_str(),
        path: &case.path,
        location: route.location.to_string(),
        expected: Expected {
            status: case.expect.status.to_string(),
            decision: case.expect.decision.as_str(),
            layer: case.expect.layer.map(|l| l.as_str()),
            vendor: case.expect.vendor.as_deref(),
        },
        observed: match (&r.observed, &r.attribution) {
            (Some(o), Some(a)) => Some(ObservedReport {
                status: o.status,
                request_id: r.request_id.as_ref().map(|(id, _)| id.as_str()),
                layer: a.layer.as_str(),
                vendor: &a.vendor,
                evidence: &a.evidence,
                ambiguity: a.ambiguity.as_deref(),
                elapsed_ms: o.elapsed.as_millis(),
            }),
            _ => None,
        },
        outcome: r.outcome.as_str(),
        message: r.message.as_deref(),
        mismatches: r
            .mismatches()
            .iter()
            .map(|m| ReportMismatch {
                kind: m.kind.as_str(),
                expected: &m.expected,
                observed: &m.observed,
                location: m.location.to_string(),
                file: m.location.path.display().to_string(),
                line: m.location.line,
                column: m.location.column,
                message: &m.message,
            })
            .collect(),
    }
}
