//! The HTML report: one self-contained file (inline CSS and script, no network, a CSP
//! that forbids loading anything) with the escalations first, then the other failures,
//! then the access matrix of each route file (routes as rows, identities as columns),
//! filterable by outcome, identity and layer, also from the URL fragment
//! (`report.html#outcome=fail&identity=viewer`).
//!
//! Each case's markup is built (redacted, then escaped) as it finishes and spooled to an
//! anonymous temporary file; memory holds a small record per case, never a body. The page
//! is assembled in suite order when the run finishes.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::FileExt as _;
use std::sync::Arc;

use rolecall_scenario::{Case, Redacted, Secrets, Suite};

use crate::reporter::{CaseFinished, Reporter, RunFinished, RunStarted};
use crate::reporters::finding::{Kind, headline, identity_part, location};
use crate::results::{CaseResult, Outcome};

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
    spool: Option<BufWriter<File>>,
    spooled: u64,
    records: Vec<Record>,
    buf: String,
}

/// What the page needs of a case once its markup is spooled.
#[derive(Debug)]
struct Record {
    index: usize,
    kind: Option<Kind>,
    /// The case's block in the matrix: offset and length in the spool.
    cell: (u64, usize),
    /// Its entry in the list above the matrix, for cases that failed or errored.
    problem: Option<(u64, usize)>,
}

impl<W: Write> HtmlReporter<W> {
    /// A reporter writing to `out`.
    pub fn new(out: W) -> Self {
        HtmlReporter {
            out: Redacted::new(Secrets::default(), out),
            spool: None,
            spooled: 0,
            records: Vec::new(),
            buf: String::new(),
        }
    }

    /// The writer, once the report is written.
    pub fn into_inner(self) -> io::Result<W> {
        self.out.into_inner()
    }

    fn spool(&mut self, text: &str) -> io::Result<(u64, usize)> {
        let spool = match &mut self.spool {
            Some(spool) => spool,
            None => self.spool.insert(BufWriter::new(tempfile::tempfile()?)),
        };
        spool.write_all(text.as_bytes())?;
        let at = (self.spooled, text.len());
        self.spooled += text.len() as u64;
        Ok(at)
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
        let cell = self.spool(&buf)?;
        let problem = match view.kind {
            Some(_) => {
                buf.clear();
                view.problem(&mut buf);
                Some(self.spool(&buf)?)
            }
            None => None,
        };
        self.buf = buf;
        self.records.push(Record {
            index: event.result.index,
            kind: view.kind,
            cell,
            problem,
        });
        Ok(())
    }

    fn run_finished(&mut self, event: &RunFinished<'_>) -> io::Result<()> {
        self.out.learn(event.secrets);
        let spool = match self.spool.take() {
            Some(spool) => Some(spool.into_inner().map_err(|e| e.into_error())?),
            None => None,
        };
        let mut records = std::mem::take(&mut self.records);
        records.sort_unstable_by_key(|r| r.index);
        let page = Page {
            event,
            records: &records,
            spool: spool.as_ref(),
        };
        page.write(&mut self.out)?;
        self.out.flush()
    }
}

/// One case, redacted and ready to be written as markup.
struct View<'a> {
    suite: &'a Suite,
    case: &'a Case,
    result: &'a CaseResult,
    secrets: &'a Arc<Secrets>,
    kind: Option<Kind>,
}

impl<'a> View<'a> {
    fn of(suite: &'a Suite, result: &'a CaseResult, secrets: &'a Arc<Secrets>) -> Self {
        View {
            suite,
            case: &suite.cases[result.index],
            result,
            secrets,
            kind: Kind::of(suite, result),
        }
    }

