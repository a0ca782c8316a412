//! Checking a response against its route's deny-body contract: pure and synchronous,
//! like [`judge`](crate::judge).
//!
//! Shape rules (required members, a message naming the boundary, a way to recover, the
//! request id echoed) apply to app-layer refusals whose status the contract names; the
//! leak rules (the suite's `forbid` patterns and the built-in detectors) to every response
//! of 400 or more, at any layer. Each violation is a [`Mismatch`] located at the
//! declaration that set the rule, quoting a bounded excerpt of the body.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::LazyLock;

use regex::Regex;
use rolecall_scenario::{Case, Contract, DetectorMatch, Layer, Suite, TextRule, detectors};

use crate::classify::Attribution;
use crate::judge::{Mismatch, MismatchKind};
use crate::observed::Observed;

/// Bytes quoted on each side of a finding.
const EXCERPT_SIDE: usize = 60;

/// What the contract check needs besides the contract and the response.
pub(crate) struct Context<'a> {
    /// Identifiers of other tenants (see [`foreign_tenants`]).
    pub(crate) foreign_tenants: &'a [String],
    /// Where the body carried the first of the run's secrets before it was redacted:
    /// no text before it changed, so its marker starts there in the redacted body.
    pub(crate) secret_at: Option<usize>,
    /// The request was a `HEAD`: its response has no body, so the shape rules, which
    /// are about the body, do not apply.
    pub(crate) head: bool,
    /// Client addresses the request itself carried (the identity's `client_ip`, a
    /// bypass variant's client-address header): a page that echoes the client's own
    /// address back ("Your IP: 10.0.0.1") leaks nothing the client did not say.
    pub(crate) sent_addresses: &'a [std::net::IpAddr],
    /// Text the request itself carried (the target's host, a `Host` header, the path
    /// and the variant's target): a pattern found inside an echo of one leaks nothing.
    pub(crate) sent_texts: &'a [String],
}

/// Every way `observed` (already redacted) breaks `contract`.
pub(crate) fn check_contract(
    contract: &Contract,
    observed: &Observed,
    attribution: &Attribution,
    cx: &Context<'_>,
) -> Vec<Mismatch> {
    let mut found = Vec::new();
    if observed.status < 400 {
        return found;
    }
    if attribution.layer == Layer::App && contract.shapes(observed.status) && !cx.head {
        check_shape(contract, observed, &mut found);
    }
    check_leaks(contract, observed, cx, &mut found);
    found
}

fn push(
    found: &mut Vec<Mismatch>,
    kind: MismatchKind,
    at: &rolecall_scenario::Location,
    expected: String,
    observed: String,
    message: String,
) {
    found.push(Mismatch {
        kind,
        expected,
        observed,
        location: at.clone(),
        message,
    });
}

