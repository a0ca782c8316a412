//! The HTML report: one self-contained file (inline CSS and script, no network, a CSP
//! that forbids loading anything) with the escalations first, then the other failures,
//! then the access matrix of each route file (routes as rows, identities as columns),
//! filterable by outcome, identity and layer, also from the URL fragment
//! (`report.html#outcome=fail&identity=viewer`).
//!
//! Each case's markup is built (redacted, then escaped) as it finishes, redacted again as
//! a whole (sealed: a secret across its texts and tags is caught too) and spooled to an
//! anonymous temporary file; memory holds a small record per case, never a body. The page
//! is assembled in suite order when the run finishes, and the sealed markup is copied
//! through [`Redacted::write_sealed`], which searches only its ends again: the run's end
//! does not redact the whole page a second time.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::sync::Arc;

use rolecall_scenario::{Redacted, Secrets, Suite};

use crate::reporter::{CaseFinished, Reporter, RunFinished, RunStarted};
use crate::reporters::finding::Kind;
use crate::reporters::spool::{Cursor, Span, Spool};

mod case;

use case::{View, escape, relative};

/// The most bytes of a response body, and of a failure's explanation, the report shows
/// for one case; what is cut is said.
pub const HTML_EXCERPT: usize = 4096;

/// The stylesheet and the filter script, inlined in every report.
const STYLE: &str = include_str!("html/report.css");
const SCRIPT: &str = include_str!("html/report.js");

/// Writes the HTML report when the run finishes, from markup spooled case by case.
#[derive(Debug)]
pub struct HtmlReporter<W: Write> {
    out: Redacted<W>,
    spool: Spool,
    records: Vec<Record>,
    buf: String,
    /// Each set of secrets markup was sealed with, in the order first used.
    sealed_with: Vec<Arc<Secrets>>,
}

/// What the page needs of a case once its markup is spooled.
#[derive(Debug)]
struct Record {
    index: usize,
    kind: Option<Kind>,
    /// The case's block in the matrix.
    cell: Span,
    /// Its entry in the list above the matrix, for cases that failed or errored.
    problem: Option<Span>,
    /// Which of `sealed_with` sealed both.
    sealed: u32,
}

impl<W: Write> HtmlReporter<W> {
    /// A reporter writing to `out`.
    pub fn new(out: W) -> Self {
        HtmlReporter {
            out: Redacted::new(Secrets::default(), out),
            spool: Spool::default(),
            records: Vec::new(),
            buf: String::new(),
            sealed_with: Vec::new(),
        }
    }

    /// The writer, once the report is written.
    pub fn into_inner(self) -> io::Result<W> {
        self.out.into_inner()
    }
}

impl<W: Write> Reporter for HtmlReporter<W> {
    fn run_started(&mut self, event: &RunStarted<'_>) -> io::Result<()> {
        self.out.learn(event.secrets);
        self.records.reserve(event.selected.len());
        Ok(())
    }

    fn case_finished(&mut self, event: &CaseFinished<'_>) -> io::Result<()> {
        self.out.learn(event.secrets);
        let view = View::of(event.suite, event.result, event.secrets);
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        view.cell(&mut buf);
        event.secrets.redact_in_place(&mut buf);
        let cell = self.spool.push(buf.as_bytes())?;
        let problem = match view.kind {
            Some(_) => {
                buf.clear();
                view.problem(&mut buf);
                event.secrets.redact_in_place(&mut buf);
                Some(self.spool.push(buf.as_bytes())?)
            }
            None => None,
        };
        self.buf = buf;
        if !self
            .sealed_with
            .last()
            .is_some_and(|last| Arc::ptr_eq(last, event.secrets))
        {
            self.sealed_with.push(event.secrets.clone());
        }
        self.records.push(Record {
            index: event.result.index,
            kind: view.kind,
            cell,
            problem,
            sealed: u32::try_from(self.sealed_with.len() - 1).unwrap_or(u32::MAX),
        });
        Ok(())
    }

    fn run_finished(&mut self, event: &RunFinished<'_>) -> io::Result<()> {
        self.out.learn(event.secrets);
        self.spool.flush()?;
        let mut records = std::mem::take(&mut self.records);
        records.sort_unstable_by_key(|r| r.index);
        // Which sets sealed markup that needs no second pass now: that markup is copied
        // as sealed with every secret of the run.
        let fresh: Vec<bool> = self
            .sealed_with
            .iter()
            .map(|set| set.redacted_all_of(event.secrets))
            .collect();
        let page = Page {
            event,
            records: &records,
            spool: &self.spool,
            fresh: &fresh,
        };
        page.write(&mut self.out)?;
        self.out.flush()
    }
}

/// The page, assembled from the spool in suite order.
struct Page<'a> {
    event: &'a RunFinished<'a>,
    records: &'a [Record],
    spool: &'a Spool,
    /// Per set of `sealed_with`, whether its markup needs no second pass.
    fresh: &'a [bool],
}

