//! Loading `mock.toml`: errors name the file, line and column.

use std::path::Path;

use rolecall_mock::{MockConfig, MockConfigErrorKind};

use crate::support::FIXTURES;

#[track_caller]
fn error(toml: &str) -> String {
    match MockConfig::from_str(toml, Path::new("mock.toml")) {
        Ok(_) => panic!("loaded but should not:\n{toml}"),
        Err(err) => err.to_string(),
    }
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
fn unknown_keys_point_at_the_key() {
    let message = error("[edge]\ncdn = \"cloudflare\"\ncolour = \"red\"\n[origin.app]\n");
    assert!(
        message.starts_with("mock.toml:3:1: unknown field `colour`"),
        "{message}"
    );
}

#[test]
fn unknown_layer_kinds_are_named() {
    let message = error(&format!("[[layer]]\nfirewall = {{ deny = [] }}\n{APP}"));
    assert!(
        message.starts_with("mock.toml:2:1: unknown variant `firewall`"),
        "{message}"
    );
}

#[test]
fn bad_values_point_at_the_value() {
    let cases = [
        (
            "[[layer]]\nip = { persona = \"nginx\", deny = [\"10.0.0.0/33\"] }\n",
            "mock.toml:2:35: `10.0.0.0/33` is not an IP address or CIDR block",
        ),
        (
            "[[layer]]\nuser_agent = { persona = \"nginx\", block = [\"(\"] }\n",
            "mock.toml:2:44: invalid regex",
        ),
        (
            "[[layer]]\npath_deny = { persona = \"nginx\", globs = [\"admin\"] }\n",
            "mock.toml:2:43: path glob `admin` must start with `/`",
        ),
        (
            "[[layer]]\ngeo = { persona = \"nginx\", block = [\"Germany\"] }\n",
            "mock.toml:2:37: `Germany` is not a two-letter country code",
        ),
        (
            "[[layer]]\nrate_limit = { persona = \"nginx\", requests = 5, per = \"soon\" }\n",
            "mock.toml:2:55: invalid duration `soon`",
        ),
        (
            "[[layer]]\nfault = { persona = \"nginx\", paths = [\"/x\"], status = 404 }\n",
            "mock.toml:2:55: a fault status must be 5xx",
        ),
        (
            "[[layer]]\nmethod = { persona = \"nginx\", deny = [\"GE T\"] }\n",
            "mock.toml:2:39: `GE T` is not an HTTP method",
        ),
        (
            "[edge]\ncdn = \"nginx\"\n",
            "mock.toml:2:7: `cdn` must be cloudflare, cloudfront or akamai",
        ),
    ];
    for (toml, expected) in cases {
        let message = error(&format!("{toml}{APP}"));
        assert!(
            message.starts_with(expected),
            "expected {expected:?}\n     got {message:?}"
        );
    }
}

#[test]
fn layers_without_a_persona_need_an_edge_default() {
    let message = error(&format!(
        "[[layer]]\npath_deny = {{ prefixes = [\"/admin\"] }}\n{APP}"
    ));
    assert!(
        message.starts_with(
            "mock.toml:1:1: this layer names no `persona` and `[edge] server` is not set"
        ),
        "{message}"
    );
}

#[test]
fn routes_are_checked() {
    let message = error(
        "[origin.app]\n[[origin.app.route]]\nrequest = \"GET /v1/{id}\"\ntenant_param = \"tenant\"\n",
    );
    assert!(
        message.starts_with("mock.toml:4:16: `tenant` is not a parameter of `/v1/{id}`"),
        "{message}"
    );
    let message = error("[origin.app]\n[[origin.app.route]]\nrequest = \"/v1\"\n");
    assert!(
        message.starts_with("mock.toml:3:11: a route is written \"METHOD /path\""),
        "{message}"
    );
    let message = error(
        "[origin.app]\n[[origin.app.route]]\nrequest = \"GET /v1/{a}\"\n[[origin.app.route]]\nrequest = \"GET /v1/{b}\"\n",
    );
    assert!(
        message.contains("routes `GET /v1/{a}` and `GET /v1/{b}` overlap"),
        "{message}"
    );
}

#[test]
fn jwt_settings_are_checked() {
    let message = error("[origin.app.jwt]\nsecret = \"s\"\nalgorithms = [\"none\"]\n");
    assert!(
        message.starts_with("mock.toml:3:15: the `none` algorithm is never accepted"),
        "{message}"
    );
    let message = error("[origin.app.jwt]\nsecret = \"s\"\nalgorithms = [\"RS256\"]\n");
    assert!(
        message.contains("RS256 needs `public_key_file`"),
        "{message}"
    );
    let message = error("[origin.app.jwt]\nsecret = \"${env:ROLECALL_MOCK_TEST_SURELY_UNSET}\"\n");
    assert!(
        message.ends_with("environment variable `ROLECALL_MOCK_TEST_SURELY_UNSET` is not set"),
        "{message}"
    );
}

#[test]
fn key_files_are_read_relative_to_the_config() {
    let toml = "[origin.app.jwt]\npublic_key_file = \"keys/missing.pem\"\n";
    let err = MockConfig::from_str(toml, Path::new(FIXTURES)).unwrap_err();
    assert!(
        matches!(err.kind(), MockConfigErrorKind::Key { .. }),
        "{err}"
    );
    assert_eq!((err.line(), err.column()), (Some(2), Some(19)));
    let toml =
        "[origin.app.jwt]\npublic_key_file = \"keys/es256.pub.pem\"\nalgorithms = [\"RS256\"]\n";
    let err = MockConfig::from_str(toml, Path::new(FIXTURES)).unwrap_err();
    assert!(
        err.to_string().contains("RS256 does not fit the ec key"),
        "{err}"
    );
}

#[test]
fn unreadable_files_say_so() {
    let err = MockConfig::from_path(Path::new("/nonexistent/mock.toml")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "/nonexistent/mock.toml: cannot read the file"
    );
    assert_eq!(err.line(), None);
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
