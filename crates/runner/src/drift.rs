//! Baseline drift: what changed between two JSON reports' observed matrices.
//!
//! A report (the format `rolecall run --report json=FILE` writes) is read into small types
//! of its own: only what a comparison needs, every field but a case's `name` optional, and
//! unknown fields ignored, so a report from an older suite or a newer rolecall that only
//! added fields still compares. Cases are matched by name; a change is drift only when both
//! sides observed a response. Drift is ordered by how much it matters: newly granted access
//! (a possible escalation) first, then newly refused access, other status changes, and a
//! refusal that moved to another layer or vendor.

use std::collections::HashMap;
use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The version of the JSON report format this rolecall writes and reads. A report without
/// a `version` field is version 1.
pub const REPORT_VERSION: u64 = 1;

/// How many added, removed or not comparable cases are named before the rest is counted.
const LISTED: usize = 20;

/// A JSON report, as read for a comparison.
///
/// Not `deny_unknown_fields`, unlike the scenario formats: a report is written by rolecall,
/// and a newer one may add fields (never rename them) that an older comparison ignores.
#[derive(Debug, Clone, Deserialize)]
#[serde(expecting = "a rolecall JSON report (an object with a `cases` array)")]
pub struct Report {
    #[serde(default)]
    version: Option<u64>,
    #[serde(default)]
    target: Option<String>,
    #[serde(default)]
    cases: Option<Vec<ReportedCase>>,
}

impl Report {
    /// The report's cases, in the order it lists them.
    pub fn cases(&self) -> &[ReportedCase] {
        self.cases.as_deref().unwrap_or_default()
    }

    /// The target the report's run was sent to, when it says.
    pub fn target(&self) -> Option<&str> {
        self.target.as_deref()
    }
}

/// One case of a report.
#[derive(Debug, Clone, Deserialize)]
#[serde(expecting = "a case of a rolecall report (an object with a `name`)")]
pub struct ReportedCase {
    /// `file::route::identity`: what cases are matched by.
    pub name: String,
    /// The scenario's `file:line:col` of the route.
    #[serde(default)]
    pub location: Option<String>,
    /// `pass`, `fail`, `skipped` or `error`.
    #[serde(default)]
    pub outcome: Option<String>,
    /// What the target answered, when it was sent and answered.
    #[serde(default)]
    pub observed: Option<ReportedObserved>,
}

/// What a report says the target answered.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ReportedObserved {
    /// The HTTP status.
    #[serde(default)]
    pub status: Option<u16>,
    /// The layer that answered: `app`, `server`, `waf`, `cdn` or `unknown`.
    #[serde(default)]
    pub layer: Option<String>,
    /// The vendor that answered (`app`, `cloudflare`, `nginx` …).
    #[serde(default)]
    pub vendor: Option<String>,
}

/// A report that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{}", self.message())]
pub struct ReportReadError {
    path: PathBuf,
    kind: ReportReadErrorKind,
}

/// What is wrong with a report file.
#[derive(Debug)]
#[non_exhaustive]
pub enum ReportReadErrorKind {
    /// The file could not be read.
    Read(std::io::Error),
    /// The file is not JSON; `line` and `column` are 1-based.
    Syntax {
        /// What the JSON parser expected.
        message: String,
        /// Where.
        line: usize,
        /// Where.
        column: usize,
    },
    /// The file is JSON, but not a rolecall report.
    NotAReport(String),
    /// The report was written in a format version this rolecall does not read.
    Version(u64),
}

impl ReportReadError {
    /// What is wrong.
    pub fn kind(&self) -> &ReportReadErrorKind {
        &self.kind
    }

    fn message(&self) -> String {
        let path = self.path.display();
        match &self.kind {
            ReportReadErrorKind::Read(e) => format!("cannot read report `{path}`: {e}"),
            ReportReadErrorKind::Syntax {
                message,
                line,
                column,
            } => format!("{path}:{line}:{column}: not JSON: {message}"),
            ReportReadErrorKind::NotAReport(why) => {
                format!("{path}: not a rolecall report: {why}")
            }
            ReportReadErrorKind::Version(v) if *v > REPORT_VERSION => format!(
                "{path}: report version {v} is newer than this rolecall reads (version {REPORT_VERSION}): compare it with a newer rolecall"
            ),
            ReportReadErrorKind::Version(v) => {
                format!(
                    "{path}: unknown report version {v}: this rolecall reads version {REPORT_VERSION}"
                )
            }
        }
    }
}

