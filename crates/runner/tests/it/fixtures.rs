//! Fixtures against a small stateful server: objects are created as their identity,
//! captured values fill the cases' requests, dependents of a failed fixture are errors,
//! and teardown leaves nothing behind whatever happened.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use rolecall_runner::{Keep, Outcome, RunConfig, RunOutput};
use rolecall_scenario::Suite;

use crate::{outcomes, suite};

/// A document store: each document has the owner who created it. Only its owner (and
/// `admin`) may read it; only its owner may delete it.
#[derive(Default)]
struct Store {
    docs: HashMap<String, String>,
    next: usize,
    /// Every request as `METHOD path`.
    log: Vec<String>,
}

pub(crate) struct DocServer {
    addr: SocketAddr,
    store: Arc<Mutex<Store>>,
    _runtime: tokio::runtime::Runtime,
}

impl DocServer {
    pub(crate) fn start() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let store = Arc::new(Mutex::new(Store::default()));
        let app = Router::new().fallback(handle).with_state(store.clone());
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        runtime.spawn(async move { axum::serve(listener, app).await.unwrap() });
        DocServer {
            addr,
            store,
            _runtime: runtime,
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub(crate) fn left(&self) -> usize {
        self.store.lock().unwrap().docs.len()
    }

    pub(crate) fn log(&self) -> Vec<String> {
        self.store.lock().unwrap().log.clone()
    }
}

fn reply(status: u16, body: &str) -> Response {
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap())
        .body(Body::from(body.to_owned()))
        .unwrap()
}

