//! `rolecall coverage` and `rolecall new`: the example suite's planted security mismatch,
//! the gates, bad input with its location, and drafts that pass `rolecall check`.

use std::path::Path;

use crate::{SUITE, rolecall, text, write};

fn workspace() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

#[test]
fn the_example_suite_reports_its_planted_security_mismatch() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("coverage.json");
    let args = |extra: &[&str]| {
        let mut args = vec![
            "coverage",
            "scenarios",
            "--openapi",
            "scenarios/openapi.yaml",
        ];
        args.extend_from_slice(extra);
        rolecall(&args, workspace())
    };
    let gated = args(&[
        "--fail-on-mismatch",
        "--report",
        &format!("json={}", report.display()),
    ]);
    let out = text(&gated);
    assert_eq!(gated.status.code(), Some(1), "{out}");
    assert!(
        out.contains("scenarios/account.toml:5:11: GET /v1/health — anonymous allowed: the description requires credentials, but the suite lets `anonymous`"),
        "{out}"
    );
    assert!(out.contains("security mismatches (1):"), "{out}");
    assert!(
        out.contains("gate: 1 security mismatch (--fail-on-mismatch)"),
        "{out}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(json["findings"][0]["kind"], "anonymous_allowed");
    assert_eq!(json["findings"][0]["operation"], "GET /v1/health");
    assert_eq!(json["summary"]["operations"], 28);
    assert_eq!(json["summary"]["operations_exercised"], 25);
    // The description documents every route but the edge probes, which are no operations
    // of the API (the edge refuses them; the app serves nothing there).
    let undocumented: Vec<&str> = json["undocumented"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["request"].as_str().unwrap())
        .collect();
    assert_eq!(
        undocumented,
        [
            "GET /static/..%2f..%2fetc/passwd",
            "GET /admin/",
            "GET /.git/config",
            "GET /static/"
        ],
        "{out}"
    );
    // Sent only by fixtures, teardowns and the login, never tried by other identities.
    assert!(
        out.contains("operations no route exercises (3):\n  POST /v1/docs  (createDoc)\n  POST /v1/login  (login)\n  DELETE /v1/tenants/{tenantId}/workspaces/{workspaceId}  (deleteWorkspace)\n"),
        "{out}"
    );

    // Without a gate, the same findings exit 0; the percentage gate compares with 89.3%.
    assert_eq!(args(&[]).status.code(), Some(0));
    assert_eq!(args(&["--fail-under", "89"]).status.code(), Some(0));
    let under = args(&["--fail-under", "89.5"]);
    assert_eq!(under.status.code(), Some(1), "{}", text(&under));
    assert!(text(&under).contains("gate: coverage 89.3% is under --fail-under 89.5"));
}

#[test]
fn the_example_description_drafts_every_operation_and_the_drafts_pass_check() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let new = rolecall(
        &["new", "--openapi", "scenarios/openapi.yaml", "--out", out],
        workspace(),
    );
    assert_eq!(new.status.code(), Some(0), "{}", text(&new));
    let written: Vec<String> = text(&new)
        .lines()
        .filter_map(|l| l.strip_prefix("wrote "))
        .map(|l| l.replacen(out, "", 1))
        .collect();
    assert_eq!(
        written,
        [
            "/account.toml (3 routes)",
            "/billing.toml (2 routes)",
            "/docs.toml (4 routes)",
            "/internal.toml (1 route)",
            "/members.toml (4 routes)",
            "/projects.toml (8 routes)",
            "/search.toml (1 route)",
            "/static.toml (1 route)",
            "/workspaces.toml (4 routes)"
        ]
    );
    // Beside the example's configuration, the drafts load as a suite as written.
    for file in ["rolecall.toml", "mock.toml", "mock-weak.toml"] {
        std::fs::copy(
            workspace().join("scenarios").join(file),
            dir.path().join(file),
        )
        .unwrap();
    }
    let check = rolecall(&["check", "."], dir.path());
    assert_eq!(check.status.code(), Some(0), "{}", text(&check));
    assert!(
        text(&check).starts_with("ok: 9 route files, 28 routes"),
        "{}",
        text(&check)
    );
}