/// Reads the JSON report at `path`.
pub fn read_report(path: &Path) -> Result<Report, ReportReadError> {
    let text = std::fs::read(path).map_err(|e| ReportReadError {
        path: path.to_owned(),
        kind: ReportReadErrorKind::Read(e),
    })?;
    parse_report(path, &text)
}

/// Parses a JSON report; `path` only names it in errors.
pub fn parse_report(path: &Path, json: &[u8]) -> Result<Report, ReportReadError> {
    let error = |kind| ReportReadError {
        path: path.to_owned(),
        kind,
    };
    let report: Report = serde_json::from_slice(json).map_err(|e| {
        // Whether it is JSON at all comes first: serde stops at the first value of the
        // wrong type, which may come before a syntax error.
        if let Err(syntax) = serde_json::from_slice::<serde::de::IgnoredAny>(json) {
            let (line, column) = (syntax.line(), syntax.column());
            return error(ReportReadErrorKind::Syntax {
                message: message_of(&syntax),
                line,
                // serde_json says column 0 for an empty line.
                column: column.max(1),
            });
        }
        // A report of another version may not have this version's shape: say so first.
        if let Some(version) = version_of(json).filter(|v| *v != REPORT_VERSION) {
            return error(ReportReadErrorKind::Version(version));
        }
        if !is_object(json) {
            return error(not_an_object());
        }
        error(ReportReadErrorKind::NotAReport(format!(
            "{} (line {}, column {})",
            message_of(&e),
            e.line(),
            e.column()
        )))
    })?;
    // Serde reads a struct from an array too: a report is an object.
    if !is_object(json) {
        return Err(error(not_an_object()));
    }
    let version = report.version.unwrap_or(REPORT_VERSION);
    if version != REPORT_VERSION {
        return Err(error(ReportReadErrorKind::Version(version)));
    }
    if report.cases.is_none() {
        return Err(error(ReportReadErrorKind::NotAReport(
            "no `cases` array".to_owned(),
        )));
    }
    Ok(report)
}

fn is_object(json: &[u8]) -> bool {
    json.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
}

fn not_an_object() -> ReportReadErrorKind {
    ReportReadErrorKind::NotAReport(
        "the top level is not an object with a `cases` array".to_owned(),
    )
}

/// A JSON error's message, without the position serde_json appends.
fn message_of(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let at = format!(" at line {} column {}", e.line(), e.column());
    text.strip_suffix(&at).unwrap_or(&text).to_owned()
}

/// The `version` of a report that does not parse as this version's, when it has one.
fn version_of(json: &[u8]) -> Option<u64> {
    #[derive(Deserialize)]
    struct Versioned {
        version: u64,
    }
    serde_json::from_slice::<Versioned>(json)
        .ok()
        .map(|v| v.version)
}

/// The kinds of drift, in the order they are listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DriftKind {
    /// Refused before, granted now: a possible escalation.
    Granted,
    /// Granted before, refused now.
    Refused,
    /// Another status change (403 ↔ 404 concealment, 401 ↔ 403 …).
    Status,
    /// The same status from another layer or vendor.
    Layer,
}

impl DriftKind {
    /// Every kind, in the order they are listed.
    pub const ALL: [DriftKind; 4] = [
        DriftKind::Granted,
        DriftKind::Refused,
        DriftKind::Status,
        DriftKind::Layer,
    ];

    /// The heading of this kind's entries.
    pub fn title(self) -> &'static str {
        match self {
            DriftKind::Granted => "newly granted access (possible escalation)",
            DriftKind::Refused => "newly refused access",
            DriftKind::Status => "other status changes",
            DriftKind::Layer => "same status from another layer or vendor",
        }
    }
}

/// What a report observed for a case: the status and who answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// The HTTP status.
    pub status: u16,
    /// The layer that answered (`unknown` when the report does not say).
    pub layer: String,
    /// The vendor that answered (`unknown` when the report does not say).
    pub vendor: String,
}

impl Seen {
    fn of(case: &ReportedCase) -> Option<Seen> {
        let observed = case.observed.as_ref()?;
        let field = |v: &Option<String>| v.clone().unwrap_or_else(|| "unknown".to_owned());
        Some(Seen {
            status: observed.status?,
            layer: field(&observed.layer),
            vendor: field(&observed.vendor),
        })
    }

