//! `[deny_contract]`: the suite's applies to every route; a route file's extends it.

use crate::{no_env, suite_dir};

const SUITE: &str = r#"
[targets.local]
base_url = "http://127.0.0.1:9"
[identities.viewer]
bearer = "viewer-token-1234"
[deny_contract]
require = [{ pointer = "/code", type = "string" }]
message = { pointer = "/message", pattern = "may not" }
forbid = ["policy\\.rego"]
off = ["private_address"]
"#;

const ROUTE: &str = "[[route]]\nrequest = \"GET /a\"\nallow = [\"viewer\"]\n";

#[test]
fn a_route_file_extends_the_suite_contract_for_its_own_routes() {
    let extended = format!(
        "[deny_contract]\nstatuses = [403, 404]\nrequire = [{{ pointer = \"/help\" }}]\n\
         forbid = [\"opa\"]\noff = [\"file_path\"]\ntenant_vars = [\"org\"]\n\n{ROUTE}"
    );
    let dir = suite_dir(&[
        ("rolecall.toml", SUITE),
        ("plain.toml", ROUTE),
        ("strict.toml", &extended),
    ]);
    let suite = rolecall_scenario::load(dir.path(), &no_env()).unwrap_or_else(|e| panic!("{e}"));
    let by_file = |stem: &str| {
        let route = suite.routes.iter().find(|r| r.file_name == stem).unwrap();
        suite.contract(route).unwrap()
    };
    let plain = by_file("plain");
    assert!(plain.shapes(401) && plain.shapes(403) && !plain.shapes(404));
    assert_eq!(plain.require.len(), 1);
    assert!(!plain.detects("private_address") && plain.detects("file_path"));
    assert_eq!(plain.tenant_vars(), ["tenant"]);
    assert_eq!(plain.at.line, 6, "the `[deny_contract]` key");

    let strict = by_file("strict");
    assert!(!strict.shapes(401) && strict.shapes(404));
    let pointers: Vec<&str> = strict.require.iter().map(|r| r.pointer.as_str()).collect();
    assert_eq!(pointers, ["/code", "/help"]);
    assert_eq!(
        strict.message.as_ref().unwrap().pointer.as_deref(),
        Some("/message")
    );
    let forbid: Vec<&str> = strict.forbid.iter().map(|f| f.pattern.as_str()).collect();
    assert_eq!(forbid, ["policy\\.rego", "opa"]);
    assert!(!strict.detects("private_address") && !strict.detects("file_path"));
    assert_eq!(strict.tenant_vars(), ["org"]);
    assert!(strict.at.path.ends_with("strict.toml"));
    assert_eq!(strict.forbid[1].at.line, 4);
}

#[test]
fn without_a_declaration_there_is_no_contract() {
    let suite_file = SUITE.split("[deny_contract]").next().unwrap();
    let dir = suite_dir(&[("rolecall.toml", suite_file), ("plain.toml", ROUTE)]);
    let suite = rolecall_scenario::load(dir.path(), &no_env()).unwrap_or_else(|e| panic!("{e}"));
    assert!(suite.contract(&suite.routes[0]).is_none());
}
