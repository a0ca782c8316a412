//! Header names and values are checked when the suite loads, wherever a header is set,
//! including values that come from the environment.

use rolecall_scenario::{LoadOptions, RenderStyle};

use crate::{manifest_dir, no_env, suite_dir};

/// Every problem of the `header_values` fixture as `file:line:col message`.
#[test]
fn every_place_a_header_is_set_is_checked_at_once() {
    let fixture = manifest_dir().join("tests/fixtures/invalid/header_values");
    let error = rolecall_scenario::load(&fixture, &no_env()).expect_err("the suite loaded");
    let found: Vec<String> = error
        .diagnostics()
        .iter()
        .map(|d| {
            let file = d.path.file_name().unwrap().to_string_lossy();
            format!("{file}:{}:{} {} ({})", d.line, d.column, d.message, d.label)
        })
        .collect();
    assert_eq!(
        found,
        [
            "rolecall.toml:3:22 invalid header name in `client_ip_header` (` ` is not allowed in a name)",
            "rolecall.toml:4:18 invalid header name in `country_header` (empty name)",
            "rolecall.toml:5:15 invalid header name `X Trace` (` ` is not allowed in a name)",
            "rolecall.toml:5:42 invalid value for header `X-Suite` (line break)",
            "rolecall.toml:13:22 invalid value for header `Authorization` (line break)",
            "rolecall.toml:14:18 invalid value for header `User-Agent` (control character U+0000)",
            "rolecall.toml:15:22 invalid value for header `Referer` (non-ASCII character)",
            "rolecall.toml:16:25 invalid value for header `Origin` (line break)",
            "rolecall.toml:17:27 invalid value for cookie `session` (`;` ends a cookie value)",
            "rolecall.toml:17:52 invalid cookie name `bad name` (` ` is not allowed in a name)",
            "rolecall.toml:18:24 invalid header name in `api_key.header` (`:` is not allowed in a name)",
            "rolecall.toml:18:43 invalid value for header `X:Key` (control character U+007F)",
            "rolecall.toml:19:13 empty header name (empty name)",
            "rolecall.toml:22:49 invalid header name in `jwt.header` (` ` is not allowed in a name)",
            "rolecall.toml:23:74 invalid value for header `X-Login` (line break)",
            "rolecall.toml:23:128 invalid value for header `Content-Type` (line break)",
            "rolecall.toml:26:24 invalid user name in `basic.username` (`:` ends the user name)",
            "rolecall.toml:27:50 invalid cookie name in `login.cookie` (` ` is not allowed in a name)",
            "routes.toml:3:17 invalid header name `X-A\\0` (control character U+0000)",
            "routes.toml:3:46 invalid value for header `X-B` (line break)",
            "routes.toml:5:38 invalid value for header `Content-Type` (control character U+000B)",
            "routes.toml:9:15 invalid header name `x y` (` ` is not allowed in a name)",
        ]
    );
}

const SUITE: &str = r#"[targets.local]
base_url = "http://127.0.0.1:9"
[identities.admin]
bearer = "${env:TOKEN}"
headers = { X-Trace = "id-${env:TRACE}", X-Ok = "${env:AGENT}" }
"#;

#[test]
fn environment_values_are_checked_and_never_shown() {
    let dir = suite_dir(&[
        ("rolecall.toml", SUITE),
        (
            "routes.toml",
            "[[route]]\nrequest = \"GET /a\"\nallow = [\"admin\"]\n",
        ),
    ]);
    let options = LoadOptions::new().env(|name| match name {
        "TOKEN" => Some("tok-1234\r\nX-Evil: 1".to_owned()),
        "TRACE" => Some("trace-5678\u{7}".to_owned()),
        "AGENT" => Some("agent\tok".to_owned()),
        _ => None,
    });
    let error = rolecall_scenario::load(dir.path(), &options).expect_err("the suite loaded");
    let found: Vec<String> = error
        .diagnostics()
        .iter()
        .map(|d| format!("{}:{} {} ({})", d.line, d.column, d.message, d.label))
        .collect();
    assert_eq!(
        found,
        [
            "4:13 invalid value for header `Authorization`: the value of `TOKEN` contains a line break (from the environment)",
            "5:29 invalid value for header `X-Trace`: the value of `TRACE` contains control character U+0007 (from the environment)",
        ]
    );
    let rendered = error.render(RenderStyle::Plain);
    for leak in ["tok-1234", "X-Evil", "trace-5678"] {
        assert!(!rendered.contains(leak), "`{leak}` shown:\n{rendered}");
    }
}

#[test]
fn tabs_spaces_and_every_visible_ascii_character_are_valid() {
    let visible: String = (0x21u8..0x7f)
        .map(char::from)
        .filter(|c| !matches!(c, '"' | '\\'))
        .collect();
    let suite = format!(
        "[defaults]\nheaders = {{ X-All = \"{visible} \\t end\", \"!#$%&'*+-.^_`|~09azAZ\" = \"\" }}\n[targets.local]\nbase_url = \"http://127.0.0.1:9\"\n[identities.admin]\nbearer = \"tok\\tend\"\ncookies = {{ session = \"a=b,c\" }}\n"
    );
    let dir = suite_dir(&[
        ("rolecall.toml", &suite),
        (
            "routes.toml",
            "[[route]]\nrequest = \"GET /a\"\nallow = [\"admin\"]\nheaders = { X-Tab = \"\\t\" }\n",
        ),
    ]);
    let suite = rolecall_scenario::load(dir.path(), &no_env()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(suite.settings.headers.len(), 2);
}
