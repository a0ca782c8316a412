//! Journeys against the fixtures' document server, which records every request: steps
//! run in order within a walk, a failed or refused step skips the later ones with the
//! reason, a later step selected alone runs the steps before it, teardowns always run,
//! and a read-only target receives no write.

use rolecall_runner::{CaseResult, Outcome};
use rolecall_scenario::Suite;

use crate::fixtures::{DocServer, run, suite_at};
use crate::{outcomes, run_all};

const SHARE: &str = r#"
[[journey]]
name = "share"
identities = ["alice", "bob"]

[[journey.step]]
name = "create"
request = "POST /docs"
allow = ["alice", "bob"]
status = 201
capture.id = "/id"
teardown = "DELETE /docs/{share.id}"

[[journey.step]]
name = "read"
request = "GET /docs/{share.id}"
allow = ["alice", "bob"]
status = 200

[[journey.step]]
name = "admin_reads"
as = "admin"
request = "GET /docs/{share.id}"
allow = ["alice", "bob"]
status = 200

[[journey.step]]
name = "stranger_reads"
as = "anonymous"
request = "GET /docs/{share.id}"
deny = 401
"#;

fn index(suite: &Suite, name: &str) -> usize {
    suite
        .cases
        .iter()
        .position(|c| c.name == name)
        .unwrap_or_else(|| panic!("no case {name}"))
}

fn message<'a>(suite: &Suite, results: &'a [CaseResult], name: &str) -> &'a str {
    let r = results
        .iter()
        .find(|r| suite.cases[r.index].name == name)
        .unwrap();
    r.message.as_deref().unwrap_or("")
}

#[test]
fn each_walk_runs_its_steps_in_order_with_captures_and_is_torn_down() {
    let server = DocServer::start();
    let (_dir, suite) = suite_at(&server, true, SHARE);
    let run = run_all(&suite);
    let mut got = outcomes(&suite, &run);
    got.sort();
    assert_eq!(
        got,
        [
            "docs::share::alice::admin_reads pass",
            "docs::share::alice::create pass",
            "docs::share::alice::read pass",
            "docs::share::alice::stranger_reads pass",
            "docs::share::bob::admin_reads pass",
            "docs::share::bob::create pass",
            "docs::share::bob::read pass",
            "docs::share::bob::stranger_reads pass",
        ]
    );
    assert!(
        run.teardown_failures.is_empty(),
        "{:?}",
        run.teardown_failures
    );
    assert_eq!(server.left(), 0, "teardown left objects behind");
    let log = server.log();
    // Each walk: its object is created, then read three times, in that order.
    for id in ["d1", "d2"] {
        let at: Vec<usize> = log
            .iter()
            .enumerate()
            .filter(|(_, l)| l.ends_with(&format!("/docs/{id}")))
            .map(|(i, _)| i)
            .collect();
        assert_eq!(at.len(), 4, "three reads and a delete of {id}: {log:?}");
        assert!(log[at[3]].starts_with("DELETE"), "{log:?}");
    }
    assert_eq!(
        log.iter().filter(|l| *l == "POST /docs").count(),
        2,
        "{log:?}"
    );
    let last_get = log.iter().rposition(|l| l.starts_with("GET")).unwrap();
    let first_delete = log.iter().position(|l| l.starts_with("DELETE")).unwrap();
    assert!(
        last_get < first_delete,
        "teardown after every step: {log:?}"
    );
}

#[test]
fn a_failed_step_skips_the_later_ones_with_the_reason_and_sends_nothing_more() {
    let server = DocServer::start();
    let routes = r#"
[[journey]]
name = "broken"
identities = ["alice"]

[[journey.step]]
name = "create"
request = "POST /broken"
allow = ["alice"]
status = 201
capture.id = "/id"

[[journey.step]]
name = "read"
request = "GET /docs/{broken.id}"
allow = ["alice"]
"#;
    let (_dir, suite) = suite_at(&server, true, routes);
    let run = run_all(&suite);
    assert_eq!(
        outcomes(&suite, &run),
        [
            "docs::broken::alice::create fail",
            "docs::broken::alice::read skipped"
        ]
    );
    assert_eq!(
        message(&suite, &run.results, "docs::broken::alice::read"),
        "step `create` failed"
    );
    assert_eq!(server.log(), ["POST /broken"]);
}

