//! Writes need the target's own permission: no run configuration widens it, and a method
//! override naming a write is a write. A recording server shows what really arrived.

use rolecall_runner::{Keep, Outcome, RunConfig, RunOutput};
use rolecall_scenario::Suite;

use crate::server::{Seen, TestServer};
use crate::suite;

const OVERRIDE_HEADERS: [&str; 3] = [
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
];

fn run(suite: &std::sync::Arc<Suite>, config: &RunConfig) -> RunOutput {
    let all: Vec<usize> = (0..suite.cases.len()).collect();
    rolecall_runner::run(suite.clone(), config, &all, Keep::Reports, |_, _, _| {}).unwrap()
}

/// Whether a request that reached the server could write: an unsafe method, or a method
/// override (header, `_method` in the query or body) naming anything but a safe method.
fn writes(seen: &Seen) -> bool {
    let safe = |value: &str| {
        ["GET", "HEAD", "OPTIONS", "TRACE"]
            .iter()
            .any(|m| m.eq_ignore_ascii_case(value.trim()))
    };
    let header = seen
        .headers
        .iter()
        .any(|(n, v)| OVERRIDE_HEADERS.contains(&n.as_str()) && !safe(v));
    let field = |text: &str| {
        text.split('&').any(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            name.eq_ignore_ascii_case("_method") && !safe(&value.replace('+', " "))
        })
    };
    let query = seen.uri.split_once('?').is_some_and(|(_, q)| field(q));
    !safe(&seen.method) || header || query || field(&seen.body) || seen.body.contains("_method")
}

#[test]
fn a_target_that_forbids_writes_is_never_written_to_whatever_the_run_says() {
    let server = TestServer::start();
    let (_dir, suite) = suite(&[
        (
            "rolecall.toml",
            &format!(
                "[targets.t]\nbase_url = \"{}\"\nallow_mutations = false\n[identities.admin]\nbearer = \"admin-token-2222\"\n",
                server.url()
            ),
        ),
        (
            "routes.toml",
            "[[route]]\nrequest = \"DELETE /w\"\nallow = [\"admin\"]\n[[route]]\nrequest = \"POST /w\"\nallow = [\"admin\"]\n[[route]]\nrequest = \"GET /r\"\nallow = [\"admin\"]\n",
        ),
    ]);
    // What `ROLECALL_ALLOW_MUTATIONS=1` gives a run without a base URL of its own.
    for allow_mutations in [Some(true), Some(false), None] {
        let config = RunConfig {
            allow_mutations,
            ..RunConfig::default()
        };
        let output = run(&suite, &config);
        let skipped: Vec<&str> = output
            .results
            .iter()
            .filter(|r| r.outcome == Outcome::Skipped)
            .filter_map(|r| r.message.as_deref())
            .collect();
        assert_eq!(skipped.len(), 2, "{allow_mutations:?}: {skipped:?}");
        assert!(
            skipped
                .iter()
                .all(|m| m.contains("target `t` does not allow mutations")),
            "{skipped:?}"
        );
    }
    let seen = server.seen();
    assert!(seen.iter().all(|s| !writes(s)), "a write arrived: {seen:?}");
    assert_eq!(seen.len(), 3, "the GET is sent every time");
}

#[test]
fn the_environment_can_forbid_writes_a_target_allows_but_only_a_typed_url_opts_in() {
    let server = TestServer::start();
    let (_dir, suite) = suite(&[
        (
            "rolecall.toml",
            &format!(
                "[targets.t]\nbase_url = \"{}\"\nallow_mutations = true\n[identities.admin]\nbearer = \"admin-token-2222\"\n",
                server.url()
            ),
        ),
        (
            "routes.toml",
            "[[route]]\nrequest = \"PUT /w\"\nallow = [\"admin\"]\n",
        ),
    ]);
    // `ROLECALL_ALLOW_MUTATIONS=0` turns writes off even where the target allows them.
    let off = RunConfig {
        allow_mutations: Some(false),
        ..RunConfig::default()
    };
    let output = run(&suite, &off);
    assert_eq!(output.results[0].outcome, Outcome::Skipped);
    assert!(
        output.results[0]
            .message
            .as_deref()
            .unwrap()
            .contains("writes are turned off for this run")
    );
    assert!(server.seen().is_empty(), "{:?}", server.seen());
    // The same URL typed for the run needs its own permission.
    let typed = RunConfig {
        base_url: Some(server.url()),
        ..RunConfig::default()
    };
    let output = run(&suite, &typed);
    assert!(
        output.results[0]
            .message
            .as_deref()
            .unwrap()
            .contains("the base URL given for this run does not allow mutations"),
        "{:?}",
        output.results[0].message
    );
    assert!(server.seen().is_empty(), "{:?}", server.seen());
    let opted_in = RunConfig {
        allow_mutations: Some(true),
        ..typed
    };
    run(&suite, &opted_in);
    assert_eq!(server.seen().len(), 1);
}