impl Page<'_> {
    fn write<W: Write>(&self, out: &mut Redacted<W>) -> io::Result<()> {
        let suite = self.event.suite;
        let mut head = String::with_capacity(STYLE.len() + 4096);
        head.push_str(
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
             style-src 'unsafe-inline'; script-src 'unsafe-inline'\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <meta name=\"referrer\" content=\"no-referrer\">\n<title>rolecall access matrix · ",
        );
        escape(&mut head, &self.redact(&suite.target.name));
        head.push_str("</title>\n<style>\n");
        head.push_str(STYLE);
        head.push_str("</style>\n</head>\n<body>\n");
        self.header(&mut head);
        self.filters(&mut head);
        out.write_all(head.as_bytes())?;

        let mut escalations: Vec<&Record> = Vec::new();
        let mut failures: Vec<&Record> = Vec::new();
        for record in self.records {
            match record.kind {
                Some(Kind::Escalation) => escalations.push(record),
                Some(_) => failures.push(record),
                None => {}
            }
        }
        failures.sort_by_key(|r| (r.kind, r.index));
        let mut buf = Cursor::new(self.spool);
        if !escalations.is_empty() {
            writeln!(
                out,
                "<section id=\"escalations\" class=\"list\">\n<h2>Possible privilege \
                 escalations <span class=\"n\">{}</span></h2>\n<p class=\"lead\">Granted \
                 (2xx, or a 3xx into the app) where the suite expects a refusal.</p>",
                escalations.len()
            )?;
            for record in &escalations {
                self.copy(record, record.problem, &mut buf, out)?;
            }
            out.write_all(b"</section>\n")?;
        }
        if !failures.is_empty() {
            writeln!(
                out,
                "<section id=\"failures\" class=\"list\">\n<h2>Other failures and errors \
                 <span class=\"n\">{}</span></h2>",
                failures.len()
            )?;
            for record in &failures {
                self.copy(record, record.problem, &mut buf, out)?;
            }
            out.write_all(b"</section>\n")?;
        }
        out.write_all(b"<p id=\"none\" hidden>No case matches the filters.</p>\n")?;
        for file in self
            .records
            .chunk_by(|a, b| file_of(suite, a.index) == file_of(suite, b.index))
        {
            self.matrix(file, &mut buf, out)?;
        }
        let mut tail = String::from("<footer>Written by rolecall ");
        tail.push_str(env!("CARGO_PKG_VERSION"));
        tail.push_str(
            ". Filters can be set in the address: <code>#outcome=fail&amp;identity=NAME&amp;\
             layer=app</code>.</footer>\n<script>\n",
        );
        tail.push_str(SCRIPT);
        tail.push_str("</script>\n</body>\n</html>\n");
        out.write_all(tail.as_bytes())
    }

    fn redact(&self, text: &str) -> String {
        self.event.secrets.redact(text)
    }

    fn header(&self, out: &mut String) {
        let event = self.event;
        let s = event.summary;
        let escalations = self
            .records
            .iter()
            .filter(|r| r.kind == Some(Kind::Escalation))
            .count();
        let verdict = if escalations > 0 {
            ("esc", "Possible privilege escalation")
        } else if s.fail + s.error > 0 {
            ("fail", "Failures")
        } else {
            ("pass", "Every expectation held")
        };
        let _ = write!(
            out,
            "<header>\n<div class=\"title\"><h1>rolecall access matrix</h1>\
             <span class=\"verdict {}\">{}</span></div>\n<p class=\"meta\">target <b>",
            verdict.0, verdict.1
        );
        escape(out, &self.redact(&event.suite.target.name));
        out.push_str("</b> · <code>");
        escape(out, &self.redact(event.base_url));
        let _ = writeln!(
            out,
            "</code> · {} cases in {:.1} s</p>",
            s.total(),
            event.elapsed.as_secs_f64()
        );
        out.push_str("<div class=\"tiles\">");
        for (class, n, label, outcome) in [
            ("esc", escalations, "escalations", "escalation"),
            ("fail", s.fail - escalations, "other failures", "fail"),
            ("error", s.error, "errors", "error"),
            ("pass", s.pass, "passed", "pass"),
            ("skip", s.skipped, "skipped", "skipped"),
        ] {
            let _ = write!(
                out,
                "<a class=\"tile {class}{}\" href=\"#outcome={outcome}\"><b>{n}</b>{label}</a>",
                if n == 0 { " zero" } else { "" }
            );
        }
        out.push_str("</div>\n</header>\n");
    }

    fn filters(&self, out: &mut String) {
        let suite = self.event.suite;
        out.push_str(
            "<form id=\"filters\" autocomplete=\"off\"><label>outcome <select id=\"f-outcome\">\
             <option value=\"\">any</option>",
        );
        for o in ["escalation", "fail", "error", "skipped", "pass"] {
            let _ = write!(out, "<option>{o}</option>");
        }
        out.push_str("</select></label> <label>identity <select id=\"f-identity\"><option value=\"\">any</option>");
        let mut identities: Vec<usize> = self
            .records
            .iter()
            .map(|r| suite.cases[r.index].identity)
            .collect();
        identities.sort_unstable();
        identities.dedup();
        for i in identities {
            out.push_str("<option>");
            escape(out, &self.redact(&suite.identities[i].name));
            out.push_str("</option>");
        }
        out.push_str(
            "</select></label> <label>layer <select id=\"f-layer\"><option value=\"\">any</option>",
        );
        for layer in ["app", "server", "waf", "cdn", "unknown", "none"] {
            let _ = write!(out, "<option>{layer}</option>");
        }
        let _ = writeln!(
            out,
            "</select></label> <button type=\"button\" id=\"f-clear\">clear</button> \
             <span id=\"shown\">{} cases</span></form>",
            self.records.len()
        );
    }

    /// One route file's table.
    fn matrix<W: Write>(
        &self,
        file: &[Record],
        buf: &mut Cursor<'_>,
        out: &mut Redacted<W>,
    ) -> io::Result<()> {
        let suite = self.event.suite;
        let mut identities: Vec<usize> =
            file.iter().map(|r| suite.cases[r.index].identity).collect();
        identities.sort_unstable();
        identities.dedup();
        let mut head = String::from("<section class=\"m\"><h2>");
        escape(
            &mut head,
            &self.redact(&suite.route(&suite.cases[file[0].index]).file_name),
        );
        head.push_str(
            "</h2>\n<div class=\"scroll\"><table>\n<thead><tr><th class=\"rt\">route</th>",
        );
        for &i in &identities {
            head.push_str("<th data-i=\"");
            let name = self.redact(&suite.identities[i].name);
            escape(&mut head, &name);
            head.push_str("\">");
            escape(&mut head, &name);
            head.push_str("</th>");
        }
        head.push_str("</tr></thead>\n<tbody>\n");
        out.write_all(head.as_bytes())?;
        // Each column's cell opening, redacted once per table, sealed as a whole.
        let secrets = self.event.secrets;
        let openings: Vec<String> = identities
            .iter()
            .map(|&i| {
                let mut td = String::from("<td data-i=\"");
                escape(&mut td, &self.redact(&suite.identities[i].name));
                td.push_str("\">");
                secrets.redact(&td)
            })
            .collect();
        let mut row_head = String::new();
        for row in file.chunk_by(|a, b| suite.cases[a.index].route == suite.cases[b.index].route) {
            let route = suite.route(&suite.cases[row[0].index]);
            row_head.clear();
            row_head.push_str("<tr><th class=\"rt\"><code>");
            escape(
                &mut row_head,
                &self.redact(&format!("{} {}", route.method, route.path)),
            );
            row_head.push_str("</code><span class=\"rn\">");
            escape(&mut row_head, &self.redact(&route.name));
            row_head.push_str("</span><span class=\"at\">");
            escape(
                &mut row_head,
                &self.redact(&relative(suite, &route.location)),
            );
            row_head.push_str("</span></th>");
            out.write_all(row_head.as_bytes())?;
            for (&i, opening) in identities.iter().zip(&openings) {
                out.write_sealed(opening, secrets)?;
                let mut any = false;
                for record in row.iter().filter(|r| suite.cases[r.index].identity == i) {
                    self.copy(record, Some(record.cell), buf, out)?;
                    any = true;
                }
                if !any {
                    out.write_all(b"<span class=\"nr\">not run</span>")?;
                }
                out.write_all(b"</td>")?;
            }
            out.write_all(b"</tr>\n")?;
        }
        out.write_all(b"</tbody></table></div></section>\n")
    }

    /// Copies one spooled piece of `record`'s markup to `out`.
    fn copy<W: Write>(
        &self,
        record: &Record,
        at: Option<Span>,
        spool: &mut Cursor<'_>,
        out: &mut Redacted<W>,
    ) -> io::Result<()> {
        let Some(span) = at else {
            return Ok(());
        };
        let bytes = spool.read(span)?;
        match self.fresh.get(record.sealed as usize) {
            Some(true) => {
                let text = std::str::from_utf8(bytes).map_err(io::Error::other)?;
                out.write_sealed(text, self.event.secrets)
            }
            _ => out.write_all(bytes),
        }
    }
}

fn file_of(suite: &Suite, index: usize) -> &str {
    &suite.route(&suite.cases[index]).file_name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_inlined_assets_load_nothing() {
        for asset in [STYLE, SCRIPT] {
            assert!(!asset.contains("http:") && !asset.contains("https:"));
            assert!(!asset.contains("url(") && !asset.contains("@import"));
            assert!(!asset.contains("</script") && !asset.contains("</style"));
        }
    }
}
