//! A [`Coverage`] as terminal text, Markdown and HTML. Its strings are already redacted;
//! the caller still writes the result through `Redacted`.

use std::fmt::Write as _;

use crate::coverage::{Coverage, FindingKind};

/// The most entries of each list the terminal summary shows.
const SHOWN: usize = 20;

fn more(out: &mut String, total: usize) {
    if total > SHOWN {
        let _ = writeln!(out, "  … and {} more (see `--report`)", total - SHOWN);
    }
}

fn kind(kind: FindingKind) -> &'static str {
    match kind {
        FindingKind::AnonymousAllowed => "anonymous allowed",
        FindingKind::PublicRefused => "public refused",
        FindingKind::ScopeMissing => "scope missing",
    }
}

fn headline(c: &Coverage) -> String {
    let s = &c.summary;
    let mut parts = Vec::new();
    if c.description.is_some() {
        parts.push(format!(
            "{} of {} operations exercised",
            s.operations_exercised, s.operations
        ));
    }
    if !c.har_files.is_empty() {
        parts.push(format!(
            "{} of {} captured requests outside the description exercised",
            s.captured_only_exercised, s.captured_only
        ));
    }
    format!("{} ({:.1}%)", parts.join(", "), s.percent)
}

/// The terminal summary: the headline, then what is missing and what disagrees.
pub fn terminal(c: &Coverage) -> String {
    let mut out = String::new();
    if let Some(d) = &c.description {
        let _ = writeln!(
            out,
            "description `{}` ({}, \"{}\")",
            d.file, d.spec, d.title
        );
    }
    for file in &c.har_files {
        let _ = writeln!(out, "capture `{file}`");
    }
    let missing: Vec<_> = c.operations.iter().filter(|o| !o.exercised).collect();
    if !missing.is_empty() {
        let _ = writeln!(out, "\noperations no route exercises ({}):", missing.len());
        for o in missing.iter().take(SHOWN) {
            let id = o
                .operation_id
                .as_deref()
                .map(|i| format!("  ({i})"))
                .unwrap_or_default();
            let _ = writeln!(out, "  {} {}{id}", o.method, o.path);
        }
        more(&mut out, missing.len());
    }
    let captured: Vec<_> = c.captured.iter().filter(|r| !r.exercised).collect();
    if !captured.is_empty() {
        let _ = writeln!(
            out,
            "\ncaptured requests no route exercises ({}):",
            captured.len()
        );
        for r in captured.iter().take(SHOWN) {
            let who = if r.identities.is_empty() {
                String::new()
            } else {
                format!("  as {}", r.identities.join(" or "))
            };
            let _ = writeln!(out, "  {} {}  ×{}{who}", r.method, r.path, r.count);
        }
        more(&mut out, captured.len());
    }
    if !c.undocumented.is_empty() {
        let _ = writeln!(
            out,
            "\nroutes the description lacks ({}):",
            c.undocumented.len()
        );
        for r in c.undocumented.iter().take(SHOWN) {
            let _ = writeln!(out, "  {}  {}", r.at, r.request);
        }
        more(&mut out, c.undocumented.len());
    }
    if !c.findings.is_empty() {
        let _ = writeln!(out, "\nsecurity mismatches ({}):", c.findings.len());
        for f in c.findings.iter().take(SHOWN) {
            let at = f.routes.first().map(|r| r.at.as_str()).unwrap_or("");
            let _ = writeln!(
                out,
                "  {at}: {} — {}: {}",
                f.operation,
                kind(f.kind),
                f.message
            );
            let _ = writeln!(out, "      declared: {}", f.declared);
        }
        more(&mut out, c.findings.len());
    }
    let _ = writeln!(out, "\ncoverage: {}", headline(c));
    out
}

fn md(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace('`', "\\`")
        .replace('<', "&lt;")
        .replace('\n', " ")
}

