//! The mock app's resources over real sockets (reqwest): objects created through the API
//! with an owner and a tenant, each policy with its near misses, concealment, the invite
//! route and an action, the cap, concurrency, and state kept per running mock.

use std::collections::HashSet;
use std::path::Path;

use reqwest::{Client, Method, StatusCode};
use rolecall_mock::{MockConfig, MockServer};
use rolecall_scenario::Layer;
use serde_json::{Value, json};

use crate::support::{Edge, config};

const APP: &str = r#"
[origin.app]

[[origin.app.token]]
bearer = "alice-token"
sub = "alice"
tenant = "acme"

[[origin.app.token]]
bearer = "bob-token"
sub = "bob"
tenant = "acme"

[[origin.app.token]]
bearer = "carol-token"
sub = "carol"
tenant = "acme"

[[origin.app.token]]
bearer = "root-token"
sub = "root"
roles = ["admin"]
tenant = "acme"

[[origin.app.token]]
bearer = "dave-token"
sub = "dave"
tenant = "globex"

[[origin.app.token]]
bearer = "loner-token"
sub = "loner"

[[origin.app.route]]
request = "GET /v1/health"
public = true

# Owner only; the admin role may read. Strangers learn nothing.
[[origin.app.resource]]
collection = "/v1/docs"
conceal = true
read = ["owner", "role:admin"]

# Readable by the whole tenant, changed by the owner; refusals say so (403).
[[origin.app.resource]]
collection = "/v1/notes"
create = ["tenant"]
read = ["tenant"]

# Shared through the invite route; members may export.
[[origin.app.resource]]
collection = "/v1/tenants/{tenant}/workspaces"
tenant_param = "tenant"
conceal = true
read = ["owner", "members"]

[[origin.app.resource.action]]
request = "GET export"
allow = ["owner", "members"]

[[origin.app.resource.action]]
request = "POST archive"
allow = ["role:admin"]

[[origin.app.resource]]
collection = "/v1/tiny"
max_objects = 3
create = ["role:admin", "authenticated"]
"#;

/// A client for one running mock.
struct Api {
    base: String,
    client: Client,
}

impl Api {
    fn new(server: &MockServer) -> Self {
        // Only needed when reqwest has TLS without a provider (the workspace build); an
        // error means one is installed already.
        let _ = rustls::crypto::ring::default_provider().install_default();
        Self {
            base: format!("http://{}", server.addr()),
            client: Client::new(),
        }
    }

    /// `METHOD path` as `who` (a token name, or "" for no credentials), with a JSON body.
    async fn call(&self, who: &str, method: Method, path: &str, body: Option<Value>) -> Answer {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if !who.is_empty() {
            request = request.bearer_auth(format!("{who}-token"));
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let response = request.send().await.expect("the mock answers");
        let status = response.status();
        let location = response
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_owned());
        let text = response.text().await.unwrap();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer {
            status,
            location,
            json,
        }
    }

    async fn get(&self, who: &str, path: &str) -> Answer {
        self.call(who, Method::GET, path, None).await
    }

    async fn create(&self, who: &str, collection: &str, body: Value) -> String {
        let created = self.call(who, Method::POST, collection, Some(body)).await;
        assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.json);
        created.json["id"].as_str().unwrap().to_owned()
    }
}

#[derive(Debug)]
struct Answer {
    status: StatusCode,
    location: Option<String>,
    json: Value,
}

impl Answer {
    /// The status and, for a refusal, its code.
    fn said(&self) -> (u16, &str) {
        (
            self.status.as_u16(),
            self.json["code"].as_str().unwrap_or(""),
        )
    }
}

