//! Judging: expected outcome + observed response → verdict. Pure and synchronous.

use rolecall_scenario::{BodyMatch, Decision, Expectation, HeaderRule, Layer};

use crate::classify::Attribution;
use crate::observed::Observed;

/// The result of comparing one response with its expectation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Every way the response differs from the expectation; empty when it passes.
    pub problems: Vec<String>,
    /// Set when an identity that must be refused was let in: the worst kind of failure.
    pub escalation: bool,
}

impl Verdict {
    /// Whether the response met every expectation.
    pub fn passed(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Compares `observed` (classified as `attribution`) with `expect`.
pub fn judge(expect: &Expectation, observed: &Observed, attribution: &Attribution) -> Verdict {
    let mut problems = Vec::new();
    let status_ok = expect.status.matches(observed.status);
    let escalation =
        !status_ok && expect.decision != Decision::Allow && (200..300).contains(&observed.status);
    if !status_ok {
        problems.push(format!(
            "expected status {} ({}), observed {}{}",
            expect.status,
            expect.decision.as_str(),
            observed.status,
            if escalation {
                ": access was GRANTED to an identity that must be refused"
            } else if expect.decision == Decision::Allow && matches!(observed.status, 401 | 403) {
                ": an allowed identity was refused"
            } else {
                ""
            }
        ));
    }
    if status_ok
        && expect.www_authenticate
        && observed.status == 401
        && observed.header("www-authenticate").is_none()
    {
        problems.push("401 without a WWW-Authenticate header (RFC 9110 requires one)".to_owned());
    }
    if let Some(want) = &expect.redirect {
        match observed.header("location") {
            Some(location) if location.contains(want.as_str()) => {}
            Some(location) => problems.push(format!(
                "redirected to `{location}`, expected a Location containing `{want}`"
            )),
            None => problems.push(format!(
                "no Location header, expected a redirect to `{want}`"
            )),
        }
    }
    if let Some(layer) = expect.layer
        && attribution.layer != layer
    {
        problems.push(format!(
            "refused by the {} layer ({}), expected the {layer} layer{}",
            attribution.layer,
            attribution.vendor,
            if layer == Layer::App {
                ": the app's own rule was never reached"
            } else {
                ""
            }
        ));
    }
    if let Some(vendor) = &expect.vendor
        && !attribution.vendor.eq_ignore_ascii_case(vendor)
    {
        problems.push(format!(
            "answered by {}, expected {vendor}",
            attribution.vendor
        ));
    }
    for matcher in &expect.body {
        if let Some(problem) = check_body(matcher, observed) {
            problems.push(problem);
        }
    }
    for matcher in &expect.headers {
        let value = observed.header(&matcher.name);
        let problem = match (&matcher.rule, value) {
            (HeaderRule::Present(true), None) => Some("is missing".to_owned()),
            (HeaderRule::Present(false), Some(v)) => {
                Some(format!("is present (`{v}`), expected absent"))
            }
            (HeaderRule::Present(_), _) => None,
            (_, None) => Some("is missing".to_owned()),
            (HeaderRule::Equals(want), Some(v)) => {
                (v != want).then(|| format!("is `{v}`, expected `{want}`"))
            }
            (HeaderRule::Contains(want), Some(v)) => (!v.contains(want.as_str()))
                .then(|| format!("is `{v}`, expected it to contain `{want}`")),
            (HeaderRule::Regex(re), Some(v)) => {
                (!re.is_match(v)).then(|| format!("is `{v}`, expected it to match /{re}/"))
            }
        };
        if let Some(problem) = problem {
            problems.push(format!("header `{}` {problem}", matcher.name));
        }
    }
    Verdict {
        problems,
        escalation,
    }
}

fn check_body(matcher: &BodyMatch, observed: &Observed) -> Option<String> {
    match matcher {
        BodyMatch::Contains(text) => (!observed.body.contains(text.as_str()))
            .then(|| format!("body does not contain `{text}`")),
        BodyMatch::NotContains(text) => observed
            .body
            .contains(text.as_str())
            .then(|| format!("body contains `{text}`, which it must not")),
        BodyMatch::Regex(re) => {
            (!re.is_match(&observed.body)).then(|| format!("body does not match /{re}/"))
        }
        BodyMatch::Json(want) => match observed.json() {
            None => Some("body is not JSON, expected a JSON body".to_owned()),
            Some(got) => json_subset(want, &got, "").map(|at| {
                format!(
                    "JSON body differs at `{at}`: expected {}",
                    at_value(want, &at)
                )
            }),
        },
    }
}

/// Returns the JSON pointer of the first member of `want` that `got` lacks or differs in.
fn json_subset(want: &serde_json::Value, got: &serde_json::Value, at: &str) -> Option<String> {
    use serde_json::Value;
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => w.iter().find_map(|(k, wv)| {
            let path = format!("{at}/{k}");
            match g.get(k) {
                Some(gv) => json_subset(wv, gv, &path),
                None => Some(path),
            }
        }),
        (Value::Array(w), Value::Array(g)) => {
            // Every expected element must match some element of the response.
            w.iter().enumerate().find_map(|(i, wv)| {
                let found = g.iter().any(|gv| json_subset(wv, gv, "").is_none());
                (!found).then(|| format!("{at}/{i}"))
            })
        }
        (w, g) => (w != g).then(|| {
            if at.is_empty() {
                "/".to_owned()
            } else {
                at.to_owned()
            }
        }),
    }
}

fn at_value(want: &serde_json::Value, pointer: &str) -> String {
    let pointer = if pointer == "/" { "" } else { pointer };
    want.pointer(pointer)
        .map(|v| v.to_string())
        .unwrap_or_else(|| "a value".to_owned())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use rolecall_scenario::{HeaderMatch, StatusMatch};

    use super::*;

    fn expect(decision: Decision, status: StatusMatch) -> Expectation {
        Expectation {
            decision,
            status,
            www_authenticate: decision == Decision::Unauthenticated,
            redirect: None,
            layer: None,
            vendor: None,
            body: Vec::new(),
            headers: Vec::new(),
            snapshot: false,
            follow_redirects: false,
            skip: None,
            explicit_at: None,
        }
    }

    fn response(status: u16, headers: &[(&str, &str)], body: &str) -> Observed {
        Observed {
            status,
            headers: headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
            body: body.to_owned(),
            truncated: None,
            redirects: Vec::new(),
            elapsed: Duration::ZERO,
        }
    }

    fn app() -> Attribution {
        Attribution {
            layer: Layer::App,
            vendor: "app".to_owned(),
            evidence: Vec::new(),
            ambiguity: None,
        }
    }

    #[track_caller]
    fn check(
        expect: &Expectation,
        observed: &Observed,
        attribution: &Attribution,
        problems: &[&str],
    ) {
        let verdict = judge(expect, observed, attribution);
        assert_eq!(verdict.problems, problems);
    }

    #[test]
    fn statuses() {
        let deny = expect(Decision::Deny, StatusMatch::Exact(403));
        check(&deny, &response(403, &[], ""), &app(), &[]);
        check(
            &deny,
            &response(404, &[], ""),
            &app(),
            &["expected status 403 (deny), observed 404"],
        );
        let verdict = judge(&deny, &response(200, &[], ""), &app());
        assert!(verdict.escalation);
        assert_eq!(
            verdict.problems,
            [
                "expected status 403 (deny), observed 200: access was GRANTED to an identity that must be refused"
            ]
        );
        let allow = expect(Decision::Allow, StatusMatch::Class(2));
        check(&allow, &response(204, &[], ""), &app(), &[]);
        check(
            &allow,
            &response(403, &[], ""),
            &app(),
            &["expected status 2xx (allow), observed 403: an allowed identity was refused"],
        );
    }

    #[test]
    fn unauthenticated_needs_www_authenticate() {
        let unauth = expect(Decision::Unauthenticated, StatusMatch::Exact(401));
        check(
            &unauth,
            &response(401, &[("www-authenticate", "Bearer")], ""),
            &app(),
            &[],
        );
        check(
            &unauth,
            &response(401, &[], ""),
            &app(),
            &["401 without a WWW-Authenticate header (RFC 9110 requires one)"],
        );
        check(
            &unauth,
            &response(403, &[], ""),
            &app(),
            &["expected status 401 (unauthenticated), observed 403"],
        );
        let mut login = expect(Decision::Unauthenticated, StatusMatch::Class(3));
        login.redirect = Some("/login".to_owned());
        check(
            &login,
            &response(302, &[("location", "https://x.test/login?next=/a")], ""),
            &app(),
            &[],
        );
        check(
            &login,
            &response(302, &[("location", "/home")], ""),
            &app(),
            &["redirected to `/home`, expected a Location containing `/login`"],
        );
    }

    #[test]
    fn layers_and_vendors() {
        let mut deny = expect(Decision::Deny, StatusMatch::Exact(403));
        deny.layer = Some(Layer::App);
        let waf = Attribution {
            layer: Layer::Waf,
            vendor: "modsecurity".to_owned(),
            evidence: Vec::new(),
            ambiguity: None,
        };
        check(
            &deny,
            &response(403, &[], ""),
            &waf,
            &[
                "refused by the waf layer (modsecurity), expected the app layer: the app's own rule was never reached",
            ],
        );
        deny.layer = Some(Layer::Waf);
        deny.vendor = Some("cloudflare".to_owned());
        check(
            &deny,
            &response(403, &[], ""),
            &waf,
            &["answered by modsecurity, expected cloudflare"],
        );
    }

    #[test]
    fn bodies_and_headers() {
        let mut deny = expect(Decision::Deny, StatusMatch::Exact(403));
        deny.body = vec![
            BodyMatch::Json(
                serde_json::json!({ "code": "forbidden", "details": { "scope": "write" } }),
            ),
            BodyMatch::NotContains("Traceback".to_owned()),
            BodyMatch::Regex(regex::Regex::new("request_id").unwrap()),
        ];
        deny.headers = vec![
            HeaderMatch {
                name: "cache-control".to_owned(),
                rule: HeaderRule::Equals("no-store".to_owned()),
            },
            HeaderMatch {
                name: "x-debug".to_owned(),
                rule: HeaderRule::Present(false),
            },
        ];
        let body = r#"{"code":"forbidden","details":{"scope":"write","x":1},"request_id":"r1"}"#;
        check(
            &deny,
            &response(403, &[("cache-control", "no-store")], body),
            &app(),
            &[],
        );
        let leaky = r#"{"code":"forbidden","details":{"scope":"read"},"trace":"Traceback (most recent call last)"}"#;
        check(
            &deny,
            &response(403, &[("x-debug", "1")], leaky),
            &app(),
            &[
                "JSON body differs at `/details/scope`: expected \"write\"",
                "body contains `Traceback`, which it must not",
                "body does not match /request_id/",
                "header `cache-control` is missing",
                "header `x-debug` is present (`1`), expected absent",
            ],
        );
        check(
            &deny,
            &response(403, &[], "<html>"),
            &app(),
            &[
                "body is not JSON, expected a JSON body",
                "body does not match /request_id/",
                "header `cache-control` is missing",
            ],
        );
    }
}
