//! Every expectation kind, judged on real responses.

use crate::server::TestServer;
use rolecall_runner::{Keep, Outcome, RunConfig};

use crate::{outcomes, run_all, suite};

fn suite_file(url: &str) -> String {
    format!(
        "[targets.t]\nbase_url = \"{url}\"\nallow_mutations = true\n[identities.anonymous]\n[identities.user]\nbearer = \"user-token-1111\"\n[identities.admin]\nbearer = \"admin-token-2222\"\n"
    )
}

#[test]
fn statuses_classes_bodies_headers_and_redirects() {
    let server = TestServer::start();
    let routes = r#"
[[route]]
name = "forbidden"
request = "GET /status/403"
[[route.case]]
identity = "anonymous"
status = 403
body = { json = { code = "status_403" }, contains = "answered", not_contains = "Traceback", regex = "req-\\d+" }
headers = { "x-request-id" = { equals = "req-0001" }, "content-type" = { regex = "json$" }, "x-debug" = { present = false } }

[[route]]
name = "class"
request = "GET /status/204"
allow = ["user", "admin"]
[[route.case]]
identity = "anonymous"
status = "2xx"

[[route]]
name = "concealed"
request = "DELETE /status/404"
deny = 404
unauthenticated = 404

[[route]]
name = "limited"
request = "GET /status/429"
public = true
status = 429

[[route]]
name = "challenge"
request = "GET /status/401"
allow = ["admin"]
status = 401
deny = 401

[[route]]
name = "not_followed"
request = "GET /redirect?to=/status/200"
public = true
status = 302
[[route.case]]
identity = "admin"
status = 200
follow_redirects = true

[[route]]
name = "login_redirect"
request = "GET /redirect?to=/login?next=/a"
allow = ["user", "admin"]
status = 302
[[route.case]]
identity = "anonymous"
status = 302
redirect = "/login"
"#;
    let (_dir, suite) = suite(&[
        ("rolecall.toml", &suite_file(&server.url())),
        ("routes.toml", routes),
    ]);
    let run = run_all(&suite);
    let failed: Vec<_> = run
        .results
        .iter()
        .filter(|r| r.outcome != rolecall_runner::Outcome::Pass)
        .map(|r| (suite.cases[r.index].name.clone(), r.message.clone()))
        .collect();
    assert!(failed.is_empty(), "{failed:#?}");
    let followed = run
        .results
        .iter()
        .find(|r| suite.cases[r.index].name == "routes::not_followed::admin")
        .unwrap();
    assert_eq!(followed.observed.as_ref().unwrap().redirects.len(), 1);
}

#[test]
fn failures_explain_themselves() {
    let server = TestServer::start();
    let routes = r#"
[[route]]
name = "leaky"
request = "GET /status/200"
allow = ["admin"]

[[route]]
name = "bare_401"
request = "GET /status/401-bare"
allow = ["admin"]
status = 401

[[route]]
name = "wrong_layer"
request = "GET /status/403"
[[route.case]]
identity = "user"
layer = "waf"
"#;
    let (_dir, suite) = suite(&[
        ("rolecall.toml", &suite_file(&server.url())),
        ("routes.toml", routes),
    ]);
    let run = run_all(&suite);
    let message = |name: &str| {
        run.results
            .iter()
            .find(|r| suite.cases[r.index].name == name)
            .and_then(|r| r.message.clone())
            .unwrap_or_default()
    };
    assert_eq!(
        outcomes(&suite, &run),
        [
            "routes::leaky::anonymous fail",
            "routes::leaky::user fail",
            "routes::leaky::admin pass",
            "routes::bare_401::anonymous fail",
            "routes::bare_401::user fail",
            "routes::bare_401::admin pass",
            "routes::wrong_layer::anonymous fail",
            "routes::wrong_layer::user fail",
            "routes::wrong_layer::admin pass",
        ]
    );
    let escalation = message("routes::leaky::user");
    for needle in [
        "POSSIBLE PRIVILEGE ESCALATION",
        "expected status 403 (deny), observed 200: access was GRANTED",
        "identity:   user (not listed in `allow`, so it must be refused)",
        "request:    GET http://127.0.0.1:",
        "authorization: Bearer ***",
        "scenario:   ",
        "routes.toml:4:11",
    ] {
        assert!(
            escalation.contains(needle),
            "missing `{needle}` in:\n{escalation}"
        );
    }
    assert!(!escalation.contains("user-token-1111"), "{escalation}");
    assert!(
        message("routes::bare_401::anonymous").contains("401 without a WWW-Authenticate header")
    );
    let wrong_layer = message("routes::wrong_layer::user");
    assert!(
        wrong_layer.contains("refused by the app layer (app), expected the waf layer"),
        "{wrong_layer}"
    );
    assert!(
        wrong_layer.contains("request id: req-0001 (x-request-id)"),
        "{wrong_layer}"
    );
}

