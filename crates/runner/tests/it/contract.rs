//! The deny-body contract end to end: a mock app whose refusals of one route leak a
//! stack trace (with a server path and an internal host), and of another a credential;
//! every other refusal satisfies the contract.

use crate::{run_all, suite};

const SUITE: &str = r#"
[targets.local]
mock = "mock.toml"

[identities.anonymous]
[identities.viewer]
bearer = "viewer-token-0001"
vars = { tenant = "acme" }
[identities.admin]
bearer = "admin-token-0002"
vars = { tenant = "acme" }

[deny_contract]
require = [{ pointer = "/code", type = "string" }]
message = { pointer = "/message", pattern = "may not|Sign in" }
recovery = { pointer = "/message", pattern = "Ask|send" }
request_id = "/request_id"
"#;

const MOCK: &str = r#"
[origin.app]
[[origin.app.token]]
bearer = "viewer-token-0001"
roles = ["viewer"]
tenant = "acme"
[[origin.app.token]]
bearer = "admin-token-0002"
roles = ["admin"]
tenant = "acme"

[[origin.app.route]]
request = "GET /v1/projects"
roles = ["admin"]

[[origin.app.route]]
request = "GET /v1/reports"
roles = ["admin"]
leak = """
Traceback (most recent call last):
  File "/srv/app/authz.py", line 41, in check
PermissionError: denied by policy-7f9c.authz.svc.cluster.local"""

[[origin.app.route]]
request = "GET /v1/exports"
roles = ["admin"]
leak = "upstream call failed with Authorization: Bearer admin-token-0002"
"#;

const ROUTES: &str = r#"
[[route]]
request = "GET /v1/projects"
allow = ["admin"]

[[route]]
request = "GET /v1/reports"
allow = ["admin"]

[[route]]
request = "GET /v1/exports"
allow = ["admin"]
"#;

#[test]
fn a_leaky_refusal_fails_with_the_excerpt_and_a_clean_one_passes() {
    let (_dir, suite) = suite(&[
        ("rolecall.toml", SUITE),
        ("mock.toml", MOCK),
        ("routes.toml", ROUTES),
    ]);
    let run = run_all(&suite);
    let failure = |name: &str| {
        let result = run
            .results
            .iter()
            .find(|r| suite.cases[r.index].name == name)
            .unwrap();
        (
            result.outcome.as_str(),
            result.message.clone().unwrap_or_default(),
            result
                .mismatches()
                .iter()
                .map(|m| (m.kind.as_str(), m.location.line))
                .collect::<Vec<_>>(),
        )
    };
    // The route without a leak: every refusal has the contract's shape.
    for name in [
        "routes::get_v1_projects::viewer",
        "routes::get_v1_projects::anonymous",
    ] {
        assert_eq!(failure(name).0, "pass", "{name}: {}", failure(name).1);
    }

    let (outcome, message, kinds) = failure("routes::get_v1_reports::viewer");
    assert_eq!(outcome, "fail");
    // Built-in detectors report at the `[deny_contract]` key, line 13 of the suite file.
    assert_eq!(
        kinds,
        [("leak", 13), ("leak", 13), ("leak", 13)],
        "{message}"
    );
    let lines: Vec<&str> = message.lines().take(6).collect();
    assert_eq!(
        lines[0],
        "refusal leaks a stack trace (stack_trace): `{\"code\":\"insufficient_role\",\"debug\":\"Traceback (most recent call last):\\n File \\\"/srv/app/authz.py\\\", line 41, in check\\nPermissi…`"
    );
    assert!(lines[1].ends_with("rolecall.toml:13:2"), "{message}");
    assert!(
        lines[2].starts_with("refusal leaks an internal host name (internal_host): `…")
            && lines[2].contains("policy-7f9c.authz.svc.cluster.local"),
        "{message}"
    );
    assert!(
        lines[4].starts_with("refusal leaks a server file system path (file_path)"),
        "{message}"
    );

    // A credential in a refusal: found before redaction, quoted as the marker.
    let (outcome, message, kinds) = failure("routes::get_v1_exports::viewer");
    assert_eq!(outcome, "fail");
    assert_eq!(kinds, [("leak", 13)], "{message}");
    assert_eq!(
        message.lines().next().unwrap(),
        "refusal leaks one of the run's secrets, in any encoding (secret): `…ent_role\",\"debug\":\"upstream call failed with Authorization: ***\",\"message\":\"Your account may not use GET /v1/exports. Ask a…`"
    );
    assert!(!message.contains("admin-token-0002"));
}
