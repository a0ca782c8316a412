//! Generated inputs: loading never panics and every problem is located inside its file;
//! no encoding of a secret survives redaction.
//!
//! Four generators: structured route files built from valid and invalid pieces, byte
//! mutations of a valid suite, header names and values of any characters (literal or
//! from the environment) in every place a header is set, which load exactly when the
//! `http` crate accepts them on the wire, and secrets echoed in the encodings services
//! use. `ROLECALL_PROPTEST_CASES` sets the number of inputs per generator (default
//! 10,000; CI sets 50,000); raise it for a longer soak.

use std::path::PathBuf;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use crate::diagnostic::{Sink, SourceFile};
use crate::load::LoadOptions;
use crate::resolve::from_sources;
use crate::secrets::{MIN_SECRET_LEN, Secrets, is_credential_header};

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

/// A character of a header name or value: mostly visible ASCII, often one the wire
/// refuses or that splits a header.
fn header_char() -> impl Strategy<Value = char> {
    prop_oneof![
        8 => prop::char::range(' ', '~').prop_filter("no interpolation", |c| *c != '$'),
        1 => prop::sample::select(vec!['\t', '\r', '\n', '\0', '\u{7f}', ':', ';', ' ', 'é', '\u{a0}', '\u{2028}']),
        1 => prop::char::range('\u{1}', '\u{1f}'),
        1 => any::<char>().prop_filter("no interpolation", |c| *c != '$'),
    ]
}

fn header_text() -> impl Strategy<Value = String> {
    prop::collection::vec(header_char(), 0..6).prop_map(|chars| chars.into_iter().collect())
}