fn check_shape(contract: &Contract, observed: &Observed, found: &mut Vec<Mismatch>) {
    let json = observed.json();
    let shown = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    for rule in &contract.require {
        let at = &rule.at;
        let pointer = &rule.pointer;
        let Some(json) = &json else {
            push(
                found,
                MismatchKind::Contract,
                at,
                format!("JSON with {pointer}"),
                "not JSON".to_owned(),
                format!("deny-body contract: the refusal is not JSON, and must carry `{pointer}`"),
            );
            continue;
        };
        let Some(value) = json.pointer(pointer) else {
            push(
                found,
                MismatchKind::Contract,
                at,
                format!("{pointer} present"),
                format!("{pointer} absent"),
                format!("deny-body contract: the refusal lacks `{pointer}`"),
            );
            continue;
        };
        if let Some(ty) = rule.json_type
            && !ty.matches(value)
        {
            push(
                found,
                MismatchKind::Contract,
                at,
                format!("{pointer}: {}", ty.as_str()),
                format!("{pointer} = {value}"),
                format!(
                    "deny-body contract: `{pointer}` is {}, expected a {}",
                    excerpt_of(&value.to_string()),
                    ty.as_str()
                ),
            );
            continue;
        }
        if let Some(re) = &rule.pattern
            && !re.is_match(&shown(value))
        {
            push(
                found,
                MismatchKind::Contract,
                at,
                format!("{pointer} matching /{re}/"),
                format!("{pointer} = {value}"),
                format!(
                    "deny-body contract: `{pointer}` = {} does not match /{re}/",
                    excerpt_of(&value.to_string())
                ),
            );
        }
    }
    let mut text_rule = |rule: &TextRule, what: &str| {
        let text = match &rule.pointer {
            None => Some(observed.body.clone()),
            Some(pointer) => json
                .as_ref()
                .and_then(|j| j.pointer(pointer))
                .and_then(|v| v.as_str())
                .map(str::to_owned),
        };
        let place = rule
            .pointer
            .as_deref()
            .map_or_else(|| "the body".to_owned(), |p| format!("`{p}`"));
        match (text, &rule.pattern) {
            (None, _) => push(
                found,
                MismatchKind::Contract,
                &rule.at,
                format!("{place}: {what}"),
                format!("{place} absent"),
                format!("deny-body contract: the refusal has no {place} ({what})"),
            ),
            (Some(text), None) if text.trim().is_empty() => push(
                found,
                MismatchKind::Contract,
                &rule.at,
                format!("{place}: {what}"),
                format!("{place} empty"),
                format!("deny-body contract: {place} is empty ({what})"),
            ),
            (Some(text), Some(re)) if !re.is_match(&text) => push(
                found,
                MismatchKind::Contract,
                &rule.at,
                format!("{place} matching /{re}/"),
                excerpt_of(&text),
                format!(
                    "deny-body contract: {place} does not say {what}: {} does not match /{re}/",
                    excerpt_of(&text)
                ),
            ),
            _ => {}
        }
    };
    if let Some(rule) = &contract.message {
        text_rule(rule, "which boundary refused");
    }
    if let Some(rule) = &contract.recovery {
        text_rule(rule, "how to recover");
    }
    if let Some(rule) = &contract.request_id {
        let pointer = &rule.pointer;
        let echoed = json.as_ref().and_then(|j| j.pointer(pointer)).map(shown);
        // An id found only in the body is the one being checked: compare with headers only.
        let sent = observed
            .request_id()
            .filter(|(_, from)| !from.starts_with("body"));
        match (echoed, sent) {
            (None, _) => push(
                found,
                MismatchKind::Contract,
                &rule.at,
                format!("{pointer}: the request id"),
                format!("{pointer} absent"),
                format!(
                    "deny-body contract: the refusal does not echo the request id in `{pointer}`"
                ),
            ),
            (Some(echoed), Some((id, header))) if echoed != id => push(
                found,
                MismatchKind::Contract,
                &rule.at,
                format!("{pointer} = {id}"),
                format!("{pointer} = {echoed}"),
                format!(
                    "deny-body contract: `{pointer}` is {}, not the request id {} of {header}",
                    excerpt_of(&echoed),
                    excerpt_of(&id)
                ),
            ),
            (Some(echoed), _) if echoed.trim().is_empty() => push(
                found,
                MismatchKind::Contract,
                &rule.at,
                format!("{pointer}: the request id"),
                format!("{pointer} empty"),
                format!("deny-body contract: `{pointer}` is empty, expected the request id"),
            ),
            _ => {}
        }
    }
}

fn check_leaks(
    contract: &Contract,
    observed: &Observed,
    cx: &Context<'_>,
    found: &mut Vec<Mismatch>,
) {
    let body = observed.body.as_str();
    for forbidden in &contract.forbid {
        if let Some(m) = forbidden.pattern.find(body) {
            let quote = excerpt(body, m.start(), m.end());
            push(
                found,
                MismatchKind::Leak,
                &forbidden.at,
                format!("nothing matching /{}/", forbidden.pattern),
                quote.clone(),
                format!(
                    "refusal matches the forbidden pattern /{}/: {quote}",
                    forbidden.pattern
                ),
            );
        }
    }
    for detector in detectors() {
        if !contract.detects(&detector.name) {
            continue;
        }
        let hit = match &detector.matcher {
            DetectorMatch::Patterns(re) => re
                .find_iter(body)
                .map(|m| m.range())
                .find(|r| !echoed(body, r, cx.sent_texts)),
            DetectorMatch::PrivateAddress => private_address_except(body, cx.sent_addresses),
            DetectorMatch::ForeignTenant => foreign_tenant(body, cx.foreign_tenants),
            // The body is redacted already: the marker stands where the secret was.
            DetectorMatch::Secret => cx.secret_at.map(|at| at..(at + 3).min(body.len()).max(at)),
        };
        if let Some(range) = hit {
            let quote = excerpt(body, range.start, range.end);
            push(
                found,
                MismatchKind::Leak,
                &contract.at,
                format!("no {}", detector.name),
                quote.clone(),
                format!(
                    "refusal leaks {} ({}): {quote}",
                    detector.description, detector.name
                ),
            );
        }
    }
}