const OVERRIDES: &str = r#"
[[route]]
name = "header"
request = "GET /header"
headers = { X-HTTP-Method-Override = "DELETE" }
public = true

[[route]]
name = "lowercase_header"
request = "GET /lowercase-header"
headers = { x-http-method = "delete" }
public = true

[[route]]
name = "padded_header"
request = "GET /padded-header"
headers = { X-Method-Override = " PATCH" }
public = true

[[route]]
name = "query_in_line"
request = "GET /query-in-line?_method=DELETE"
public = true

[[route]]
name = "encoded_query"
request = "GET /encoded-query?%5FMETHOD=put"
public = true

[[route]]
name = "query_table"
request = "GET /query-table"
query = { _Method = "patch" }
public = true

[[route]]
name = "form_body"
request = "GET /form-body"
body.form = { _method = "delete" }
public = true

[[route]]
name = "json_body"
request = "GET /json-body"
body.json = { _method = "DELETE" }
public = true

[[route]]
name = "per_identity"
request = "GET /per-identity?_method={verb}"
public = true

[[route]]
name = "safe_override"
request = "GET /safe-override?_method=get"
headers = { X-HTTP-Method-Override = "HEAD" }
public = true
"#;

#[test]
fn a_method_override_naming_a_write_never_reaches_a_read_only_target() {
    let server = TestServer::start();
    let (_dir, suite) = suite(&[
        (
            "rolecall.toml",
            &format!(
                "[targets.t]\nbase_url = \"{}\"\n[identities.reader]\nbearer = \"reader-token-1\"\nvars = {{ verb = \"GET\" }}\n[identities.writer]\nbearer = \"writer-token-2\"\nvars = {{ verb = \"DELETE\" }}\n",
                server.url()
            ),
        ),
        ("routes.toml", OVERRIDES),
    ]);
    let output = run(&suite, &RunConfig::default());
    let seen = server.seen();
    assert!(
        seen.iter().all(|s| !writes(s)),
        "an override naming a write arrived: {:?}",
        seen.iter().filter(|s| writes(s)).collect::<Vec<_>>()
    );
    let mut sent: Vec<&str> = seen.iter().map(|s| s.uri.as_str()).collect();
    sent.sort_unstable();
    assert_eq!(
        sent,
        [
            "/per-identity?_method=GET",
            "/safe-override?_method=get",
            "/safe-override?_method=get"
        ]
    );
    let reason = |name: &str| {
        let result = output
            .results
            .iter()
            .find(|r| suite.cases[r.index].name == name)
            .unwrap();
        assert_eq!(result.outcome, Outcome::Skipped, "{name}");
        result.message.clone().unwrap()
    };
    assert_eq!(
        reason("routes::header::reader"),
        "not sent: GET with method override `X-HTTP-Method-Override: DELETE` counts as a write, and target `t` does not allow mutations (set `allow_mutations = true` to send writes)"
    );
    assert!(reason("routes::padded_header::writer").contains("`X-Method-Override:  PATCH`"));
    assert!(reason("routes::encoded_query::reader").contains("`_METHOD=put` in the query"));
    assert!(reason("routes::form_body::reader").contains("`_method=delete` in the form body"));
    assert!(reason("routes::json_body::reader").contains("in the JSON body"));
    assert!(reason("routes::per_identity::writer").contains("`_method=DELETE` in the query"));
}

