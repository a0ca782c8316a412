//! Fixtures and the owner matrix: what a valid suite expands to.

use std::fmt::Write as _;

use rolecall_scenario::{CaptureSource, Suite};

use crate::{no_env, suite_dir};

const SUITE: &str = r#"
[targets.local]
base_url = "http://127.0.0.1:9"
[identities.anonymous]
[identities.alice]
bearer = "alice-token-1234"
vars = { tenant = "acme" }
[identities.bob]
bearer = "bob-token-1234"
vars = { tenant = "acme" }
[identities.admin]
bearer = "admin-token-5678"
vars = { tenant = "acme" }
[groups]
members = ["alice", "bob"]

[[fixture]]
name = "project"
identity = "admin"
request = "POST /v1/tenants/{tenant}/projects"
status = 201
capture.id = "/id"
teardown = "DELETE /v1/tenants/{tenant}/projects/{project.id}"
"#;

const ROUTES: &str = r#"
[[fixture]]
name = "doc"
per_identity = ["members"]
request = "POST /v1/projects/{project.id}/docs"
body.json = { title = "rolecall {identity}" }
capture.id = "/id"
capture.location = { header = "Location" }
capture.token = { regex = 'token=(\w+)', secret = true }
teardown = "DELETE /v1/docs/{doc.id}"

[[route]]
request = "GET /v1/docs/{doc.id}"
owner = "doc"
allow = ["owner", "admin"]

[[route]]
request = "GET /v1/projects/{project.id}"
allow = ["admin"]
"#;

fn load(routes: &str) -> Suite {
    let dir = suite_dir(&[("rolecall.toml", SUITE), ("docs.toml", routes)]);
    rolecall_scenario::load(dir.path(), &no_env()).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn an_owner_route_expands_over_actor_and_owner() {
    let suite = load(ROUTES);
    let mut out = String::new();
    for case in &suite.cases {
        let objects: Vec<String> = case
            .fixtures
            .iter()
            .map(|i| {
                format!(
                    "{}:{}",
                    suite.fixtures[i.fixture].name, suite.identities[i.identity].name
                )
            })
            .collect();
        writeln!(
            out,
            "{} {} {} [{}]",
            case.name,
            case.path,
            case.expect.status,
            objects.join(" ")
        )
        .unwrap();
    }
    assert_eq!(
        out,
        "\
docs::get_v1_docs_doc_id::anonymous@alice /v1/docs/{doc.id} 401 [doc:alice]
docs::get_v1_docs_doc_id::anonymous@bob /v1/docs/{doc.id} 401 [doc:bob]
docs::get_v1_docs_doc_id::alice@alice /v1/docs/{doc.id} 2xx [doc:alice]
docs::get_v1_docs_doc_id::alice@bob /v1/docs/{doc.id} 403 [doc:bob]
docs::get_v1_docs_doc_id::bob@alice /v1/docs/{doc.id} 403 [doc:alice]
docs::get_v1_docs_doc_id::bob@bob /v1/docs/{doc.id} 2xx [doc:bob]
docs::get_v1_docs_doc_id::admin@alice /v1/docs/{doc.id} 2xx [doc:alice]
docs::get_v1_docs_doc_id::admin@bob /v1/docs/{doc.id} 2xx [doc:bob]
docs::get_v1_projects_project_id::anonymous /v1/projects/{project.id} 401 [project:admin]
docs::get_v1_projects_project_id::alice /v1/projects/{project.id} 403 [project:admin]
docs::get_v1_projects_project_id::bob /v1/projects/{project.id} 403 [project:admin]
docs::get_v1_projects_project_id::admin /v1/projects/{project.id} 2xx [project:admin]
"
    );
}

#[test]
fn fixtures_resolve_creators_captures_needs_and_teardowns() {
    let suite = load(ROUTES);
    let names: Vec<&str> = suite.fixtures.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["project", "doc"]);
    let project = &suite.fixtures[0];
    assert_eq!(project.paths, ["/v1/tenants/acme/projects"]);
    assert_eq!(
        project.teardown_paths,
        ["/v1/tenants/acme/projects/{project.id}"]
    );
    assert_eq!(project.status.to_string(), "201");
    let doc = &suite.fixtures[1];
    assert!(doc.per_identity);
    assert_eq!(doc.identities, [1, 2]);
    assert_eq!(doc.needs, [0], "inferred from {{project.id}}");
    let kinds: Vec<(String, bool)> = doc
        .captures
        .iter()
        .map(|c| (c.source.describe(), c.secret))
        .collect();
    assert_eq!(
        kinds,
        [
            ("JSON pointer `/id`".to_owned(), false),
            ("header `location`".to_owned(), false),
            (r"regex `token=(\w+)`".to_owned(), true),
        ]
    );
    assert!(matches!(doc.captures[0].source, CaptureSource::Json(_)));
    assert_eq!(doc.location.line, 3);
}

#[test]
fn an_owner_route_needs_a_per_identity_fixture() {
    let dir = suite_dir(&[
        ("rolecall.toml", SUITE),
        (
            "docs.toml",
            "[[route]]\nrequest = \"GET /v1/p/{project.id}\"\nowner = \"project\"\nallow = [\"owner\"]\n",
        ),
    ]);
    let error = rolecall_scenario::load(dir.path(), &no_env()).unwrap_err();
    let messages: Vec<(String, u32, u32)> = error
        .diagnostics()
        .iter()
        .map(|d| (d.message.clone(), d.line, d.column))
        .collect();
    assert_eq!(
        messages,
        [(
            "`owner` names fixture `project`, which is not per identity".to_owned(),
            3,
            9
        )]
    );
}

#[test]
fn others_only_leaves_each_owner_s_own_case_out() {
    let routes = format!(
        "{ROUTES}\n[[route]]\nrequest = \"DELETE /v1/docs/{{doc.id}}\"\nowner = \"doc\"\nothers_only = true\n"
    );
    let suite = load(&routes);
    let names: Vec<&str> = suite
        .cases
        .iter()
        .filter(|c| c.name.contains("delete_"))
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "docs::delete_v1_docs_doc_id::anonymous@alice",
            "docs::delete_v1_docs_doc_id::anonymous@bob",
            "docs::delete_v1_docs_doc_id::alice@bob",
            "docs::delete_v1_docs_doc_id::bob@alice",
            "docs::delete_v1_docs_doc_id::admin@alice",
            "docs::delete_v1_docs_doc_id::admin@bob",
        ]
    );
}

#[test]
fn others_only_needs_an_owner_route_that_does_not_allow_the_owner() {
    let dir = suite_dir(&[
        ("rolecall.toml", SUITE),
        (
            "docs.toml",
            &format!(
                "{ROUTES}\n[[route]]\nrequest = \"DELETE /v1/p/{{project.id}}\"\nothers_only = true\n\
                 [[route]]\nrequest = \"DELETE /v1/docs/{{doc.id}}\"\nowner = \"doc\"\nallow = [\"owner\"]\nothers_only = true\n"
            ),
        ),
    ]);
    let error = rolecall_scenario::load(dir.path(), &no_env()).unwrap_err();
    let messages: Vec<(String, u32, u32)> = error
        .diagnostics()
        .iter()
        .map(|d| {
            (
                d.message.split(" (").next().unwrap().to_owned(),
                d.line,
                d.column,
            )
        })
        .collect();
    assert_eq!(
        messages,
        [
            ("`others_only` needs an owner route".to_owned(), 23, 15),
            (
                "`others_only` leaves out the owner, whom `allow` lists".to_owned(),
                28,
                15
            ),
        ]
    );
}
