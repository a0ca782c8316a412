//! Judging: expected outcome + observed response → verdict. Pure and synchronous.

use std::fmt;

use rolecall_scenario::{BodyMatch, Decision, Expectation, HeaderRule, Layer, Location, Variant};

use crate::classify::Attribution;
use crate::observed::Observed;

mod location;

/// The result of comparing one response with its expectation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Every way the response differs from the expectation; empty when it passes.
    pub mismatches: Vec<Mismatch>,
    /// Set when an identity that must be refused was let in: the worst kind of failure.
    pub escalation: bool,
}

impl Verdict {
    /// Whether the response met every expectation.
    pub fn passed(&self) -> bool {
        self.mismatches.is_empty()
    }
}

/// What kind of expectation a [`Mismatch`] breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MismatchKind {
    /// The status (and, for a 401, its `WWW-Authenticate` challenge).
    Status,
    /// The layer that answered.
    Layer,
    /// The vendor that answered.
    Vendor,
    /// A body matcher.
    Body,
    /// A header matcher.
    Header,
    /// The `Location` of a redirect.
    Redirect,
    /// A deny-body snapshot.
    Snapshot,
    /// A shape rule of the deny-body contract (a required member, the boundary message,
    /// the way to recover, the request id).
    Contract,
    /// Something no refusal may carry: a forbidden pattern or a built-in leak detector.
    Leak,
    /// A bypass variant of a refused request was granted.
    Bypass,
}

impl MismatchKind {
    /// Every kind, in the order failures list them.
    pub const ALL: [MismatchKind; 10] = [
        MismatchKind::Status,
        MismatchKind::Layer,
        MismatchKind::Vendor,
        MismatchKind::Body,
        MismatchKind::Header,
        MismatchKind::Redirect,
        MismatchKind::Snapshot,
        MismatchKind::Contract,
        MismatchKind::Leak,
        MismatchKind::Bypass,
    ];

    /// `status`, `layer`, `vendor`, `body`, `header`, `redirect`, `snapshot`, `contract`
    /// or `leak`.
    pub fn as_str(self) -> &'static str {
        match self {
            MismatchKind::Status => "status",
            MismatchKind::Layer => "layer",
            MismatchKind::Vendor => "vendor",
            MismatchKind::Body => "body",
            MismatchKind::Header => "header",
            MismatchKind::Redirect => "redirect",
            MismatchKind::Snapshot => "snapshot",
            MismatchKind::Contract => "contract",
            MismatchKind::Leak => "leak",
            MismatchKind::Bypass => "bypass",
        }
    }
}

/// One way a response differs from its expectation, located at the key that set the
/// expectation (a `[[route.case]]`'s, a `[[route]]`'s or `[defaults]`'s).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// What kind of expectation it breaks.
    pub kind: MismatchKind,
    /// What was expected, as the suite states it (`403`, `waf`, `header x-debug absent`).
    pub expected: String,
    /// What came back (`200`, `app`, `header x-debug: 1`).
    pub observed: String,
    /// Where the expectation was set.
    pub location: Location,
    /// The difference in one sentence, as a failure shows it.
    pub message: String,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Collects the mismatches of one judgment.
struct Found(Vec<Mismatch>);

impl Found {
    fn push(
        &mut self,
        kind: MismatchKind,
        expected: impl Into<String>,
        observed: impl Into<String>,
        location: &Location,
        message: String,
    ) {
        self.0.push(Mismatch {
            kind,
            expected: expected.into(),
            observed: observed.into(),
            location: location.clone(),
            message,
        });
    }
}

/// Judges a bypass variant of `refused` (the path the case expects refused on): granted is
/// a possible bypass; any other answer passes, a refusal with another status included
/// (see [`refused_differently`]). Granted is a 2xx that is not a WAF's block page (a
/// refusal in disguise), or a redirect from the app whose `Location` leads anywhere but
/// back to `refused` (an app that canonicalises a trailing slash, a `.json` suffix or
/// `//`, or moves http to https, sends the variant back to be refused). Login-redirect
/// refusals get no variants (only 401, 403 and 404 are re-tried), so no redirect is
/// expected here.
pub(crate) fn judge_variant(
    expect: &Expectation,
    variant: &Variant,
    refused: &str,
    observed: &Observed,
    attribution: &Attribution,
) -> Verdict {
    let status = observed.status;
    let granted = match status {
        200..=299 => attribution.layer != Layer::Waf,
        300..=399 => {
            attribution.layer == Layer::App
                && !observed
                    .header("location")
                    .is_some_and(|to| location::back_to(to, refused))
        }
        _ => false,
    };
    if !granted {
        return Verdict {
            mismatches: Vec::new(),
            escalation: false,
        };
    }
    let message = format!(
        "POSSIBLE BYPASS: variant `{}` ({}) was granted {status} where {} ({}) was expected",
        variant.name,
        variant.family,
        expect.status,
        expect.decision.as_str()
    );
    Verdict {
        mismatches: vec![Mismatch {
            kind: MismatchKind::Bypass,
            expected: format!("refused ({})", expect.status),
            observed: status.to_string(),
            location: (*expect.set_at.status).clone(),
            message,
        }],
        escalation: true,
    }
}

