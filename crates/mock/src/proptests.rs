//! Generated `mock.toml` files: loading never panics, and every problem is located inside
//! the file, at the line and column of its span.
//!
//! Two generators, as for scenario files: structured files built from valid and invalid
//! pieces, and byte mutations of a valid file. `ROLECALL_PROPTEST_CASES` sets the number of
//! inputs of the structured generator (default 10,000; CI sets 50,000); the mutated one
//! tries half as many, since each of its inputs is a whole configuration, compiled and
//! rendered (about 1.4 ms in a debug build, against 0.6 ms): at 50,000 each generator
//! takes 30 to 40 s of one core.

use std::path::Path;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use rolecall_scenario::RenderStyle;

use crate::MockConfig;

/// Every layer kind and every part of the app, kept cheap for a debug build: short, with
/// one wildcard glob (a wildcard glob set compiles a regex, about 0.2 ms there; a literal
/// one costs nothing) and no WAF preset (its rule sets take milliseconds). Mutations
/// still make wildcards and bad patterns out of the literals.
const VALID: &str = r#"[edge]
cdn = "cloudflare"
server = "nginx"
waf = "modsecurity"
trusted_proxies = ["127.0.0.0/8"]
[[layer]]
ip = { deny = ["203.0.113.0/24"], paths = ["/admin"] }
[[layer]]
geo = { block = ["KP"] }
[[layer]]
[layer.waf]
mark = { header = "X-By", value = "M" }
[[layer.waf.rule]]
name = "d"
pattern = "debug=1"
targets = ["headers"]
headers = ["X-D"]
[[layer]]
user_agent = { block = ["sqlmap"] }
[[layer]]
hotlink = { paths = ["/img/logo.png"] }
[[layer]]
path_deny = { prefixes = ["/.git"], globs = ["/*.bak"] }
[[layer]]
method = { deny = ["TRACE"] }
[[layer]]
rate_limit = { requests = 10, per = "1s", status = 429 }
[[layer]]
fault = { paths = ["/f"], delay = "1ms", status = 503 }
[origin.app]
jwt = { secret = "${env:TOKEN}" }
token = [{ bearer = "tok-1234", roles = ["a"] }]
user = [{ username = "ann", password = "pw-ann-1" }]
login = { cookie = "s" }
[[origin.app.route]]
request = "GET /t/{t}/p"
tenant_param = "t"
"#;

fn cases() -> u32 {
    std::env::var("ROLECALL_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000)
}

fn env(name: &str) -> Option<String> {
    (name == "TOKEN").then(|| "env-token-value".to_owned())
}

fn check(src: &str) -> Result<(), TestCaseError> {
    match MockConfig::compile(src, Path::new("mock.toml"), &env) {
        Ok(config) => {
            let _ = format!("{config:?}");
        }
        Err(error) => {
            prop_assert!(!error.diagnostics().is_empty());
            let file = rolecall_scenario::SourceFile::new("mock.toml".into(), src);
            for d in error.diagnostics() {
                prop_assert_eq!(&d.path, &file.path);
                prop_assert!(
                    d.span.start <= d.span.end && d.span.end <= src.len(),
                    "{:?}",
                    d
                );
                prop_assert_eq!((d.line, d.column), file.line_col(d.span.start));
            }
            // Rendering must not panic either, whatever the span.
            let rendered = error.render(RenderStyle::Plain);
            prop_assert!(!rendered.contains("env-token-value"), "{}", rendered);
        }
    }
    Ok(())
}

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    })
}

