//! The Markdown report, for a pull-request comment: escalations and other failures first,
//! then the access matrix of each route file (routes as rows, identities as columns),
//! bounded in size.

use std::fmt::Write as _;
use std::io::{self, Write};

use rolecall_scenario::{Layer, Redacted, Secrets, Suite};

use crate::reporter::{CaseFinished, Reporter, RunFinished, RunStarted};
use crate::reporters::finding::{Kind, headline, identity_part, location};
use crate::reporters::spool::{Span, Spool};
use crate::results::Outcome;

/// The most characters a report has: GitHub refuses comments over 65,536, and a
/// workflow often adds a line or two around the report.
pub const MARKDOWN_LIMIT: usize = 60_000;

/// The most characters of a failure's headline in the list above the matrix.
const HEADLINE: usize = 300;

/// Characters kept back for the note saying what was left out.
const RESERVE: usize = 600;

/// Writes a Markdown report.
///
/// Keeps one small record per case (index, outcome, observed status, layer, kind) in
/// memory and spools the redacted headline of each case that did not pass to a temporary
/// file (never a body), and writes the report at [`run_finished`](Reporter::run_finished), at most [`MARKDOWN_LIMIT`]
/// characters: what does not fit (list entries, table rows) is counted in a closing note.
#[derive(Debug)]
pub struct MarkdownReporter<W: Write> {
    out: Redacted<W>,
    records: Vec<Record>,
    spool: Spool,
    limit: usize,
}

#[derive(Debug)]
struct Record {
    index: usize,
    outcome: Outcome,
    status: Option<u16>,
    /// The layer that answered, when a response came back.
    layer: Option<Layer>,
    kind: Option<Kind>,
    /// Where the headline of a case that did not pass lies in the spool.
    headline: Option<Span>,
}

impl<W: Write> MarkdownReporter<W> {
    /// A reporter writing to `out`, at most [`MARKDOWN_LIMIT`] characters.
    pub fn new(out: W) -> Self {
        Self::with_limit(out, MARKDOWN_LIMIT)
    }

    /// A reporter writing at most `limit` characters (at least a few hundred are needed
    /// for the summary and the note on what was left out).
    pub fn with_limit(out: W, limit: usize) -> Self {
        MarkdownReporter {
            out: Redacted::new(Secrets::default(), out),
            records: Vec::new(),
            spool: Spool::default(),
            limit,
        }
    }

    /// The writer, once the report is written.
    pub fn into_inner(self) -> io::Result<W> {
        self.out.into_inner()
    }
}

impl<W: Write> Reporter for MarkdownReporter<W> {
    fn run_started(&mut self, event: &RunStarted<'_>) -> io::Result<()> {
        self.out.learn(event.secrets);
        self.records.reserve(event.selected.len());
        Ok(())
    }

    fn case_finished(&mut self, event: &CaseFinished<'_>) -> io::Result<()> {
        self.out.learn(event.secrets);
        let result = event.result;
        let headline = match result.outcome {
            Outcome::Pass => None,
            _ => result
                .message
                .as_deref()
                .map(|m| {
                    let text = event.secrets.redact(&shorten(&headline(m), HEADLINE));
                    self.spool.push(text.as_bytes())
                })
                .transpose()?,
        };
        self.records.push(Record {
            index: result.index,
            outcome: result.outcome,
            status: result.observed.as_ref().map(|o| o.status),
            layer: result.attribution.as_ref().map(|a| a.layer),
            kind: Kind::of(event.suite, result),
            headline,
        });
        Ok(())
    }

    fn run_finished(&mut self, event: &RunFinished<'_>) -> io::Result<()> {
        self.out.learn(event.secrets);
        let mut records = std::mem::take(&mut self.records);
        records.sort_unstable_by_key(|r| r.index);
        self.spool.flush()?;
        let text = render(event, &records, &self.spool, self.limit)?;
        // Redacted as a whole (a secret across lines is found too), then written sealed:
        // the writer searches only its ends again, not all of it a second time.
        let text = event.secrets.redact(&text);
        self.out.write_sealed(&text, event.secrets)?;
        self.out.flush()
    }
}

