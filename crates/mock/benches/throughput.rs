//! Throughput and latency of the mock edge against a bare hyper server, same machine, same
//! client: `cargo bench -p rolecall-mock --bench throughput`.
//!
//! 64 keep-alive connections send requests back to back; a run stops after 200,000
//! requests or 10 seconds, whichever comes first. The edge request passes every layer of
//! `tests/it/fixtures/all_layers.toml` (IP, geo, WAF presets, user agent, hotlink, path
//! deny, directory listing, method, rate limit, fault) and is allowed by the mock app.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rolecall_mock::{MockConfig, MockServer};
use tokio::net::{TcpListener, TcpStream};

const CONNECTIONS: usize = 64;
const MAX_REQUESTS: usize = 200_000;
const MAX_TIME: Duration = Duration::from_secs(10);
/// The paced phase sends at the target rate for this long, to measure latency at 20,000
/// req/s rather than the queueing of a saturated closed loop.
const PACED_RATE: f64 = 20_000.0;
const PACED_TIME: Duration = Duration::from_secs(5);

struct Run {
    requests: usize,
    elapsed: Duration,
    p50: Duration,
    p99: Duration,
    errors: usize,
}

impl Run {
    fn per_second(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let bare = start_bare().await;
        let config = MockConfig::from_str(
            include_str!("../tests/it/fixtures/all_layers.toml"),
            Path::new("tests/it/fixtures/all_layers.toml"),
        )
        .expect("benchmark config loads");
        let edge = MockServer::start(config, "127.0.0.1:0".parse().unwrap()).await.expect("edge starts");
        let target = "/v1/tenants/acme/projects?page=2&sort=name";

        println!("saturated: {CONNECTIONS} connections, back to back, up to {MAX_REQUESTS} requests or {MAX_TIME:?}");
        let bare_run = measure(bare, target, None).await;
        report("bare hyper", &bare_run);
        let edge_run = measure(edge.addr(), target, None).await;
        report("mock edge (all layers + app)", &edge_run);
        println!(
            "ratio edge/bare: {:.2} of the throughput, p99 {:.2}x",
            edge_run.per_second() / bare_run.per_second(),
            edge_run.p99.as_secs_f64() / bare_run.p99.as_secs_f64()
        );

        println!("paced: {CONNECTIONS} connections sharing {PACED_RATE} req/s for {PACED_TIME:?}");
        let bare_paced = measure(bare, target, Some(PACED_RATE)).await;
        report("bare hyper", &bare_paced);
        let edge_paced = measure(edge.addr(), target, Some(PACED_RATE)).await;
        report("mock edge (all layers + app)", &edge_paced);
        edge.shutdown().await;

        let ok = edge_run.per_second() >= 20_000.0
            && edge_paced.p99 < Duration::from_millis(5)
            && edge_run.errors + edge_paced.errors == 0;
        println!(
            "target (>= 20000 req/s saturated, p99 < 5 ms at 20000 req/s, no errors): {}",
            if ok { "met" } else { "MISSED" }
        );
    });
}

fn report(name: &str, run: &Run) {
    println!(
        "{name:<30} {:>9.0} req/s  p50 {:>7.3} ms  p99 {:>7.3} ms  ({} requests in {:.2} s, {} errors)",
        run.per_second(),
        run.p50.as_secs_f64() * 1e3,
        run.p99.as_secs_f64() * 1e3,
        run.requests,
        run.elapsed.as_secs_f64(),
        run.errors
    );
}

/// A hyper server that answers every request with a small 200, for comparison.
async fn start_bare() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let service = service_fn(|_request| async {
                    Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from_static(
                        b"{\"ok\":true}",
                    ))))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

/// Sends back to back, or with `rate`, each connection at its share of it.
async fn measure(addr: SocketAddr, target: &'static str, rate: Option<f64>) -> Run {
    let issued = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let deadline = started + if rate.is_some() { PACED_TIME } else { MAX_TIME };
    // Each connection's gap between sends; connections start spread over one gap.
    let gap = rate.map(|rate| Duration::from_secs_f64(CONNECTIONS as f64 / rate));
    let mut tasks = Vec::with_capacity(CONNECTIONS);
    for connection in 0..CONNECTIONS {
        let issued = Arc::clone(&issued);
        tasks.push(tokio::spawn(async move {
            let mut next =
                gap.map(|gap| Instant::now() + gap.mul_f64(connection as f64 / CONNECTIONS as f64));
            let mut latencies = Vec::with_capacity(MAX_REQUESTS / CONNECTIONS + 1);
            let mut errors = 0;
            let stream = TcpStream::connect(addr).await.expect("connect");
            stream.set_nodelay(true).expect("nodelay");
            let (mut sender, connection) =
                hyper::client::conn::http1::handshake(TokioIo::new(stream))
                    .await
                    .expect("handshake");
            tokio::spawn(connection);
            while issued.fetch_add(1, Ordering::Relaxed) < MAX_REQUESTS && Instant::now() < deadline
            {
                if let (Some(at), Some(gap)) = (next.as_mut(), gap) {
                    tokio::time::sleep_until((*at).into()).await;
                    *at += gap;
                }
                let request = hyper::Request::get(target)
                    .header("host", "shop.example")
                    .header("user-agent", "rolecall-bench/1")
                    .header("authorization", "Bearer viewer-token")
                    .body(Empty::<Bytes>::new())
                    .expect("request");
                let sent = Instant::now();
                let outcome = async {
                    sender.ready().await?;
                    let response = sender.send_request(request).await?;
                    let status = response.status();
                    response.into_body().collect().await?;
                    Ok::<_, hyper::Error>(status)
                }
                .await;
                match outcome {
                    Ok(status) if status.is_success() => latencies.push(sent.elapsed()),
                    Ok(_) => errors += 1,
                    Err(_) => {
                        errors += 1;
                        break;
                    }
                }
            }
            (latencies, errors)
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for task in tasks {
        let (mut some, failed) = task.await.expect("client task");
        latencies.append(&mut some);
        errors += failed;
    }
    let elapsed = started.elapsed();
    latencies.sort_unstable();
    let pick = |q: f64| {
        latencies
            .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
    };
    Run {
        requests: latencies.len(),
        elapsed,
        p50: pick(0.50).unwrap_or_default(),
        p99: pick(0.99).unwrap_or_default(),
        errors,
    }
}
