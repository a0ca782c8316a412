//! Fixtures against a hostile target: what it answers never leaks a secret into a
//! message, never climbs out of a route or adds a query, and a target that does not
//! allow writes gets none, not even a login or a teardown's method override.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri};
use axum::response::Response;
use rolecall_runner::{Outcome, RunOutput};
use rolecall_scenario::Suite;

use crate::{run_all, suite};

/// Answers: `METHOD path` → (status, body).
type Canned = HashMap<&'static str, (u16, String)>;

#[derive(Clone)]
struct Shared {
    canned: Arc<Canned>,
    /// Every request as `METHOD path?query`, as it was received.
    log: Arc<Mutex<Vec<String>>>,
}

/// A server on loopback that gives canned answers (404 otherwise) and records every
/// request target as received.
struct CannedServer {
    addr: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
    _runtime: tokio::runtime::Runtime,
}

impl CannedServer {
    fn start(canned: Canned) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let shared = Shared {
            canned: Arc::new(canned),
            log: Arc::default(),
        };
        let log = shared.log.clone();
        let app = Router::new().fallback(answer).with_state(shared);
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        runtime.spawn(async move { axum::serve(listener, app).await.unwrap() });
        CannedServer {
            addr,
            log,
            _runtime: runtime,
        }
    }

    fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// The suite with `routes`, against this server.
    fn suite(&self, allow_mutations: bool, routes: &str) -> (tempfile::TempDir, Arc<Suite>) {
        let config = format!(
            r#"
[targets.t]
base_url = "http://{}"
allow_mutations = {allow_mutations}
[identities.alice]
login = {{ request = "POST /login", token = "/access_token" }}
[identities.bob]
bearer = "bob-token-1234"
"#,
            self.addr
        );
        suite(&[("rolecall.toml", &config), ("docs.toml", routes)])
    }
}

async fn answer(State(shared): State<Shared>, method: Method, uri: Uri) -> Response {
    let target = uri.path_and_query().map_or("", |p| p.as_str()).to_owned();
    shared
        .log
        .lock()
        .unwrap()
        .push(format!("{method} {target}"));
    let key = format!("{method} {}", uri.path());
    let (status, body) = shared
        .canned
        .get(key.as_str())
        .cloned()
        .unwrap_or((404, String::new()));
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap())
        .body(Body::from(body))
        .unwrap()
}

/// Every message of a run: case messages and teardown failures.
fn messages(run: &RunOutput) -> Vec<String> {
    run.results
        .iter()
        .filter_map(|r| r.message.clone())
        .chain(run.teardown_failures.iter().cloned())
        .collect()
}

const WRONG: &str = "tok_live_wrongstatus0a1b2c3d4e5f";
const ORDER: &str = "tok_live_afteramissing9f8e7d6c5b";
const TORN: &str = "tok_live_straddlingthecut4d5e6f7";
const HIDDEN: &str = "tok_live_neverextracted1a2b3c4d5";

