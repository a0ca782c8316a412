//! A small real HTTP server on loopback for end-to-end tests.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};

pub(crate) const SESSION_TOKEN: &str = "session-token-7f3a9c2e";

pub(crate) struct Server {
    addr: std::net::SocketAddr,
    seen: Arc<Mutex<Vec<String>>>,
    _runtime: tokio::runtime::Runtime,
}

impl Server {
    pub(crate) fn start() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        let echo = move |headers: HeaderMap| {
            let record = record.clone();
            async move {
                let auth = headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_owned();
                if let Some((_, token)) = auth.split_once(' ') {
                    record.lock().unwrap().push(token.to_owned());
                }
                (StatusCode::OK, format!("you sent: {auth}"))
            }
        };
        let deny_echo = |headers: HeaderMap| async move {
            let auth = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            (
                StatusCode::FORBIDDEN,
                [
                    ("content-type", "application/json"),
                    ("x-request-id", "req-43"),
                ],
                serde_json::json!({ "code": "forbidden", "debug": auth }).to_string(),
            )
        };
        let app = Router::new()
            .route("/ok", get(|| async { "ok" }))
            .route(
                "/admin-only",
                get(|headers: HeaderMap| async move {
                    let auth = headers
                        .get("authorization")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("");
                    match auth {
                        "Bearer admin-token-5678" => (
                            StatusCode::OK,
                            [("x-request-id", "req-41")],
                            "{}".to_owned(),
                        )
                            .into_response(),
                        "" => (
                            StatusCode::UNAUTHORIZED,
                            [("www-authenticate", "Bearer")],
                            String::new(),
                        )
                            .into_response(),
                        _ => (
                            StatusCode::FORBIDDEN,
                            [
                                ("content-type", "application/json"),
                                ("x-request-id", "req-42"),
                            ],
                            r#"{"code":"forbidden","request_id":"req-42"}"#.to_owned(),
                        )
                            .into_response(),
                    }
                }),
            )
            .route("/echo", get(echo))
            .route("/deny-echo", get(deny_echo))
            .route(
                "/login",
                post(|| async { format!(r#"{{"access_token":"{SESSION_TOKEN}"}}"#) }),
            );
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        runtime.spawn(async move { axum::serve(listener, app).await.unwrap() });
        Server {
            addr,
            seen,
            _runtime: runtime,
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every credential the server received in an Authorization header.
    pub(crate) fn authorizations(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}