    /// Whether the request got through: a 2xx, or a redirect the app itself answered.
    fn granted(&self) -> bool {
        match self.status {
            // A WAF's block page served with 200 (F5 ASM does by default) refused the request.
            // Only a whole-page block marker (a `disguise` rule) attributes a 2xx to the waf
            // layer: a page carrying a script the WAF injects into what it passes is granted.
            200..=299 => self.layer != "waf",
            300..=399 => self.layer == "app",
            _ => false,
        }
    }

    /// Whether the request was refused: any 4xx, or a 5xx from a layer in front of the app
    /// (a WAF's 503 challenge, a CDN's 5xx block page).
    fn refused(&self) -> bool {
        match self.status {
            400..=499 => true,
            200..=299 => self.layer == "waf",
            500..=599 => ["server", "waf", "cdn"].contains(&self.layer.as_str()),
            _ => false,
        }
    }
}

impl fmt::Display for Seen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.layer == self.vendor {
            write!(f, "{} {}", self.status, self.layer)
        } else {
            write!(f, "{} {}/{}", self.status, self.layer, self.vendor)
        }
    }
}

/// A case whose observation changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drift {
    /// How it changed.
    pub kind: DriftKind,
    /// The case's name.
    pub name: String,
    /// What the old report observed.
    pub before: Seen,
    /// What the new report observed.
    pub after: Seen,
    /// The scenario `file:line:col` of the case's route (the new report's, or the old
    /// one's when the new one does not say).
    pub location: Option<String>,
}

/// A case only one report has, or one without a response in either.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unmatched {
    /// The case's name.
    pub name: String,
    /// The case's outcome in the old report, when it has the case.
    pub before: Option<String>,
    /// The case's outcome in the new report, when it has the case.
    pub after: Option<String>,
}

/// What changed between two reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Comparison {
    /// Cases whose observation changed, ordered by [`DriftKind`], then as the new report
    /// lists them.
    pub drift: Vec<Drift>,
    /// Cases only the new report has.
    pub added: Vec<Unmatched>,
    /// Cases only the old report has.
    pub removed: Vec<Unmatched>,
    /// Cases in both that one of them did not send or got no response for (skipped,
    /// error): nothing to compare.
    pub not_comparable: Vec<Unmatched>,
    /// Cases compared, with or without drift.
    pub compared: usize,
}

impl Comparison {
    /// Whether any case drifted.
    pub fn has_drift(&self) -> bool {
        !self.drift.is_empty()
    }

    /// Whether any case was newly granted access.
    pub fn has_escalation(&self) -> bool {
        self.drift.iter().any(|d| d.kind == DriftKind::Granted)
    }