#[test]
fn a_fixture_error_quotes_no_secret_its_answer_holds() {
    // The token begins 10 characters before the cut.
    let pad = "x".repeat(171);
    let server = CannedServer::start(HashMap::from([
        (
            "POST /login",
            (
                200,
                r#"{"access_token":"alice-login-token-5e6f"}"#.to_owned(),
            ),
        ),
        // (a) the wrong status: the secret is still learned before the body is quoted.
        ("POST /wrong", (200, format!(r#"{{"token":"{WRONG}"}}"#))),
        // (b) a capture missing before the secret one does not stop it being learned.
        ("POST /order", (201, format!(r#"{{"token":"{ORDER}"}}"#))),
        // (c) a secret straddling the 200-character cut of a teardown's answer.
        (
            "POST /torn",
            (201, format!(r#"{{"id":"t1","token":"{TORN}"}}"#)),
        ),
        (
            "DELETE /torn/t1",
            (500, format!(r#"{{"pad":"{pad}","token":"{TORN}"}}"#)),
        ),
        // A secret capture that cannot be read: the body is not quoted at all.
        (
            "POST /hidden",
            (500, format!(r#"{{"session":"{HIDDEN}"}}"#)),
        ),
    ]));
    let routes = r#"
[[fixture]]
name = "wrong"
identity = "bob"
request = "POST /wrong"
status = 201
capture.token = { pointer = "/token", secret = true }

[[fixture]]
name = "order"
identity = "bob"
request = "POST /order"
capture.a_id = "/id"
capture.z_token = { pointer = "/token", secret = true }

[[fixture]]
name = "torn"
identity = "bob"
request = "POST /torn"
capture.id = "/id"
capture.token = { pointer = "/token", secret = true }
teardown = "DELETE /torn/{torn.id}"

[[fixture]]
name = "hidden"
identity = "bob"
request = "POST /hidden"
capture.token = { pointer = "/token", secret = true }

[[route]]
request = "GET /r/{wrong.token}"
allow = ["bob"]

[[route]]
request = "GET /r/{order.z_token}"
allow = ["bob"]

[[route]]
request = "GET /r/{torn.id}"
allow = ["bob"]

[[route]]
request = "GET /r/{hidden.token}"
allow = ["bob"]
"#;
    let (_dir, suite) = server.suite(true, routes);
    let run = run_all(&suite);
    let messages = messages(&run);
    let all = messages.join("\n");
    let leaks: Vec<&String> = messages.iter().filter(|m| m.contains("tok_live")).collect();
    assert!(leaks.is_empty(), "a secret leaked: {leaks:#?}");
    let has = |needle: &str| messages.iter().any(|m| m.contains(needle));
    assert!(
        has("POST /wrong answered 200, expected 201: {\"token\":\""),
        "{all}"
    );
    assert!(has("capture `a_id`"), "{all}");
    assert!(has("DELETE /torn/t1 answered 500: {\"pad\":\"xxx"), "{all}");
    assert!(
        has("POST /hidden answered 500") && has("body not shown"),
        "{all}"
    );
    for secret in [WRONG, ORDER, TORN] {
        assert!(
            !run.secrets.redact(secret).contains("tok_live"),
            "{secret} was not learned"
        );
    }
}

#[test]
fn a_captured_value_stays_one_path_segment_and_one_query_component() {
    let server = CannedServer::start(HashMap::from([
        (
            "POST /login",
            (
                200,
                r#"{"access_token":"alice-login-token-5e6f"}"#.to_owned(),
            ),
        ),
        ("POST /docs", (201, r#"{"id":"../projects/7"}"#.to_owned())),
        ("POST /dots", (201, r#"{"id":".."}"#.to_owned())),
        (
            "POST /odd",
            (201, r#"{"id":"5?_method=DELETE&a=b#x"}"#.to_owned()),
        ),
    ]));
    let routes = r#"
[[fixture]]
name = "doc"
identity = "bob"
request = "POST /docs"
capture.id = "/id"
teardown = "DELETE /docs/{doc.id}"

[[fixture]]
name = "dots"
identity = "bob"
request = "POST /dots"
capture.id = "/id"
teardown = "DELETE /docs/{dots.id}"

[[fixture]]
name = "odd"
identity = "bob"
request = "POST /odd"
capture.id = "/id"

[[route]]
request = "GET /docs/{doc.id}"
allow = ["bob"]

[[route]]
request = "GET /docs/{dots.id}/edit"
allow = ["bob"]

[[route]]
request = "GET /search?q={odd.id}"
allow = ["bob"]
"#;
    let (_dir, suite) = server.suite(true, routes);
    let run = run_all(&suite);
    let log = server.log();
    for expected in [
        "GET /docs/..%2Fprojects%2F7",
        "DELETE /docs/..%2Fprojects%2F7",
        "GET /search?q=5%3F_method%3DDELETE%26a%3Db%23x",
    ] {
        assert!(log.iter().any(|l| l == expected), "{expected}: {log:?}");
    }
    assert!(
        !log.iter().any(|l| l.contains("projects/7")
            || l.starts_with("DELETE /docs ")
            || l.contains("/edit")
            || l == "DELETE /docs"
            || l == "DELETE /docs/"),
        "a captured value climbed out of its route: {log:?}"
    );
    let all = messages(&run).join("\n");
    assert!(
        all.contains(
            "the value captured for `{dots.id}` would make a path segment empty, `.` or `..`"
        ) && all.contains("fixture `dots` (")
            && all.contains("teardown not sent"),
        "{all}"
    );
}

#[test]
fn a_read_only_target_gets_no_write_through_a_captured_value() {
    let server = CannedServer::start(HashMap::from([(
        "GET /new",
        (200, r#"{"id":"5?_method=DELETE"}"#.to_owned()),
    )]));
    let routes = r#"
[[fixture]]
name = "new"
identity = "bob"
request = "GET /new"
capture.id = "/id"

[[route]]
request = "GET /docs/{new.id}"
allow = ["bob"]
"#;
    let (_dir, suite) = server.suite(false, routes);
    run_all(&suite);
    let log = server.log();
    assert!(
        log.iter().any(|l| l == "GET /docs/5%3F_method%3DDELETE"),
        "{log:?}"
    );
    assert!(!log.iter().any(|l| l.contains("?_method")), "{log:?}");
}

#[test]
fn a_read_only_target_gets_no_login_flow_for_a_fixture() {
    let server = CannedServer::start(HashMap::from([
        (
            "POST /login",
            (
                200,
                r#"{"access_token":"alice-login-token-5e6f"}"#.to_owned(),
            ),
        ),
        ("GET /new", (200, r#"{"id":"n1"}"#.to_owned())),
    ]));
    let routes = r#"
[[fixture]]
name = "new"
identity = "alice"
request = "GET /new"
capture.id = "/id"

[[route]]
request = "GET /docs/{new.id}"
allow = ["bob"]
"#;
    let (_dir, suite) = server.suite(false, routes);
    let run = run_all(&suite);
    assert_eq!(
        server.log(),
        Vec::<String>::new(),
        "0 requests reach the target"
    );
    let bob = run
        .results
        .iter()
        .find(|r| suite.cases[r.index].name.ends_with("::bob"))
        .unwrap();
    assert_eq!(bob.outcome, Outcome::Skipped);
    let message = bob.message.clone().unwrap_or_default();
    assert!(
        message.contains("fixture `new` (")
            && message.contains(
                "the login of `alice` is a POST, and target `t` does not allow mutations"
            ),
        "{message}"
    );
}

#[test]
fn a_read_only_target_gets_no_teardown_with_a_method_override() {
    let server = CannedServer::start(HashMap::from([(
        "GET /new",
        (200, r#"{"id":"n1"}"#.to_owned()),
    )]));
    let routes = r#"
[[fixture]]
name = "new"
identity = "bob"
request = "GET /new"
capture.id = "/id"
teardown = "GET /docs/{new.id}?_method=DELETE"

[[route]]
request = "GET /docs/{new.id}"
allow = ["bob"]
"#;
    let (_dir, suite) = server.suite(false, routes);
    let run = run_all(&suite);
    assert_eq!(
        server.log(),
        Vec::<String>::new(),
        "0 requests reach the target"
    );
    for result in &run.results {
        assert_eq!(result.outcome, Outcome::Skipped);
        if !suite.cases[result.index].name.ends_with("::bob") {
            continue; // alice's own login is refused first
        }
        let message = result.message.clone().unwrap_or_default();
        assert!(message.contains("its teardown (GET with"), "{message}");
    }
}
