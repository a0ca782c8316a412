//! The JSON report as a reporter: each case is serialized (redacted) as it finishes and
//! spooled to an anonymous temporary file; the report, cases in suite order, is written
//! when the run finishes. Memory holds three numbers per case, never a case's text.
//!
//! The spooled cases are copied into the report as they are, spliced into the empty
//! `cases` array of the rest of the report, never parsed again; unless a secret was
//! learned after one of them was redacted: then every case is read back, parsed and
//! redacted again.

use std::io::{self, Write};
use std::sync::Arc;

use serde::Serialize;
use serde::ser::{Error as _, SerializeSeq as _};

use rolecall_scenario::{CleanStrings, Redacted, Secrets};

use crate::report::{ReportCase, report_case};
use crate::reporter::Summary;
use crate::reporter::{CaseFinished, Reporter, RunFinished};
use crate::reporters::spool::{Cursor, Span, Spool};

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
    /// Keys and values already searched for secrets, not searched again case after case.
    clean: CleanStrings,
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
            clean: CleanStrings::default(),
        }
    }
}

impl<W: Write> Reporter for JsonReporter<W> {
    fn case_finished(&mut self, event: &CaseFinished<'_>) -> io::Result<()> {
        self.buf.clear();
        let mut one = Redacted::new(event.secrets.clone(), &mut self.buf);
        one.write_small_json(&report_case(event.suite, event.result), &mut self.clean)?;
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
        let report = Report {
            version: crate::drift::REPORT_VERSION,
            target: &event.suite.target.name,
            base_url: event.base_url,
            summary: event.summary,
            cases: Spooled {
                spool: &self.spool,
                entries: &self.entries,
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
        if fresh && splice(&mut self.out, &report, event.secrets)? {
            return self.out.flush();
        }
        self.out.write_json(&report)?;
        self.out.write_all(b"\n")?;
        self.out.flush()
    }
}

/// Writes the report, its spooled cases copied into it as they are, with what
/// [`Redacted::write_json`] writes for the rest (the report with no case): the same
/// bytes as `write_json` of the whole, whose pretty printer puts an element of `cases`
/// after `\n` or `,\n` and four spaces, and closes a non-empty array on a line of its
/// own. Returns `false`, having written nothing, if the rest does not end as expected.
fn splice<W: Write>(
    out: &mut Redacted<W>,
    report: &Report<'_>,
    secrets: &Arc<Secrets>,
) -> io::Result<bool> {
    let rest = Report {
        cases: Spooled {
            entries: &[],
            ..report.cases
        },
        ..*report
    };
    let mut text = Redacted::new(secrets.clone(), Vec::new());
    text.write_json(&rest)?;
    let text = String::from_utf8(text.into_inner()?).map_err(io::Error::other)?;
    let Some(open) = text.strip_suffix("[]\n}") else {
        return Ok(false);
    };
    out.write_json_sealed(open, secrets)?;
    out.write_json_sealed("[", secrets)?;
    let entries = report.cases.entries;
    let mut piece = Vec::new();
    let mut cursor = Cursor::new(report.cases.spool);
    for (at, &(_, span)) in entries.iter().enumerate() {
        piece.clear();
        piece.extend_from_slice(if at == 0 { b"\n" } else { b",\n" });
        piece.extend_from_slice(CASE_INDENT);
        piece.extend_from_slice(cursor.read(span)?);
        let piece = std::str::from_utf8(&piece).map_err(io::Error::other)?;
        out.write_json_sealed(piece, secrets)?;
    }
    let close = if entries.is_empty() {
        "]\n}\n"
    } else {
        "\n  ]\n}\n"
    };
    out.write_json_sealed(close, secrets)?;
    Ok(true)
}

#[derive(Clone, Copy, Serialize)]
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

/// The cases, read back from the spool one at a time as they are written, each parsed
/// and serialized again (redacted with the secrets of the run's end).
#[derive(Clone, Copy)]
struct Spooled<'a> {
    spool: &'a Spool,
    entries: &'a [(usize, Span)],
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
            let case: ReportCase<'static> =
                serde_json::from_slice(&buf).map_err(S::Error::custom)?;
            seq.serialize_element(&case)?;
        }
        seq.end()
    }
}