    /// Renders the comparison for a terminal: the drift by kind, escalations first, then
    /// the cases listed apart.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = self.write_to(&mut out);
        out
    }

    fn write_to(&self, out: &mut String) -> fmt::Result {
        if self.drift.is_empty() {
            writeln!(
                out,
                "no drift: {} case{} compared",
                self.compared,
                plural(self.compared)
            )?;
        } else {
            writeln!(
                out,
                "drift: {} of {} compared case{} changed",
                self.drift.len(),
                self.compared,
                plural(self.compared)
            )?;
        }
        for kind in DriftKind::ALL {
            let entries: Vec<&Drift> = self.drift.iter().filter(|d| d.kind == kind).collect();
            if entries.is_empty() {
                continue;
            }
            writeln!(out, "{} ({}):", kind.title(), entries.len())?;
            for d in entries {
                write!(out, "  {}  {} -> {}", d.name, d.before, d.after)?;
                match &d.location {
                    Some(at) => writeln!(out, "  ({at})")?,
                    None => writeln!(out)?,
                }
            }
        }
        let outcome = |o: &Option<String>| o.clone().unwrap_or_else(|| "?".to_owned());
        for (title, list) in [
            ("added (not in the old report)", &self.added),
            ("removed (not in the new report)", &self.removed),
            (
                "not comparable (no response in one report)",
                &self.not_comparable,
            ),
        ] {
            if list.is_empty() {
                continue;
            }
            writeln!(out, "{title} ({}):", list.len())?;
            for u in list.iter().take(LISTED) {
                match (&u.before, &u.after) {
                    (Some(_), Some(_)) => writeln!(
                        out,
                        "  {}  {} -> {}",
                        u.name,
                        outcome(&u.before),
                        outcome(&u.after)
                    )?,
                    _ => writeln!(out, "  {}", u.name)?,
                }
            }
            if list.len() > LISTED {
                writeln!(out, "  … and {} more", list.len() - LISTED)?;
            }
        }
        Ok(())
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Compares two reports' observed matrices.
pub fn compare(old: &Report, new: &Report) -> Comparison {
    let old_cases: HashMap<&str, &ReportedCase> =
        old.cases().iter().map(|c| (c.name.as_str(), c)).collect();
    let new_names: std::collections::HashSet<&str> =
        new.cases().iter().map(|c| c.name.as_str()).collect();
    let mut comparison = Comparison::default();
    for case in new.cases() {
        let Some(before) = old_cases.get(case.name.as_str()) else {
            comparison.added.push(Unmatched {
                name: case.name.clone(),
                before: None,
                after: case.outcome.clone(),
            });
            continue;
        };
        let (Some(was), Some(is)) = (Seen::of(before), Seen::of(case)) else {
            comparison.not_comparable.push(Unmatched {
                name: case.name.clone(),
                before: before.outcome.clone(),
                after: case.outcome.clone(),
            });
            continue;
        };
        comparison.compared += 1;
        if let Some(kind) = drift_kind(&was, &is) {
            comparison.drift.push(Drift {
                kind,
                name: case.name.clone(),
                before: was,
                after: is,
                location: case.location.clone().or_else(|| before.location.clone()),
            });
        }
    }
    comparison.removed = old
        .cases()
        .iter()
        .filter(|c| !new_names.contains(c.name.as_str()))
        .map(|c| Unmatched {
            name: c.name.clone(),
            before: c.outcome.clone(),
            after: None,
        })
        .collect();
    // Stable: within a kind, the new report's order stays.
    comparison.drift.sort_by_key(|d| d.kind);
    comparison
}

fn drift_kind(before: &Seen, after: &Seen) -> Option<DriftKind> {
    if before.refused() && after.granted() {
        Some(DriftKind::Granted)
    } else if before.granted() && after.refused() {
        Some(DriftKind::Refused)
    } else if before.status != after.status {
        Some(DriftKind::Status)
    } else if before.layer != after.layer || before.vendor != after.vendor {
        Some(DriftKind::Layer)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(json: &str) -> Report {
        parse_report(Path::new("r.json"), json.as_bytes()).unwrap()
    }

    fn error(json: &str) -> String {
        parse_report(Path::new("r.json"), json.as_bytes())
            .unwrap_err()
            .to_string()
    }

    /// A report of one case per `(name, status, layer)`; status 0 means not sent.
    fn cases(cases: &[(&str, u16, &str)]) -> Report {
        let cases: Vec<String> = cases
            .iter()
            .map(|(name, status, layer)| {
                if *status == 0 {
                    format!(r#"{{"name":"{name}","outcome":"skipped","observed":null}}"#)
                } else {
                    format!(
                        r#"{{"name":"{name}","location":"{name}.toml:3:11","outcome":"pass","observed":{{"status":{status},"layer":"{layer}","vendor":"{layer}"}}}}"#
                    )
                }
            })
            .collect();
        report(&format!(r#"{{"cases":[{}]}}"#, cases.join(",")))
    }

    #[track_caller]
    fn check(old: &[(&str, u16, &str)], new: &[(&str, u16, &str)], expected: &[(&str, DriftKind)]) {
        let comparison = compare(&cases(old), &cases(new));
        let got: Vec<(&str, DriftKind)> = comparison
            .drift
            .iter()
            .map(|d| (d.name.as_str(), d.kind))
            .collect();
        assert_eq!(got, expected, "{}", comparison.render());
    }

    #[test]
    fn a_refusal_that_now_gets_through_is_an_escalation() {
        for before in [401, 403, 404, 405, 407, 429, 451, 400] {
            check(
                &[("a", before, "app")],
                &[("a", 200, "app")],
                &[("a", DriftKind::Granted)],
            );
        }
        // A WAF's 503 was a refusal; a redirect answered by the app gets through.
        check(
            &[("a", 503, "waf")],
            &[("a", 204, "app")],
            &[("a", DriftKind::Granted)],
        );
        check(
            &[("a", 403, "cdn")],
            &[("a", 302, "app")],
            &[("a", DriftKind::Granted)],
        );
    }

    #[test]
    fn a_waf_block_page_served_with_200_is_a_refusal_not_an_escalation() {
        // F5 ASM answers with its rejection page and 200: still refused, no escalation.
        check(
            &[("a", 403, "app")],
            &[("a", 200, "waf")],
            &[("a", DriftKind::Status)],
        );
        check(
            &[("a", 200, "app")],
            &[("a", 200, "waf")],
            &[("a", DriftKind::Refused)],
        );
        check(
            &[("a", 200, "waf")],
            &[("a", 200, "app")],
            &[("a", DriftKind::Granted)],
        );
    }

    #[test]
    fn a_redirect_from_the_edge_or_an_app_error_is_not_access() {
        check(
            &[("a", 403, "app")],
            &[("a", 302, "waf")],
            &[("a", DriftKind::Status)],
        );
        // The app failing was not a refusal: its recovery is a status change only.
        check(
            &[("a", 500, "app")],
            &[("a", 200, "app")],
            &[("a", DriftKind::Status)],
        );
    }

    #[test]
    fn access_that_is_now_refused_is_listed_after_escalations() {
        check(
            &[("a", 200, "app"), ("b", 403, "app")],
            &[("a", 403, "waf"), ("b", 200, "app")],
            &[("b", DriftKind::Granted), ("a", DriftKind::Refused)],
        );
        check(
            &[("a", 302, "app")],
            &[("a", 503, "cdn")],
            &[("a", DriftKind::Refused)],
        );
    }

    #[test]
    fn every_kind_is_listed_in_order_whatever_the_report_order() {
        check(
            &[
                ("layer", 403, "app"),
                ("status", 403, "app"),
                ("refused", 200, "app"),
                ("granted", 401, "app"),
                ("same", 403, "app"),
            ],
            &[
                ("layer", 403, "waf"),
                ("status", 404, "app"),
                ("refused", 401, "app"),
                ("granted", 200, "app"),
                ("same", 403, "app"),
            ],
            &[
                ("granted", DriftKind::Granted),
                ("refused", DriftKind::Refused),
                ("status", DriftKind::Status),
                ("layer", DriftKind::Layer),
            ],
        );
    }

    #[test]
    fn concealment_and_authentication_changes_are_status_drift() {
        check(
            &[("a", 403, "app")],
            &[("a", 404, "app")],
            &[("a", DriftKind::Status)],
        );
        check(
            &[("a", 401, "app")],
            &[("a", 403, "app")],
            &[("a", DriftKind::Status)],
        );
    }

    #[test]
    fn a_vendor_change_at_the_same_layer_is_drift() {
        let old = report(
            r#"{"cases":[{"name":"a","observed":{"status":403,"layer":"waf","vendor":"cloudflare"}}]}"#,
        );
        let new = report(
            r#"{"cases":[{"name":"a","observed":{"status":403,"layer":"waf","vendor":"akamai"}}]}"#,
        );
        let comparison = compare(&old, &new);
        assert_eq!(comparison.drift.len(), 1);
        assert_eq!(comparison.drift[0].kind, DriftKind::Layer);
        assert!(
            comparison
                .render()
                .contains("a  403 waf/cloudflare -> 403 waf/akamai\n"),
            "{}",
            comparison.render()
        );
    }

    #[test]
    fn added_removed_and_unsent_cases_are_listed_apart_not_as_drift() {
        let comparison = compare(
            &cases(&[
                ("kept", 403, "app"),
                ("gone", 403, "app"),
                ("skip", 403, "app"),
            ]),
            &cases(&[("new", 200, "app"), ("kept", 403, "app"), ("skip", 0, "")]),
        );
        assert!(!comparison.has_drift());
        assert_eq!(comparison.compared, 1);
        let names = |l: &[Unmatched]| l.iter().map(|u| u.name.clone()).collect::<Vec<_>>();
        assert_eq!(names(&comparison.added), ["new"]);
        assert_eq!(names(&comparison.removed), ["gone"]);
        assert_eq!(names(&comparison.not_comparable), ["skip"]);
        assert_eq!(
            comparison.render(),
            "no drift: 1 case compared\n\
             added (not in the old report) (1):\n  new\n\
             removed (not in the new report) (1):\n  gone\n\
             not comparable (no response in one report) (1):\n  skip  pass -> skipped\n"
        );
    }

    #[test]
    fn drift_entries_name_the_case_both_observations_and_the_scenario_line() {
        let comparison = compare(
            &cases(&[("billing::get_invoices::viewer", 403, "app")]),
            &cases(&[("billing::get_invoices::viewer", 200, "app")]),
        );
        assert!(comparison.has_escalation());
        assert_eq!(
            comparison.render(),
            "drift: 1 of 1 compared case changed\n\
             newly granted access (possible escalation) (1):\n  \
             billing::get_invoices::viewer  403 app -> 200 app  (billing::get_invoices::viewer.toml:3:11)\n"
        );
    }

    #[test]
    fn long_lists_apart_say_how_many_they_leave_out() {
        let old: Vec<(String, u16, &str)> =
            (0..25).map(|i| (format!("c{i}"), 403, "app")).collect();
        let old: Vec<(&str, u16, &str)> =
            old.iter().map(|(n, s, l)| (n.as_str(), *s, *l)).collect();
        let comparison = compare(&cases(&old), &cases(&[]));
        assert_eq!(comparison.removed.len(), 25);
        let text = comparison.render();
        assert!(text.contains("  c19\n  … and 5 more\n"), "{text}");
        assert!(!text.contains("c20"), "{text}");
    }

    #[test]
    fn a_report_missing_fields_compares_without_them() {
        // An older report: no version, no location, no layer or vendor, no outcome.
        let old = report(r#"{"cases":[{"name":"a","observed":{"status":403}},{"name":"b"}]}"#);
        let new = report(
            r#"{"version":1,"mismatches":[],"cases":[{"name":"a","index":0,"observed":{"status":200,"layer":"app","vendor":"app","extra":true}},{"name":"b","observed":{}}]}"#,
        );
        let comparison = compare(&old, &new);
        assert_eq!(comparison.drift.len(), 1);
        assert_eq!(comparison.drift[0].kind, DriftKind::Granted);
        assert_eq!(comparison.drift[0].before.to_string(), "403 unknown");
        assert_eq!(comparison.drift[0].location, None);
        assert_eq!(comparison.not_comparable.len(), 1);
        assert!(
            comparison.render().contains("  b\n"),
            "{}",
            comparison.render()
        );
    }

    #[test]
    fn what_is_not_a_report_is_said() {
        assert_eq!(
            error(r#"{"target":"t"}"#),
            "r.json: not a rolecall report: no `cases` array"
        );
        assert_eq!(
            error(r#"{"cases":null}"#),
            "r.json: not a rolecall report: no `cases` array"
        );
        assert_eq!(
            error("[1, 2]"),
            "r.json: not a rolecall report: the top level is not an object with a `cases` array"
        );
        assert_eq!(
            error("{\"cases\": [\n  {\"outcome\": \"pass\"}\n]}"),
            "r.json: not a rolecall report: missing field `name` (line 2, column 21)"
        );
        assert_eq!(
            error("{\"cases\": [\n  1,,\n]}"),
            "r.json:2:5: not JSON: expected value"
        );
        assert_eq!(error(""), "r.json:1:1: not JSON: EOF while parsing a value");
    }

    #[test]
    fn a_report_of_another_version_is_refused() {
        assert_eq!(
            error(r#"{"version":2,"cases":[]}"#),
            "r.json: report version 2 is newer than this rolecall reads (version 1): compare it with a newer rolecall"
        );
        assert!(error(r#"{"version":0,"cases":[]}"#).contains("unknown report version 0"));
        // A newer report whose cases this version cannot read is refused for its version.
        assert!(
            error(r#"{"version":3,"cases":{"renamed":[]}}"#).contains("report version 3 is newer"),
        );
        assert_eq!(report(r#"{"version":1,"cases":[]}"#).cases().len(), 0);
        assert_eq!(report(r#"{"cases":[]}"#).cases().len(), 0);
    }

    #[test]
    fn a_missing_file_is_named() {
        let e = read_report(Path::new("no-such-report.json")).unwrap_err();
        assert!(matches!(e.kind(), ReportReadErrorKind::Read(_)));
        assert!(
            e.to_string()
                .starts_with("cannot read report `no-such-report.json`: "),
            "{e}"
        );
    }
}