async fn handle(
    State(store): State<Arc<Mutex<Store>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    _body: Bytes,
) -> Response {
    let caller = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .and_then(|t| t.strip_suffix("-token-1234"))
        .map(str::to_owned);
    if uri.path() == "/docs-slow" {
        return create_slowly(&store, caller).await;
    }
    let mut store = store.lock().unwrap();
    store.log.push(format!("{method} {}", uri.path()));
    let path = uri.path().to_owned();
    let Some(caller) = caller else {
        let mut response = reply(401, r#"{"error":"unauthenticated"}"#);
        response
            .headers_mut()
            .insert("www-authenticate", "Bearer".parse().unwrap());
        return response;
    };
    match (method.as_str(), path.as_str()) {
        // `/docs-ok` creates as `/docs` does, but says 200 rather than 201.
        ("POST", "/docs" | "/docs-ok") => {
            store.next += 1;
            let id = format!("d{}", store.next);
            store.docs.insert(id.clone(), caller.clone());
            let body = format!(r#"{{"id":"{id}","session":"sess-{caller}-{id}-7f3a9c"}}"#);
            Response::builder()
                .status(if path == "/docs" { 201 } else { 200 })
                .header("location", format!("/docs/{id}"))
                .body(Body::from(body))
                .unwrap()
        }
        ("POST", "/broken") => reply(500, "<html>database unavailable</html>"),
        ("POST", "/plain") => reply(201, "created, not JSON"),
        ("GET", p) if p.starts_with("/docs/") => match store.docs.get(&p[6..]) {
            None => reply(404, r#"{"error":"not_found"}"#),
            Some(owner) if *owner == caller || caller == "admin" => {
                reply(200, &format!(r#"{{"id":"{}","owner":"{owner}"}}"#, &p[6..]))
            }
            Some(_) => reply(403, r#"{"error":"forbidden"}"#),
        },
        ("DELETE", p) if p.starts_with("/docs/") => {
            let id = p[6..].to_owned();
            match store.docs.get(&id) {
                None => reply(404, ""),
                Some(owner) if *owner == caller => {
                    store.docs.remove(&id);
                    reply(204, "")
                }
                Some(_) => reply(403, r#"{"error":"forbidden"}"#),
            }
        }
        ("DELETE", "/stuck") => reply(500, "cannot delete"),
        _ => reply(404, ""),
    }
}

/// Creates a document at once but says so only 300 ms later.
async fn create_slowly(store: &Mutex<Store>, caller: Option<String>) -> Response {
    let Some(caller) = caller else {
        return reply(401, "");
    };
    let id = {
        let mut store = store.lock().unwrap();
        store.log.push("POST /docs-slow".to_owned());
        store.next += 1;
        let id = format!("d{}", store.next);
        store.docs.insert(id.clone(), caller);
        id
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    reply(201, &format!(r#"{{"id":"{id}"}}"#))
}

pub(crate) fn suite_at(
    server: &DocServer,
    allow_mutations: bool,
    routes: &str,
) -> (tempfile::TempDir, Arc<Suite>) {
    suite(&[
        (
            "rolecall.toml",
            &format!(
                r#"
[targets.t]
base_url = "{}"
allow_mutations = {allow_mutations}
[identities.anonymous]
[identities.alice]
bearer = "alice-token-1234"
[identities.bob]
bearer = "bob-token-1234"
[identities.admin]
bearer = "admin-token-1234"
"#,
                server.url()
            ),
        ),
        ("docs.toml", routes),
    ])
}

pub(crate) fn run(suite: &Arc<Suite>, selected: &[usize]) -> RunOutput {
    rolecall_runner::run(
        suite.clone(),
        &RunConfig::default(),
        selected,
        Keep::Reports,
        |_, _, _| {},
    )
    .unwrap()
}

fn run_all(suite: &Arc<Suite>) -> RunOutput {
    let all: Vec<usize> = (0..suite.cases.len()).collect();
    run(suite, &all)
}

const OWNED: &str = r#"
[[fixture]]
name = "doc"
per_identity = ["alice", "bob"]
request = "POST /docs"
status = 201
capture.id = "/id"
capture.location = { header = "location" }
capture.session = { pointer = "/session", secret = true }
teardown = "DELETE /docs/{doc.id}"

[[route]]
request = "GET /docs/{doc.id}"
owner = "doc"
allow = ["owner", "admin"]
"#;

#[test]
fn the_owner_matrix_runs_on_objects_each_identity_created_and_leaves_none() {
    let server = DocServer::start();
    let (_dir, suite) = suite_at(&server, true, OWNED);
    let run = run_all(&suite);
    assert_eq!(
        outcomes(&suite, &run),
        [
            "docs::get_docs_doc_id::anonymous@alice pass",
            "docs::get_docs_doc_id::anonymous@bob pass",
            "docs::get_docs_doc_id::alice@alice pass",
            "docs::get_docs_doc_id::alice@bob pass",
            "docs::get_docs_doc_id::bob@alice pass",
            "docs::get_docs_doc_id::bob@bob pass",
            "docs::get_docs_doc_id::admin@alice pass",
            "docs::get_docs_doc_id::admin@bob pass",
        ]
    );
    assert!(
        run.teardown_failures.is_empty(),
        "{:?}",
        run.teardown_failures
    );
    assert_eq!(server.left(), 0, "teardown left objects behind");
    let log = server.log();
    let count = |prefix: &str| log.iter().filter(|l| l.starts_with(prefix)).count();
    assert_eq!(
        (count("POST /docs"), count("DELETE /docs/")),
        (2, 2),
        "{log:?}"
    );
    // Teardown comes after every case.
    let last_get = log.iter().rposition(|l| l.starts_with("GET")).unwrap();
    let first_delete = log.iter().position(|l| l.starts_with("DELETE")).unwrap();
    assert!(last_get < first_delete, "{log:?}");
    // A captured secret is redacted like any other. The two creations run concurrently,
    // so either identity may have been given `d1`.
    for caller in ["alice", "bob"] {
        assert!(
            ["d1", "d2"].iter().any(|id| run
                .secrets
                .redact(&format!("sess-{caller}-{id}-7f3a9c x"))
                .starts_with("***")),
            "{caller}'s captured session is not a secret"
        );
    }
}

#[test]
fn a_failing_case_still_tears_down_and_a_failed_teardown_is_reported() {
    let server = DocServer::start();
    let routes = r#"
[[fixture]]
name = "doc"
identity = "alice"
request = "POST /docs"
capture.id = "/id"
teardown = "DELETE /docs/{doc.id}"

[[fixture]]
name = "stuck"
identity = "alice"
request = "POST /docs"
capture.id = "/id"
teardown = "DELETE /stuck"

[[route]]
request = "GET /docs/{doc.id}"
allow = ["bob"]

[[route]]
request = "GET /docs/{stuck.id}"
allow = ["alice"]
"#;
    let (_dir, suite) = suite_at(&server, true, routes);
    let run = run_all(&suite);
    assert_eq!(
        run.results
            .iter()
            .filter(|r| r.outcome == Outcome::Fail)
            .count(),
        4,
        "bob is refused his allowed `doc`, alice and admin are not refused it, admin reads `stuck`: {:?}",
        outcomes(&suite, &run)
    );
    assert_eq!(
        run.teardown_failures.len(),
        1,
        "{:?}",
        run.teardown_failures
    );
    let failure = &run.teardown_failures[0];
    assert!(
        failure.contains("fixture `stuck` (") && failure.contains("DELETE /stuck answered 500"),
        "{failure}"
    );
    assert_eq!(
        server.left(),
        1,
        "only the object whose teardown fails is left"
    );
}

#[test]
fn a_failed_fixture_makes_its_dependents_errors_naming_it() {
    let server = DocServer::start();
    let routes = r#"
[[fixture]]
name = "broken"
identity = "alice"
request = "POST /broken"
capture.id = "/id"

[[fixture]]
name = "plain"
identity = "alice"
request = "POST /plain"
capture.id = "/id"

[[fixture]]
name = "child"
identity = "alice"
request = "POST /docs"
body.json = { parent = "{broken.id}" }
capture.id = "/id"
teardown = "DELETE /docs/{child.id}"

[[route]]
request = "GET /docs/{broken.id}"
allow = ["alice"]

[[route]]
request = "GET /docs/{plain.id}"
allow = ["alice"]

[[route]]
request = "GET /docs/{child.id}"
allow = ["alice"]
"#;
    let (_dir, suite) = suite_at(&server, true, routes);
    let run = run_all(&suite);
    for r in &run.results {
        assert_eq!(
            r.outcome,
            Outcome::Error,
            "{}: {:?}",
            suite.cases[r.index].name,
            r.message
        );
    }
    let message = |name: &str| {
        let r = run
            .results
            .iter()
            .find(|r| suite.cases[r.index].name == name)
            .unwrap();
        r.message.clone().unwrap_or_default()
    };
    let broken = message("docs::get_docs_broken_id::alice");
    assert!(
        broken.contains("fixture `broken` (")
            && broken.contains("docs.toml:3) as `alice`")
            && broken.contains("POST /broken answered 500, expected 2xx")
            && broken.contains("database unavailable"),
        "{broken}"
    );
    let plain = message("docs::get_docs_plain_id::bob");
    assert!(
        plain.contains("fixture `plain`") && plain.contains("the response is not JSON"),
        "{plain}"
    );
    let child = message("docs::get_docs_child_id::admin");
    assert!(child.contains("needs `broken`, which failed"), "{child}");
    let log = server.log();
    assert_eq!(
        log.iter().filter(|l| l.starts_with("POST")).count(),
        2,
        "the child is never created: {log:?}"
    );
    assert!(
        !log.iter().any(|l| l.starts_with("GET")),
        "no case was sent: {log:?}"
    );
}

#[test]
fn only_the_fixtures_selected_cases_need_are_created() {
    let server = DocServer::start();
    let routes = r#"
[[fixture]]
name = "a"
identity = "alice"
request = "POST /docs"
capture.id = "/id"
teardown = "DELETE /docs/{a.id}"

[[fixture]]
name = "b"
identity = "bob"
request = "POST /docs"
capture.id = "/id"
teardown = "DELETE /docs/{b.id}"

[[route]]
request = "GET /docs/{a.id}"
allow = ["alice", "admin"]

[[route]]
request = "GET /docs/{b.id}"
allow = ["bob", "admin"]
"#;
    let (_dir, suite) = suite_at(&server, true, routes);
    let selected: Vec<usize> = (0..suite.cases.len())
        .filter(|&i| suite.cases[i].name == "docs::get_docs_a_id::bob")
        .collect();
    let run = run(&suite, &selected);
    assert_eq!(outcomes(&suite, &run), ["docs::get_docs_a_id::bob pass"]);
    assert_eq!(
        server.log(),
        ["POST /docs", "GET /docs/d1", "DELETE /docs/d1"],
        "fixture `b` is not needed"
    );
}

#[test]
fn a_target_without_mutations_gets_no_fixture_write_and_dependents_are_skipped() {
    let server = DocServer::start();
    let (_dir, suite) = suite_at(&server, false, OWNED);
    let run = run_all(&suite);
    assert_eq!(
        server.log(),
        Vec::<String>::new(),
        "0 requests reach the target"
    );
    for result in &run.results {
        assert_eq!(result.outcome, Outcome::Skipped);
        let message = result.message.clone().unwrap_or_default();
        assert!(
            message.contains("fixture `doc` (")
                && message
                    .contains("not created: POST not sent: target `t` does not allow mutations"),
            "{message}"
        );
    }
}

#[test]
fn a_case_that_is_not_sent_gets_no_fixture() {
    let server = DocServer::start();
    let routes = r#"
[[fixture]]
name = "doc"
identity = "bob"
request = "POST /docs"
capture.id = "/id"
teardown = "DELETE /docs/{doc.id}"

[[route]]
request = "GET /docs/{doc.id}"
allow = ["bob"]

[[route.case]]
identity = "alice"
skip = "not today"
"#;
    let (_dir, suite) = suite_at(&server, true, routes);
    let selected: Vec<usize> = (0..suite.cases.len())
        .filter(|&i| suite.cases[i].name == "docs::get_docs_doc_id::alice")
        .collect();
    let run = run(&suite, &selected);
    assert_eq!(
        outcomes(&suite, &run),
        ["docs::get_docs_doc_id::alice skipped"]
    );
    assert_eq!(
        server.log(),
        Vec::<String>::new(),
        "nothing is created for a case that is never sent"
    );
}

#[test]
fn an_object_created_with_an_unexpected_status_is_not_left_unreported() {
    let server = DocServer::start();
    let routes = r#"
[[fixture]]
name = "doc"
identity = "alice"
request = "POST /docs-ok"
status = 201
capture.id = "/id"
teardown = "DELETE /docs/{doc.id}"

[[route]]
request = "GET /docs/{doc.id}"
allow = ["alice"]
"#;
    let (_dir, suite) = suite_at(&server, true, routes);
    let run = run_all(&suite);
    assert!(
        run.results.iter().all(|r| r.outcome == Outcome::Error),
        "{:?}",
        outcomes(&suite, &run)
    );
    // The object exists: it is removed, with what its answer held.
    assert!(
        run.teardown_failures.is_empty(),
        "{:?}",
        run.teardown_failures
    );
    assert!(
        server.log().contains(&"DELETE /docs/d1".to_owned()),
        "{:?}",
        server.log()
    );
    assert_eq!(server.left(), 0);
}

#[test]
fn teardown_waits_for_an_object_still_being_created() {
    let server = DocServer::start();
    let routes = r#"
[[fixture]]
name = "broken"
identity = "alice"
request = "POST /broken"
capture.id = "/id"

[[fixture]]
name = "slow"
identity = "alice"
request = "POST /docs-slow"
capture.id = "/id"
teardown = "DELETE /docs/{slow.id}"

[[route]]
request = "GET /docs/{broken.id}/{slow.id}"
allow = ["alice"]
"#;
    let (_dir, suite) = suite_at(&server, true, routes);
    let selected: Vec<usize> = (0..suite.cases.len())
        .filter(|&i| suite.cases[i].name.ends_with("::alice"))
        .collect();
    // The case fails as soon as `broken` does, while `slow` is still being created.
    let run = run(&suite, &selected);
    assert_eq!(run.results[0].outcome, Outcome::Error);
    assert!(
        run.teardown_failures.is_empty(),
        "{:?}",
        run.teardown_failures
    );
    assert_eq!(server.left(), 0, "{:?}", server.log());
    assert!(server.log().contains(&"DELETE /docs/d1".to_owned()));
}

#[test]
fn one_request_at_a_time_still_runs_every_case_after_the_fixtures() {
    // The case workers were once counted from the free permits when cases started, which
    // fixture set-ups may already hold: with `concurrency = 1` a run then sent no case at
    // all, now and then, and passed. Repeated, since it was a race.
    let server = DocServer::start();
    let (_dir, suite) = suite_at(&server, true, OWNED);
    let all: Vec<usize> = (0..suite.cases.len()).collect();
    let config = RunConfig {
        concurrency: Some(1),
        ..RunConfig::default()
    };
    for attempt in 0..20 {
        let run = rolecall_runner::run(suite.clone(), &config, &all, Keep::Reports, |_, _, _| {})
            .unwrap();
        let passed = run
            .results
            .iter()
            .filter(|r| r.outcome == Outcome::Pass)
            .count();
        assert_eq!(passed, 8, "attempt {attempt}: {:?}", outcomes(&suite, &run));
    }
    assert_eq!(server.left(), 0);
}

#[test]
fn a_failure_shows_the_path_sent_with_captured_values_and_secret_ones_redacted() {
    let server = DocServer::start();
    // The server lets `admin` read every document: `admin@alice` fails. No document
    // has a session as its id: the owner is refused the second route.
    let routes = format!(
        "{}\n[[route]]\nrequest = \"GET /docs/{{doc.session}}\"\nowner = \"doc\"\nallow = [\"owner\"]\n",
        OWNED.replace(r#"allow = ["owner", "admin"]"#, r#"allow = ["owner"]"#)
    );
    let (_dir, suite) = suite_at(&server, true, &routes);
    let run = run_all(&suite);
    let message = |name: &str| {
        let result = run
            .results
            .iter()
            .find(|r| suite.cases[r.index].name == name)
            .unwrap();
        assert_eq!(result.outcome, Outcome::Fail, "{name}");
        result.message.clone().unwrap()
    };
    let admin = message("docs::get_docs_doc_id::admin@alice");
    let line = admin
        .lines()
        .find(|l| l.trim_start().starts_with("request:"))
        .unwrap();
    let sent = format!("GET {}/docs/d", server.url());
    assert!(
        line.contains(&sent) && !line.contains('{'),
        "the filled path, not the template: {line}"
    );
    // The id alice's document was given is the one in the line.
    let id = line.rsplit('/').next().unwrap();
    assert!(
        server.log().contains(&format!("GET /docs/{id}")),
        "{line} {:?}",
        server.log()
    );
    let owner = message("docs::get_docs_doc_session::alice@alice");
    let line = owner
        .lines()
        .find(|l| l.trim_start().starts_with("request:"))
        .unwrap();
    assert!(
        !line.contains("sess-") && !line.contains("{doc.session}") && line.contains("/docs/"),
        "a secret capture is redacted: {line}"
    );
    assert!(line.contains("***"), "{line}");
}