#[test]
fn suites_extend_the_fingerprints() {
    let server = TestServer::start();
    let fingerprints = r#"
[[rule]]
id = "acme.gateway-refusal"
vendor = "acme-gateway"
layer = "server"
weight = 95
evidence = "body is the Acme gateway's refusal"
status = [403]
body_contains = "\"code\":\"status_403\""
"#;
    let suite_file = format!(
        "[defaults]\nfingerprints = \"fingerprints.toml\"\n{}",
        suite_file(&server.url())
    );
    let routes = "[[route]]\nrequest = \"GET /status/403\"\n[[route.case]]\nidentity = \"user\"\nlayer = \"server\"\nvendor = \"acme-gateway\"\n";
    let (_dir, suite) = suite(&[
        ("rolecall.toml", &suite_file),
        ("routes.toml", routes),
        ("fingerprints.toml", fingerprints),
    ]);
    // The fingerprint file is data for the runner, not a route file.
    assert_eq!(suite.routes.len(), 1);
    let run = run_all(&suite);
    let user = run
        .results
        .iter()
        .find(|r| suite.cases[r.index].name == "routes::get_status_403::user")
        .unwrap();
    assert_eq!(
        user.outcome,
        rolecall_runner::Outcome::Pass,
        "{:?}",
        user.message
    );
    assert_eq!(user.attribution.as_ref().unwrap().vendor, "acme-gateway");
}

#[test]
fn without_a_report_passing_cases_keep_what_their_line_shows() {
    let server = TestServer::start();
    let routes = r#"
[[route]]
name = "admin_only"
request = "GET /status/403"
allow = ["admin"]
"#;
    let (_dir, suite) = suite(&[
        ("rolecall.toml", &suite_file(&server.url())),
        ("routes.toml", routes),
    ]);
    let all: Vec<usize> = (0..suite.cases.len()).collect();
    let run = |keep| {
        rolecall_runner::run(
            suite.clone(),
            &RunConfig::default(),
            &all,
            keep,
            |_, _, _| {},
        )
        .unwrap()
    };
    let (lines, reports) = (run(Keep::Lines), run(Keep::Reports));
    for (lines, reports) in lines.results.iter().zip(&reports.results) {
        let name = &suite.cases[lines.index].name;
        assert_eq!(lines.outcome, reports.outcome, "{name}");
        let (Some(observed), Some(attribution)) = (&lines.observed, &lines.attribution) else {
            panic!("{name}: the status, layer and vendor are kept");
        };
        let full = reports.attribution.as_ref().unwrap();
        assert_eq!(observed.status, reports.observed.as_ref().unwrap().status);
        assert_eq!(
            (attribution.layer, &attribution.vendor),
            (full.layer, &full.vendor)
        );
        assert!(
            !full.evidence.is_empty(),
            "{name}: reports keep the evidence"
        );
        if lines.outcome == Outcome::Pass {
            assert!(attribution.evidence.is_empty(), "{name}");
            assert_eq!(
                (&lines.request_id, &lines.verdict),
                (&None, &None),
                "{name}"
            );
        } else {
            // A refused admin, and an anonymous caller refused with 403 rather than 401:
            // failures keep everything.
            assert_eq!(attribution.evidence, full.evidence, "{name}");
            assert!(
                lines.request_id.is_some() && lines.message.is_some(),
                "{name}"
            );
        }
    }
    assert_eq!(
        outcomes(&suite, &run(Keep::Lines)),
        [
            "routes::admin_only::anonymous fail",
            "routes::admin_only::user pass",
            "routes::admin_only::admin fail",
        ]
    );
}

/// `kind expected→observed @ file:line:col` for each mismatch of `name`, the file shown
/// by its name only (the suite sits in a temporary directory).
fn mismatches(
    suite: &rolecall_scenario::Suite,
    run: &rolecall_runner::RunOutput,
    name: &str,
) -> Vec<String> {
    let result = run
        .results
        .iter()
        .find(|r| suite.cases[r.index].name == name)
        .unwrap_or_else(|| panic!("no case {name}"));
    result
        .mismatches()
        .iter()
        .map(|m| {
            let file = m.location.path.file_name().unwrap().to_string_lossy();
            format!(
                "{} {}→{} @ {file}:{}:{}",
                m.kind.as_str(),
                m.expected,
                m.observed,
                m.location.line,
                m.location.column
            )
        })
        .collect()
}

const LOCATED: &str = r#"[[route]]
name = "by_defaults"
request = "GET /status/403"
allow = ["admin"]

[[route]]
name = "by_route"
request = "GET /status/403"
allow = ["admin"]
deny = 401