/// For a variant that passed: the status it was refused with, when that differs from
/// the refused request's expected status (a 404 where 403 was expected), for review.
pub(crate) fn refused_differently(expect: &Expectation, status: u16) -> Option<u16> {
    (!expect.status.matches(status)).then_some(status)
}

/// Compares `observed` (classified as `attribution`) with `expect`.
pub fn judge(expect: &Expectation, observed: &Observed, attribution: &Attribution) -> Verdict {
    let mut found = Found(Vec::new());
    let at = &expect.set_at;
    let status_ok = expect.status.matches(observed.status);
    // A WAF block page served with a 2xx (F5 ASM's default) is a refusal in disguise: never
    // access granted, never an escalation. Only a rule marked `disguise` attributes a 2xx to
    // the waf layer: a script a WAF injects into the pages it passes does not.
    let disguised = (200..300).contains(&observed.status) && attribution.layer == Layer::Waf;
    let escalation = !status_ok
        && !disguised
        && expect.decision != Decision::Allow
        && (200..300).contains(&observed.status);
    if status_ok && disguised && expect.decision == Decision::Allow {
        found.push(
            MismatchKind::Status,
            expect.status.to_string(),
            format!("{} ({} block page)", observed.status, attribution.vendor),
            &at.status,
            format!(
                "observed {}, but the body is the {} block page: a refusal in disguise, an allowed identity was refused by the waf layer",
                observed.status, attribution.vendor
            ),
        );
    }
    if !status_ok {
        found.push(
            MismatchKind::Status,
            expect.status.to_string(),
            observed.status.to_string(),
            &at.status,
            format!(
                "expected status {} ({}), observed {}{}",
                expect.status,
                expect.decision.as_str(),
                observed.status,
                if disguised {
                    ": a refusal in disguise (the waf layer's block page served with a 2xx), not access granted"
                } else if escalation {
                    ": access was GRANTED to an identity that must be refused"
                } else if expect.decision == Decision::Allow && matches!(observed.status, 401 | 403)
                {
                    ": an allowed identity was refused"
                } else {
                    ""
                }
            ),
        );
    }
    if status_ok
        && expect.www_authenticate
        && observed.status == 401
        && observed.header("www-authenticate").is_none()
    {
        found.push(
            MismatchKind::Status,
            "401 with WWW-Authenticate",
            "401 without WWW-Authenticate",
            &at.status,
            "401 without a WWW-Authenticate header (RFC 9110 requires one)".to_owned(),
        );
    }
    if let Some(want) = &expect.redirect {
        let expected = format!("Location containing {want}");
        match observed.header("location") {
            Some(location) if location.contains(want.as_str()) => {}
            Some(location) => found.push(
                MismatchKind::Redirect,
                expected,
                location,
                &at.redirect,
                format!("redirected to `{location}`, expected a Location containing `{want}`"),
            ),
            None => found.push(
                MismatchKind::Redirect,
                expected,
                "no Location header",
                &at.redirect,
                format!("no Location header, expected a redirect to `{want}`"),
            ),
        }
    }
    if let Some(layer) = expect.layer
        && attribution.layer != layer
    {
        found.push(
            MismatchKind::Layer,
            layer.as_str(),
            attribution.layer.as_str(),
            &at.layer,
            format!(
                "refused by the {} layer ({}), expected the {layer} layer{}",
                attribution.layer,
                attribution.vendor,
                if layer == Layer::App {
                    ": the app's own rule was never reached"
                } else {
                    ""
                }
            ),
        );
    }
    if let Some(vendor) = &expect.vendor
        && !attribution.vendor.eq_ignore_ascii_case(vendor)
    {
        // A wrong layer already names the vendor that answered.
        let named = found.0.iter().any(|m| m.kind == MismatchKind::Layer);
        found.push(
            MismatchKind::Vendor,
            vendor.as_str(),
            attribution.vendor.as_str(),
            &at.vendor,
            if named {
                format!("expected vendor {vendor}")
            } else {
                format!("answered by {}, expected {vendor}", attribution.vendor)
            },
        );
    }
    for (i, matcher) in expect.body.iter().enumerate() {
        if let Some((expected, seen, message)) = check_body(matcher, observed) {
            let location = at.body.get(i).unwrap_or(&at.status);
            found.push(MismatchKind::Body, expected, seen, location, message);
        }
    }
    for (i, matcher) in expect.headers.iter().enumerate() {
        let name = &matcher.name;
        let value = observed.header(name);
        let (expected, problem) = match &matcher.rule {
            HeaderRule::Present(true) => ("present".to_owned(), value.is_none()),
            HeaderRule::Present(false) => ("absent".to_owned(), value.is_some()),
            HeaderRule::Equals(want) => (format!("`{want}`"), value != Some(want.as_str())),
            HeaderRule::Contains(want) => (
                format!("containing `{want}`"),
                !value.is_some_and(|v| v.contains(want.as_str())),
            ),
            HeaderRule::Regex(re) => (
                format!("matching /{re}/"),
                !value.is_some_and(|v| re.is_match(v)),
            ),
        };
        if !problem {
            continue;
        }
        let message = match (&matcher.rule, value) {
            (_, None) => "is missing".to_owned(),
            (HeaderRule::Present(_), Some(v)) => format!("is present (`{v}`), expected absent"),
            (HeaderRule::Equals(want), Some(v)) => format!("is `{v}`, expected `{want}`"),
            (HeaderRule::Contains(want), Some(v)) => {
                format!("is `{v}`, expected it to contain `{want}`")
            }
            (HeaderRule::Regex(re), Some(v)) => format!("is `{v}`, expected it to match /{re}/"),
        };
        let location = at.headers.get(i).unwrap_or(&at.status);
        found.push(
            MismatchKind::Header,
            format!("{name} {expected}"),
            match value {
                Some(v) => format!("{name}: {v}"),
                None => format!("{name} absent"),
            },
            location,
            format!("header `{name}` {message}"),
        );
    }
    Verdict {
        mismatches: found.0,
        escalation,
    }
}