#[test]
fn a_refused_step_ends_the_walk_of_the_identity_that_meets_the_wall() {
    let server = DocServer::start();
    let (_dir, suite) = suite_at(
        &server,
        true,
        &SHARE.replace(
            r#"identities = ["alice", "bob"]"#,
            r#"identities = ["alice", "anonymous"]"#,
        ),
    );
    let run = run_all(&suite);
    let skipped: Vec<(&str, &str)> = run
        .results
        .iter()
        .filter(|r| r.outcome == Outcome::Skipped)
        .map(|r| {
            (
                suite.cases[r.index].name.as_str(),
                r.message.as_deref().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        skipped,
        [
            ("docs::share::anonymous::read", "step `create` was refused"),
            (
                "docs::share::anonymous::admin_reads",
                "step `create` was refused"
            ),
            (
                "docs::share::anonymous::stranger_reads",
                "step `create` was refused"
            ),
        ]
    );
    // The refusal itself passes (it is what `allow` says); alice's walk is untouched.
    let failed: Vec<String> = outcomes(&suite, &run)
        .into_iter()
        .filter(|o| !o.ends_with(" pass") && !o.ends_with(" skipped"))
        .collect();
    assert!(failed.is_empty(), "{failed:?}");
    assert_eq!(server.left(), 0);
}

#[test]
fn a_later_step_selected_alone_runs_the_steps_before_it_unreported() {
    let server = DocServer::start();
    let (_dir, suite) = suite_at(&server, true, SHARE);
    let read = index(&suite, "docs::share::bob::read");
    let run = run(&suite, &[read]);
    assert_eq!(outcomes(&suite, &run), ["docs::share::bob::read pass"]);
    assert_eq!(
        server.log(),
        ["POST /docs", "GET /docs/d1", "DELETE /docs/d1"],
        "create first, then the step, then the teardown"
    );
    assert_eq!(server.left(), 0);
}

#[test]
fn a_read_only_target_receives_no_write_and_the_walk_is_skipped_with_the_reason() {
    let server = DocServer::start();
    let (_dir, suite) = suite_at(&server, false, SHARE);
    let run = run_all(&suite);
    assert!(
        run.results.iter().all(|r| r.outcome == Outcome::Skipped),
        "{:?}",
        outcomes(&suite, &run)
    );
    let create = message(&suite, &run.results, "docs::share::alice::create").to_owned();
    let read = message(&suite, &run.results, "docs::share::alice::read");
    assert_eq!(read, format!("step `create` was not sent: {create}"));
    assert!(create.contains("POST"), "{create}");
    assert_eq!(server.log(), Vec::<String>::new(), "0 requests, 0 writes");
}

#[test]
fn a_read_whose_teardown_writes_is_not_sent_to_a_read_only_target() {
    let server = DocServer::start();
    let routes = r#"
[[journey]]
name = "peek"
identities = ["alice"]

[[journey.step]]
name = "read"
request = "GET /docs/d1"
teardown = "DELETE /docs/d1"
allow = ["alice"]
"#;
    let (_dir, suite) = suite_at(&server, false, routes);
    let run = run_all(&suite);
    assert_eq!(outcomes(&suite, &run), ["docs::peek::alice::read skipped"]);
    assert!(
        message(&suite, &run.results, "docs::peek::alice::read")
            .contains("its teardown (DELETE) would not be sent"),
        "{:?}",
        run.results[0].message
    );
    assert_eq!(server.log(), Vec::<String>::new(), "0 writes");
}

#[test]
fn identity_in_a_case_s_query_headers_and_body_is_the_sender_s_name() {
    let server = crate::server::TestServer::start();
    let config = format!(
        "[targets.t]\nbase_url = \"{}\"\nallow_mutations = true\n[identities.alice]\nbearer = \"alice-token-1234\"\n[identities.bob]\nbearer = \"bob-token-1234\"\n",
        server.url()
    );
    let routes = r#"
[[route]]
request = "POST /notes/{identity}"
query = { by = "{identity}" }
headers = { x-sender = "{identity}" }
body.json = { author = "{identity}", tags = ["{identity}"] }
allow = ["alice", "bob"]

[[journey]]
name = "sign"
identities = ["alice", "bob"]

[[journey.step]]
name = "post"
request = "POST /signed"
headers = { x-sender = "{identity}" }
body.form = { who = "{identity}" }
allow = ["alice", "bob"]
status = 200
"#;
    let (_dir, suite) = crate::suite(&[("rolecall.toml", &config), ("docs.toml", routes)]);
    let run = run_all(&suite);
    assert!(
        run.results.iter().all(|r| r.outcome == Outcome::Pass),
        "{:?}",
        outcomes(&suite, &run)
    );
    let seen = server.seen();
    for name in ["alice", "bob"] {
        let note = seen
            .iter()
            .find(|s| s.uri.starts_with(&format!("/notes/{name}?")))
            .unwrap_or_else(|| panic!("{seen:?}"));
        assert_eq!(note.uri, format!("/notes/{name}?by={name}"));
        assert_eq!(note.header("x-sender"), Some(name));
        let body: serde_json::Value = serde_json::from_str(&note.body).unwrap();
        assert_eq!(
            body,
            serde_json::json!({ "author": name, "tags": [name] }),
            "{note:?}"
        );
        let step = seen
            .iter()
            .find(|s| s.uri == "/signed" && s.header("x-sender") == Some(name))
            .unwrap_or_else(|| panic!("{seen:?}"));
        assert_eq!(step.body, format!("who={name}"));
    }
}

#[test]
fn a_later_step_selected_alone_sets_up_the_fixtures_of_the_steps_before_it() {
    let server = DocServer::start();
    let routes = r#"
[[fixture]]
name = "doc"
identity = "alice"
request = "POST /docs"
capture.id = "/id"
capture.location = { header = "location" }
teardown = "DELETE /docs/{doc.id}"

[[journey]]
name = "visit"
identities = ["alice"]

[[journey.step]]
name = "open"
request = "GET /docs/{doc.id}"
allow = ["alice"]
status = 200
capture.again = "/id"

[[journey.step]]
name = "reopen"
request = "GET /docs/{visit.again}"
allow = ["alice"]
status = 200
"#;
    let (_dir, suite) = suite_at(&server, true, routes);
    let run = run(&suite, &[index(&suite, "docs::visit::alice::reopen")]);
    assert_eq!(
        outcomes(&suite, &run),
        ["docs::visit::alice::reopen pass"],
        "{:?}",
        run.results[0].message
    );
    assert_eq!(
        server.log(),
        [
            "POST /docs",
            "GET /docs/d1",
            "GET /docs/d1",
            "DELETE /docs/d1"
        ]
    );
    assert_eq!(server.left(), 0);
}
