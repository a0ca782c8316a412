//! Layer attribution: which control plane refused a request, decided from the response
//! alone.
//!
//! This module is pure and synchronous: it sees status, headers and body, never a
//! socket, so it is tested with plain data and runs on every response cheaply.
//! The knowledge lives in fingerprint rules (see [`Fingerprints`]); the code only
//! evaluates them and explains the outcome.

mod fingerprints;

use rolecall_scenario::Layer;

pub use fingerprints::{FingerprintError, FingerprintErrorKind, Fingerprints};

use fingerprints::Rule;

/// Only this much of a body is searched. Every vendor deny page fits well inside it, and
/// the cap keeps classification cheap when a refusal comes with a large body.
pub(crate) const BODY_SCAN_LIMIT: usize = 64 * 1024;

/// Header values longer than this are shortened in evidence lines, which end up in
/// one-line failure messages.
const EVIDENCE_VALUE_LIMIT: usize = 80;

/// The parts of a response that attribution looks at.
#[derive(Debug, Clone, Copy)]
pub struct Evidence<'a> {
    /// The HTTP status code.
    pub status: u16,
    /// Response headers as (name, value), names in lowercase, in wire order.
    pub headers: &'a [(String, String)],
    /// The response body, decoded as text (lossily, if need be).
    pub body: &'a str,
}

/// Which layer produced a response, which vendor's software it looks like, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribution {
    /// The control plane that answered.
    pub layer: Layer,
    /// The software that answered: `nginx`, `apache`, `modsecurity`, `cloudflare`,
    /// `cloudfront`, `aws-waf`, `akamai`, `app`, `unknown`, or a vendor named by a
    /// user fingerprint.
    pub vendor: String,
    /// Human-readable observations behind the decision, strongest first, such as
    /// `header server: nginx/1.22.1` or `body matches nginx default error page`.
    pub evidence: Vec<String>,
    /// Set when the evidence also fits another answer; says which, and how to tell.
    pub ambiguity: Option<String>,
}

/// Attributes a response to a layer and vendor using `fingerprints`.
///
/// The matching rule from the highest tier (user rules over built-in ones) with the
/// highest weight decides; other matching rules add their observations to the evidence
/// so that, for example, a JSON refusal relayed by nginx names both the app body and the
/// nginx `Server` header. Without any match the answer is `unknown`.
///
/// ```
/// use rolecall_runner::{Evidence, Fingerprints, classify};
///
/// let headers = [
///     ("server".to_owned(), "nginx/1.22.1".to_owned()),
///     ("content-type".to_owned(), "application/json".to_owned()),
/// ];
/// let response = Evidence { status: 403, headers: &headers, body: r#"{"code":"forbidden"}"# };
/// let attribution = classify(Fingerprints::builtin(), &response);
/// // nginx only relayed the refusal: the JSON body is the app's.
/// assert_eq!(attribution.layer.as_str(), "app");
/// assert_eq!(attribution.vendor, "app");
/// ```
pub fn classify(fingerprints: &Fingerprints, response: &Evidence<'_>) -> Attribution {
    attribute(fingerprints, response, true)
}

/// [`classify`] without the evidence lines: the same layer, vendor and ambiguity, for a
/// case that will not show them (a passing case outside a report). Judging does not read
/// the evidence, and building it costs a few allocations per case.
pub(crate) fn classify_unexplained(
    fingerprints: &Fingerprints,
    response: &Evidence<'_>,
) -> Attribution {
    attribute(fingerprints, response, false)
}

/// The attribution of a response nobody classified: the `unknown` layer, no vendor, no
/// evidence. Allocates nothing; only what never reads an attribution may hold one.
pub(crate) fn unclassified() -> Attribution {
    Attribution {
        layer: Layer::Unknown,
        vendor: String::new(),
        evidence: Vec::new(),
        ambiguity: None,
    }
}

