//! Proxy mode against a local axum upstream.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Uri};
use axum::routing::{get, post};
use bytes::Bytes;
use http_body::Frame;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::sync::{mpsc, oneshot};

use crate::support::Edge;

/// A response body fed by a channel, so the test decides when each chunk is sent.
struct ChannelBody(mpsc::Receiver<Bytes>);

impl http_body::Body for ChannelBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        self.0
            .poll_recv(cx)
            .map(|chunk| chunk.map(|bytes| Ok(Frame::data(bytes))))
    }
}

struct Upstream {
    addr: SocketAddr,
    /// Senders for `/stream` responses, one per request.
    streams: Arc<Mutex<Vec<mpsc::Sender<Bytes>>>>,
    _stop: oneshot::Sender<()>,
}

async fn upstream() -> Upstream {
    let streams: Arc<Mutex<Vec<mpsc::Sender<Bytes>>>> = Arc::default();
    let stream_senders = Arc::clone(&streams);
    let app = Router::new()
        .route(
            "/echo",
            get(|headers: HeaderMap, uri: Uri| async move {
                let header = |name: &str| {
                    headers
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_owned()
                };
                let body = serde_json::json!({
                    "uri": uri.to_string(),
                    "host": header("host"),
                    "xff": header("x-forwarded-for"),
                    "xfp": header("x-forwarded-proto"),
                    "custom": header("x-custom"),
                    "hop": header("x-hop"),
                    "te": header("te"),
                });
                (
                    [("x-upstream", "yes"), ("keep-alive", "timeout=5")],
                    body.to_string(),
                )
            }),
        )
        .route("/base/echo", get(|uri: Uri| async move { uri.to_string() }))
        .route(
            "/upload",
            post(|body: Body| async move {
                let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
                let sum: u64 = bytes.iter().map(|b| u64::from(*b)).sum();
                format!("{} {sum}", bytes.len())
            }),
        )
        .route(
            "/stream",
            get(move || {
                let (tx, rx) = mpsc::channel(4);
                stream_senders.lock().unwrap().push(tx);
                async move { Body::new(ChannelBody(rx)) }
            }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(3)).await;
                "late"
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
    });
    Upstream {
        addr,
        streams,
        _stop: stop,
    }
}

async fn proxy_edge(upstream: &str, layers: &str) -> Edge {
    Edge::start(&format!(
        "[edge]\nserver = \"nginx\"\nwaf = \"modsecurity\"\n{layers}\n[origin.proxy]\nupstream = \"{upstream}\"\ntimeout = \"500ms\"\n"
    ))
    .await
}

#[tokio::test]
async fn requests_are_forwarded_with_forwarding_headers() {
    let upstream = upstream().await;
    let edge = proxy_edge(&format!("http://{}", upstream.addr), "").await;
    let reply = edge
        .send(
            "GET",
            "/echo?a=1&b=two",
            &[
                ("X-Custom", "kept"),
                ("X-Forwarded-For", "198.51.100.1"),
                ("Connection", "close, x-hop"),
                ("X-Hop", "dropped"),
            ],
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let body = reply.json();
    assert_eq!(body["uri"], "/echo?a=1&b=two");
    assert_eq!(body["host"], "shop.example");
    assert_eq!(body["xff"], "198.51.100.1, 127.0.0.1");
    assert_eq!(body["xfp"], "http");
    assert_eq!(body["custom"], "kept");
    assert_eq!(
        body["hop"], "",
        "headers named in Connection are hop-by-hop"
    );
    assert_eq!(reply.header("x-upstream"), Some("yes"));
    assert_eq!(reply.header("keep-alive"), None);
    assert_eq!(reply.header("server"), Some("nginx/1.22.1"));

    let based = proxy_edge(&format!("http://{}/base/", upstream.addr), "").await;
    assert_eq!(
        based.send("GET", "/echo?x=1", &[]).await.text(),
        "/base/echo?x=1"
    );
}

#[tokio::test]
async fn layers_still_refuse_in_front_of_the_upstream() {
    let upstream = upstream().await;
    let layers = "[[layer]]\npath_deny = { prefixes = [\"/echo\"] }\n[[layer]]\nwaf = { presets = [\"xss\"] }";
    let edge = proxy_edge(&format!("http://{}", upstream.addr), layers).await;
    assert_eq!(edge.send("GET", "/echo", &[]).await.status, 403);
    assert_eq!(
        edge.send_body("POST", "/upload", &[], "<script>x</script>")
            .await
            .status,
        403
    );
    assert_eq!(
        edge.send_body("POST", "/upload", &[], "plain").await.text(),
        "5 532"
    );
}

#[tokio::test]
async fn request_bodies_stream_past_the_waf() {
    let upstream = upstream().await;
    // The WAF reads the first 1 KiB; the rest must still reach the upstream intact.
    let edge = proxy_edge(
        &format!("http://{}", upstream.addr),
        "[[layer]]\nwaf = { presets = [\"sqli\"], body_limit = 1024 }",
    )
    .await;
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let payload: Vec<u8> = (0..2_000_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    let expected = format!(
        "{} {}",
        payload.len(),
        payload.iter().map(|b| u64::from(*b)).sum::<u64>()
    );
    let request = http::Request::post(format!("{}/upload", edge.server.url()))
        .body(Full::new(Bytes::from(payload)))
        .unwrap();
    let response = tokio::time::timeout(Duration::from_secs(20), client.request(request))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(response.status(), 200);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(String::from_utf8_lossy(&body), expected);
}

#[tokio::test]
async fn response_bodies_stream_back() {
    let upstream = upstream().await;
    let edge = proxy_edge(&format!("http://{}", upstream.addr), "").await;
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let request = http::Request::get(format!("{}/stream", edge.server.url()))
        .body(Full::new(Bytes::new()))
        .unwrap();
    let pending = tokio::spawn(async move { client.request(request).await });
    let sender = loop {
        if let Some(sender) = upstream.streams.lock().unwrap().pop() {
            break sender;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    sender.send(Bytes::from_static(b"first")).await.unwrap();
    let response = tokio::time::timeout(Duration::from_secs(5), pending)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let mut body = response.into_body();
    // The first chunk arrives while the upstream is still holding the rest back: nothing
    // in between buffers the whole body.
    let first = tokio::time::timeout(Duration::from_secs(5), body.frame())
        .await
        .expect("first chunk streamed")
        .unwrap()
        .unwrap();
    assert_eq!(first.into_data().unwrap(), "first");
    sender.send(Bytes::from_static(b"second")).await.unwrap();
    drop(sender);
    let rest = tokio::time::timeout(Duration::from_secs(5), body.collect())
        .await
        .unwrap()
        .unwrap()
        .to_bytes();
    assert_eq!(rest, "second");
}

#[tokio::test]
async fn upstream_failures_answer_502_and_504() {
    let upstream = upstream().await;
    let edge = proxy_edge(&format!("http://{}", upstream.addr), "").await;
    let reply = edge.send("GET", "/slow", &[]).await;
    assert_eq!(
        (reply.status, reply.reason.as_str()),
        (504, "Gateway Time-out")
    );
    assert_eq!(edge.last_refusal().rule, "upstream timed out");

    // A port that was just free: nothing listens there.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let edge = proxy_edge(&format!("http://{closed}"), "").await;
    let reply = edge.send("GET", "/echo", &[]).await;
    assert_eq!(reply.status, 502);
    assert!(reply.text().contains("502 Bad Gateway"));
}