fn render(
    event: &RunFinished<'_>,
    records: &[Record],
    spool: &Spool,
    limit: usize,
) -> io::Result<String> {
    let suite = event.suite;
    let s = event.summary;
    let escalations = records
        .iter()
        .filter(|r| r.kind == Some(Kind::Escalation))
        .count();
    let mut doc = String::from("## rolecall access matrix\n\n");
    let _ = writeln!(
        doc,
        "{} {} · {} failed · {} · {} passed · {} skipped · target `{}`\n",
        if escalations > 0 {
            "🚨"
        } else if s.fail + s.error > 0 {
            "❌"
        } else {
            "✅"
        },
        plural(escalations, "possible escalation", "possible escalations"),
        s.fail,
        plural(s.error, "error", "errors"),
        s.pass,
        s.skipped,
        cell(&suite.target.name),
    );
    let budget = limit.saturating_sub(RESERVE);
    let mut left_out: Vec<String> = Vec::new();

    let mut problems: Vec<&Record> = records.iter().filter(|r| r.kind.is_some()).collect();
    problems.sort_by_key(|r| (r.kind, r.index));
    if !problems.is_empty() {
        doc.push_str("### Escalations and failures\n\n");
        let mut written = 0;
        for record in &problems {
            let headline = match record.headline {
                Some(span) => spool.read_string(span)?,
                None => String::new(),
            };
            let line = problem_line(suite, record, &headline);
            if doc.len() + line.len() > budget / 2 {
                break;
            }
            doc.push_str(&line);
            written += 1;
        }
        let unlisted = &problems[written..];
        let escalations = unlisted
            .iter()
            .filter(|r| r.kind == Some(Kind::Escalation))
            .count();
        if escalations > 0 {
            left_out.push(plural(escalations, "escalation", "escalations"));
        }
        if unlisted.len() > escalations {
            left_out.push(plural(
                unlisted.len() - escalations,
                "other failure",
                "other failures",
            ));
        }
        doc.push('\n');
    }

    doc.push_str(
        "Legend: ✅ as expected; ❌ other than expected (what was wanted in brackets); 🚨 granted \
         where a refusal was expected; ⚠️ no response; ⏭️ skipped; \u{b7} not run.\n\n",
    );
    // Tables are cut between rows: the rows that do not fit are counted, not built.
    let mut routes_left = 0;
    let mut files_left = 0;
    for file in records.chunk_by(|a, b| file_of(suite, a.index) == file_of(suite, b.index)) {
        let identities = identities_of(suite, file);
        let mut rows =
            file.chunk_by(|a, b| suite.cases[a.index].route == suite.cases[b.index].route);
        let header = table_header(suite, file, &identities);
        let mut written = 0;
        let mut total = 0;
        for row in rows.by_ref() {
            total += 1;
            let line = table_row(suite, row, &identities);
            let needed = line.len() + if written == 0 { header.len() + 1 } else { 1 };
            if doc.len() + needed > budget {
                break;
            }
            if written == 0 {
                doc.push_str(&header);
            }
            doc.push_str(&line);
            written += 1;
        }
        total += rows.count();
        if written > 0 {
            doc.push('\n');
        }
        if written < total {
            routes_left += total - written;
            files_left += 1;
        }
    }
    if routes_left > 0 {
        left_out.push(format!(
            "the matrix rows of {} in {}",
            plural(routes_left, "route", "routes"),
            plural(files_left, "route file", "route files")
        ));
    }
    if !left_out.is_empty() {
        let _ = writeln!(
            doc,
            "_Left out to stay under {limit} characters: {}. The JUnit, SARIF or JSON \
             report has every case._",
            left_out.join(", ")
        );
    }
    Ok(doc)
}

/// The first `max` characters of `text`, and `…` when there were more.
fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

