//! Which suite identity sent a captured request, from its credentials.
//!
//! A capture is attributed to an identity when every credential the identity sends is in
//! the capture (bearer token, basic user and password, API key, cookies, a JWT whose
//! claims include the identity's) and every request attribute it sets (origin, user agent,
//! client address, country) is too. The most specific match wins; identities with a
//! deliberate token defect only when nothing else matches. Only names come out of here.

use base64::Engine as _;
use rolecall_scenario::{Identity, Suite};
use serde_json::Value;

use crate::har::Capture;

/// The identities (indexes into `suite.identities`) that best explain `capture`: one when
/// recognised, several when it is ambiguous, none when unknown.
pub(crate) fn recognise(suite: &Suite, capture: &Capture) -> Vec<usize> {
    let mut scored: Vec<(usize, usize, bool)> = suite
        .identities
        .iter()
        .enumerate()
        .filter_map(|(i, identity)| {
            let defect = identity
                .credentials
                .jwt
                .as_ref()
                .is_some_and(|j| j.defect.is_some());
            score(suite, identity, capture).map(|s| (i, s, defect))
        })
        .filter(|(_, s, _)| *s > 0)
        .collect();
    if scored.iter().any(|(_, _, defect)| !defect) {
        scored.retain(|(_, _, defect)| !defect);
    }
    let Some(best) = scored.iter().map(|(_, s, _)| *s).max() else {
        return Vec::new();
    };
    scored
        .into_iter()
        .filter(|(_, s, _)| *s == best)
        .map(|(i, _, _)| i)
        .collect()
}

fn header<'a>(capture: &'a Capture, name: &str) -> Option<&'a str> {
    let name = name.to_ascii_lowercase();
    capture
        .headers
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.as_str())
}

/// How many credentials and attributes of `identity` the capture carries, or `None` when
/// one of them differs.
fn score(suite: &Suite, identity: &Identity, capture: &Capture) -> Option<usize> {
    let c = &identity.credentials;
    let mut score = 0;
    let require = |ok: bool, score: &mut usize| -> Option<()> { ok.then(|| *score += 1) };
    let authorization = header(capture, "authorization").unwrap_or("");
    let bearer = authorization
        .strip_prefix("Bearer ")
        .or_else(|| authorization.strip_prefix("bearer "));
    if let Some(token) = &c.bearer {
        require(bearer == Some(token.expose()), &mut score)?;
    }
    if let Some((user, password)) = &c.basic {
        let expected = base64::engine::general_purpose::STANDARD
            .encode(format!("{user}:{}", password.expose()));
        require(
            authorization.strip_prefix("Basic ") == Some(expected.as_str()),
            &mut score,
        )?;
    }
    if let Some((name, value)) = &c.api_key {
        require(header(capture, name) == Some(value.expose()), &mut score)?;
    }
    for (name, value) in &c.cookies {
        require(
            capture
                .cookies
                .iter()
                .any(|(n, v)| n == name && v == value.expose()),
            &mut score,
        )?;
    }
    if let Some(jwt) = &c.jwt {
        let token = if jwt.header.eq_ignore_ascii_case("authorization") {
            bearer
        } else {
            header(capture, &jwt.header)
        };
        require(
            token
                .and_then(claims)
                .is_some_and(|claims| jwt.claims.iter().all(|(k, v)| claims.get(k) == Some(v))),
            &mut score,
        )?;
    }
    for (name, value) in &c.headers {
        if !rolecall_scenario::is_credential_header(name) {
            continue;
        }
        require(header(capture, name) == Some(value.as_str()), &mut score)?;
    }
    // Attributes only narrow a credential match down; alone they recognise no one. One
    // the capture does not carry (an edge adds a client address, not the browser) neither
    // counts nor disqualifies.
    if score == 0 {
        return Some(0);
    }
    let client_ip = c.client_ip.map(|ip| ip.to_string());
    let attributes = [
        (c.origin.as_deref(), "origin"),
        (c.user_agent.as_deref(), "user-agent"),
        (c.referer.as_deref(), "referer"),
        (c.country.as_deref(), suite.settings.country_header.as_str()),
        (
            client_ip.as_deref(),
            suite.settings.client_ip_header.as_str(),
        ),
    ];
    for (value, name) in attributes {
        let sent = header(capture, name)
            .and_then(|v| v.split(',').next())
            .map(str::trim);
        match (value, sent) {
            (Some(value), Some(sent)) if value == sent => score += 1,
            (Some(_), Some(_)) => return None,
            _ => {}
        }
    }
    Some(score)
}

/// The claims of a JWT, without checking its signature (it only names who sent it).
fn claims(token: &str) -> Option<serde_json::Map<String, Value>> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}