/// Where `body` holds a private IPv4 or unique-local IPv6 address. A dotted quad that is
/// part of a longer dotted number or follows a `v` is a version, not an address.
/// The addresses in `sent` (the request's own) do not count.
pub(crate) fn private_address_except(
    body: &str,
    sent: &[std::net::IpAddr],
) -> Option<std::ops::Range<usize>> {
    static V4: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b").expect("valid"));
    static V6: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"(?i)\bf[cd][0-9a-f]{2}:[0-9a-f:]*[0-9a-f]").expect("valid"));
    let bytes = body.as_bytes();
    let v4 = V4.find_iter(body).find(|m| {
        let before = m.start().checked_sub(1).map(|i| bytes[i]);
        let after = (bytes.get(m.end()), bytes.get(m.end() + 1));
        let versioned = matches!(before, Some(b'.' | b'v' | b'V'))
            || matches!(after, (Some(b'.'), Some(d)) if d.is_ascii_digit());
        !versioned
            && m.as_str()
                .parse::<Ipv4Addr>()
                .is_ok_and(|ip| ip.is_private() && !sent.contains(&ip.into()))
    });
    let v6 = || {
        V6.find_iter(body).find(|m| {
            m.as_str()
                .parse::<Ipv6Addr>()
                .is_ok_and(|ip| ip.segments()[0] & 0xfe00 == 0xfc00 && !sent.contains(&ip.into()))
        })
    };
    v4.or_else(v6).map(|m| m.range())
}

/// Whether `range` of `body` (less a delimiter a pattern matched before it) lies inside
/// an occurrence of one of `sent`.
fn echoed(body: &str, range: &std::ops::Range<usize>, sent: &[String]) -> bool {
    let start = range.start
        + body[range.clone()]
            .find(|c: char| c.is_alphanumeric() || c == '/' || c == '.')
            .unwrap_or(0);
    sent.iter().filter(|t| !t.is_empty()).any(|text| {
        body.match_indices(text.as_str())
            .any(|(at, _)| at <= start && range.end <= at + text.len())
    })
}

/// What `case`'s request to `base_url` carried that a page may echo: the target's
/// host, any `Host` header sent, the path and a path variant's target.
pub(crate) fn sent_texts(
    suite: &Suite,
    case: &Case,
    base_url: &str,
    secrets: &rolecall_scenario::Secrets,
) -> Vec<String> {
    let mut sent: Vec<String> = reqwest::Url::parse(base_url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .into_iter()
        .collect();
    sent.extend(host_headers(suite, case).map(str::to_owned));
    let (path, query) = match case.path.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (case.path.as_str(), None),
    };
    sent.push(path.to_owned());
    if let Some(rolecall_scenario::Variant {
        kind: rolecall_scenario::VariantKind::Path(spelling),
        ..
    }) = case.variant.as_deref()
    {
        sent.extend(spelling.apply(path, query, secrets));
    }
    sent
}

/// The IP address a host (`name[:port]`, `[v6]:port`) is, if it is one.
pub(crate) fn host_ip(host: &str) -> Option<std::net::IpAddr> {
    let bare = match host.rsplit_once(':') {
        Some((name, port))
            if port.bytes().all(|b| b.is_ascii_digit())
                && (name.ends_with(']') || !name.contains(':')) =>
        {
            name
        }
        _ => host,
    };
    bare.trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()
}

