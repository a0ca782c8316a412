//! The JSON report as a reporter: each case is serialized (redacted) as it finishes and
//! spooled to an anonymous temporary file; the report, cases in suite order, is written
//! when the run finishes. Memory holds three numbers per case, never a case's text.
//!
//! The spooled cases are copied into the report as they are, unless a secret was learned
//! after one of them was redacted: then every case is read back and redacted again.

use std::io::{self, Write};
use std::sync::Arc;

use serde::Serialize;
use serde::ser::{Error as _, SerializeSeq as _};
use serde_json::value::RawValue;

use rolecall_scenario::{Redacted, Secrets};

use crate::report::{ReportCase, report_case};
use crate::reporter::Summary;
use crate::reporter::{CaseFinished, Reporter, RunFinished};
use crate::reporters::spool::{Span, Spool};

/// Writes the JSON report (`version`, `target`, `base_url`, `summary`, then `cases` in suite order)
/// to its writer when the run finishes, every string redacted before it is escaped.
#[derive(Debug)]
pub struct JsonReporter<W: Write> {
    out: Redacted<W>,
    spool: Spool,
    /// Case index and where its JSON lies in the spool, per case received.
    entries: Vec<(usize, Span)>,
    /// Each set of secrets a spooled case was redacted with (a run learns some as it
    /// goes), in the order first used.
    redacted_with: Vec<Arc<Secrets>>,
    buf: Vec<u8>,
    indented: Vec<u8>,
}

impl<W: Write> JsonReporter<W> {
    /// A reporter writing to `out`.
    pub fn new(out: W) -> Self {
        JsonReporter {
            out: Redacted::new(Arc::new(Secrets::default()), out),
            spool: Spool::default(),
            entries: Vec::new(),
            redacted_with: Vec::new(),
            buf: Vec::new(),
            indented: Vec::new(),
        }
    }
}

impl<W: Write> Reporter for JsonReporter<W> {
    fn case_finished(&mut self, event: &CaseFinished<'_>) -> io::Result<()> {
        self.buf.clear();
        let mut one = Redacted::new(event.secrets.clone(), &mut self.buf);
        one.write_json(&report_case(event.suite, event.result))?;
        one.into_inner()?;
        // Indented as an element of `cases`, so that it can be copied as it is. JSON
        // strings hold no raw line break: every one is between two tokens.
        self.indented.clear();
        for &byte in &self.buf {
            self.indented.push(byte);
            if byte == b'\n' {
                self.indented.extend_from_slice(CASE_INDENT);
            }
        }
        let span = self.spool.push(&self.indented)?;
        self.entries.push((event.result.index, span));
        if !self
            .redacted_with
            .last()
            .is_some_and(|last| Arc::ptr_eq(last, event.secrets))
        {
            self.redacted_with.push(event.secrets.clone());
        }
        Ok(())
    }

    fn run_finished(&mut self, event: &RunFinished<'_>) -> io::Result<()> {
        self.spool.flush()?;
        self.entries.sort_unstable_by_key(|&(index, _)| index);
        let mut report = Report {
            version: crate::drift::REPORT_VERSION,
            target: &event.suite.target.name,
            base_url: event.base_url,
            summary: event.summary,
            cases: Spooled {
                spool: &self.spool,
                entries: &self.entries,
                verbatim: true,
            },
            teardown_failures: event.teardown_failures,
        };
        self.out.learn(event.secrets);
        // Cases redacted with every secret known now are copied as they are; else all are
        // parsed and redacted again.
        let fresh = self
            .redacted_with
            .iter()
            .all(|set| set.redacted_all_of(event.secrets));
        match self.redacted_with.first() {
            Some(first) if fresh => self.out.write_json_redacted_with(&report, first)?,
            _ => {
                report.cases.verbatim = false;
                self.out.write_json(&report)?;
            }
        }
        self.out.write_all(b"\n")?;
        self.out.flush()
    }
}

#[derive(Serialize)]
struct Report<'a> {
    version: u64,
    target: &'a str,
    base_url: &'a str,
    summary: Summary,
    cases: Spooled<'a>,
    /// Objects the run created and could not remove, one line each.
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    teardown_failures: &'a [String],
}

/// The cases, read back from the spool one at a time as they are written.
struct Spooled<'a> {
    spool: &'a Spool,
    entries: &'a [(usize, Span)],
    /// Whether each case is copied as a raw fragment, or parsed and serialized again.
    verbatim: bool,
}

/// What precedes each line but the first of a case in `cases`: two levels of
/// serde_json's pretty printing.
const CASE_INDENT: &[u8] = b"    ";

impl Serialize for Spooled<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.entries.len()))?;
        let mut buf = Vec::new();
        for &(_, span) in self.entries {
            self.spool.read(span, &mut buf).map_err(S::Error::custom)?;
            if self.verbatim {
                let text = std::str::from_utf8(&buf).map_err(S::Error::custom)?;
                let raw: &RawValue = serde_json::from_str(text).map_err(S::Error::custom)?;
                seq.serialize_element(raw)?;
            } else {
                let case: ReportCase<'static> =
                    serde_json::from_slice(&buf).map_err(S::Error::custom)?;
                seq.serialize_element(&case)?;
            }
        }
        seq.end()
    }
}