/// A Markdown report: the coverage section, with every operation.
pub fn markdown(c: &Coverage) -> String {
    let mut out = String::from("## Coverage\n\n");
    let _ = writeln!(out, "{}\n", md(&headline(c)));
    if let Some(d) = &c.description {
        let _ = writeln!(
            out,
            "Description: {} ({}, {})\n",
            md(&d.file),
            md(&d.spec),
            md(&d.title)
        );
    }
    if !c.findings.is_empty() {
        out.push_str("### Security mismatches\n\n| Operation | Kind | Declared | Route | Finding |\n|---|---|---|---|---|\n");
        for f in &c.findings {
            let at = f.routes.first().map(|r| r.at.as_str()).unwrap_or("");
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                md(&f.operation),
                kind(f.kind),
                md(&f.declared),
                md(at),
                md(&f.message)
            );
        }
        out.push('\n');
    }
    if !c.operations.is_empty() {
        out.push_str("### Operations\n\n| Operation | Security | Exercised | Allowed | Refused |\n|---|---|---|---|---|\n");
        for o in &c.operations {
            let _ = writeln!(
                out,
                "| {} {} | {} | {} | {} | {} |",
                o.method,
                md(&o.path),
                md(&o.security),
                if o.exercised { "yes" } else { "**no**" },
                md(&o.allowed.join(", ")),
                md(&o.refused.join(", "))
            );
        }
        out.push('\n');
    }
    if !c.captured.is_empty() {
        out.push_str("### Captured requests\n\n| Request | Count | Identities | Operation | Exercised |\n|---|---|---|---|---|\n");
        for r in &c.captured {
            let _ = writeln!(
                out,
                "| {} {} | {} | {} | {} | {} |",
                r.method,
                md(&r.path),
                r.count,
                md(&r.identities.join(", ")),
                md(r.operation.as_deref().unwrap_or("")),
                if r.exercised { "yes" } else { "**no**" }
            );
        }
        out.push('\n');
    }
    if !c.undocumented.is_empty() {
        out.push_str("### Routes the description lacks\n\n");
        for r in &c.undocumented {
            let _ = writeln!(out, "- {} ({})", md(&r.request), md(&r.at));
        }
    }
    out
}

fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn html_table(out: &mut String, caption: &str, head: &[&str], rows: &[Vec<String>]) {
    if rows.is_empty() {
        return;
    }
    let _ = write!(out, "<h2>{}</h2>\n<table>\n<tr>", html_escape(caption));
    for h in head {
        let _ = write!(out, "<th>{}</th>", html_escape(h));
    }
    out.push_str("</tr>\n");
    for row in rows {
        out.push_str("<tr>");
        for cell in row {
            let _ = write!(out, "<td>{}</td>", html_escape(cell));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
}

/// A self-contained HTML page: the coverage section, with every operation.
pub fn html(c: &Coverage) -> String {
    let mut out = String::from(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>rolecall coverage</title>\n<style>body{font-family:sans-serif}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}</style></head><body>\n<h1>Coverage</h1>\n",
    );
    let _ = writeln!(out, "<p>{}</p>", html_escape(&headline(c)));
    let findings: Vec<Vec<String>> = c
        .findings
        .iter()
        .map(|f| {
            vec![
                f.operation.clone(),
                kind(f.kind).to_owned(),
                f.declared.clone(),
                f.routes.first().map(|r| r.at.clone()).unwrap_or_default(),
                f.message.clone(),
            ]
        })
        .collect();
    html_table(
        &mut out,
        "Security mismatches",
        &["Operation", "Kind", "Declared", "Route", "Finding"],
        &findings,
    );
    let operations: Vec<Vec<String>> = c
        .operations
        .iter()
        .map(|o| {
            vec![
                format!("{} {}", o.method, o.path),
                o.security.clone(),
                if o.exercised { "yes" } else { "no" }.to_owned(),
                o.allowed.join(", "),
                o.refused.join(", "),
            ]
        })
        .collect();
    html_table(
        &mut out,
        "Operations",
        &["Operation", "Security", "Exercised", "Allowed", "Refused"],
        &operations,
    );
    let captured: Vec<Vec<String>> = c
        .captured
        .iter()
        .map(|r| {
            vec![
                format!("{} {}", r.method, r.path),
                r.count.to_string(),
                r.identities.join(", "),
                r.operation.clone().unwrap_or_default(),
                if r.exercised { "yes" } else { "no" }.to_owned(),
            ]
        })
        .collect();
    html_table(
        &mut out,
        "Captured requests",
        &["Request", "Count", "Identities", "Operation", "Exercised"],
        &captured,
    );
    let undocumented: Vec<Vec<String>> = c
        .undocumented
        .iter()
        .map(|r| vec![r.request.clone(), r.at.clone()])
        .collect();
    html_table(
        &mut out,
        "Routes the description lacks",
        &["Route", "Declared at"],
        &undocumented,
    );
    out.push_str("</body></html>\n");
    out
}
