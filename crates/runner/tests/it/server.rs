//! A real HTTP server on loopback that records every request it receives.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};

/// What the server saw of one request.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    pub(crate) method: String,
    pub(crate) uri: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: String,
}

impl Seen {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

pub(crate) const SESSION_TOKEN: &str = "session-token-7f3a9c2e";
pub(crate) const SESSION_COOKIE: &str = "cookie-secret-41d8cd98";

#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<Seen>>>);

/// A running server; stops with its runtime when dropped.
pub(crate) struct TestServer {
    pub(crate) addr: SocketAddr,
    log: Log,
    _runtime: tokio::runtime::Runtime,
}

impl TestServer {
    pub(crate) fn start() -> Self {
        Self::start_with_delay(Duration::ZERO)
    }

    /// A server that waits `delay` before every answer.
    pub(crate) fn start_with_delay(delay: Duration) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let log = Log::default();
        let app = Router::new()
            .route("/status/{code}", any(status))
            .route("/login", post(login))
            .route("/whoami", any(whoami))
            .route("/redirect", any(redirect))
            .fallback(echo)
            .with_state((log.clone(), delay));
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        runtime.spawn(async move { axum::serve(listener, app).await.unwrap() });
        TestServer {
            addr,
            log,
            _runtime: runtime,
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub(crate) fn seen(&self) -> Vec<Seen> {
        self.log.0.lock().unwrap().clone()
    }
}

type AppState = (Log, Duration);

async fn record(state: &AppState, method: &Method, uri: &Uri, headers: &HeaderMap, body: &Bytes) {
    state.0.0.lock().unwrap().push(Seen {
        method: method.to_string(),
        uri: uri.to_string(),
        headers: headers
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: String::from_utf8_lossy(body).into_owned(),
    });
    if !state.1.is_zero() {
        tokio::time::sleep(state.1).await;
    }
}

async fn status(
    State(state): State<AppState>,
    Path(code): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    record(&state, &method, &uri, &headers, &body).await;
    let bare = code.ends_with("-bare");
    let code: u16 = code.trim_end_matches("-bare").parse().unwrap_or(500);
    let status = StatusCode::from_u16(code).unwrap();
    let mut response = (
        status,
        [
            ("content-type", "application/json"),
            ("x-request-id", "req-0001"),
        ],
        format!(
            r#"{{"code":"status_{code}","message":"answered {code}","request_id":"req-0001"}}"#
        ),
    )
        .into_response();
    if code == 401 && !bare {
        response
            .headers_mut()
            .insert("www-authenticate", "Bearer realm=\"test\"".parse().unwrap());
    }
    response
}

async fn login(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    record(&state, &method, &uri, &headers, &body).await;
    (
        [
            ("content-type", "application/json"),
            (
                "set-cookie",
                &format!("sid={SESSION_COOKIE}; Path=/; HttpOnly"),
            ),
        ],
        format!(r#"{{"access_token":"{SESSION_TOKEN}"}}"#),
    )
        .into_response()
}

async fn whoami(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    record(&state, &method, &uri, &headers, &body).await;
    let bearer = headers.get("authorization").and_then(|v| v.to_str().ok())
        == Some(&format!("Bearer {SESSION_TOKEN}"));
    let cookie = headers
        .get("cookie")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.contains(SESSION_COOKIE));
    if bearer || cookie {
        // Echo the credentials back: a careless service does, and rolecall must redact them.
        (
            StatusCode::OK,
            format!("hello {SESSION_TOKEN} {SESSION_COOKIE}"),
        )
            .into_response()
    } else {
        (
            StatusCode::UNAUTHORIZED,
            [("www-authenticate", "Bearer")],
            "who are you?",
        )
            .into_response()
    }
}

async fn redirect(
    State(state): State<AppState>,
    Query(q): Query<Vec<(String, String)>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    record(&state, &method, &uri, &headers, &body).await;
    let to = q
        .iter()
        .find(|(k, _)| k == "to")
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| "/".into());
    let code = q
        .iter()
        .find(|(k, _)| k == "code")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(302);
    (StatusCode::from_u16(code).unwrap(), [("location", to)]).into_response()
}

async fn echo(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    record(&state, &method, &uri, &headers, &body).await;
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    (
        StatusCode::OK,
        [("content-type", "text/plain")],
        format!("echo {method} {uri} {auth}"),
    )
        .into_response()
}