#[test]
fn overrides_from_defaults_identities_and_logins_count_as_writes() {
    let server = TestServer::start();
    let route = "[[route]]\nrequest = \"GET /r\"\npublic = true\n";
    let suites = [
        (
            "[defaults]\nheaders = { X-HTTP-Method-Override = \"PUT\" }\n[identities.a]\n",
            "(from `defaults.headers`)",
        ),
        (
            "[identities.a]\nheaders = { X-HTTP-Method = \"DELETE\" }\n",
            "(from identity `a`)",
        ),
        (
            "[identities.a]\napi_key = { header = \"X-Method-Override\", value = \"key-12345\" }\n",
            "`X-Method-Override: (a credential)` (from identity `a`)",
        ),
        (
            "[identities.a]\nlogin = { request = \"GET /login?_method=POST\", token = \"/access_token\" }\n",
            "the login of `a` carries method override `_method=POST` in the query",
        ),
        (
            "[identities.a]\nlogin = { request = \"GET /login\", headers = { X-HTTP-Method-Override = \"POST\" }, token = \"/access_token\" }\n",
            "the login of `a` carries method override `X-HTTP-Method-Override: POST`",
        ),
    ];
    for (identities, because) in suites {
        let (_dir, suite) = suite(&[
            (
                "rolecall.toml",
                &format!("[targets.t]\nbase_url = \"{}\"\n{identities}", server.url()),
            ),
            ("routes.toml", route),
        ]);
        let output = run(&suite, &RunConfig::default());
        let result = &output.results[0];
        assert_eq!(result.outcome, Outcome::Skipped, "{identities}: {result:?}");
        let message = result.message.as_deref().unwrap();
        assert!(message.contains(because), "{identities}: {message}");
        assert!(!message.contains("key-12345"), "{message}");
    }
    assert!(server.seen().is_empty(), "{:?}", server.seen());
}

#[test]
fn bypass_variants_that_write_are_sent_only_where_mutations_are_allowed() {
    for allow in [false, true] {
        let server = TestServer::start();
        let (_dir, suite) = suite(&[
            (
                "rolecall.toml",
                &format!(
                    "[targets.t]\nbase_url = \"{}\"\nallow_mutations = {allow}\n[identities.admin]\nbearer = \"admin-token-2222\"\n[identities.viewer]\nbearer = \"viewer-token-3333\"\n",
                    server.url()
                ),
            ),
            (
                "routes.toml",
                "[[route]]\nrequest = \"GET /status/403\"\nallow = [\"admin\"]\nbypass = [\"method\"]\n",
            ),
        ]);
        let output = run(&suite, &RunConfig::default());
        let skipped: Vec<String> = output
            .results
            .iter()
            .filter(|r| r.outcome == Outcome::Skipped)
            .map(|r| {
                format!(
                    "{}: {}",
                    suite.cases[r.index].name.rsplit("::").next().unwrap(),
                    r.message.as_deref().unwrap()
                )
            })
            .collect();
        let seen = server.seen();
        if allow {
            assert!(skipped.is_empty(), "{skipped:?}");
            assert!(seen.iter().any(writes), "the writes were sent: {seen:?}");
        } else {
            let refusal = "and target `t` does not allow mutations (set `allow_mutations = true` to send writes)";
            assert_eq!(
                skipped,
                [
                    format!(
                        "method-post: variant `method-post` not sent: POST counts as a write, {refusal}"
                    ),
                    format!(
                        "method-override-x-http-method-override: variant `method-override-x-http-method-override` not sent: POST with X-HTTP-Method-Override: GET counts as a write, {refusal}"
                    ),
                    format!(
                        "method-override-x-http-method: variant `method-override-x-http-method` not sent: POST with X-HTTP-Method: GET counts as a write, {refusal}"
                    ),
                    format!(
                        "method-override-x-method-override: variant `method-override-x-method-override` not sent: POST with X-Method-Override: GET counts as a write, {refusal}"
                    ),
                    format!(
                        "method-override-param: variant `method-override-param` not sent: POST with `_method=GET` counts as a write, {refusal}"
                    ),
                ]
            );
            assert!(seen.iter().all(|s| !writes(s)), "a write arrived: {seen:?}");
            // The refused GET, its HEAD variant and the admin's GET.
            assert_eq!(seen.len(), 3, "{seen:?}");
        }
    }
}
