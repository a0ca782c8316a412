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

/// A loopback server that counts every connection made to it and answers each request
/// `200 OK`: proof that an invalid command line sent nothing at all.
pub(crate) struct Recorder {
    addr: std::net::SocketAddr,
    connections: Arc<std::sync::atomic::AtomicUsize>,
    _runtime: tokio::runtime::Runtime,
}

impl Recorder {
    pub(crate) fn start() -> Self {
        use std::sync::atomic::Ordering;
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = connections.clone();
        // Ends when the runtime is dropped with the recorder.
        runtime.spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 65536 {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let _ = stream
                        .write_all(
                            b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                        )
                        .await;
                });
            }
        });
        Recorder {
            addr,
            connections,
            _runtime: runtime,
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Connections accepted so far.
    pub(crate) fn connections(&self) -> usize {
        self.connections.load(std::sync::atomic::Ordering::SeqCst)
    }
}
