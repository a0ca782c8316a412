//! A hostile target echoes the credentials it receives in the forms real stacks write
//! them (percent-encoded in either hex case, JSON- and HTML-escaped, base64 of what was
//! sent); none of these forms may reach a line of `rolecall run`, a failure or error
//! message, a kept response or the JSON report. One test per form.
//!
//! The same target, through the `rolecall` binary (with `--list` and snapshots), is in
//! the cli crate's tests.

use std::sync::Arc;

use rolecall_runner::{Keep, Outcome, RunConfig};
use rolecall_scenario::Suite;

use crate::hostile::{
    API_KEY, AUTH_TOKEN, BEARER, COOKIE, Encoding, Hostile, PASSWORD, suite_file,
};

fn suite(url: &str, form: Encoding) -> (tempfile::TempDir, Arc<Suite>) {
    let dir = tempfile::tempdir().unwrap();
    let suite = suite_file(url);
    // Every identity must be refused (403): the target's answers all fail, so every
    // failure message quotes what came back.
    let routes = format!(
        "[[route]]\nrequest = \"GET {}\"\n\n[[route]]\nrequest = \"GET /unreachable\"\nfollow_redirects = true\n",
        form.path()
    );
    std::fs::write(dir.path().join("rolecall.toml"), suite).unwrap();
    std::fs::write(dir.path().join("routes.toml"), routes).unwrap();
    let options = rolecall_scenario::LoadOptions::new().env(|name| match name {
        "HOSTILE_BEARER" => Some(BEARER.to_owned()),
        "HOSTILE_PASSWORD" => Some(PASSWORD.to_owned()),
        _ => None,
    });
    let suite = rolecall_scenario::load(dir.path(), &options).unwrap_or_else(|e| panic!("{e}"));
    (dir, Arc::new(suite))
}

/// Runs every case against the hostile target and asserts that no echoed form of a
/// credential, nor any 12-character piece of one, reaches any output.
#[track_caller]
fn check(form: Encoding) {
    let hostile = Hostile::start();
    let (_dir, suite) = suite(&hostile.url(), form);
    let all: Vec<usize> = (0..suite.cases.len()).collect();
    let mut lines = String::new();
    let run = rolecall_runner::run(
        suite.clone(),
        &RunConfig::default(),
        &all,
        Keep::Reports,
        |suite, result, secrets| {
            lines.push_str(&secrets.redact(&rolecall_runner::line(suite, result)));
        },
    )
    .unwrap();
    let outcomes: Vec<Outcome> = run.results.iter().map(|r| r.outcome).collect();
    assert!(
        outcomes.iter().filter(|o| **o == Outcome::Fail).count() == 4
            && outcomes.iter().filter(|o| **o == Outcome::Error).count() == 4,
        "every case must fail or error, so that its message quotes the target: {outcomes:?}"
    );
    let mut everything = lines;
    everything.push_str(&rolecall_runner::json_report(&suite, &run));
    for result in &run.results {
        everything.push_str(&rolecall_runner::line(&suite, result));
        everything.push_str(result.message.as_deref().unwrap_or(""));
        if let Some(observed) = &result.observed {
            everything.push_str(&observed.body);
            everything.extend(observed.headers.iter().map(|(_, v)| v.as_str()));
            everything.extend(observed.redirects.iter().map(String::as_str));
        }
    }
    for case in &suite.cases {
        everything.push_str(&case.name);
    }

    let echoes = hostile.echoes();
    let raw = [BEARER, PASSWORD, API_KEY, AUTH_TOKEN, COOKIE];
    assert!(
        echoes.iter().any(|e| e.form == form),
        "the target echoed nothing as {form:?}"
    );
    for echo in &echoes {
        assert!(
            raw.iter().all(|r| !echo.text.contains(r)),
            "{:?} is a raw credential, not a derived form",
            echo.text
        );
    }
    assert!(
        everything.contains("***"),
        "nothing was redacted, so nothing was tested"
    );
    let leaks: Vec<String> = echoes
        .iter()
        .filter_map(|echo| echo.leak_in(&everything))
        .collect();
    assert!(
        leaks.is_empty(),
        "{} form(s) leaked: {leaks:#?}",
        leaks.len()
    );
}

#[test]
fn percent_encoded_upper_hex_in_a_redirect_query_is_redacted() {
    check(Encoding::PercentUpper);
}

#[test]
fn percent_encoded_lower_hex_in_a_redirect_query_is_redacted() {
    check(Encoding::PercentLower);
}

#[test]
fn form_encoded_in_a_redirect_query_is_redacted() {
    check(Encoding::FormEncoded);
}

#[test]
fn json_escaped_with_slashes_and_lower_unicode_escapes_is_redacted() {
    check(Encoding::JsonSlash);
}

#[test]
fn json_escaped_with_upper_unicode_escapes_is_redacted() {
    check(Encoding::JsonUnicode);
}

#[test]
fn base64_of_what_was_sent_alone_or_inside_longer_text_is_redacted() {
    check(Encoding::Base64);
}

#[test]
fn html_entities_in_an_error_page_are_redacted() {
    check(Encoding::Html);
}

#[test]
fn credentials_echoed_in_response_headers_are_redacted() {
    check(Encoding::Headers);
}

/// Every report format (JUnit, SARIF, Markdown, HTML, GitHub annotations) of a run against the
/// hostile target, for each echoed form: no form survives, neither in the file as written
/// nor once the format's own escaping is undone.
#[test]
fn every_report_format_redacts_every_echoed_form() {
    for form in Encoding::ALL {
        let hostile = Hostile::start();
        let (_dir, suite) = suite(&hostile.url(), form);
        let run = crate::run_all(&suite);
        let mut everything = String::new();
        for (format, text) in crate::reports::every_format(&suite, &run) {
            // The Markdown report quotes headlines only, which need not hold an echo.
            assert!(
                format == "markdown" || text.contains("***"),
                "{form:?}: {format} redacted nothing"
            );
            everything.push_str(&text);
            everything.push_str(&unescaped(format, &text));
        }
        let echoes = hostile.echoes();
        assert!(
            echoes.iter().any(|e| e.form == form),
            "nothing echoed as {form:?}"
        );
        let leaks: Vec<String> = echoes
            .iter()
            .filter_map(|echo| echo.leak_in(&everything))
            .collect();
        assert!(leaks.is_empty(), "{form:?}: {leaks:#?}");
    }
}

/// `text` with `format`'s escaping undone, so an echo hidden by it is found too.
fn unescaped(format: &str, text: &str) -> String {
    match format {
        "junit" => quick_xml::escape::unescape(text).unwrap().into_owned(),
        "sarif" => {
            fn strings(value: &serde_json::Value, out: &mut String) {
                match value {
                    serde_json::Value::String(s) => out.push_str(s),
                    serde_json::Value::Array(a) => a.iter().for_each(|v| strings(v, out)),
                    serde_json::Value::Object(o) => o.values().for_each(|v| strings(v, out)),
                    _ => {}
                }
                out.push('\n');
            }
            let mut out = String::new();
            strings(&serde_json::from_str(text).unwrap(), &mut out);
            out
        }
        "html" => text
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&amp;", "&"),
        "markdown" => text
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("\\|", "|"),
        _ => text
            .replace("%0A", "\n")
            .replace("%0D", "\r")
            .replace("%3A", ":")
            .replace("%2C", ",")
            .replace("%25", "%"),
    }
}