[[route]]
name = "by_case"
request = "GET /status/403"
layer = "app"
[[route.case]]
identity = "user"
status = 404
layer = "waf"
vendor = "cloudflare"
body = { contains = "nope", json = { code = "status_403" } }
headers = { "x-debug" = { present = true }, "content-type" = { regex = "json$" } }
[[route.case]]
identity = "admin"
vendor = "cloudflare"
"#;

#[test]
fn mismatches_point_at_the_key_that_set_the_expectation() {
    let server = TestServer::start();
    let suite_file = format!("[defaults]\ndeny = 404\n{}", suite_file(&server.url()));
    let (_dir, suite) = suite(&[("rolecall.toml", &suite_file), ("routes.toml", LOCATED)]);
    let run = run_all(&suite);
    let check = |name: &str, expected: &[&str]| {
        assert_eq!(mismatches(&suite, &run, name), expected, "{name}");
    };
    // The status of a refusal: the case's `status`, else the route's `deny`, else the
    // route's `allow` that leaves the identity out (even where [defaults] chose the
    // number: the route is where a reviewer decides who may use it), else its request line.
    check(
        "routes::by_defaults::user",
        &["status 404→403 @ routes.toml:4:1"],
    );
    check(
        "routes::by_route::user",
        &["status 401→403 @ routes.toml:10:1"],
    );
    // An allowed identity: the `allow` entry that lists it.
    check(
        "routes::by_defaults::admin",
        &["status 2xx→403 @ routes.toml:4:10"],
    );
    // No credentials: the route's `unauthenticated`, else its `allow`, else that of
    // [defaults], else the route's request line.
    check(
        "routes::by_defaults::anonymous",
        &["status 401→403 @ routes.toml:4:1"],
    );
    check(
        "routes::by_case::user",
        &[
            "status 404→403 @ routes.toml:18:1",
            "layer waf→app @ routes.toml:19:1",
            "vendor cloudflare→app @ routes.toml:20:1",
            "body contains `nope`→does not @ routes.toml:21:10",
            "header x-debug present→x-debug absent @ routes.toml:22:13",
        ],
    );
    // A case that sets only the vendor: its status stays the one [defaults] sets, and a
    // route without `allow` decided the refusal on its request line.
    check(
        "routes::by_case::admin",
        &[
            "status 404→403 @ routes.toml:14:11",
            "vendor cloudflare→app @ routes.toml:25:1",
        ],
    );
    // No case: the route's own `layer = "app"` holds, and is met.
    check(
        "routes::by_case::anonymous",
        &["status 401→403 @ routes.toml:14:11"],
    );

    // The failure text points at the same key, and states each piece of evidence once.
    let message = run
        .results
        .iter()
        .find(|r| suite.cases[r.index].name == "routes::by_case::user")
        .and_then(|r| r.message.clone())
        .unwrap();
    assert!(message.contains("routes.toml:19:1"), "{message}");
    assert!(message.contains("  response:   in "), "{message}");
    for evidence in [
        "observed 403",
        "(app)",
        "content-type: application/json",
        "req-0001 (x-request-id)",
    ] {
        assert_eq!(
            message.matches(evidence).count(),
            1,
            "`{evidence}` in:\n{message}"
        );
    }
}

#[test]
fn the_json_report_lists_each_mismatch_where_it_was_set() {
    let server = TestServer::start();
    let (_dir, suite) = suite(&[
        ("rolecall.toml", &suite_file(&server.url())),
        ("routes.toml", LOCATED),
    ]);
    let run = run_all(&suite);
    let report: serde_json::Value =
        serde_json::from_str(&rolecall_runner::json_report(&suite, &run)).unwrap();
    let cases = report["cases"].as_array().unwrap();
    let case = |name: &str| {
        cases
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("no {name}"))
    };
    let layer = &case("routes::by_case::user")["mismatches"][1];
    assert_eq!(layer["kind"], "layer");
    assert_eq!(
        (&layer["expected"], &layer["observed"]),
        (&"waf".into(), &"app".into())
    );
    assert_eq!((&layer["line"], &layer["column"]), (&19.into(), &1.into()));
    assert!(
        layer["file"].as_str().unwrap().ends_with("routes.toml"),
        "{layer}"
    );
    assert!(
        layer["location"]
            .as_str()
            .unwrap()
            .ends_with("routes.toml:19:1"),
        "{layer}"
    );
    assert!(
        layer["message"]
            .as_str()
            .unwrap()
            .starts_with("refused by the app layer")
    );
    // Passing cases have none; existing fields are still there.
    let pass = case("routes::by_defaults::user");
    assert_eq!(pass["outcome"], "pass");
    assert_eq!(pass["mismatches"], serde_json::json!([]));
    assert_eq!(case("routes::by_route::user")["expected"]["status"], "401");
}
