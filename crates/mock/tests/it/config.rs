//! Loading `mock.toml`: every problem at once, each at its file, line and column, rendered
//! rustc-style like a suite's; invalid fixtures have a snapshot of what the user sees.

use std::path::Path;
use std::time::{Duration, Instant};

use rolecall_mock::{MockConfig, MockConfigError};
use rolecall_scenario::RenderStyle;

use crate::support::FIXTURES;

#[track_caller]
fn error(toml: &str) -> MockConfigError {
    match MockConfig::from_str(toml, Path::new("mock.toml")) {
        Ok(_) => panic!("loaded but should not:\n{toml}"),
        Err(err) => err,
    }
}

/// `(line, column, message)` of every problem, in file order.
#[track_caller]
fn problems(toml: &str) -> Vec<(u32, u32, String)> {
    error(toml)
        .diagnostics()
        .iter()
        .map(|d| (d.line, d.column, d.message.clone()))
        .collect()
}

/// The one problem of `toml`, which must start with `message` and be at `line:col`.
#[track_caller]
fn one(toml: &str, line: u32, column: u32, message: &str) {
    let found = problems(toml);
    assert!(
        found.len() == 1
            && found[0].0 == line
            && found[0].1 == column
            && found[0].2.starts_with(message),
        "expected {line}:{column} {message:?}\n     got {found:?}\n{}",
        error(toml)
    );
}

const APP: &str = "\n[origin.app]\n";

#[test]
fn the_example_file_loads() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("mock.example.toml");
    let src = std::fs::read_to_string(&path).unwrap();
    // Environment variables cannot be set safely in tests, so the references are filled in.
    let src = src
        .replace("${env:JWT_SECRET}", "secret")
        .replace("${env:ANN_PASSWORD}", "pw");
    let config = MockConfig::from_str(&src, &path).unwrap();
    let debug = format!("{config:?}");
    assert!(debug.contains("office-only-admin (ip, akamai)"), "{debug}");
    assert!(debug.contains("app with 3 routes"), "{debug}");
    assert!(
        !debug.contains("viewer-token"),
        "secrets leak into Debug: {debug}"
    );
}

#[test]
fn unknown_keys_point_at_the_key_with_the_closest_one() {
    let err = error("[edge]\ncdn = \"cloudflare\"\ncolour = \"red\"\n[origin.app]\n");
    let rendered = err.render(RenderStyle::Plain);
    assert!(
        rendered.starts_with(
            "error: unknown key `colour`\n --> mock.toml:3:1\n  |\n3 | colour = \"red\"\n  | ^^^^^^ not a known key here\n  |\n  = help: did you mean `colo`?\n"
        ),
        "{rendered}"
    );
    assert!(
        rendered
            .ends_with("error: could not load the mock configuration due to 1 previous error\n"),
        "{rendered}"
    );
    one("[origni.app]\n", 1, 2, "unknown key `origni`");
    one("[origin.ap]\n", 1, 9, "unknown key `ap`");
}

#[test]
fn unknown_layer_kinds_are_named() {
    one(
        &format!("[[layer]]\nfirewal = {{ deny = [] }}\n{APP}"),
        2,
        1,
        "unknown layer kind `firewal`",
    );
    let err = error(&format!(
        "[[layer]]\npathdeny = {{ prefixes = [\"/a\"] }}\n{APP}"
    ));
    assert_eq!(
        err.diagnostics()[0].help.as_deref(),
        Some("did you mean `path_deny`?")
    );
    one(&format!("[[layer]]\n{APP}"), 1, 1, "this layer has no kind");
    one(
        &format!(
            "[[layer]]\nip = {{ deny = [\"10.0.0.1\"] }}\ngeo = {{ block = [\"KP\"] }}\n{APP}"
        ),
        3,
        1,
        "a layer has one kind; this one is already `ip`",
    );
}