/// A TOML basic string holding `text`.
fn quoted(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Where a generated header goes, and whether its value is read from the environment.
#[derive(Debug, Clone)]
struct Placed {
    place: usize,
    name: String,
    value: String,
    from_env: bool,
}

fn wire_name(name: &str) -> bool {
    http::HeaderName::from_bytes(name.as_bytes()).is_ok()
}

/// A value the wire accepts and the receiver reads back as text. `http` sends obs-text
/// (bytes above 0x7f) but will not read it as text, nor will the mock: rolecall refuses
/// it when the suite loads.
fn wire_value(value: &str) -> bool {
    http::HeaderValue::from_str(value).is_ok_and(|v| v.to_str().is_ok())
}

#[test]
fn header_names_and_values_load_exactly_when_the_wire_accepts_them() {
    let mut runner = TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    });
    let placed = (0usize..7, header_text(), header_text(), any::<bool>()).prop_map(
        |(place, name, value, from_env)| Placed {
            place,
            name,
            value,
            from_env,
        },
    );
    let strategy = prop::collection::vec(placed, 1..5);
    runner
        .run(&strategy, |headers| {
            let mut defaults = Vec::new();
            let mut identity = Vec::new();
            let mut cookies = Vec::new();
            let mut route = Vec::new();
            let mut extra = String::new();
            let mut env = Vec::new();
            let mut expected = true;
            let mut seen = std::collections::HashSet::new();
            for (i, h) in headers.iter().enumerate() {
                let value = if h.from_env {
                    env.push((format!("HV{i}"), h.value.clone()));
                    format!("\"${{env:HV{i}}}\"")
                } else {
                    quoted(&h.value)
                };
                // Names are table keys; a repeated one would be a TOML error.
                if [0, 1, 2, 3].contains(&h.place) && !seen.insert((h.place, h.name.clone())) {
                    continue;
                }
                let entry = format!("{} = {value}", quoted(&h.name));
                match h.place {
                    0 => defaults.push(entry),
                    1 => identity.push(entry),
                    2 => route.push(entry),
                    3 => {
                        cookies.push(entry);
                        expected &= !h.value.contains(';');
                    }
                    4 => {
                        extra.push_str(&format!("user_agent = {value}\n"));
                        seen.insert((4, String::new()));
                    }
                    5 => {
                        extra.push_str(&format!(
                            "api_key = {{ header = {}, value = {value} }}\n",
                            quoted(&h.name)
                        ));
                    }
                    _ => {
                        extra.push_str(&format!("bearer = {value}\n"));
                    }
                }
                expected &= wire_value(&h.value);
                expected &= h.place == 4 || h.place == 6 || wire_name(&h.name);
                // A credential too short to redact is refused: cookies, API keys, bearer
                // tokens and headers named like credentials.
                let credential = match h.place {
                    0..=2 => is_credential_header(&h.name),
                    3 | 5 | 6 => true,
                    _ => false,
                };
                expected &= !credential || h.value.len() >= MIN_SECRET_LEN;
            }
            // One user agent, one API key and one bearer token at most.
            for place in [4usize, 5, 6] {
                if headers.iter().filter(|h| h.place == place).count() > 1 {
                    return Ok(());
                }
            }
            let suite = format!(
                "[defaults]\nheaders = {{ {} }}\n[targets.local]\nbase_url = \"http://127.0.0.1:9\"\n[identities.anonymous]\n[identities.admin]\nheaders = {{ {} }}\ncookies = {{ {} }}\n{extra}",
                defaults.join(", "),
                identity.join(", "),
                cookies.join(", "),
            );
            let routes = format!(
                "[[route]]\nrequest = \"GET /a\"\nheaders = {{ {} }}\n",
                route.join(", ")
            );
            let suite_file = SourceFile::new(PathBuf::from("rolecall.toml"), suite.as_str());
            let route_file = SourceFile::new(PathBuf::from("routes.toml"), routes.as_str());
            let options = LoadOptions::new().env(move |name| {
                env.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone())
            });
            let result = from_sources(
                PathBuf::from("."),
                suite_file.clone(),
                vec![(PathBuf::from("routes.toml"), route_file.clone())],
                Sink::default(),
                &options,
            );
            match result {
                Ok(loaded) => {
                    prop_assert!(expected, "loaded, but the wire refuses a header:\n{suite}\n{routes}");
                    let mut all: Vec<(&str, String)> = loaded
                        .settings
                        .headers
                        .iter()
                        .chain(&loaded.routes[0].headers)
                        .map(|(n, v)| (n.as_str(), v.clone()))
                        .collect();
                    for identity in &loaded.identities {
                        let c = &identity.credentials;
                        all.extend(c.headers.iter().map(|(n, v)| (n.as_str(), v.clone())));
                        all.extend(c.cookies.iter().map(|(n, v)| (n.as_str(), v.expose().to_owned())));
                        all.extend(c.api_key.iter().map(|(n, v)| (n.as_str(), v.expose().to_owned())));
                        all.extend(c.user_agent.iter().map(|v| ("user-agent", v.clone())));
                        all.extend(c.bearer.iter().map(|v| ("authorization", format!("Bearer {}", v.expose()))));
                    }
                    for (name, value) in all {
                        prop_assert!(wire_name(name), "{name:?}");
                        prop_assert!(wire_value(&value), "{value:?}");
                    }
                }
                Err(error) => {
                    prop_assert!(!expected, "refused headers the wire accepts:\n{error}\n{suite}\n{routes}");
                    let files = [suite_file, route_file];
                    for d in error.diagnostics() {
                        let file = files.iter().find(|f| f.path == d.path);
                        prop_assert!(file.is_some(), "diagnostic outside the inputs: {:?}", d);
                        let file = file.unwrap();
                        prop_assert!(d.span.start <= d.span.end && d.span.end <= file.text.len(), "{:?}", d);
                        prop_assert!(!d.label.is_empty(), "unplaced: {:?}", d);
                    }
                    let _ = error.render(crate::RenderStyle::Plain);
                }
            }
            Ok(())
        })
        .unwrap();
}

/// The characters secrets and the text around them are drawn from: every one that some
/// encoding changes, and plain ones. (`*` is left out: a secret made of `*` cannot be told
/// from its own redaction.)
const SECRET_CHARS: &str = "aZ09-._~/+=&\"'<> %?#:@\\!()é😀\n";

