//! `cargo xtask bench fixtures`: 50 fixtures (10 chains of 3 and 20 on their own) and
//! 4,000 cases that use them, against a loopback server answering every request in
//! 20 ms, through the release `rolecall run`.
//!
//! The reference is the critical path no scheduler can beat: the longest fixture chain,
//! then the cases in rounds of the concurrency, then the teardown chain, at 20 ms each.
//! Reported: the median of three runs and its ratio to that path (target ≤ 1.3×).

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use axum::Router;
use axum::body::Body;
use axum::http::Method;
use axum::response::Response;

const LATENCY: Duration = Duration::from_millis(20);
const CHAINS: usize = 10;
const DEPTH: usize = 3;
const SINGLES: usize = 20;
const IDENTITIES: usize = 10;
const ROUTES: usize = 400;
const CONCURRENCY: usize = 64;
const RUNS: usize = 3;

pub(crate) fn run() -> Result<()> {
    crate::cargo(&["build", "--release", "--quiet", "-p", "rolecall"])?;
    let binary = crate::root().join("target/release/rolecall");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let requests = Arc::new(AtomicUsize::new(0));
    let base = runtime.block_on(serve(requests.clone()))?;
    let dir = tempfile::tempdir()?;
    write_suite(dir.path(), &base)?;
    let cases = ROUTES * IDENTITIES;
    let mut times = Vec::new();
    for _ in 0..RUNS {
        requests.store(0, Ordering::SeqCst);
        let start = Instant::now();
        let status = Command::new(&binary)
            .args(["run", "--concurrency", &CONCURRENCY.to_string()])
            .arg(dir.path())
            .stdout(Stdio::null())
            .status()
            .context("cannot run rolecall")?;
        times.push(start.elapsed());
        if !status.success() {
            bail!("the fixtures workload failed: {status}");
        }
        let sent = requests.load(Ordering::SeqCst);
        let expected = cases + 2 * (CHAINS * DEPTH + SINGLES);
        if sent != expected {
            bail!("the server saw {sent} requests, expected {expected}");
        }
    }
    times.sort();
    let median = times[RUNS / 2];
    let rounds = DEPTH + cases.div_ceil(CONCURRENCY) + DEPTH;
    let critical = LATENCY * u32::try_from(rounds)?;
    println!(
        "fixtures: {} fixtures ({CHAINS} chains of {DEPTH}, {SINGLES} alone), {cases} cases, {} ms per answer, concurrency {CONCURRENCY}",
        CHAINS * DEPTH + SINGLES,
        LATENCY.as_millis()
    );
    println!(
        "  critical path {:.2} s (chain {DEPTH} + {} rounds of cases + teardown chain {DEPTH}); median of {RUNS}: {:.2} s = {:.2}×",
        critical.as_secs_f64(),
        cases.div_ceil(CONCURRENCY),
        median.as_secs_f64(),
        median.as_secs_f64() / critical.as_secs_f64()
    );
    Ok(())
}

/// Creates (201 with an id), removes (204) and reads (200), every answer after 20 ms.
async fn serve(requests: Arc<AtomicUsize>) -> Result<String> {
    let app = Router::new().fallback(move |method: Method| {
        let requests = requests.clone();
        async move {
            let n = requests.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(LATENCY).await;
            let (status, body) = match method.as_str() {
                "POST" => (201, format!(r#"{{"id":"o{n}"}}"#)),
                "DELETE" => (204, String::new()),
                _ => (200, "{}".to_owned()),
            };
            Response::builder()
                .status(status)
                .body(Body::from(body))
                .unwrap_or_default()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(format!("http://{addr}"))
}

fn write_suite(dir: &Path, base: &str) -> Result<()> {
    let mut suite = format!(
        "[defaults]\nconcurrency = {CONCURRENCY}\n[targets.bench]\nbase_url = \"{base}\"\nallow_mutations = true\n"
    );
    for i in 0..IDENTITIES {
        suite.push_str(&format!(
            "[identities.u{i}]\nbearer = \"bench-token-{i:04}\"\n"
        ));
    }
    let mut names = Vec::new();
    let mut routes = String::new();
    for c in 0..CHAINS {
        for d in 0..DEPTH {
            let name = format!("c{c}_{d}");
            let parent = match d {
                0 => String::new(),
                _ => format!("/{{c{c}_{}.id}}", d - 1),
            };
            routes.push_str(&fixture(&name, &format!("/chains{parent}")));
            if d == DEPTH - 1 {
                names.push(name);
            }
        }
    }
    for s in 0..SINGLES {
        let name = format!("s{s}");
        routes.push_str(&fixture(&name, "/singles"));
        names.push(name);
    }
    for r in 0..ROUTES {
        let name = &names[r % names.len()];
        routes.push_str(&format!(
            "[[route]]\nrequest = \"GET /r{r}/{{{name}.id}}\"\npublic = true\n"
        ));
    }
    std::fs::write(dir.join("rolecall.toml"), suite)?;
    std::fs::write(dir.join("objects.toml"), routes)?;
    Ok(())
}

fn fixture(name: &str, path: &str) -> String {
    format!(
        "[[fixture]]\nname = \"{name}\"\nidentity = \"u0\"\nrequest = \"POST {path}\"\ncapture.id = \"/id\"\nteardown = \"DELETE /objects/{{{name}.id}}\"\n"
    )
}
