//! Generated inputs: loading never panics and every problem is located inside its file.
//!
//! Two generators: structured route files built from valid and invalid pieces, and byte
//! mutations of a valid suite. `ROLECALL_PROPTEST_CASES` sets the number of inputs per
//! generator (default 10,000; CI sets 50,000, so each CI run tries 100,000 inputs); raise it for a longer soak.

use std::path::PathBuf;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use crate::diagnostic::{Sink, SourceFile};
use crate::load::LoadOptions;
use crate::resolve::from_sources;

const SUITE: &str = r#"[defaults]
deny = 403
[vars]
tenant = "acme"
[targets.local]
base_url = "http://127.0.0.1:9"
[identities.anonymous]
[identities.viewer]
bearer = "${env:TOKEN}"
[identities.admin]
extends = "viewer"
jwt = { secret = "jwt-secret-value", claims = { role = "admin" }, expires_in = "1h" }
client_ip = "203.0.113.7"
country = "DE"
[groups]
staff = ["viewer", "admin"]
"#;

const ROUTES: &str = r#"[[route]]
request = "GET /v1/tenants/{tenant}/projects"
allow = ["staff"]
status = 200
deny = 404
[[route.case]]
identity = "viewer"
status = "4xx"
layer = "waf"
body = { json = { code = "denied" }, regex = "^\\{" }
headers = { "x-request-id" = { present = true } }
[[route]]
request = "POST /v1/projects"
body.json = { name = "x" }
public = true
"#;

fn cases() -> u32 {
    std::env::var("ROLECALL_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000)
}

fn check(suite: &str, routes: &str) -> Result<(), TestCaseError> {
    let suite_file = SourceFile::new(PathBuf::from("rolecall.toml"), suite);
    let route_file = SourceFile::new(PathBuf::from("routes.toml"), routes);
    let options =
        LoadOptions::new().env(|name| (name == "TOKEN").then(|| "token-value".to_owned()));
    let files = [suite_file.clone(), route_file.clone()];
    match from_sources(
        PathBuf::from("."),
        suite_file,
        vec![(PathBuf::from("routes.toml"), route_file)],
        Sink::default(),
        &options,
    ) {
        Ok(suite) => {
            prop_assert_eq!(
                suite.cases.len(),
                suite.routes.len() * suite.identities.len()
            );
        }
        Err(error) => {
            prop_assert!(!error.diagnostics().is_empty());
            for d in error.diagnostics() {
                let file = files.iter().find(|f| f.path == d.path);
                prop_assert!(file.is_some(), "diagnostic outside the inputs: {:?}", d);
                let file = file.unwrap();
                prop_assert!(
                    d.span.start <= d.span.end && d.span.end <= file.text.len(),
                    "{:?}",
                    d
                );
                prop_assert_eq!((d.line, d.column), file.line_col(d.span.start));
            }
            // Rendering must not panic either, whatever the span.
            let _ = error.render(crate::RenderStyle::Plain);
        }
    }
    Ok(())
}

fn piece() -> impl Strategy<Value = String> {
    let key = prop::sample::select(vec![
        "request",
        "allow",
        "alow",
        "status",
        "deny",
        "unauthenticated",
        "public",
        "name",
        "snapshot",
        "headers",
        "query",
        "body",
        "case",
        "identity",
        "identities",
        "layer",
        "vendor",
        "skip",
        "redirect",
        "follow_redirects",
        "body.json",
        "body.raw",
        "body.regex",
    ]);
    let value = prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        (0i64..1000).prop_map(|n| n.to_string()),
        prop::sample::select(vec![
            "\"GET /a\"",
            "\"get /a\"",
            "\"GET /t/{tenant}\"",
            "\"GET /t/{x}\"",
            "\"GET /{\"",
            "\"BREW /\"",
            "\"2xx\"",
            "\"9xx\"",
            "[\"admin\"]",
            "[\"admn\", \"staff\"]",
            "[\"anonymous\"]",
            "[]",
            "true",
            "\"waf\"",
            "\"cdn?\"",
            "\"a(\"",
            "{ a = 1 }",
            "{ json = 1, raw = \"x\" }",
            "\"${env:NOPE}\"",
            "\"${env:TOKEN}\"",
            "\"$${x\"",
            "\"é\u{301}\"",
            "1979-05-27",
            "3.5",
            "{ equals = \"a\" }",
        ])
        .prop_map(str::to_owned),
        "[ -~]{0,12}".prop_map(|s| format!("\"{}\"", s.replace(['"', '\\'], ""))),
    ];
    prop_oneof![
        3 => (key, value).prop_map(|(k, v)| format!("{k} = {v}\n")),
        1 => Just("[[route]]\n".to_owned()),
        1 => Just("[[route.case]]\n".to_owned()),
        1 => Just("[route]\n".to_owned()),
        1 => "[ -~\n]{0,8}",
    ]
}

#[test]
fn structured_route_files_never_panic_and_errors_are_located() {
    let mut runner = TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = prop::collection::vec(piece(), 0..24).prop_map(|pieces| {
        let mut text = "[[route]]\n".to_owned();
        text.extend(pieces);
        text
    });
    runner
        .run(&strategy, |routes| check(SUITE, &routes))
        .unwrap();
}

#[test]
fn mutated_suites_never_panic_and_errors_are_located() {
    let mut runner = TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    });
    let edit = (
        any::<bool>(),
        any::<prop::sample::Index>(),
        0usize..6,
        prop::sample::select(vec![
            "\"", "'", "[", "]", "{", "}", "=", "\n", ".", "$", "${env:", "#", "\\", " ", "x", "é",
            "0",
        ]),
    );
    let strategy = (
        prop::collection::vec(edit.clone(), 1..6),
        prop::collection::vec(edit, 0..3),
    );
    runner
        .run(&strategy, |(route_edits, suite_edits)| {
            let apply = |text: &str, edits: &[(bool, prop::sample::Index, usize, &str)]| {
                let mut text = text.to_owned();
                for (insert, at, len, piece) in edits {
                    let mut at = at.index(text.len() + 1);
                    while !text.is_char_boundary(at) {
                        at -= 1;
                    }
                    if *insert {
                        text.insert_str(at, piece);
                    } else {
                        let mut end = (at + len).min(text.len());
                        while !text.is_char_boundary(end) {
                            end += 1;
                        }
                        text.replace_range(at..end, "");
                    }
                }
                text
            };
            check(&apply(SUITE, &suite_edits), &apply(ROUTES, &route_edits))
        })
        .unwrap();
}

#[test]
fn the_unmutated_inputs_are_valid() {
    let suite_file = SourceFile::new(PathBuf::from("rolecall.toml"), SUITE);
    let route_file = SourceFile::new(PathBuf::from("routes.toml"), ROUTES);
    let options =
        LoadOptions::new().env(|name| (name == "TOKEN").then(|| "token-value".to_owned()));
    let suite = from_sources(
        PathBuf::from("."),
        suite_file,
        vec![(PathBuf::from("routes.toml"), route_file)],
        Sink::default(),
        &options,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(suite.cases.len(), 6);
}