fn secret_text(len: std::ops::Range<usize>) -> impl Strategy<Value = String> {
    let chars: Vec<char> = SECRET_CHARS.chars().collect();
    prop::collection::vec(prop::sample::select(chars), len)
        .prop_map(|chars| chars.into_iter().collect())
}

/// Writes `secret` as a service would, with encoders written independently of the
/// redaction's own (`flip` picks the hex case of each escape).
fn echo(secret: &str, encoder: usize, flip: &[bool]) -> String {
    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    let mut flips = flip.iter().cycle();
    let mut case = |hex: String| {
        if *flips.next().unwrap_or(&false) {
            hex.to_ascii_lowercase()
        } else {
            hex
        }
    };
    match encoder {
        0 => {
            let json = serde_json::to_string(secret).unwrap();
            json[1..json.len() - 1].to_owned()
        }
        1 => secret
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() {
                    char::from(b).to_string()
                } else {
                    case(format!("%{b:02X}"))
                }
            })
            .collect(),
        2 => secret
            .chars()
            .map(|c| match c {
                '/' => "\\/".to_owned(),
                '"' => "\\\"".to_owned(),
                '\\' => "\\\\".to_owned(),
                '\n' => "\\n".to_owned(),
                c if c.is_ascii() => c.to_string(),
                c => c
                    .encode_utf16(&mut [0; 2])
                    .iter()
                    .map(|u| case(format!("\\u{u:04X}")))
                    .collect(),
            })
            .collect(),
        3 => secret
            .chars()
            .map(|c| match c {
                '&' => "&amp;".to_owned(),
                '<' => "&lt;".to_owned(),
                '>' => "&gt;".to_owned(),
                '"' => "&quot;".to_owned(),
                '\'' => case("&#X27;".to_owned()),
                c => c.to_string(),
            })
            .collect(),
        4 => STANDARD.encode(secret),
        _ => URL_SAFE_NO_PAD.encode(secret),
    }
}

/// Secrets per generated input: building the matcher is what costs, so each input checks
/// several secrets, and the generator makes `cases() / ECHOES_PER_CASE` inputs.
const ECHOES_PER_CASE: usize = 8;

#[test]
fn no_encoding_of_a_secret_survives_redaction() {
    let mut runner = TestRunner::new(Config {
        cases: (cases() / ECHOES_PER_CASE as u32).max(1),
        failure_persistence: None,
        ..Config::default()
    });
    let echo_case = (
        secret_text(4..16),
        secret_text(0..8),
        secret_text(0..8),
        0usize..6,
        prop::collection::vec(any::<bool>(), 1..8),
    );
    let strategy = prop::collection::vec(echo_case, ECHOES_PER_CASE);
    runner
        .run(&strategy, |cases| {
            let mut secrets = Secrets::default();
            for (secret, ..) in &cases {
                secrets.insert(secret);
            }
            for (secret, before, after, encoder, flip) in cases {
                // The secret echoed alone, in the middle of other text.
                let echoed = echo(&secret, encoder, &flip);
                let text = format!("{before}{echoed}{after}");
                let redacted = secrets.redact(&text);
                prop_assert!(
                    !redacted.contains(&echoed),
                    "{:?} survives in {:?}",
                    echoed,
                    redacted
                );
                // The secret inside a longer text that is encoded whole (`user:password`,
                // a header value, a JSON body): the characters only the secret decides go.
                if encoder >= 4 {
                    let whole = echo(&format!("{before}{secret}{after}"), encoder, &flip);
                    let start = (8 * before.len()).div_ceil(6);
                    let end = 8 * (before.len() + secret.len()) / 6;
                    let core = &whole[start..end];
                    let redacted = secrets.redact(&whole);
                    prop_assert!(
                        !redacted.contains(core),
                        "{:?} survives in {:?}",
                        core,
                        redacted
                    );
                }
            }
            Ok(())
        })
        .unwrap();
}