/// `(expected, observed, message)` when `matcher` does not hold.
fn check_body(matcher: &BodyMatch, observed: &Observed) -> Option<(String, String, String)> {
    let body = &observed.body;
    match matcher {
        BodyMatch::Contains(text) => (!body.contains(text.as_str())).then(|| {
            (
                format!("contains `{text}`"),
                "does not".to_owned(),
                format!("body does not contain `{text}`"),
            )
        }),
        BodyMatch::NotContains(text) => body.contains(text.as_str()).then(|| {
            (
                format!("does not contain `{text}`"),
                "does".to_owned(),
                format!("body contains `{text}`, which it must not"),
            )
        }),
        BodyMatch::Regex(re) => (!re.is_match(body)).then(|| {
            (
                format!("matches /{re}/"),
                "does not".to_owned(),
                format!("body does not match /{re}/"),
            )
        }),
        BodyMatch::Json(want) => match observed.json() {
            None => Some((
                "JSON".to_owned(),
                "not JSON".to_owned(),
                "body is not JSON, expected a JSON body".to_owned(),
            )),
            Some(got) => json_subset(want, &got, "").map(|at| {
                let pointer = if at == "/" { "" } else { at.as_str() };
                let seen = got
                    .pointer(pointer)
                    .map_or_else(|| "nothing".to_owned(), |v| v.to_string());
                let expected = at_value(want, &at);
                (
                    format!("{at} = {expected}"),
                    format!("{at} = {seen}"),
                    format!("JSON body differs at `{at}`: expected {expected}"),
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
    use std::path::PathBuf;

    use rolecall_scenario::{HeaderMatch, SetAt, StatusMatch};

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
            set_at: SetAt::all_at(Location {
                path: PathBuf::from("routes.toml"),
                line: 1,
                column: 1,
            }),
            bypass: rolecall_scenario::Bypass::NONE,
        }
    }

    fn response(status: u16, headers: &[(&str, &str)], body: &str) -> Observed {
        Observed::sample(status, headers, body)
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
        let messages: Vec<&str> = verdict
            .mismatches
            .iter()
            .map(|m| m.message.as_str())
            .collect();
        assert_eq!(messages, problems);
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
            verdict.mismatches[0].message,
            "expected status 403 (deny), observed 200: access was GRANTED to an identity that must be refused"
        );
        assert_eq!(
            (
                verdict.mismatches[0].expected.as_str(),
                verdict.mismatches[0].observed.as_str()
            ),
            ("403", "200")
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
    fn a_waf_block_page_served_with_200_is_a_refusal_in_disguise() {
        let f5 = Attribution {
            layer: Layer::Waf,
            vendor: "f5-asm".to_owned(),
            evidence: Vec::new(),
            ambiguity: None,
        };
        let page = response(200, &[], "The requested URL was rejected.");
        let deny = expect(Decision::Deny, StatusMatch::Exact(403));
        let verdict = judge(&deny, &page, &f5);
        assert!(!verdict.escalation);
        assert!(
            verdict.mismatches[0]
                .message
                .contains("a refusal in disguise"),
            "{:?}",
            verdict.mismatches
        );
        let allow = expect(Decision::Allow, StatusMatch::Class(2));
        let verdict = judge(&allow, &page, &f5);
        assert!(!verdict.passed() && !verdict.escalation);
        assert!(
            verdict.mismatches[0].message.contains("f5-asm block page"),
            "{:?}",
            verdict.mismatches
        );
        // The same 200 from the app is access granted.
        assert!(judge(&deny, &page, &app()).escalation);
        assert!(judge(&allow, &page, &app()).passed());
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

    #[test]
    fn a_granted_variant_is_a_bypass_and_a_different_refusal_is_not() {
        use rolecall_scenario::{BypassFamily, Variant, VariantKind};
        let variant = Variant {
            name: "path-trailing-slash".to_owned(),
            family: BypassFamily::Path,
            kind: VariantKind::Path(rolecall_scenario::PathSpelling::TrailingSlash),
        };
        let deny = expect(Decision::Deny, StatusMatch::Exact(403));
        let server = Attribution {
            layer: Layer::Server,
            vendor: "nginx".to_owned(),
            evidence: Vec::new(),
            ambiguity: None,
        };
        let kinds = |status: u16, headers: &[(&str, &str)], attribution: &Attribution| {
            let verdict = judge_variant(
                &deny,
                &variant,
                "/admin",
                &response(status, headers, ""),
                attribution,
            );
            (
                verdict.escalation,
                verdict
                    .mismatches
                    .iter()
                    .map(|m| m.kind)
                    .collect::<Vec<_>>(),
            )
        };
        assert_eq!(kinds(200, &[], &app()), (true, vec![MismatchKind::Bypass]));
        assert_eq!(
            kinds(302, &[("location", "/admin/x")], &app()),
            (true, vec![MismatchKind::Bypass])
        );
        // nginx adding a slash to a directory is not the app letting the request in.
        assert_eq!(
            kinds(301, &[("location", "/admin/")], &server),
            (false, vec![])
        );
        // Nor is the app sending the variant back to the refused path: a slash appended or
        // removed, a `.json` suffix or `//` canonicalised, http moved to https.
        for location in [
            "/admin/",
            "/admin",
            "/Admin.json",
            "/admin//",
            "https://x.test/admin",
        ] {
            assert_eq!(
                kinds(301, &[("location", location)], &app()),
                (false, vec![]),
                "{location}"
            );
        }
        // A redirect without a Location is a redirect somewhere unknown: granted.
        assert_eq!(kinds(302, &[], &app()), (true, vec![MismatchKind::Bypass]));
        // A 2xx block page is a refusal in disguise, not a bypass.
        let f5 = Attribution {
            layer: Layer::Waf,
            vendor: "f5-asm".to_owned(),
            evidence: Vec::new(),
            ambiguity: None,
        };
        assert_eq!(kinds(200, &[], &f5), (false, vec![]));
        assert_eq!(kinds(404, &[], &app()), (false, vec![]));
        assert_eq!(kinds(403, &[], &app()), (false, vec![]));
        assert_eq!(refused_differently(&deny, 404), Some(404));
        assert_eq!(refused_differently(&deny, 403), None);
        let message = &judge_variant(&deny, &variant, "/admin", &response(200, &[], ""), &app())
            .mismatches[0]
            .message;
        assert_eq!(
            message,
            "POSSIBLE BYPASS: variant `path-trailing-slash` (path) was granted 200 where 403 (deny) was expected"
        );
    }
}