#[test]
fn bad_descriptions_captures_and_reports_exit_2_with_their_location() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &[
            ("rolecall.toml", SUITE),
            ("r.toml", "[[route]]\nrequest = \"GET /a\"\npublic = true\n"),
            ("syntax.yaml", "openapi: 3.0.0\npaths:\n  /a: [1, 2\n"),
            (
                "ref.json",
                "{\"openapi\": \"3.0.0\", \"paths\": {\"/a\": {\"$ref\": \"#/nope\"}}}",
            ),
            ("not.har", "{\"entries\": []}"),
        ],
    );
    let run = |args: &[&str]| rolecall(args, dir.path());
    let both = run(&["coverage", ".", "--openapi", "ref.json", "--har", "not.har"]);
    assert_eq!(both.status.code(), Some(2), "{}", text(&both));
    assert_eq!(
        text(&both),
        "error: ref.json at `/paths/~1a`: `$ref` to `#/nope`: no such value\nerror: not.har (at the root): not a HAR file: expected `log.entries`, a list of requests\n"
    );
    let syntax = run(&["coverage", ".", "--openapi", "syntax.yaml"]);
    assert_eq!(syntax.status.code(), Some(2));
    assert!(
        text(&syntax).starts_with("error: syntax.yaml:4:1: invalid YAML"),
        "{}",
        text(&syntax)
    );
    let report = run(&[
        "coverage",
        ".",
        "--openapi",
        "ref.json",
        "--report",
        "json=missing/c.json",
    ]);
    assert_eq!(report.status.code(), Some(2));
    assert!(
        text(&report).contains("its directory does not exist"),
        "{}",
        text(&report)
    );
    let format = run(&[
        "coverage",
        ".",
        "--openapi",
        "ref.json",
        "--report",
        "sarif=c.sarif",
    ]);
    assert_eq!(format.status.code(), Some(2));
    let nothing = run(&["coverage", "."]);
    assert_eq!(nothing.status.code(), Some(2), "{}", text(&nothing));
    let new = run(&["new", "--openapi", "syntax.yaml", "--suite", "."]);
    assert_eq!(new.status.code(), Some(2));
}

const DESCRIPTION: &str = r#"
openapi: 3.0.3
info: { title: Pets, version: "1" }
servers: [{ url: "https://pets.example/v1" }]
components:
  securitySchemes: { token: { type: http, scheme: bearer } }
security: [{ token: [] }]
paths:
  /pets:
    get: { tags: [pets], security: [], responses: { "200": { description: ok } } }
    post: { tags: [pets], responses: { "201": { description: ok } } }
  /pets/{petId}:
    delete: { tags: [pets], responses: { "204": { description: ok } } }
  /owners/{ownerId}/pets:
    get: { responses: { "200": { description: ok } } }
"#;

#[test]
fn drafts_pass_check_and_are_never_overwritten_without_force() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &[("rolecall.toml", SUITE), ("openapi.yaml", DESCRIPTION)],
    );
    let run = |args: &[&str]| rolecall(args, dir.path());
    let new = run(&["new", "--openapi", "openapi.yaml", "--suite", "."]);
    assert_eq!(new.status.code(), Some(0), "{}", text(&new));
    assert!(
        text(&new).contains("wrote ./owners.toml (1 route)\nwrote ./pets.toml (3 routes)\n"),
        "{}",
        text(&new)
    );
    let pets = std::fs::read_to_string(dir.path().join("pets.toml")).unwrap();
    assert!(
        pets.contains("request = \"DELETE /v1/pets/TODO-petId\"\nallow = []\n"),
        "{pets}"
    );
    let check = run(&["check", "."]);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check));
    assert!(
        text(&check).starts_with("ok: 2 route files, 4 routes"),
        "{}",
        text(&check)
    );

    // Existing files are named, and none is written.
    std::fs::remove_file(dir.path().join("owners.toml")).unwrap();
    let again = run(&["new", "--openapi", "openapi.yaml", "--suite", "."]);
    assert_eq!(again.status.code(), Some(2));
    assert_eq!(
        text(&again),
        "error: `./pets.toml` exists; pass `--force` to replace it\n"
    );
    assert!(!dir.path().join("owners.toml").exists());
    let forced = run(&[
        "new",
        "--openapi",
        "openapi.yaml",
        "--suite",
        ".",
        "--force",
    ]);
    assert_eq!(forced.status.code(), Some(0), "{}", text(&forced));

    // One route on the command line.
    let one = run(&[
        "new",
        "DELETE /v1/projects/{id}",
        "--allow",
        "admin",
        "--suite",
        ".",
    ]);
    assert_eq!(one.status.code(), Some(0), "{}", text(&one));
    let projects = std::fs::read_to_string(dir.path().join("projects.toml")).unwrap();
    assert!(
        projects.contains("request = \"DELETE /v1/projects/TODO-id\"\nallow = [\"admin\"]\n"),
        "{projects}"
    );
    let check = run(&["check", "."]);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check));
}