#[test]
fn bad_values_point_at_the_value() {
    let cases = [
        (
            "[[layer]]\nip = { persona = \"nginx\", deny = [\"10.0.0.0/33\"] }\n",
            (2, 35),
            "`10.0.0.0/33` is not an IP address or CIDR block",
        ),
        (
            "[edge]\ntrusted_proxies = [\"localhost\"]\n",
            (2, 20),
            "`localhost` is not an IP address or CIDR block",
        ),
        (
            "[[layer]]\nuser_agent = { persona = \"nginx\", block = [\"(\"] }\n",
            (2, 44),
            "invalid regex",
        ),
        (
            "[[layer]]\nwaf = { persona = \"nginx\", rule = [{ name = \"r\", pattern = \"a{2,1}\" }] }\n",
            (2, 60),
            "invalid regex",
        ),
        (
            "[[layer]]\npath_deny = { persona = \"nginx\", globs = [\"admin\"] }\n",
            (2, 43),
            "path glob `admin` must start with `/`",
        ),
        (
            "[[layer]]\ngeo = { persona = \"nginx\", block = [\"Germany\"] }\n",
            (2, 37),
            "`Germany` is not a two-letter country code",
        ),
        (
            "[[layer]]\nrate_limit = { persona = \"nginx\", requests = 5, per = \"soon\" }\n",
            (2, 55),
            "invalid duration `soon`",
        ),
        (
            "[[layer]]\nrate_limit = { persona = \"nginx\", requests = 0 }\n",
            (2, 46),
            "`requests` must be at least 1",
        ),
        (
            "[[layer]]\nfault = { persona = \"nginx\", paths = [\"/x\"], status = 404 }\n",
            (2, 55),
            "a fault status must be 5xx",
        ),
        (
            "[[layer]]\nfault = { persona = \"nginx\", paths = [\"/x\"], delay = \"1s\", probability = 1.5 }\n",
            (2, 74),
            "`probability` must be between 0.0 and 1.0",
        ),
        (
            "[[layer]]\nmethod = { persona = \"nginx\", deny = [\"GE T\"] }\n",
            (2, 39),
            "`GE T` is not an HTTP method",
        ),
        (
            "[edge]\ncdn = \"nginx\"\n",
            (2, 7),
            "`cdn` must be cloudflare, cloudfront or akamai",
        ),
        (
            "[edge]\nserver = \"ngnix\"\n",
            (2, 10),
            "unknown value `ngnix`",
        ),
        (
            "[edge]\ncolo = \"\"\n",
            (2, 8),
            "`colo` must be printable ASCII",
        ),
        (
            "[edge]\nrequest_id_header = \"X Request\"\n",
            (2, 21),
            "`X Request` is not a header name",
        ),
    ];
    for (toml, (line, column), message) in cases {
        one(&format!("{toml}{APP}"), line, column, message);
    }
    let err = error(&format!("[edge]\nserver = \"ngnix\"\n{APP}"));
    assert_eq!(
        err.diagnostics()[0].help.as_deref(),
        Some("did you mean `nginx`?")
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let toml = r#"[edge]
cdn = "cloudflare"
colour = "red"
[[layer]]
ip = { deny = ["10.0.0.0/33"], paths = ["admin"] }
[[layer]]
geo = { block = ["Germany"] }
[[layer]]
firewall = {}
[[layer]]
user_agent = { block = ["("] }
[origin.app]
[[origin.app.route]]
request = "BREW /coffee"
[[origin.app.route]]
request = "GET /v1/{id}"
tenant_param = "tenant"
"#;
    let found = problems(toml);
    let at: Vec<(u32, u32)> = found.iter().map(|(l, c, _)| (*l, *c)).collect();
    assert_eq!(
        at,
        [
            (3, 1),
            (5, 16),
            (5, 41),
            (7, 18),
            (9, 1),
            (11, 25),
            (17, 16)
        ],
        "{found:#?}"
    );
}

#[test]
fn a_type_error_hides_neither_an_unknown_key_nor_a_second_type_error() {
    // Three problems in one layer, and a value problem in the next.
    let toml = format!(
        "[[layer]]\nrate_limit = {{ persona = \"nginx\", requests = \"five\", per = 1, burts = 2 }}\n[[layer]]\nip = {{ persona = \"nginx\", deny = [\"300.0.0.1\"] }}\n{APP}"
    );
    let found = problems(&toml);
    let messages: Vec<&str> = found.iter().map(|(_, _, m)| m.as_str()).collect();
    assert_eq!(found.len(), 4, "{found:#?}");
    assert!(
        messages[0].starts_with("invalid type: string \"five\", expected an integer"),
        "{messages:?}"
    );
    assert!(
        messages[1].starts_with("invalid type: integer `1`, expected a string"),
        "{messages:?}"
    );
    assert_eq!(messages[2], "unknown key `burts`");
    assert_eq!(
        messages[3],
        "`300.0.0.1` is not an IP address or CIDR block"
    );
    // A wrong type in a table of the app, and an unknown key beside it.
    let found = problems(
        "[origin.app]\nrealm = 3\nrelam = \"x\"\n[origin.app.jwt]\nsecret = 5\nleeway = \"1s\"\n",
    );
    let at: Vec<(u32, u32)> = found.iter().map(|(l, c, _)| (*l, *c)).collect();
    assert_eq!(at, [(2, 9), (3, 1), (5, 10), (6, 10)], "{found:#?}");
}

#[test]
fn a_value_taken_out_for_a_problem_is_not_reported_again() {
    // `allow` has the wrong type: the layer is not then also "missing `allow` or `deny`",
    // and a layer relying on a broken `[edge] cdn` is not also "without a persona".
    one(
        &format!("[[layer]]\nip = {{ persona = \"nginx\", allow = \"10.0.0.0/8\" }}\n{APP}"),
        2,
        35,
        "invalid type",
    );
    one(
        &format!(
            "[edge]\ncdn = \"cloudflair\"\n[[layer]]\nip = {{ deny = [\"10.0.0.1\"] }}\n{APP}"
        ),
        2,
        7,
        "unknown value `cloudflair`",
    );
    one(
        &format!("[[layer]]\nrate_limit = {{ persona = \"nginx\", requests = -1 }}\n{APP}"),
        2,
        46,
        "invalid value",
    );
}

#[test]
fn layers_without_a_persona_need_an_edge_default() {
    one(
        &format!("[[layer]]\npath_deny = {{ prefixes = [\"/admin\"] }}\n{APP}"),
        2,
        1,
        "this layer names no `persona` and `[edge] server` is not set",
    );
}

#[test]
fn the_origin_is_required_and_single() {
    one("[edge]\ncdn = \"cloudflare\"\n", 1, 1, "missing `[origin]`");
    one(
        "[origin.app]\n[origin.proxy]\nupstream = \"http://127.0.0.1:1\"\n",
        2,
        9,
        "the origin is already `app`",
    );
    one(
        "[origin.proxy]\nupstream = \"https://example.com\"\n",
        2,
        12,
        "the upstream must be an http:// URL with a host",
    );
}

#[test]
fn routes_are_checked() {
    one(
        "[origin.app]\n[[origin.app.route]]\nrequest = \"GET /v1/{id}\"\ntenant_param = \"tenant\"\n",
        4,
        16,
        "`tenant` is not a parameter of `/v1/{id}`",
    );
    one(
        "[origin.app]\n[[origin.app.route]]\nrequest = \"/v1\"\n",
        3,
        11,
        "a route is written \"METHOD /path\"",
    );
    one(
        "[origin.app]\n[[origin.app.route]]\nrequest = \"GET /v1/{a}\"\n[[origin.app.route]]\nrequest = \"GET /v1/{b}\"\n",
        5,
        11,
        "routes `GET /v1/{a}` and `GET /v1/{b}` overlap",
    );
    one(
        "[origin.app]\n[[origin.app.route]]\nrequest = \"GET /v1\"\nstatus = 403\n",
        4,
        10,
        "a route status must be 2xx",
    );
    one(
        "[origin.app]\n[[origin.app.token]]\nroles = [\"admin\"]\n",
        2,
        1,
        "a token needs `bearer` or `api_key`",
    );
    one(
        "[origin.app]\n[[origin.app.token]]\nbearer = \"tok-1234\"\n[[origin.app.token]]\nbearer = \"tok-1234\"\n",
        5,
        10,
        "this bearer token is listed twice",
    );
    one(
        "[origin.app]\nrealm = \"a \\\"b\\\"\"\n",
        2,
        9,
        "`realm` must be printable ASCII without quotes",
    );
    one(
        "[origin.app.login]\npath = \"login\"\n",
        2,
        8,
        "the login path must start with `/`",
    );
}

#[test]
fn jwt_settings_are_checked() {
    one(
        "[origin.app.jwt]\nsecret = \"s\"\nalgorithms = [\"none\"]\n",
        3,
        15,
        "the `none` algorithm is never accepted",
    );
    one(
        "[origin.app.jwt]\nsecret = \"s\"\nalgorithms = [\"RS256\"]\n",
        3,
        15,
        "RS256 needs `public_key_file`",
    );
    one(
        "[origin.app.jwt]\nsecret = \"s\"\nalgorithms = [\"HS265\"]\n",
        3,
        15,
        "unknown JWT algorithm `HS265`",
    );
    one(
        "[origin.app.jwt]\nsecret = \"${env:ROLECALL_MOCK_TEST_SURELY_UNSET}\"\n",
        2,
        11,
        "environment variable `ROLECALL_MOCK_TEST_SURELY_UNSET` is not set",
    );
    one(
        "[origin.app.jwt]\nissuer = \"me\"\n",
        1,
        1,
        "`[origin.app.jwt]` needs exactly one of `secret` and `public_key_file`",
    );
}

#[test]
fn key_files_are_read_relative_to_the_config() {
    let toml = "[origin.app.jwt]\npublic_key_file = \"keys/missing.pem\"\n";
    let err = MockConfig::from_str(toml, Path::new(FIXTURES)).unwrap_err();
    let d = &err.diagnostics()[0];
    assert!(d.message.starts_with("cannot load key file"), "{err}");
    assert_eq!((d.line, d.column), (2, 19));
    // A device named as a key file would never end: refused at once.
    let start = Instant::now();
    let err = MockConfig::from_str(
        "[origin.app.jwt]\npublic_key_file = \"/dev/zero\"\n",
        Path::new(FIXTURES),
    )
    .unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(2));
    assert!(err.to_string().contains("not a regular file"), "{err}");
    let toml =
        "[origin.app.jwt]\npublic_key_file = \"keys/es256.pub.pem\"\nalgorithms = [\"RS256\"]\n";
    let err = MockConfig::from_str(toml, Path::new(FIXTURES)).unwrap_err();
    assert!(
        err.to_string().contains("RS256 does not fit the ec key"),
        "{err}"
    );
}

