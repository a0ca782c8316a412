//! One case as markup: its block in the matrix and its entry in the list of failures,
//! every string redacted before it is escaped.

use std::fmt::Write as _;
use std::sync::Arc;

use rolecall_scenario::{Case, Secrets, Suite};

use super::HTML_EXCERPT;
use crate::classify::{Attribution, truncate};
use crate::reporters::finding::{Kind, headline, identity_part, location};
use crate::results::{CaseResult, Outcome};

/// One case, redacted and ready to be written as markup.
pub(super) struct View<'a> {
    suite: &'a Suite,
    case: &'a Case,
    result: &'a CaseResult,
    secrets: &'a Arc<Secrets>,
    pub(super) kind: Option<Kind>,
}

impl<'a> View<'a> {
    pub(super) fn of(suite: &'a Suite, result: &'a CaseResult, secrets: &'a Arc<Secrets>) -> Self {
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
    pub(super) fn cell(&self, out: &mut String) {
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
            let kept = truncate(&body, HTML_EXCERPT);
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
    fn layer_vendor(&self, a: &Attribution, out: &mut String) {
        escape(out, a.layer.as_str());
        if !a.vendor.eq_ignore_ascii_case(a.layer.as_str()) {
            out.push_str(" · ");
            escape(out, &self.redact(&a.vendor));
        }
    }

    /// The case's entry in the list of escalations and failures.
    pub(super) fn problem(&self, out: &mut String) {
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
            let kept = truncate(&message, HTML_EXCERPT);
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
pub(super) fn relative(suite: &Suite, at: &rolecall_scenario::Location) -> String {
    let path = at.path.strip_prefix(&suite.root).unwrap_or(&at.path);
    format!("{}:{}:{}", path.display(), at.line, at.column)
}

/// Appends `text` escaped for HTML text and double- or single-quoted attribute values.
/// Control characters other than tab and line breaks become U+FFFD.
pub(super) fn escape(out: &mut String, text: &str) {
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
}