fn file_of(suite: &Suite, index: usize) -> &str {
    &suite.route(&suite.cases[index]).file_name
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn problem_line(suite: &Suite, record: &Record, headline: &str) -> String {
    let case = &suite.cases[record.index];
    let kind = record.kind.unwrap_or(Kind::NoResponse);
    format!(
        "- {} **{}** `{}` at `{}`: {}\n",
        if kind == Kind::Escalation {
            "🚨"
        } else {
            "❌"
        },
        kind.title(),
        code(&case.name),
        code(&location(suite, case).to_string()),
        cell(headline),
    )
}

/// The identities of one route file's cases, in suite order: its table's columns.
fn identities_of(suite: &Suite, records: &[Record]) -> Vec<usize> {
    let mut identities: Vec<usize> = records
        .iter()
        .map(|r| suite.cases[r.index].identity)
        .collect();
    identities.sort_unstable();
    identities.dedup();
    identities
}

/// A route file's heading and table head: a column per identity.
fn table_header(suite: &Suite, records: &[Record], identities: &[usize]) -> String {
    let first = &suite.cases[records[0].index];
    let mut t = format!("### `{}`\n\n| route |", code(&suite.route(first).file_name));
    for &identity in identities {
        let _ = write!(t, " {} |", cell(&suite.identities[identity].name));
    }
    t.push_str("\n|---|");
    t.push_str(&"---|".repeat(identities.len()));
    t.push('\n');
    t
}

/// One route's row: its request line and name, then a cell per identity.
fn table_row(suite: &Suite, row: &[Record], identities: &[usize]) -> String {
    let route = suite.route(&suite.cases[row[0].index]);
    let mut t = format!(
        "| `{}` {} |",
        code(&format!("{} {}", route.method, route.path)),
        cell(&route.name)
    );
    for &identity in identities {
        let cases: Vec<&Record> = row
            .iter()
            .filter(|r| suite.cases[r.index].identity == identity)
            .collect();
        let _ = write!(t, " {} |", matrix_cell(suite, &cases));
    }
    t.push('\n');
    t
}

/// The worst of the cases of one route and identity (variants, owners), and how many
/// others there are.
fn matrix_cell(suite: &Suite, cases: &[&Record]) -> String {
    let Some(worst) = cases.iter().min_by_key(|r| (severity(r), r.index)) else {
        return "·".to_owned();
    };
    let case = &suite.cases[worst.index];
    let want = case.expect.status;
    let mut text = match (worst.outcome, worst.status) {
        (Outcome::Pass, Some(status)) => format!("✅ {status}"),
        (Outcome::Fail, Some(status)) => match (worst.kind, case.expect.layer, worst.layer) {
            (Some(Kind::Escalation), ..) => format!("🚨 {status} (want {want})"),
            (Some(Kind::WrongLayer), Some(want), Some(layer)) if want != layer => {
                format!("❌ {status} from {layer} (want {want})")
            }
            (Some(Kind::WrongLayer), ..) => format!("❌ {status} (wrong vendor)"),
            (Some(Kind::BodyHeaderMismatch), ..) => format!("❌ {status} (body/header)"),
            (Some(Kind::Leak), ..) => format!("❌ {status} (leak)"),
            (Some(Kind::Contract), ..) => format!("❌ {status} (deny contract)"),
            _ => format!("❌ {status} (want {want})"),
        },
        (Outcome::Skipped, _) => "⏭️ skipped".to_owned(),
        _ => "⚠️ no response".to_owned(),
    };
    if cases.len() > 1 {
        let _ = write!(text, " {}", cell(identity_part(suite, case)));
        let _ = write!(text, " (+{} more)", cases.len() - 1);
    }
    text
}

fn severity(record: &Record) -> u8 {
    match (record.outcome, record.kind) {
        (_, Some(Kind::Escalation)) => 0,
        (Outcome::Fail, _) => 1,
        (Outcome::Error, _) => 2,
        (Outcome::Skipped, _) => 4,
        (Outcome::Pass, _) => 3,
    }
}

/// Text safe in a table cell: `|` escaped, line breaks as spaces, `<` and `>` as
/// entities (GitHub would read them as HTML).
pub(crate) fn cell(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '|' => out.push_str("\\|"),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\r' | '\n' => out.push(' '),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// Text for inside a code span, in a table cell: backticks become `'` (a code span cannot
/// hold its own delimiter in one backtick pair), `|` escaped, line breaks as spaces.
fn code(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '`' => out.push('\''),
            '|' => out.push_str("\\|"),
            '\r' | '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_escape_pipes_line_breaks_and_angle_brackets() {
        assert_eq!(cell("a|b\r\nc\nd<e>"), "a\\|b c d&lt;e&gt;");
        assert_eq!(code("x`|y\nz"), "x'\\|y z");
    }
}