#[test]
fn credentials_are_masked_where_a_problem_quotes_them() {
    let toml = "[origin.app]\n[[origin.app.token]]\nbearer = \"viewer-token-9f2c\"\n[[origin.app.token]]\nbearer = \"viewer-token-9f2c\"\n";
    let rendered = error(toml).render(RenderStyle::Plain);
    assert!(
        rendered.contains("this bearer token is listed twice"),
        "{rendered}"
    );
    assert!(
        rendered.contains("bearer = \"*****************\""),
        "{rendered}"
    );
    assert!(!rendered.contains("viewer-token-9f2c"), "{rendered}");
}

#[test]
fn unreadable_files_say_so_without_waiting() {
    let err = MockConfig::from_path(Path::new("/nonexistent/mock.toml")).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("error: cannot read file: No such file or directory"),
        "{err}"
    );
    assert!(err.to_string().contains("/nonexistent/mock.toml"), "{err}");
    // A FIFO would block a reader until a writer came: it is refused instead.
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("mock.toml");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    if made.is_ok_and(|s| s.success()) {
        let start = Instant::now();
        let err = MockConfig::from_path(&fifo).unwrap_err();
        assert!(start.elapsed() < Duration::from_secs(2));
        assert!(err.to_string().contains("not a regular file"), "{err}");
    }
    let big = dir.path().join("big.toml");
    std::fs::write(&big, "#".repeat(5 << 20)).unwrap();
    let err = MockConfig::from_path(&big).unwrap_err();
    assert!(err.to_string().contains("larger than 4 MiB"), "{err}");
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, b"[edge]\ncolo = \"F\xffRA\"\n").unwrap();
    let err = MockConfig::from_path(&bad).unwrap_err();
    assert!(
        err.to_string()
            .contains("invalid UTF-8 at line 2, column 10"),
        "{err}"
    );
}