fn attribute(fingerprints: &Fingerprints, response: &Evidence<'_>, explain: bool) -> Attribution {
    let body = truncate(response.body, BODY_SCAN_LIMIT);
    // One pass over the body for every body pattern of every rule; rules then only look
    // up their indices.
    let body_hits = fingerprints.body_set().matches(body);
    let mut matched = fingerprints
        .rules()
        .iter()
        .filter_map(|rule| observe(rule, response, &body_hits, explain).map(|lines| (rule, lines)));

    let Some((winner, winner_lines)) = matched.next() else {
        return unknown(response, explain);
    };
    let mut evidence = winner_lines;
    let mut rivals = Vec::new();
    for (rule, lines) in matched {
        let agrees = rule.layer == winner.layer && rule.vendor == winner.vendor;
        for line in lines {
            let line = if agrees {
                line
            } else {
                format!(
                    "{line} (would suggest {} at the {} layer)",
                    rule.vendor, rule.layer
                )
            };
            if !evidence.contains(&line) {
                evidence.push(line);
            }
        }
        if !agrees && rule.tier == winner.tier && rule.weight == winner.weight {
            rivals.push(rule);
        }
    }
    Attribution {
        layer: winner.layer,
        vendor: winner.vendor.clone(),
        evidence,
        ambiguity: ambiguity(winner, &rivals),
    }
}

/// Checks every condition of `rule`; on a match returns the observations it rests on
/// (none unless `explain`).
fn observe(
    rule: &Rule,
    response: &Evidence<'_>,
    body_hits: &regex::SetMatches,
    explain: bool,
) -> Option<Vec<String>> {
    if !rule.status.is_empty() && !rule.status.contains(&response.status) {
        return None;
    }
    // Markers a WAF injects into the pages it lets through do not make a 2xx or 3xx its own.
    if rule.layer == Layer::Waf && !rule.disguise && response.status < 400 {
        return None;
    }
    if !rule
        .body_indices
        .iter()
        .all(|&index| body_hits.matched(index))
    {
        return None;
    }
    let mut lines = Vec::new();
    if let Some(pattern) = &rule.content_type {
        let value = header(response.headers, "content-type")?;
        if !pattern.is_match(value) {
            return None;
        }
        if explain {
            lines.push(header_line("content-type", value));
        }
    }
    for condition in &rule.headers {
        let (name, value) = response.headers.iter().find(|(name, value)| {
            condition.name.fits(name)
                && condition
                    .matches
                    .as_ref()
                    .is_none_or(|pattern| pattern.is_match(value))
        })?;
        if explain {
            lines.push(header_line(name, value));
        }
    }
    if !explain {
        return Some(lines);
    }
    match &rule.evidence {
        // The rule's own words go first: they are the reason, headers are the context.
        Some(text) => lines.insert(0, text.clone()),
        None if !rule.body_indices.is_empty() => {
            lines.insert(0, format!("body matches fingerprint `{}`", rule.id));
        }
        None => {}
    }
    Some(lines)
}

fn ambiguity(winner: &Rule, rivals: &[&Rule]) -> Option<String> {
    let mut notes: Vec<String> = winner.ambiguity.iter().cloned().collect();
    if !rivals.is_empty() {
        let names: Vec<String> = rivals
            .iter()
            .map(|rule| {
                format!(
                    "{} at the {} layer (rule `{}`)",
                    rule.vendor, rule.layer, rule.id
                )
            })
            .collect();
        notes.push(format!(
            "the evidence fits {} equally well (rule `{}` chosen by file order)",
            names.join(", "),
            winner.id
        ));
    }
    (!notes.is_empty()).then(|| notes.join("; "))
}

fn unknown(response: &Evidence<'_>, explain: bool) -> Attribution {
    let mut evidence = Vec::new();
    if explain {
        evidence.push("no fingerprint matched".to_owned());
        for name in ["server", "content-type"] {
            if let Some(value) = header(response.headers, name) {
                evidence.push(header_line(name, value));
            }
        }
    }
    Attribution {
        layer: Layer::Unknown,
        vendor: "unknown".to_owned(),
        evidence,
        ambiguity: None,
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(candidate, _)| candidate.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.as_str())
}

fn header_line(name: &str, value: &str) -> String {
    let short = truncate(value, EVIDENCE_VALUE_LIMIT);
    let ellipsis = if short.len() < value.len() { "…" } else { "" };
    format!("header {}: {short}{ellipsis}", name.to_ascii_lowercase())
}

/// The longest prefix of `text` of at most `limit` bytes that ends on a char boundary.
pub(crate) fn truncate(text: &str, limit: usize) -> &str {
    if text.len() <= limit {
        return text;
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests;
