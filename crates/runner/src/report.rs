//! The JSON report: read-only view of results, written for dashboards and baselines.

use serde::Serialize;

use rolecall_scenario::{Secrets, Suite};

use crate::results::CaseResult;

#[derive(Serialize)]
struct Report<'a> {
    target: &'a str,
    base_url: String,
    summary: Summary,
    cases: Cases<'a>,
}

/// The cases, serialized one at a time as they are written: a report of thousands of
/// cases is never held in memory whole.
struct Cases<'a> {
    suite: &'a Suite,
    results: &'a [CaseResult],
    secrets: &'a Secrets,
}

impl Serialize for Cases<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(
            self.results
                .iter()
                .map(|r| report_case(self.suite, r, self.secrets)),
        )
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
    path: String,
    location: String,
    expected: Expected<'a>,
    observed: Option<ObservedReport<'a>>,
    outcome: &'static str,
    message: Option<&'a str>,
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
    request_id: Option<String>,
    layer: &'static str,
    vendor: &'a str,
    evidence: Vec<String>,
    ambiguity: Option<&'a str>,
    elapsed_ms: u128,
}

/// Renders the JSON report of a run. Every secret known to the run (including minted
/// and captured tokens) is redacted.
pub fn json_report(suite: &Suite, run: &crate::RunOutput) -> String {
    let mut json = Vec::new();
    write_json_report(suite, run, &mut json).expect("writing to a Vec does not fail");
    String::from_utf8(json).expect("serde_json writes UTF-8")
}

/// Writes the JSON report of a run to `out`, case by case: what [`json_report`] returns,
/// without building it in memory first.
pub fn write_json_report(
    suite: &Suite,
    run: &crate::RunOutput,
    mut out: impl std::io::Write,
) -> std::io::Result<()> {
    let secrets = &run.secrets;
    let report = Report {
        target: &suite.target.name,
        base_url: secrets.redact(&run.base_url),
        summary: Summary::of(&run.results),
        cases: Cases {
            suite,
            results: &run.results,
            secrets,
        },
    };
    // Fields are redacted one by one (messages already were): redacting the serialized
    // text could corrupt its structure when a secret equals a key or value.
    serde_json::to_writer_pretty(&mut out, &report)?;
    out.write_all(b"\n")
}

fn report_case<'a>(suite: &'a Suite, r: &'a CaseResult, secrets: &Secrets) -> ReportCase<'a> {
    let case = &suite.cases[r.index];
    let route = suite.route(case);
    ReportCase {
        name: &case.name,
        identity: &suite.identity(case).name,
        method: route.method.as_str(),
        path: secrets.redact(&case.path),
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
                request_id: r.request_id.as_ref().map(|(id, _)| secrets.redact(id)),
                layer: a.layer.as_str(),
                vendor: &a.vendor,
                evidence: a.evidence.iter().map(|e| secrets.redact(e)).collect(),
                ambiguity: a.ambiguity.as_deref(),
                elapsed_ms: o.elapsed.as_millis(),
            }),
            _ => None,
        },
        outcome: r.outcome.as_str(),
        message: r.message.as_deref(),
    }
}
