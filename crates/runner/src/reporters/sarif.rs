//! The SARIF 2.1.0 report, for code scanning: one rule per kind of finding, one result per
//! case that did not pass, located at the scenario line that set its expectation.

use std::io::{self, Write};
use std::path::Path;

use rolecall_scenario::{Redacted, Secrets, Suite};
use serde::Serialize;
use serde::ser::{Error as _, SerializeSeq as _};
use serde_json::{Value, json};

use crate::reporter::{CaseFinished, Reporter, RunFinished};
use crate::reporters::finding::{Kind, location};
use crate::reporters::spool::{Span, Spool};

/// Writes a SARIF 2.1.0 log.
///
/// Keeps one small record per case that did not pass (index, kind, and where its
/// redacted explanation lies in a spool file) and writes the log at
/// [`run_finished`](Reporter::run_finished), in suite order, through
/// [`Redacted::write_json`], reading each explanation back as its result is written. Escalations are `error`s, as are over-restrictions, status
/// mismatches and cases without a response; layer, body and header mismatches are
/// `warning`s.
#[derive(Debug)]
pub struct SarifReporter<W: Write> {
    out: Redacted<W>,
    findings: Vec<(usize, Kind, Span)>,
    spool: Spool,
}

impl<W: Write> SarifReporter<W> {
    /// A reporter writing to `out`.
    pub fn new(out: W) -> Self {
        SarifReporter {
            out: Redacted::new(Secrets::default(), out),
            findings: Vec::new(),
            spool: Spool::default(),
        }
    }

    /// The writer, once the report is written.
    pub fn into_inner(self) -> io::Result<W> {
        self.out.into_inner()
    }
}

fn level(kind: Kind) -> &'static str {
    match kind {
        Kind::Escalation
        | Kind::OverRestriction
        | Kind::StatusMismatch
        | Kind::Leak
        | Kind::NoResponse => "error",
        Kind::WrongLayer | Kind::BodyHeaderMismatch | Kind::Contract => "warning",
    }
}

impl<W: Write> Reporter for SarifReporter<W> {
    fn case_finished(&mut self, event: &CaseFinished<'_>) -> io::Result<()> {
        self.out.learn(event.secrets);
        if let Some(kind) = Kind::of(event.suite, event.result) {
            let message = event.result.message.as_deref().unwrap_or("");
            let text = event.secrets.redact(message.trim_end());
            let span = self.spool.push(text.as_bytes())?;
            self.findings.push((event.result.index, kind, span));
        }
        Ok(())
    }

    fn run_finished(&mut self, event: &RunFinished<'_>) -> io::Result<()> {
        self.out.learn(event.secrets);
        self.findings.sort_unstable_by_key(|(index, ..)| *index);
        self.spool.flush()?;
        let suite = event.suite;
        let rules: Vec<Value> = Kind::ALL
            .iter()
            .map(|kind| {
                json!({
                    "id": kind.id(),
                    "name": rule_name(*kind),
                    "shortDescription": { "text": kind.title() },
                    "fullDescription": { "text": kind.description() },
                    "defaultConfiguration": { "level": level(*kind) },
                })
            })
            .collect();
        let findings = std::mem::take(&mut self.findings);
        let results = Results {
            suite,
            findings: &findings,
            spool: &self.spool,
        };
        let log = Log {
            schema: "https://json.schemastore.org/sarif-2.1.0.json",
            runs: [Run {
                automation_details: json!({ "id": format!("rolecall/{}/", suite.target.name) }),
                results,
                tool: json!({ "driver": {
                    "name": "rolecall",
                    "version": env!("CARGO_PKG_VERSION"),
                    "rules": rules,
                }}),
            }],
            version: "2.1.0",
        };
        self.out.write_json(&log)?;
        self.out.write_all(b"\n")?;
        self.out.flush()
    }
}

/// The log, its keys in the order a `serde_json` map has them, streamed: the results are
/// never all in memory.
#[derive(Serialize)]
struct Log<'a> {
    #[serde(rename = "$schema")]
    schema: &'static str,
    runs: [Run<'a>; 1],
    version: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Run<'a> {
    automation_details: Value,
    results: Results<'a>,
    tool: Value,
}

/// The results, each built when it is written, its explanation read back from the spool.
struct Results<'a> {
    suite: &'a Suite,
    findings: &'a [(usize, Kind, Span)],
    spool: &'a Spool,
}

impl Serialize for Results<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.findings.len()))?;
        for &(index, kind, span) in self.findings {
            let text = self.spool.read_string(span).map_err(S::Error::custom)?;
            seq.serialize_element(&result(self.suite, index, kind, &text))?;
        }
        seq.end()
    }
}

fn result(suite: &Suite, index: usize, kind: Kind, text: &str) -> Value {
    let case = &suite.cases[index];
    let at = location(suite, case);
    let rule_index = Kind::ALL.iter().position(|k| *k == kind).unwrap_or(0);
    json!({
        "ruleId": kind.id(),
        "ruleIndex": rule_index,
        "level": level(kind),
        "message": { "text": format!("{}: {text}", case.name) },
        "locations": [{
            "physicalLocation": {
                "artifactLocation": { "uri": uri(&at.path) },
                "region": { "startLine": at.line.max(1), "startColumn": at.column.max(1) },
            },
            "logicalLocations": [{ "fullyQualifiedName": case.name, "kind": "test" }],
        }],
        "partialFingerprints": { "rolecallCase/v1": case.name },
    })
}

/// The rule's name in SARIF's PascalCase convention.
fn rule_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Escalation => "PossiblePrivilegeEscalation",
        Kind::OverRestriction => "AllowedIdentityRefused",
        Kind::StatusMismatch => "UnexpectedStatus",
        Kind::Leak => "DenyBodyLeak",
        Kind::WrongLayer => "WrongLayerOrVendor",
        Kind::BodyHeaderMismatch => "BodyOrHeaderMismatch",
        Kind::Contract => "DenyBodyContract",
        Kind::NoResponse => "NoResponse",
    }
}

/// A relative URI reference for `path`: `/` separators, every byte outside RFC 3986's
/// unreserved set and `/` percent-encoded.
fn uri(path: &Path) -> String {
    let text = path.to_string_lossy().replace('\\', "/");
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_are_relative_with_forward_slashes_and_percent_encoded() {
        assert_eq!(
            uri(Path::new("scenarios/a b/é.toml")),
            "scenarios/a%20b/%C3%A9.toml"
        );
    }
}
