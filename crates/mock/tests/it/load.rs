//! 200 concurrent keep-alive connections through every layer: no unexpected answers.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::Barrier;

use crate::support::Edge;

const CONNECTIONS: usize = 200;
const REQUESTS_PER_CONNECTION: usize = 10;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_connections_through_all_layers() {
    let edge = Edge::start(include_str!("fixtures/all_layers.toml")).await;
    let addr = edge.addr();
    let barrier = Arc::new(Barrier::new(CONNECTIONS));
    let mut tasks = Vec::with_capacity(CONNECTIONS);
    for connection in 0..CONNECTIONS {
        let barrier = Arc::clone(&barrier);
        tasks.push(tokio::spawn(async move {
            let stream = TcpStream::connect(addr)
                .await
                .map_err(|e| format!("connect: {e}"))?;
            let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .map_err(|e| format!("handshake: {e}"))?;
            tokio::spawn(conn);
            // Every connection is open before any request is sent.
            barrier.wait().await;
            let mut unexpected = Vec::new();
            for i in 0..REQUESTS_PER_CONNECTION {
                // Mostly allowed requests, with a refusal of each kind mixed in.
                let (target, auth, expected) = match (connection + i) % 10 {
                    0 => ("/admin/users", "viewer-token", 403),
                    1 => (
                        "/v1/tenants/acme/projects?q=1%27%20OR%20%271%27=%271",
                        "viewer-token",
                        403,
                    ),
                    2 => ("/v1/tenants/globex/projects", "viewer-token", 403),
                    3 => ("/v1/tenants/acme/projects", "wrong-token", 401),
                    _ => ("/v1/tenants/acme/projects", "viewer-token", 200),
                };
                let request = http::Request::get(target)
                    .header("host", "shop.example")
                    .header("authorization", format!("Bearer {auth}"))
                    .body(Empty::<Bytes>::new())
                    .unwrap();
                sender.ready().await.map_err(|e| format!("ready: {e}"))?;
                let response = sender
                    .send_request(request)
                    .await
                    .map_err(|e| format!("send: {e}"))?;
                let status = response.status().as_u16();
                response
                    .into_body()
                    .collect()
                    .await
                    .map_err(|e| format!("body: {e}"))?;
                if status != expected {
                    unexpected.push(format!("{target}: {status} instead of {expected}"));
                }
            }
            Ok::<Vec<String>, String>(unexpected)
        }));
    }
    let all = async {
        let mut problems = Vec::new();
        for task in tasks {
            match task.await.expect("task does not panic") {
                Ok(unexpected) => problems.extend(unexpected),
                Err(error) => problems.push(error),
            }
        }
        problems
    };
    let problems = tokio::time::timeout(Duration::from_secs(60), all)
        .await
        .expect("the load finishes within 60s");
    assert!(
        problems.is_empty(),
        "{} problems, first: {:?}",
        problems.len(),
        problems.first()
    );
    let refusals = edge.refusals.lock().unwrap().len();
    assert_eq!(refusals, CONNECTIONS * REQUESTS_PER_CONNECTION * 4 / 10);
}
