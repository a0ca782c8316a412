//! Deny-body snapshots: a normalised response reviewed with insta.

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use regex::Regex;

use crate::classify::Attribution;
use crate::observed::Observed;

/// Headers worth reviewing in a refusal; everything else is noise or volatile.
const SNAPSHOT_HEADERS: [&str; 11] = [
    "content-type",
    "server",
    "www-authenticate",
    "location",
    "retry-after",
    "cache-control",
    "x-cache",
    "cf-mitigated",
    "x-amzn-waf-action",
    "x-content-type-options",
    "x-frame-options",
];

struct Redaction {
    pattern: Regex,
    replacement: &'static str,
}

static REDACTIONS: LazyLock<Vec<Redaction>> = LazyLock::new(|| {
    let r = |pattern: &str, replacement| Redaction {
        pattern: Regex::new(pattern).expect("valid redaction"),
        replacement,
    };
    vec![
        r(
            r"(?i)\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b",
            "[uuid]",
        ),
        r(
            r"\b(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} GMT\b",
            "[date]",
        ),
        r(
            r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?\b",
            "[timestamp]",
        ),
        r(
            r"\b(127\.\d+\.\d+\.\d+|localhost|\[::1\]):\d+\b",
            "$1:[port]",
        ),
        r(r"\b1[6-9]\d{8}\b", "[epoch]"),
        r(r"\b\d+(?:\.\d+)?\s?(?:ms|µs|us|ns)\b", "[duration]"),
        r(r"(?i)\b[0-9a-f]{16,}\b", "[hex]"),
    ]
});

/// `text` with its volatile values (the response's `request_id`, dates, UUIDs, ports,
/// durations, long hex ids) replaced by placeholders, every other byte kept: what
/// snapshots and recordings (`record.rs`) leave of a response.
pub(crate) fn scrub(text: &str, request_id: Option<&str>) -> String {
    let mut out = match request_id {
        Some(id) if id.len() >= 4 => text.replace(id, "[request-id]"),
        _ => text.to_owned(),
    };
    for r in REDACTIONS.iter() {
        out = r.pattern.replace_all(&out, r.replacement).into_owned();
    }
    out
}

/// The snapshot text of a response: status, layer, selected headers and the body, with
/// volatile values (request ids, dates, UUIDs, ports, durations) replaced by placeholders.
pub(crate) fn render(observed: &Observed, attribution: &Attribution) -> String {
    let request_id = observed.request_id().map(|(id, _)| id);
    let redact = |text: &str| scrub(&text.replace("\r\n", "\n"), request_id.as_deref());
    let mut s = format!(
        "status: {}\nlayer: {} ({})\nheaders:\n",
        observed.status, attribution.layer, attribution.vendor
    );
    let mut headers: Vec<&(String, String)> = observed
        .headers
        .iter()
        .filter(|(n, _)| SNAPSHOT_HEADERS.contains(&n.as_str()))
        .collect();
    headers.sort();
    for (name, value) in headers {
        s.push_str(&format!("  {name}: {}\n", redact(value)));
    }
    if let Some((_, from)) = observed.request_id() {
        s.push_str(&format!("  request id: [request-id] ({from})\n"));
    }
    s.push_str("body:\n");
    let body = match observed.json() {
        Some(json) => serde_json::to_string_pretty(&json).unwrap_or_default(),
        None => observed.body.clone(),
    };
    s.push_str(&redact(&body));
    if !s.ends_with('\n') {
        s.push('\n');
    }
    // A snapshot holds what the result kept: a large body is cut, visibly.
    if let Some(truncated) = &observed.truncated {
        s.push_str(&format!("[{}]\n", truncated.describe(observed.body.len())));
    }
    s
}

/// Where the snapshots of a scenario file live: `snapshots/` beside it.
pub(crate) fn directory(scenario_file: &Path) -> PathBuf {
    let absolute = std::env::current_dir()
        .map(|cwd| cwd.join(scenario_file))
        .unwrap_or_else(|_| scenario_file.to_path_buf());
    absolute
        .parent()
        .map(|p| p.join("snapshots"))
        .unwrap_or_else(|| PathBuf::from("snapshots"))
}

/// The snapshot's name: the case name with `::` as `__`, valid as a file name.
pub(crate) fn name(case_name: &str) -> String {
    case_name.replace("::", "__")
}

/// How a case's snapshot compared with the reviewed one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Compared {
    /// The same as the reviewed snapshot (or accepted now, with `INSTA_UPDATE=always`).
    Same,
    /// Different from the reviewed snapshot.
    Changed,
    /// There is no reviewed snapshot.
    Missing,
}

