//! The JSON report as a reporter: each case is serialized (redacted) as it finishes and
//! spooled to an anonymous temporary file; the report, cases in suite order, is written
//! when the run finishes. Memory holds three numbers per case, never a case's text.

use std::io::{self, Write};
use std::sync::Arc;

use serde::Serialize;
use serde::ser::{Error as _, SerializeSeq as _};

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
    buf: Vec<u8>,
}

impl<W: Write> JsonReporter<W> {
    /// A reporter writing to `out`.
    pub fn new(out: W) -> Self {
        JsonReporter {
            out: Redacted::new(Arc::new(Secrets::default()), out),
            spool: Spool::default(),
            entries: Vec::new(),
            buf: Vec::new(),
        }
    }
}

impl<W: Write> Reporter for JsonReporter<W> {
    fn case_finished(&mut self, event: &CaseFinished<'_>) -> io::Result<()> {
        self.buf.clear();
        let mut one = Redacted::new(event.secrets.clone(), &mut self.buf);
        one.write_json(&report_case(event.suite, event.result))?;
        one.into_inner()?;
        let span = self.spool.push(&self.buf)?;
        self.entries.push((event.result.index, span));
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
        };
        self.out.learn(event.secrets);
        self.out.write_json(&report)?;
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
}

/// The cases, read back from the spool one at a time as they are written.
struct Spooled<'a> {
    spool: &'a Spool,
    entries: &'a [(usize, Span)],
}

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