#[test]
fn drafts_from_a_capture_name_the_identity_and_never_its_token() {
    let dir = tempfile::tempdir().unwrap();
    let entry = |method: &str, url: &str, token: &str, status: u16| {
        format!(
            r#"{{"request": {{"method": "{method}", "url": "{url}", "headers": [{{"name": "Authorization", "value": "Bearer {token}"}}]}}, "response": {{"status": {status}}}}}"#
        )
    };
    let har = format!(
        r#"{{"log": {{"version": "1.2", "entries": [{}, {}, {}]}}}}"#,
        entry(
            "GET",
            "https://app.example/v1/reports/7?session=abc",
            "viewer-token-1234",
            200
        ),
        entry(
            "DELETE",
            "https://app.example/v1/reports/7",
            "viewer-token-1234",
            403
        ),
        entry(
            "DELETE",
            "https://app.example/v1/reports/7",
            "admin-token-5678",
            204
        ),
    );
    write(
        dir.path(),
        &[("rolecall.toml", SUITE), ("capture.har", &har)],
    );
    let new = rolecall(&["new", "--har", "capture.har", "--suite", "."], dir.path());
    assert_eq!(new.status.code(), Some(0), "{}", text(&new));
    let reports = std::fs::read_to_string(dir.path().join("reports.toml")).unwrap();
    for secret in ["viewer-token-1234", "admin-token-5678", "abc"] {
        assert!(!reports.contains(secret), "{secret} written: {reports}");
    }
    assert!(
        reports.contains("request = \"GET /v1/reports/7\"\nallow = [\"viewer\"]\n"),
        "{reports}"
    );
    assert!(
        reports.contains(
            "# TODO(rolecall): captured as `viewer` and refused (403): confirm the refusal\n"
        ),
        "{reports}"
    );
    assert!(
        reports.contains("request = \"DELETE /v1/reports/7\"\nallow = [\"admin\"]\n"),
        "{reports}"
    );
    let check = rolecall(&["check", "."], dir.path());
    assert_eq!(check.status.code(), Some(0), "{}", text(&check));

    // The same capture's coverage: both requests are exercised now, by their senders.
    let coverage = rolecall(&["coverage", ".", "--har", "capture.har"], dir.path());
    assert_eq!(coverage.status.code(), Some(0), "{}", text(&coverage));
    assert!(
        text(&coverage).ends_with(
            "coverage: 2 of 2 captured requests outside the description exercised (100.0%)\n"
        ),
        "{}",
        text(&coverage)
    );
}

#[test]
fn tokens_in_captured_urls_reach_neither_drafts_nor_coverage_output() {
    let dir = tempfile::tempdir().unwrap();
    let reset = "9f3c2e7a4b1d8c6f0a1b";
    let hook = "whsec_Ab9XyZ0123456789abcdefGHIJ";
    let magic = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl";
    let entry = |method: &str, url: &str| {
        format!(
            r#"{{"request": {{"method": "{method}", "url": "{url}", "headers": []}}, "response": {{"status": 200}}}}"#
        )
    };
    let har = format!(
        r#"{{"log": {{"version": "1.2", "entries": [{}, {}, {}, {}]}}}}"#,
        entry(
            "GET",
            &format!("https://app.example/reset-password/{reset}")
        ),
        entry(
            "GET",
            "https://app.example/reset-password/0a1b2c3d4e5f6a7b8c9d"
        ),
        entry(
            "POST",
            &format!("https://app.example/api/webhooks/123/{hook}")
        ),
        entry(
            "GET",
            &format!("https://app.example/auth/magic?{magic}&next=%2F")
        ),
    );
    write(
        dir.path(),
        &[("rolecall.toml", SUITE), ("capture.har", &har)],
    );
    let new = rolecall(&["new", "--har", "capture.har", "--suite", "."], dir.path());
    assert_eq!(new.status.code(), Some(0), "{}", text(&new));
    let mut everything = text(&new);
    for file in ["reset_password.toml", "webhooks.toml", "auth.toml"] {
        everything.push_str(&std::fs::read_to_string(dir.path().join(file)).unwrap());
    }
    let coverage = rolecall(
        &[
            "coverage",
            ".",
            "--har",
            "capture.har",
            "--report",
            "json=c.json",
            "--report",
            "markdown=c.md",
            "--report",
            "html=c.html",
        ],
        dir.path(),
    );
    assert_eq!(coverage.status.code(), Some(0), "{}", text(&coverage));
    everything.push_str(&text(&coverage));
    for file in ["c.json", "c.md", "c.html"] {
        everything.push_str(&std::fs::read_to_string(dir.path().join(file)).unwrap());
    }
    for secret in [reset, "0a1b2c3d4e5f6a7b8c9d", hook, magic, "eyJhbGci"] {
        assert!(!everything.contains(secret), "{secret} shown: {everything}");
    }
    // The two resets are one route, its token a placeholder to settle; the query's one
    // named parameter is kept.
    let resets = std::fs::read_to_string(dir.path().join("reset_password.toml")).unwrap();
    assert!(
        resets.contains("# TODO(rolecall): replace `TODO-token` with a real value")
            && resets.contains("request = \"GET /reset-password/TODO-token\"\nallow = []\n"),
        "{resets}"
    );
    assert!(
        everything.contains("captured with query parameters next (values left out)"),
        "{everything}"
    );
    assert!(
        text(&coverage).contains("  GET /reset-password/{token}  ×2\n"),
        "{}",
        text(&coverage)
    );
    let check = rolecall(&["check", "."], dir.path());
    assert_eq!(check.status.code(), Some(0), "{}", text(&check));
}