/// Compares `content` with the reviewed snapshot through insta, which shows the
/// difference and, where its settings allow (never under CI), writes a `.snap.new` for
/// `cargo insta review`. insta reports a difference by panicking: the panic is caught
/// here and becomes [`Compared::Changed`] or [`Compared::Missing`].
pub(crate) fn compare(
    scenario_file: &Path,
    case_name: &str,
    description: &str,
    content: &str,
) -> Compared {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(directory(scenario_file));
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.set_input_file(scenario_file);
    settings.set_description(description);
    let name = name(case_name);
    let existed = directory(scenario_file)
        .join(format!("{name}.snap"))
        .is_file();
    let matched = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        settings.bind(|| insta::assert_snapshot!(name, content));
    }))
    .is_ok();
    match (matched, existed) {
        (true, _) => Compared::Same,
        (false, true) => Compared::Changed,
        (false, false) => Compared::Missing,
    }
}

/// A passing case's deny-body snapshot, ready to compare: everything in it is already
/// redacted, so it can be handed to another process (see `agent.rs`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Check {
    /// The scenario file that declares the route.
    pub(crate) file: PathBuf,
    /// The case's (redacted) name.
    pub(crate) name: String,
    /// Where the expectation lives, for `cargo insta review`.
    pub(crate) description: String,
    /// The snapshot text.
    pub(crate) content: String,
}

impl Check {
    /// The snapshot `result` must match: `None` unless it passed with a response.
    pub(crate) fn of(
        suite: &rolecall_scenario::Suite,
        secrets: &rolecall_scenario::Secrets,
        name: &str,
        result: &crate::results::CaseResult,
    ) -> Option<Check> {
        let (crate::results::Outcome::Pass, Some(observed), Some(attribution)) =
            (result.outcome, &result.observed, &result.attribution)
        else {
            return None;
        };
        let case = &suite.cases[result.index];
        let route = suite.route(case);
        // `cargo insta review` shows where the expectation lives.
        let at = case.expect.explicit_at.as_ref().unwrap_or(&route.location);
        let description = format!(
            "{} {} as {}, expected at {at}",
            route.method,
            case.path,
            suite.identity(case).name
        );
        Some(Check {
            file: route.location.path.clone(),
            name: name.to_owned(),
            description: secrets.redact(&description),
            content: secrets.redact(&render(observed, attribution)),
        })
    }

    /// Compares with the reviewed snapshot: `None` when they are the same, else what
    /// was observed instead and the failure message.
    pub(crate) fn run(&self) -> Option<(&'static str, String)> {
        let file = name(&self.name);
        match compare(&self.file, &self.name, &self.description, &self.content) {
            Compared::Same => None,
            Compared::Changed => Some((
                "a different response",
                format!(
                    "deny-body snapshot `{file}` differs from the reviewed one (see the difference above; accept it with `cargo insta review`)"
                ),
            )),
            Compared::Missing => Some((
                "no reviewed snapshot",
                format!(
                    "deny-body snapshot `{file}` has not been reviewed (accept it with `cargo insta review`)"
                ),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use rolecall_scenario::Layer;

    use super::*;

    #[test]
    fn volatile_values_are_redacted() {
        let observed = Observed {
            status: 403,
            headers: vec![
                ("server".into(), "cloudflare".into()),
                ("cf-ray".into(), "8f1c2a3b4d5e6f70-FRA".into()),
                ("date".into(), "Mon, 23 Nov 2026 13:34:00 GMT".into()),
                ("content-type".into(), "text/html".into()),
            ],
            body: "<p>Ray ID: 8f1c2a3b4d5e6f70-FRA at 2026-11-23T13:34:00Z from http://127.0.0.1:40123 in 12ms, id 0b7c3f4e-1a2b-4c3d-8e9f-0123456789ab</p>".into(),
            truncated: None,
            redirects: Vec::new(),
            elapsed: Duration::ZERO,
        };
        let attribution = Attribution {
            layer: Layer::Cdn,
            vendor: "cloudflare".into(),
            evidence: Vec::new(),
            ambiguity: None,
        };
        assert_eq!(
            render(&observed, &attribution),
            "status: 403\nlayer: cdn (cloudflare)\nheaders:\n  content-type: text/html\n  server: cloudflare\n  request id: [request-id] (cf-ray)\nbody:\n<p>Ray ID: [request-id] at [timestamp] from http://127.0.0.1:[port] in [duration], id [uuid]</p>\n"
        );
    }

    #[test]
    fn a_cut_body_is_snapshotted_with_a_line_saying_what_was_left_out() {
        let observed = Observed {
            status: 403,
            headers: vec![("content-type".into(), "text/html".into())],
            body: "<p>denied".into(),
            truncated: Some(crate::observed::Truncated {
                body_size: Some(2_097_152),
                body_size_is_lower_bound: false,
                headers_cut: 0,
            }),
            redirects: Vec::new(),
            elapsed: Duration::ZERO,
        };
        let attribution = Attribution {
            layer: Layer::Server,
            vendor: "nginx".into(),
            evidence: Vec::new(),
            ambiguity: None,
        };
        assert_eq!(
            render(&observed, &attribution),
            "status: 403\nlayer: server (nginx)\nheaders:\n  content-type: text/html\nbody:\n<p>denied\n[body truncated: first 9 of 2097152 bytes kept]\n"
        );
    }
}