async fn start() -> (MockServer, Api) {
    let server = MockServer::start(config(APP), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let api = Api::new(&server);
    (server, api)
}

#[tokio::test]
async fn objects_are_created_with_owner_tenant_and_location() {
    let (_server, api) = start().await;
    let created = api
        .call(
            "alice",
            Method::POST,
            "/v1/docs",
            Some(json!({"title": "Q3", "id": "forged", "owner": "bob"})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let id = created.json["id"].as_str().unwrap();
    // The caller cannot choose the id or the owner.
    assert_ne!(id, "forged");
    assert_eq!(created.json["owner"], "alice");
    assert_eq!(created.json["tenant"], "acme");
    assert_eq!(created.json["title"], "Q3");
    assert_eq!(
        created.location.as_deref(),
        Some(format!("/v1/docs/{id}").as_str())
    );
    let read = api.get("alice", &format!("/v1/docs/{id}")).await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.json, created.json);
    // A body that is not a JSON object is refused, and nothing is created.
    let bad = api
        .call("alice", Method::POST, "/v1/docs", Some(json!([1, 2])))
        .await;
    assert_eq!(bad.said(), (400, "invalid_body"));
    let list = api.get("alice", "/v1/docs").await;
    assert_eq!(list.json["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn owner_only_conceals_from_strangers_and_lets_the_admin_role_read() {
    let (_server, api) = start().await;
    let id = api
        .create("alice", "/v1/docs", json!({"title": "plan"}))
        .await;
    let doc = format!("/v1/docs/{id}");
    assert_eq!(api.get("alice", &doc).await.said(), (200, ""));
    // Bob, same tenant, not the owner: as if it did not exist.
    assert_eq!(api.get("bob", &doc).await.said(), (404, "not_found"));
    assert_eq!(
        api.get("bob", "/v1/docs/999").await.said(),
        (404, "not_found")
    );
    assert_eq!(
        api.call("bob", Method::DELETE, &doc, None).await.said(),
        (404, "not_found")
    );
    // The admin role may read, not delete: it knows the object exists, so 403.
    assert_eq!(api.get("root", &doc).await.said(), (200, ""));
    assert_eq!(
        api.call("root", Method::DELETE, &doc, None).await.said(),
        (403, "not_permitted")
    );
    assert_eq!(api.get("", &doc).await.said(), (401, "unauthenticated"));
    // Ids are spelt one way only.
    assert_eq!(
        api.get("alice", &format!("/v1/docs/0{id}")).await.said(),
        (404, "not_found")
    );
    // Lists hold what the caller may read.
    assert_eq!(api.get("bob", "/v1/docs").await.json["items"], json!([]));
    assert_eq!(api.get("root", "/v1/docs").await.json["items"][0]["id"], id);
    let deleted = api.call("alice", Method::DELETE, &doc, None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(api.get("alice", &doc).await.said(), (404, "not_found"));
    assert_eq!(
        api.call("alice", Method::PATCH, "/v1/docs", None)
            .await
            .said(),
        (405, "method_not_allowed")
    );
}

#[tokio::test]
async fn tenant_members_read_and_only_the_owner_changes() {
    let (_server, api) = start().await;
    let id = api
        .create("alice", "/v1/notes", json!({"text": "hi", "pinned": false}))
        .await;
    let note = format!("/v1/notes/{id}");
    assert_eq!(api.get("bob", &note).await.said(), (200, ""));
    // Another tenant: refused, and without `conceal` it is told so.
    assert_eq!(api.get("dave", &note).await.said(), (403, "not_permitted"));
    // No tenant at all may not create where `create = ["tenant"]`.
    assert_eq!(
        api.call("loner", Method::POST, "/v1/notes", Some(json!({})))
            .await
            .said(),
        (403, "insufficient_role")
    );
    assert_eq!(
        api.call("bob", Method::PATCH, &note, Some(json!({"text": "mine"})))
            .await
            .said(),
        (403, "not_permitted")
    );
    let patched = api
        .call("alice", Method::PATCH, &note, Some(json!({"pinned": true})))
        .await;
    assert_eq!(patched.json["text"], "hi", "PATCH keeps other fields");
    assert_eq!(patched.json["pinned"], true);
    let replaced = api
        .call("alice", Method::PUT, &note, Some(json!({"text": "new"})))
        .await;
    assert_eq!(replaced.json.get("pinned"), None, "PUT replaces");
    assert_eq!(replaced.json["owner"], "alice");
    // Each change fits, but they add up: the object as a whole stays within 16 KiB.
    let half = "x".repeat(9 * 1024);
    let first = api
        .call("alice", Method::PATCH, &note, Some(json!({ "a": half })))
        .await;
    assert_eq!(first.status, StatusCode::OK);
    let second = api
        .call("alice", Method::PATCH, &note, Some(json!({ "b": half })))
        .await;
    assert_eq!(second.said(), (413, "too_large"));
    assert_eq!(api.get("alice", &note).await.json.get("b"), None);
}

#[tokio::test]
async fn a_journey_create_invite_export() {
    let (_server, api) = start().await;
    let id = api
        .create(
            "alice",
            "/v1/tenants/acme/workspaces",
            json!({"name": "launch"}),
        )
        .await;
    let workspace = format!("/v1/tenants/acme/workspaces/{id}");
    let export = format!("{workspace}/export");
    assert_eq!(api.get("bob", &export).await.said(), (404, "not_found"));
    // Only the owner invites; bob cannot invite himself.
    let invite = |user: &str| Some(json!({ "user": user }));
    assert_eq!(
        api.call(
            "bob",
            Method::POST,
            &format!("{workspace}/members"),
            invite("bob")
        )
        .await
        .said(),
        (404, "not_found")
    );
    let invited = api
        .call(
            "alice",
            Method::POST,
            &format!("{workspace}/members"),
            invite("bob"),
        )
        .await;
    assert_eq!(invited.status, StatusCode::CREATED);
    assert_eq!(invited.json["members"], json!(["bob"]));
    let exported = api.get("bob", &export).await;
    assert_eq!(exported.said(), (200, ""));
    assert_eq!(exported.json["by"], "bob");
    assert_eq!(exported.json["action"], "export");
    // Bob is a member now, so he learns that inviting is not his to do.
    assert_eq!(
        api.call(
            "bob",
            Method::POST,
            &format!("{workspace}/members"),
            invite("carol")
        )
        .await
        .said(),
        (403, "not_permitted")
    );
    assert_eq!(api.get("carol", &export).await.said(), (404, "not_found"));
    // Another tenant: concealed at the tenant, and its own path does not reach the object.
    assert_eq!(api.get("dave", &export).await.said(), (404, "not_found"));
    assert_eq!(
        api.get(
            "dave",
            &format!("/v1/tenants/globex/workspaces/{id}/export")
        )
        .await
        .said(),
        (404, "not_found")
    );
    // Archive is for admins: a member is refused, the admin (who may not read) concealed.
    assert_eq!(
        api.call("bob", Method::POST, &format!("{workspace}/archive"), None)
            .await
            .said(),
        (403, "not_permitted")
    );
    assert_eq!(
        api.call("root", Method::POST, &format!("{workspace}/archive"), None)
            .await
            .said(),
        (200, "")
    );
    assert_eq!(
        api.call("alice", Method::POST, &export, None).await.said(),
        (405, "method_not_allowed")
    );
    assert_eq!(
        api.get("alice", &format!("{workspace}/nothing"))
            .await
            .said(),
        (404, "not_found")
    );
    let bad = api
        .call(
            "alice",
            Method::POST,
            &format!("{workspace}/members"),
            Some(json!({"who": 1})),
        )
        .await;
    assert_eq!(bad.said(), (400, "invalid_body"));
    let long = api
        .call(
            "alice",
            Method::POST,
            &format!("{workspace}/members"),
            invite(&"u".repeat(257)),
        )
        .await;
    assert_eq!(long.said(), (400, "invalid_body"));
    let members = api.get("alice", &workspace).await;
    assert_eq!(members.json["members"], json!(["bob"]));
}

#[tokio::test]
async fn the_cap_answers_507_until_an_object_is_deleted() {
    let (_server, api) = start().await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(api.create("alice", "/v1/tiny", json!({})).await);
    }
    let full = api
        .call("bob", Method::POST, "/v1/tiny", Some(json!({})))
        .await;
    assert_eq!(full.said(), (507, "storage_full"));
    let gone = api
        .call(
            "alice",
            Method::DELETE,
            &format!("/v1/tiny/{}", ids[0]),
            None,
        )
        .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT);
    let id = api.create("bob", "/v1/tiny", json!({})).await;
    assert!(!ids.contains(&id), "an id is never handed out twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_creates_get_distinct_ids() {
    let (_server, api) = start().await;
    let api = std::sync::Arc::new(api);
    let tasks: Vec<_> = (0..200)
        .map(|n| {
            let api = std::sync::Arc::clone(&api);
            let who = ["alice", "bob", "carol", "root"][n % 4];
            tokio::spawn(async move { api.create(who, "/v1/docs", json!({ "n": n })).await })
        })
        .collect();
    let mut ids = HashSet::new();
    for task in tasks {
        ids.insert(task.await.unwrap());
    }
    assert_eq!(ids.len(), 200);
    // The admin reads them all; each owner sees its own 50.
    let all = api.get("root", "/v1/docs").await;
    assert_eq!(all.json["items"].as_array().unwrap().len(), 200);
    let mine = api.get("bob", "/v1/docs").await;
    let mine = mine.json["items"].as_array().unwrap();
    assert_eq!(mine.len(), 50);
    assert!(mine.iter().all(|o| o["owner"] == "bob"));
}

#[tokio::test]
async fn each_running_mock_starts_empty() {
    let loaded = MockConfig::from_str(APP, Path::new("mock.toml")).unwrap();
    let first = MockServer::start(loaded.clone(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let second = MockServer::start(loaded, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let id = Api::new(&first)
        .create("alice", "/v1/docs", json!({}))
        .await;
    assert_eq!(
        Api::new(&first)
            .get("alice", &format!("/v1/docs/{id}"))
            .await
            .said(),
        (200, "")
    );
    assert_eq!(
        Api::new(&second)
            .get("alice", &format!("/v1/docs/{id}"))
            .await
            .said(),
        (404, "not_found")
    );
}

#[tokio::test]
async fn refusals_are_logged_as_the_app_s() {
    let edge = Edge::start(APP).await;
    let created = edge
        .send_body(
            "POST",
            "/v1/docs",
            &[("authorization", "Bearer alice-token")],
            "{}",
        )
        .await;
    assert_eq!(created.status, 201);
    let id = created.json()["id"].as_str().unwrap().to_owned();
    let stranger = edge
        .send(
            "GET",
            &format!("/v1/docs/{id}"),
            &[("authorization", "Bearer bob-token")],
        )
        .await;
    assert_eq!(stranger.status, 404);
    assert!(stranger.header("x-request-id").is_some());
    let refusal = edge.last_refusal();
    assert_eq!(refusal.layer, Layer::App);
    assert_eq!(refusal.rule, "not_found");
    assert_eq!(refusal.request_id, stranger.header("x-request-id").unwrap());
}

#[test]
fn every_resource_problem_is_reported_at_its_place() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/fixtures/invalid/resources.toml");
    let src = std::fs::read_to_string(&path).unwrap();
    let err = MockConfig::from_str(&src, Path::new("mock.toml")).unwrap_err();
    let found: Vec<(u32, u32, &str)> = err
        .diagnostics()
        .iter()
        .map(|d| (d.line, d.column, d.message.as_str()))
        .collect();
    let expected = [
        (9, 9, "unknown grant `owners`"),
        (10, 11, "`owner` needs an object"),
        (
            14,
            16,
            "`org` is not a parameter of `/v1/tenants/{tenant}/boards`",
        ),
        (15, 15, "`max_objects` must be from 1 to 1000000"),
        (16, 11, "`role:` needs a role name"),
        (19, 16, "`members` is the invite route"),
        (23, 12, "`FETCH()` is not an HTTP method"),
        (23, 20, "`export/all` is not a plain path segment"),
        (27, 14, "a collection needs a literal segment"),
        (28, 1, "unknown key `colection`"),
    ];
    for (line, column, message) in expected {
        assert!(
            found.contains(&(line, column, message)),
            "missing {line}:{column} {message}\n got {found:#?}"
        );
    }
    assert_eq!(found.len(), expected.len(), "{found:#?}");
}

#[test]
fn a_resource_may_not_meet_a_route_or_another_resource() {
    let toml = |second: &str| {
        format!(
            "[origin.app]\n[[origin.app.route]]\nrequest = \"GET /v1/files/{{id}}\"\n\
             [[origin.app.resource]]\ncollection = \"/v1/docs\"\n\
             [[origin.app.resource]]\ncollection = \"{second}\"\n"
        )
    };
    let problem = |second: &str| {
        let err = MockConfig::from_str(&toml(second), Path::new("mock.toml"))
            .err()
            .map(|e| e.diagnostics()[0].message.clone());
        err.unwrap_or_default()
    };
    assert_eq!(
        problem("/v1/files"),
        "resource `/v1/files` meets `GET /v1/files/{id}`"
    );
    assert_eq!(
        problem("/{version}/docs"),
        "resource `/{version}/docs` meets `/v1/docs`"
    );
    assert_eq!(
        problem("/v1/docs/{id}/members"),
        "resource `/v1/docs/{id}/members` meets `/v1/docs`"
    );
    // Parts of a document are not one of its actions: a collection of their own.
    assert_eq!(problem("/v1/docs/{id}/parts"), "");
    assert_eq!(problem("/v1/parts"), "");
    // A route under an object that names no action of the resource is the route's.
    assert_eq!(problem("/v1/files/{id}/versions"), "");
}