#[test]
fn invalid_fixtures_render_located_diagnostics() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/fixtures/invalid");
    let mut names: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert!(names.len() >= 8, "fixtures went missing: {names:?}");
    for name in names {
        let path = Path::new("fixtures/invalid").join(&name);
        let src = std::fs::read_to_string(root.join(&name)).unwrap();
        let err = match MockConfig::from_str(&src, &path) {
            Ok(_) => panic!("fixture `{name}` loaded"),
            Err(err) => err,
        };
        let rendered = err.render(RenderStyle::Plain);
        for d in err.diagnostics() {
            assert!(d.span.end <= src.len(), "{name}: {d:?}");
            let at = format!("{}:{}:{}", path.display(), d.line, d.column);
            assert!(rendered.contains(&at), "{name}: `{at}` not rendered");
        }
        let snapshot = name.trim_end_matches(".toml").to_owned();
        insta::assert_snapshot!(snapshot, rendered);
    }
}

#[cfg(feature = "schema")]
#[test]
fn the_schema_describes_layers_and_origins() {
    let schema = serde_json::to_value(rolecall_mock::json_schema()).unwrap();
    let text = schema.to_string();
    for needle in [
        "\"layer\"",
        "\"origin\"",
        "\"path_deny\"",
        "\"rate_limit\"",
        "\"tenant_param\"",
        "\"cloudflare\"",
    ] {
        assert!(text.contains(needle), "schema lacks {needle}");
    }
    assert_eq!(schema["title"], "rolecall mock.toml");
}