fn piece() -> impl Strategy<Value = String> {
    let header = prop::sample::select(vec![
        "[edge]",
        "[[layer]]",
        "[layer.waf]",
        "[[layer.waf.rule]]",
        "[layer.rate_limit]",
        "[layer.ip]",
        "[origin]",
        "[origin.app]",
        "[origin.proxy]",
        "[origin.app.jwt]",
        "[origin.app.login]",
        "[origin.app.csrf]",
        "[[origin.app.route]]",
        "[[origin.app.token]]",
        "[[origin.app.user]]",
        "[[origin.app]]",
        "[layer]",
    ]);
    let key = prop::sample::select(vec![
        "cdn",
        "server",
        "waf",
        "colo",
        "colour",
        "pop",
        "trusted_proxies",
        "client_ip_header",
        "request_id_header",
        "persona",
        "name",
        "paths",
        "allow",
        "deny",
        "block",
        "header",
        "block_unknown",
        "presets",
        "threshold",
        "body_limit",
        "pattern",
        "targets",
        "headers",
        "score",
        "mark",
        "requests",
        "per",
        "burst",
        "status",
        "max_clients",
        "delay",
        "abort",
        "probability",
        "prefixes",
        "globs",
        "case_insensitive",
        "allow_hosts",
        "upstream",
        "timeout",
        "realm",
        "api_key_header",
        "secret",
        "public_key_file",
        "issuer",
        "leeway",
        "bearer",
        "api_key",
        "username",
        "password",
        "roles",
        "request",
        "tenant_param",
        "public",
        "conceal",
        "leak",
        "cookie",
        "path",
        "allowed_origins",
        "ip",
        "geo",
        "fault",
        "rate_limit",
        "path_deny",
        "firewall",
        "app",
        "proxy",
    ]);
    let value = prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        (0i64..1000).prop_map(|n| n.to_string()),
        prop::sample::select(vec![
            "\"cloudflare\"",
            "\"nginx\"",
            "\"modsec\"",
            "\"10.0.0.0/8\"",
            "[\"10.0.0.0/33\", \"::1\"]",
            "[\"203.0.113.7\"]",
            "[\"DE\", \"Germany\"]",
            "[\"/admin/**\", \"admin\", \"/{a\"]",
            "[\"(\", \"ok\"]",
            "\"a{2,1}\"",
            "[\"sqli\", \"xss\"]",
            "[\"headers\", \"cookies\"]",
            "\"250ms\"",
            "\"0s\"",
            "\"soon\"",
            "403",
            "503",
            "0",
            "-1",
            "1.5",
            "nan",
            "inf",
            "\"GET /v1/{id}\"",
            "\"BREW /{}\"",
            "\"/v1\"",
            "\"http://127.0.0.1:9\"",
            "\"https://x\"",
            "\"${env:TOKEN}\"",
            "\"${env:NOPE}\"",
            "\"${env:\"",
            "\"X Request\"",
            "\"/dev/null\"",
            "\"keys/missing.pem\"",
            "[\"none\", \"HS256\", \"RS256\"]",
            "true",
            "[]",
            "{}",
            "{ deny = [\"10.0.0.1\"] }",
            "{ persona = \"nginx\", prefixes = [\"/a\"] }",
            "{ requests = \"five\", per = 1 }",
            "{ header = \"X-A\", value = \"b\\u0001\" }",
            "[{ name = \"r\", pattern = \"x\" }]",
            "1979-05-27",
            "\"é\u{301}\"",
        ])
        .prop_map(str::to_owned),
        "[ -~]{0,12}".prop_map(|s| format!("\"{}\"", s.replace(['"', '\\'], ""))),
    ];
    prop_oneof![
        4 => (key, value).prop_map(|(k, v)| format!("{k} = {v}\n")),
        2 => header.prop_map(|h| format!("{h}\n")),
        1 => "[ -~\n]{0,8}",
    ]
}

#[test]
fn structured_files_never_panic_and_problems_are_located() {
    let strategy = (
        prop::sample::select(vec!["", "[origin.app]\n", "[edge]\ncdn = \"akamai\"\n"]),
        prop::collection::vec(piece(), 0..24),
    )
        .prop_map(|(start, pieces)| {
            let mut text = start.to_owned();
            text.extend(pieces);
            text
        });
    runner(cases()).run(&strategy, |src| check(&src)).unwrap();
}

#[test]
fn mutated_files_never_panic_and_problems_are_located() {
    let edit = (
        any::<bool>(),
        any::<prop::sample::Index>(),
        0usize..6,
        prop::sample::select(vec![
            "\"", "'", "[", "]", "{", "}", "=", "\n", ".", "$", "${env:", "#", "\\", " ", "x", "é",
            "0", "/", "*", "(", "-",
        ]),
    );
    let strategy = prop::collection::vec(edit, 1..6);
    runner((cases() / 2).max(1))
        .run(&strategy, |edits| {
            let mut text = VALID.to_owned();
            for (insert, at, len, piece) in edits {
                let mut at = at.index(text.len() + 1);
                while !text.is_char_boundary(at) {
                    at -= 1;
                }
                if insert {
                    text.insert_str(at, piece);
                } else {
                    let mut end = (at + len).min(text.len());
                    while !text.is_char_boundary(end) {
                        end += 1;
                    }
                    text.replace_range(at..end, "");
                }
            }
            check(&text)
        })
        .unwrap();
}

#[test]
fn the_unmutated_file_is_valid() {
    let config =
        MockConfig::compile(VALID, Path::new("mock.toml"), &env).unwrap_or_else(|e| panic!("{e}"));
    let debug = format!("{config:?}");
    assert!(debug.contains("app with 1 routes"), "{debug}");
    assert_eq!(config.edge.layers.len(), 9, "{debug}");
}