    /// `pass`, `fail`, `error`, `skipped`; the filter's `escalation` is a kind of `fail`.
    fn outcome(&self) -> &'static str {
        self.result.outcome.as_str()
    }

    /// The layer that answered, `none` without a response.
    fn layer(&self) -> &'static str {
        self.result
            .attribution
            .as_ref()
            .map_or("none", |a| a.layer.as_str())
    }

    fn class(&self) -> &'static str {
        match (self.kind, self.result.outcome) {
            (Some(Kind::Escalation), _) => "esc",
            (_, Outcome::Pass) => "pass",
            (_, Outcome::Fail) => "fail",
            (_, Outcome::Error) => "error",
            (_, Outcome::Skipped) => "skip",
        }
    }

    /// The attributes the filter reads.
    fn data(&self, out: &mut String) {
        let _ = write!(
            out,
            " data-o=\"{}\" data-k=\"{}\" data-i=\"",
            self.outcome(),
            self.kind.map_or("", Kind::id)
        );
        escape(out, &self.redact(&self.suite.identity(self.case).name));
        let _ = write!(out, "\" data-l=\"{}\"", self.layer());
    }

    fn redact(&self, text: &str) -> String {
        self.secrets.redact(text)
    }

    /// `want 403 (deny)`.
    fn expected(&self) -> String {
        format!(
            "{} ({})",
            self.case.expect.status,
            self.case.expect.decision.as_str()
        )
    }

    /// The case's block in its matrix cell: observed against expected status, layer and
    /// vendor, request id, the body on demand.
    fn cell(&self, out: &mut String) {
        let _ = write!(
            out,
            "<div class=\"c {}\" id=\"c{}\"",
            self.class(),
            self.result.index
        );
        self.data(out);
        out.push('>');
        let identity = &self.suite.identity(self.case).name;
        let part = identity_part(self.suite, self.case);
        if part != identity {
            out.push_str("<span class=\"vr\">");
            escape(out, &self.redact(part));
            out.push_str("</span>");
        }
        match (&self.result.observed, self.result.outcome) {
            (Some(observed), _) => {
                let _ = write!(out, "<b>{}</b>", observed.status);
            }
            (None, Outcome::Skipped) => out.push_str("<b>skipped</b>"),
            (None, _) => out.push_str("<b>no response</b>"),
        }
        let _ = write!(
            out,
            "<span class=\"w\">want {}</span>",
            self.case.expect.status
        );
        if let Some(a) = &self.result.attribution {
            out.push_str("<span class=\"lv\">");
            self.layer_vendor(a, out);
            out.push_str("</span>");
        }
        if let Some((id, source)) = &self.result.request_id {
            out.push_str("<span class=\"rid\" title=\"request id, from ");
            escape(out, source);
            out.push_str("\">");
            escape(out, &self.redact(id));
            out.push_str("</span>");
        }
        if let Some(observed) = &self.result.observed
            && !observed.body.is_empty()
        {
            let body = self.redact(&observed.body);
            let mut note = String::new();
            if let Some(t) = &observed.truncated {
                note = t.describe(observed.body.len());
            }
            let kept = prefix(&body, HTML_EXCERPT);
            if kept.len() < body.len() {
                if !note.is_empty() {
                    note.push_str("; ");
                }
                let _ = write!(
                    note,
                    "cut here: first {} of {} bytes shown",
                    kept.len(),
                    body.len()
                );
            }
            let _ = write!(out, "<details><summary>body</summary><pre>");
            escape(out, kept);
            out.push_str("</pre>");
            if !note.is_empty() {
                out.push_str("<p class=\"cut\">");
                escape(out, &note);
                out.push_str("</p>");
            }
            out.push_str("</details>");
        }
        out.push_str("</div>\n");
    }

    /// `waf · cloudflare`, or the layer alone when the vendor has its name (`app`).
    fn layer_vendor(&self, a: &crate::classify::Attribution, out: &mut String) {
        escape(out, a.layer.as_str());
        if !a.vendor.eq_ignore_ascii_case(a.layer.as_str()) {
            out.push_str(" · ");
            escape(out, &self.redact(&a.vendor));
        }
    }

    /// The case's entry in the list of escalations and failures.
    fn problem(&self, out: &mut String) {
        let kind = self.kind.unwrap_or(Kind::NoResponse);
        let _ = write!(out, "<article class=\"p {}\"", self.class());
        self.data(out);
        out.push_str("><div class=\"ph\"><span class=\"badge\">");
        escape(out, kind.title());
        out.push_str("</span> <code>");
        escape(out, &self.redact(&self.case.name));
        let _ = write!(
            out,
            "</code> <a class=\"go\" href=\"#c{}\">in the matrix</a></div>\n<div class=\"pm\">",
            self.result.index
        );
        let route = self.suite.route(self.case);
        out.push_str("<code>");
        escape(
            out,
            &self.redact(&format!("{} {}", route.method, self.case.path)),
        );
        out.push_str("</code> · ");
        match &self.result.observed {
            Some(o) => {
                let _ = write!(out, "observed <b>{}</b>", o.status);
            }
            None => out.push_str("<b>no response</b>"),
        }
        out.push_str(", expected <b>");
        escape(out, &self.expected());
        out.push_str("</b>");
        if let Some(a) = &self.result.attribution {
            out.push_str(" · answered by ");
            self.layer_vendor(a, out);
        }
        if let Some((id, _)) = &self.result.request_id {
            out.push_str(" · request id <code>");
            escape(out, &self.redact(id));
            out.push_str("</code>");
        }
        out.push_str(" · <span class=\"at\">");
        escape(
            out,
            &self.redact(&relative(self.suite, location(self.suite, self.case))),
        );
        out.push_str("</span></div>\n");
        if let Some(message) = &self.result.message {
            // Locations in the suite's directory, relative to it: no machine path.
            let root = format!("{}/", self.suite.root.display());
            let message = self.redact(&message.replace(&root, ""));
            out.push_str("<p class=\"hl\">");
            escape(out, &headline(&message));
            out.push_str("</p><details><summary>explanation</summary><pre>");
            let kept = prefix(&message, HTML_EXCERPT);
            escape(out, kept);
            out.push_str("</pre>");
            if kept.len() < message.len() {
                let _ = write!(
                    out,
                    "<p class=\"cut\">cut here: first {} of {} bytes shown</p>",
                    kept.len(),
                    message.len()
                );
            }
            out.push_str("</details>");
        }
        out.push_str("</article>\n");
    }
}

