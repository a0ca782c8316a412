//! The JSON report's contents: a read-only view of results, written for dashboards and
//! baselines by [`JsonReporter`](crate::reporters::JsonReporter).

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use rolecall_scenario::Suite;

use crate::results::CaseResult;

/// One case of the JSON report. Borrowed when written from a result; owned when read
/// back from the spool the reporter keeps until the run ends (so field order is kept).
#[derive(Serialize, Deserialize)]
pub(crate) struct ReportCase<'a> {
    name: Cow<'a, str>,
    identity: Cow<'a, str>,
    method: Cow<'a, str>,
    path: Cow<'a, str>,
    location: Cow<'a, str>,
    expected: Expected<'a>,
    observed: Option<ObservedReport<'a>>,
    outcome: Cow<'a, str>,
    message: Option<Cow<'a, str>>,
    /// Added after the fields above, which a baseline reads: never rename those.
    #[serde(default)]
    mismatches: Vec<ReportMismatch<'a>>,
    /// For a bypass variant: which, and whether it was refused another way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    variant: Option<ReportVariant<'a>>,
}

/// A bypass variant of a refused case.
#[derive(Serialize, Deserialize)]
struct ReportVariant<'a> {
    name: Cow<'a, str>,
    family: Cow<'a, str>,
    /// The status a passing variant was refused with, when it is not the refused case's
    /// expected status (a 404 where 403 was expected): not a bypass, but worth a review.
    refused_differently: Option<u16>,
}

/// One typed mismatch, located at the key that set the expectation.
#[derive(Serialize, Deserialize)]
struct ReportMismatch<'a> {
    kind: Cow<'a, str>,
    expected: Cow<'a, str>,
    observed: Cow<'a, str>,
    /// `file:line:col`, as `location` of the case.
    location: Cow<'a, str>,
    file: Cow<'a, str>,
    line: u32,
    column: u32,
    message: Cow<'a, str>,
}

#[derive(Serialize, Deserialize)]
struct Expected<'a> {
    status: Cow<'a, str>,
    decision: Cow<'a, str>,
    layer: Option<Cow<'a, str>>,
    vendor: Option<Cow<'a, str>>,
}

#[derive(Serialize, Deserialize)]
struct ObservedReport<'a> {
    status: u16,
    request_id: Option<Cow<'a, str>>,
    layer: Cow<'a, str>,
    vendor: Cow<'a, str>,
    evidence: Cow<'a, [String]>,
    ambiguity: Option<Cow<'a, str>>,
    elapsed_ms: u128,
}

/// The report's view of `r`.
pub(crate) fn report_case<'a>(suite: &'a Suite, r: &'a CaseResult) -> ReportCase<'a> {
    let case = &suite.cases[r.index];
    let route = suite.route(case);
    ReportCase {
        name: Cow::Borrowed(&case.name),
        identity: Cow::Borrowed(&suite.identity(case).name),
        method: Cow::Borrowed(route.method.as_str()),
        path: Cow::Borrowed(&case.path),
        location: Cow::Owned(route.location.to_string()),
        expected: Expected {
            status: Cow::Owned(case.expect.status.to_string()),
            decision: Cow::Borrowed(case.expect.decision.as_str()),
            layer: case.expect.layer.map(|l| Cow::Borrowed(l.as_str())),
            vendor: case.expect.vendor.as_deref().map(Cow::Borrowed),
        },
        observed: match (&r.observed, &r.attribution) {
            (Some(o), Some(a)) => Some(ObservedReport {
                status: o.status,
                request_id: r
                    .request_id
                    .as_ref()
                    .map(|(id, _)| Cow::Borrowed(id.as_str())),
                layer: Cow::Borrowed(a.layer.as_str()),
                vendor: Cow::Borrowed(&a.vendor),
                evidence: Cow::Borrowed(&a.evidence),
                ambiguity: a.ambiguity.as_deref().map(Cow::Borrowed),
                elapsed_ms: o.elapsed.as_millis(),
            }),
            _ => None,
        },
        outcome: Cow::Borrowed(r.outcome.as_str()),
        message: r.message.as_deref().map(Cow::Borrowed),
        mismatches: r
            .mismatches()
            .iter()
            .map(|m| ReportMismatch {
                kind: Cow::Borrowed(m.kind.as_str()),
                expected: Cow::Borrowed(&m.expected),
                observed: Cow::Borrowed(&m.observed),
                location: Cow::Owned(m.location.to_string()),
                file: Cow::Owned(m.location.path.display().to_string()),
                line: m.location.line,
                column: m.location.column,
                message: Cow::Borrowed(&m.message),
            })
            .collect(),
        variant: case.variant.as_deref().map(|v| ReportVariant {
            name: Cow::Borrowed(&v.name),
            family: Cow::Borrowed(v.family.as_str()),
            refused_differently: r
                .observed
                .as_ref()
                .filter(|_| r.outcome == crate::results::Outcome::Pass)
                .and_then(|o| crate::judge::refused_differently(&case.expect, o.status)),
        }),
    }
}