/// Every `Host` header `case`'s request sets (suite, route or identity).
fn host_headers<'s>(suite: &'s Suite, case: &Case) -> impl Iterator<Item = &'s str> {
    let route = suite.route(case);
    suite
        .settings
        .headers
        .iter()
        .chain(&route.headers)
        .chain(&suite.identity(case).credentials.headers)
        .filter(|(name, _)| name.eq_ignore_ascii_case("host"))
        .map(|(_, value)| value.as_str())
}

/// Where `body` holds one of `names` as a whole word.
fn foreign_tenant(body: &str, names: &[String]) -> Option<std::ops::Range<usize>> {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
    let bytes = body.as_bytes();
    names.iter().find_map(|name| {
        body.match_indices(name.as_str()).find_map(|(at, _)| {
            let end = at + name.len();
            let alone =
                (at == 0 || !word(bytes[at - 1])) && bytes.get(end).is_none_or(|b| !word(*b));
            alone.then_some(at..end)
        })
    })
}

/// The addresses `case`'s request to `base_url` carries: its identity's `client_ip`, a
/// client-address variant's address (`Forwarded: for="[::1]"` included), and the
/// target's own address (its host or a `Host` header sent, where one is an IP).
pub(crate) fn sent_addresses(suite: &Suite, case: &Case, base_url: &str) -> Vec<std::net::IpAddr> {
    let mut sent: Vec<std::net::IpAddr> = suite
        .identity(case)
        .credentials
        .client_ip
        .into_iter()
        .collect();
    let target = reqwest::Url::parse(base_url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned));
    sent.extend(
        target
            .iter()
            .map(String::as_str)
            .chain(host_headers(suite, case))
            .filter_map(host_ip),
    );
    if let Some(variant) = &case.variant
        && let rolecall_scenario::VariantKind::ClientIp { address, .. } = variant.kind
    {
        let bare = address
            .trim_start_matches("for=")
            .trim_matches('"')
            .trim_start_matches('[')
            .trim_end_matches(']');
        sent.extend(bare.parse::<std::net::IpAddr>());
    }
    sent
}

/// The identifiers of other tenants for `case`: every value another identity holds in
/// one of the contract's tenant vars, and the identity's own `other_<var>`, less the
/// identity's own tenants, values the request itself carried (it knows them already) and
/// values of fewer than 3 characters (too likely to occur by chance).
pub(crate) fn foreign_tenants(suite: &Suite, case: &Case, contract: &Contract) -> Vec<String> {
    let vars = contract.tenant_vars();
    let me = suite.identity(case);
    let own: Vec<&str> = vars
        .iter()
        .filter_map(|v| me.vars.get(*v))
        .map(String::as_str)
        .collect();
    let mut names: Vec<String> = Vec::new();
    let others = suite
        .identities
        .iter()
        .filter(|i| i.name != me.name)
        .flat_map(|i| vars.iter().filter_map(|v| i.vars.get(*v)));
    let mine = vars
        .iter()
        .filter_map(|v| me.vars.get(&format!("other_{v}")));
    for value in others.chain(mine) {
        if value.len() >= 3
            && !own.contains(&value.as_str())
            && !case.path.contains(value.as_str())
            && !names.contains(value)
        {
            names.push(value.clone());
        }
    }
    names
}

/// At most [`EXCERPT_SIDE`] bytes each side of `start..end`, on one line, in backticks.
pub(crate) fn excerpt(body: &str, start: usize, end: usize) -> String {
    let from = floor(body, start.saturating_sub(EXCERPT_SIDE));
    let end = floor(body, end.min(start + 2 * EXCERPT_SIDE));
    let to = ceil(body, (end + EXCERPT_SIDE).min(body.len()));
    let text: String = body[from..to]
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    format!(
        "`{}{text}{}`",
        if from > 0 { "…" } else { "" },
        if to < body.len() { "…" } else { "" }
    )
}

/// A short value, bounded like an excerpt.
fn excerpt_of(text: &str) -> String {
    excerpt(text, 0, 0)
}

fn floor(text: &str, mut at: usize) -> usize {
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn ceil(text: &str, mut at: usize) -> usize {
    while !text.is_char_boundary(at) {
        at += 1;
    }
    at
}

#[cfg(test)]
mod tests;