/// `file:line:col`, the path relative to the suite's directory.
fn relative(suite: &Suite, at: &rolecall_scenario::Location) -> String {
    let path = at.path.strip_prefix(&suite.root).unwrap_or(&at.path);
    format!("{}:{}:{}", path.display(), at.line, at.column)
}

/// The page, assembled from the spool in suite order.
struct Page<'a> {
    event: &'a RunFinished<'a>,
    records: &'a [Record],
    spool: Option<&'a File>,
}

impl Page<'_> {
    fn write(&self, out: &mut impl Write) -> io::Result<()> {
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
        let mut buf = Vec::new();
        if !escalations.is_empty() {
            writeln!(
                out,
                "<section id=\"escalations\" class=\"list\">\n<h2>Possible privilege \
                 escalations <span class=\"n\">{}</span></h2>\n<p class=\"lead\">Granted \
                 (2xx, or a 3xx into the app) where the suite expects a refusal.</p>",
                escalations.len()
            )?;
            for record in &escalations {
                self.copy(record.problem, &mut buf, out)?;
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
                self.copy(record.problem, &mut buf, out)?;
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
    fn matrix(&self, file: &[Record], buf: &mut Vec<u8>, out: &mut impl Write) -> io::Result<()> {
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
            for &i in &identities {
                out.write_all(b"<td data-i=\"")?;
                let mut name = String::new();
                escape(&mut name, &self.redact(&suite.identities[i].name));
                out.write_all(name.as_bytes())?;
                out.write_all(b"\">")?;
                let mut any = false;
                for record in row.iter().filter(|r| suite.cases[r.index].identity == i) {
                    self.copy(Some(record.cell), buf, out)?;
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

    /// Copies one spooled piece of markup to `out`.
    fn copy(
        &self,
        at: Option<(u64, usize)>,
        buf: &mut Vec<u8>,
        out: &mut impl Write,
    ) -> io::Result<()> {
        let (Some((offset, len)), Some(spool)) = (at, self.spool) else {
            return Ok(());
        };
        buf.resize(len, 0);
        spool.read_exact_at(buf, offset)?;
        out.write_all(buf)
    }
}

fn file_of(suite: &Suite, index: usize) -> &str {
    &suite.route(&suite.cases[index]).file_name
}

/// The longest prefix of `text` of at most `max` bytes that ends on a character boundary.
fn prefix(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Appends `text` escaped for HTML text and double- or single-quoted attribute values.
/// Control characters other than tab and line breaks become U+FFFD.
pub(crate) fn escape(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' => out.push(c),
            '\r' => {}
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_leaves_no_markup() {
        let mut out = String::new();
        escape(
            &mut out,
            "<script>alert('x')</script> & \"q\"\r\n\u{0}\u{1b}",
        );
        assert_eq!(
            out,
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;\n\u{FFFD}\u{FFFD}"
        );
    }

    #[test]
    fn prefix_ends_on_a_character_boundary() {
        assert_eq!(prefix("héllo", 2), "h");
        assert_eq!(prefix("héllo", 3), "hé");
        assert_eq!(prefix("abc", 10), "abc");
    }

    #[test]
    fn the_inlined_assets_load_nothing() {
        for asset in [STYLE, SCRIPT] {
            assert!(!asset.contains("http:") && !asset.contains("https:"));
            assert!(!asset.contains("url(") && !asset.contains("@import"));
            assert!(!asset.contains("</script") && !asset.contains("</style"));
        }
    }
}
