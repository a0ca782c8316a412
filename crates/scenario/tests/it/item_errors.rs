//! No problem hides another: a type error in an item never hides an unknown key, or a
//! second type error, in the same item, at any depth.

use crate::{no_env, suite_dir};

const SUITE: &str = "[targets.local]\nbase_url = \"http://127.0.0.1:9\"\n[identities.anonymous]\n[identities.admin]\nbearer = \"admin-token-5678\"\n";

/// Loads the suite and returns every problem as `line:col message`, in file order.
#[track_caller]
fn problems(files: &[(&str, &str)]) -> Vec<String> {
    let dir = suite_dir(files);
    let error = rolecall_scenario::load(dir.path(), &no_env()).expect_err("the suite loaded");
    error
        .diagnostics()
        .iter()
        .map(|d| {
            let file = d.path.file_name().unwrap().to_string_lossy();
            format!("{file}:{}:{} {}", d.line, d.column, d.message)
        })
        .collect()
}

#[test]
fn a_route_reports_every_type_error_and_unknown_key() {
    let found = problems(&[
        ("rolecall.toml", SUITE),
        (
            "routes.toml",
            "[[route]]\nrequest = \"GET /a\"\nallow = 5\nstatuss = 200\ntimeout = true\npublic = \"yes\"\n",
        ),
    ]);
    assert_eq!(
        found,
        [
            "routes.toml:3:9 invalid type: integer `5`, expected a sequence",
            "routes.toml:4:1 unknown key `statuss`",
            "routes.toml:5:1 unknown key `timeout`",
            "routes.toml:6:10 invalid type: string \"yes\", expected a boolean",
        ]
    );
}

#[test]
fn nested_tables_and_cases_report_every_problem() {
    let found = problems(&[
        ("rolecall.toml", SUITE),
        (
            "routes.toml",
            r#"[[route]]
request = "GET /a"
body = { raw = 5, typo = 1 }
[[route.case]]
identity = 5
stauts = 1
snapshot = "no"
[[route.case]]
identity = "admin"
headers = { x-a = { present = "yes", equal = "b" }, x-b = { regex = 1 } }
"#,
        ),
    ]);
    assert_eq!(
        found,
        [
            "routes.toml:3:16 invalid type: integer `5`, expected a string",
            "routes.toml:3:19 unknown key `typo`",
            "routes.toml:5:12 invalid type: integer `5`, expected a string",
            "routes.toml:6:1 unknown key `stauts`",
            "routes.toml:7:12 invalid type: string \"no\", expected a boolean",
            "routes.toml:10:31 invalid type: string \"yes\", expected a boolean",
            "routes.toml:10:38 unknown key `equal`",
            "routes.toml:10:69 invalid type: integer `1`, expected a string",
        ]
    );
}

#[test]
fn suite_items_report_every_type_error_and_unknown_key() {
    let found = problems(&[(
        "rolecall.toml",
        r#"[defaults]
timeout = 5
snapshot = "x"
retries = 3
[targets.local]
base_url = "http://127.0.0.1:9"
insecure = "yes"
allow_mutation = true
[identities.admin]
bearer = 5
headrs = { a = "b" }
basic = { username = 1, pasword = "x" }
login = { request = 5, tokn = "/t" }
jwt = { secret = 5, expires = "1h" }
[groups]
staff = ["admin", 5, 6]
"#,
    )]);
    assert_eq!(
        found,
        [
            "rolecall.toml:2:11 invalid type: integer `5`, expected a string",
            "rolecall.toml:3:12 invalid type: string \"x\", expected a boolean",
            "rolecall.toml:4:1 unknown key `retries`",
            "rolecall.toml:7:12 invalid type: string \"yes\", expected a boolean",
            "rolecall.toml:8:1 unknown key `allow_mutation`",
            "rolecall.toml:10:10 invalid type: integer `5`, expected a string",
            "rolecall.toml:11:1 unknown key `headrs`",
            "rolecall.toml:12:9 missing field `password`",
            "rolecall.toml:12:22 invalid type: integer `1`, expected a string",
            "rolecall.toml:12:25 unknown key `pasword`",
            "rolecall.toml:13:21 invalid type: integer `5`, expected a string",
            "rolecall.toml:13:24 unknown key `tokn`",
            "rolecall.toml:14:18 invalid type: integer `5`, expected a string",
            "rolecall.toml:14:21 unknown key `expires`",
            "rolecall.toml:16:19 invalid type: integer `5`, expected a string",
            "rolecall.toml:16:22 invalid type: integer `6`, expected a string",
        ]
    );
}

#[test]
fn every_wrong_value_of_a_map_is_reported() {
    let found = problems(&[
        ("rolecall.toml", SUITE),
        (
            "routes.toml",
            "[[route]]\nrequest = \"GET /a\"\nquery = { a = 1, b = \"ok\", c = true, d = 2 }\n",
        ),
    ]);
    assert_eq!(
        found,
        [
            "routes.toml:3:15 invalid type: integer `1`, expected a string",
            "routes.toml:3:32 invalid type: boolean `true`, expected a string",
            "routes.toml:3:42 invalid type: integer `2`, expected a string",
        ]
    );
}
