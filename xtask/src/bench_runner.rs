//! `cargo xtask bench runner`: the runner's overhead, as ratios against references
//! measured in the same run.
//!
//! A generated suite of 2,000 cases (10 identities × 200 routes, one of them anonymous)
//! is sent to local servers on 127.0.0.1 that this process starts:
//!
//! - **W1**: a server that answers at once, so everything measured is client overhead.
//!   Reference: a plain reqwest loop (one client, the same requests and headers, 64 in
//!   flight), run as a child process like rolecall. Targets: the libtest harness within
//!   1.2×, `rolecall run` within 1.1× of it.
//! - **W1, dev profile**: what a user's `cargo test` runs. A user crate is generated
//!   (a path dependency on rolecall-runner, the README's three-line harness, the default
//!   dev profile; built in `target/bench-user`) and its test binary is timed against the
//!   plain loop built in the same profile (this xtask's own debug build). Target: within
//!   1.5×, printed beside the release ratio of the same run.
//! - **W2**: the same server, 20 ms slower per request. Reference: the floor
//!   2,000 × 20 ms / 64 = 625 ms. Target: within 1.2× at the default concurrency.
//! - **W1 with reports**: `rolecall run` writing every file report format the binary
//!   knows (its own list, `Format::ALL` less `github`, read from its error for an unknown
//!   format) into a scratch directory. Targets: within 1.15× the time and 1.5× the peak
//!   RSS of the same `rolecall run` without reports.
//! - **W3**: 100,000 cases (10 identities × 10,000 routes) against W1's server: the plain
//!   loop, `rolecall run` without reports and with every report. Figures: time and peak
//!   RSS, ratios to the plain loop (issue 16's targets: time within 1.05×, RSS within 3×).
//!   Three runs per variant, each child stopped after [`W3_DEADLINE`].
//! - **Peak RSS** of every child (GNU `time -f %M`, else `VmHWM` polled from `/proc`).
//!   Target: rolecall within 2× of the plain loop. The measured binaries are evicted
//!   from the page cache first, so their code is mapped as an installed binary's is.
//!
//! Every variant is a separate process, timed from spawn to exit, so process start,
//! suite loading and output are part of what is measured; the variants take turns, each
//! one several times, and the median is reported. The targets are informational: the
//! bench fails only when something errors or a case does not pass.
//!
//! - **Bypass** (only when named, `--workload w1,bypass`): 2,000 refusals (10 identities ×
//!   200 routes no identity may use) with every bypass family, against W1's server.
//!   Figure: `rolecall run`'s time per request sent, against W1's `rolecall run` time per
//!   case. Target: within 1.2×.
//!
//! `cargo xtask bench runner` measures W1, W2 and W3 (about two minutes on two cores);
//! `--workload w1|w2|w3|bypass` (repeatable, or comma-separated) measures only those.
//!
//! Timing a debug build would measure the compiler's `opt-level`, so `cargo xtask`
//! (a debug build) builds release binaries and hands the measurement to the release
//! build of xtask itself; that process hosts the servers and, started once more with
//! [`ROLE`] set, is the plain loop.
//!
//! To profile rolecall against the same servers, start them alone:
//! `XTASK_BENCH_RUNNER_ROLE=serve XTASK_BENCH_RUNNER_SUITE=/tmp/suite target/release/xtask
//! bench runner`, then `perf record target/release/rolecall run /tmp/suite` (or `--target
//! slow` for W2).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::os::unix::process::CommandExt as _;

const IDENTITIES: usize = 10;
/// Routes of W1 and W2's suite.
const ROUTES: usize = 200;
/// Routes of W3's suite.
const W3_ROUTES: usize = 10_000;
/// The bypass workload's routes start here; the server refuses them to every identity.
const DENIED_FROM: usize = W3_ROUTES;
/// rolecall's default concurrency, used by every variant.
const CONCURRENCY: usize = 64;
/// W2's added latency per request.
const SLOW: Duration = Duration::from_millis(20);
/// Timed repetitions per variant and workload; the median is reported. W1 runs take
/// about 50 ms, within a few ms of each other's noise on a shared 2-core machine: with 5,
/// the median of one variant moved by up to 10% from one bench run to the next.
const REPETITIONS: usize = 9;
/// W3's runs take seconds each, with much less relative noise.
const W3_REPETITIONS: usize = 3;
/// No child may run longer than this.
const CHILD_DEADLINE: Duration = Duration::from_secs(60);
/// No W3 child may run longer than this.
const W3_DEADLINE: Duration = Duration::from_secs(180);
/// The same `User-Agent` as rolecall's, so both clients send the same bytes.
const USER_AGENT: &str = "rolecall/0.1.0";

/// Which part of the bench this process plays; unset for the entry point.
const ROLE: &str = "XTASK_BENCH_RUNNER_ROLE";
const ROLECALL_BIN: &str = "XTASK_BENCH_RUNNER_ROLECALL";
const TEST_BIN: &str = "XTASK_BENCH_RUNNER_TEST_BIN";
const PLAIN_URL: &str = "XTASK_BENCH_RUNNER_URL";
const PLAIN_ROUTES: &str = "XTASK_BENCH_RUNNER_ROUTES";
/// The workloads to measure, comma-separated (`w1,w2,w3`).
const WORKLOADS: &str = "XTASK_BENCH_RUNNER_WORKLOADS";
const SUITE_DIR: &str = "XTASK_BENCH_RUNNER_SUITE";
/// The user crate's test binary, built in the dev profile.
const DEV_TEST_BIN: &str = "XTASK_BENCH_RUNNER_DEV_TEST_BIN";
/// This xtask built in the dev profile: the dev-profile plain loop.
const DEV_XTASK: &str = "XTASK_BENCH_RUNNER_DEV_XTASK";

/// `args`: what follows `cargo xtask bench runner`, `--workload w1|w2|w3|bypass` (repeatable).
pub(crate) fn run(args: &[&str]) -> Result<()> {
    match std::env::var(ROLE).as_deref() {
        Ok("plain-loop") => {
            let base = std::env::var(PLAIN_URL).context("the plain loop needs its base URL")?;
            let routes = std::env::var(PLAIN_ROUTES)
                .context("the plain loop needs its route count")?
                .parse()?;
            return plain_loop(&base, routes);
        }
        Ok("serve") => {
            // A profiling aid: the servers and the suite for ten minutes, nothing measured.
            let dir = PathBuf::from(std::env::var_os(SUITE_DIR).context("no suite directory")?);
            std::fs::create_dir_all(&dir)?;
            let servers = start_servers()?;
            write_suite(&dir, &servers.fast, &servers.slow, ROUTES)?;
            eprintln!(
                "serving {} and {} for 10 minutes",
                servers.fast, servers.slow
            );
            std::thread::sleep(Duration::from_secs(600));
            return Ok(());
        }
        Ok("measure") => {
            let binaries = Binaries {
                rolecall: std::env::var_os(ROLECALL_BIN)
                    .context("no rolecall binary given")?
                    .into(),
                test: std::env::var_os(TEST_BIN)
                    .context("no test binary given")?
                    .into(),
                dev_test: std::env::var_os(DEV_TEST_BIN).map(PathBuf::from),
                dev_xtask: std::env::var_os(DEV_XTASK).map(PathBuf::from),
            };
            let workloads = Workload::parse_list(&std::env::var(WORKLOADS).unwrap_or_default())?;
            return measure(&binaries, &workloads);
        }
        _ => {}
    }
    measure_from_dev(args, None)
}

/// W1 with `dev_test` as the user crate's test binary, against the plain loops of this
/// run (`cargo xtask bench build --profiles`).
pub(crate) fn measure_dev_w1(dev_test: &Path) -> Result<()> {
    measure_from_dev(&["--workload", "w1"], Some(dev_test))
}

/// Builds the release binaries and measures `args`'s workloads from the release xtask;
/// `dev_test`: the user crate's test binary, else the one [`build_user_crate`] builds.
fn measure_from_dev(args: &[&str], dev_test: Option<&Path>) -> Result<()> {
    let workloads = Workload::from_args(args)?;
    let names: Vec<&str> = workloads.iter().map(|w| w.name()).collect();
    let target = target_dir()?;
    let mut binaries = build(&target)?;
    if cfg!(debug_assertions) && workloads.contains(&Workload::Instant) {
        binaries.dev_test = Some(match dev_test {
            Some(test) => test.to_path_buf(),
            None => build_user_crate(&target)?,
        });
        binaries.dev_xtask = Some(std::env::current_exe()?);
    }
    if cfg!(debug_assertions) {
        crate::cargo(&["build", "--release", "--quiet", "-p", "xtask"])?;
        let xtask = target.join("release").join("xtask");
        crate::run(
            Command::new(xtask)
                .args(["bench", "runner"])
                .env(ROLE, "measure")
                .env(ROLECALL_BIN, &binaries.rolecall)
                .env(TEST_BIN, &binaries.test)
                .envs(binaries.dev_test.iter().map(|p| (DEV_TEST_BIN, p)))
                .envs(binaries.dev_xtask.iter().map(|p| (DEV_XTASK, p)))
                .env(WORKLOADS, names.join(",")),
        )
    } else {
        measure(&binaries, &workloads)
    }
}

// --- the workload ----------------------------------------------------------------------

/// Whether `identity` may use `route`: one or two of the nine authenticated identities.
fn allowed(route: usize, identity: usize) -> bool {
    identity != 0
        && route < DENIED_FROM
        && (identity == 1 + route % 9 || identity == 1 + (route * 7 + 3) % 9)
}

/// The bearer token of `identity`; identity 0 is anonymous.
fn token(identity: usize) -> Option<String> {
    (identity != 0).then(|| format!("tok-{identity}"))
}

fn expected_status(route: usize, identity: usize) -> u16 {
    match (identity, allowed(route, identity)) {
        (0, _) => 401,
        (_, true) => 200,
        (_, false) => 403,
    }
}

/// Writes the suite: `rolecall.toml` with targets `fast` (W1, W3) and `slow` (W2), and
/// one routes file of `routes` routes.
fn write_suite(dir: &Path, fast: &str, slow: &str, routes_count: usize) -> Result<()> {
    let mut suite = format!(
        "[defaults]\ntarget = \"fast\"\ndeny = 403\nunauthenticated = 401\ntimeout = \"10s\"\nconcurrency = {CONCURRENCY}\n\n\
         [targets.fast]\nbase_url = \"{fast}\"\nallow_mutations = false\n\n\
         [targets.slow]\nbase_url = \"{slow}\"\nallow_mutations = false\n\n\
         [identities.anonymous]\ndescription = \"no credentials\"\n"
    );
    for identity in 1..IDENTITIES {
        let token = token(identity).unwrap_or_default();
        write!(
            suite,
            "\n[identities.user{identity}]\nbearer = \"{token}\"\n"
        )?;
    }
    let mut routes = String::new();
    for route in 0..routes_count {
        let allow: Vec<String> = (1..IDENTITIES)
            .filter(|&i| allowed(route, i))
            .map(|i| format!("\"user{i}\""))
            .collect();
        write!(
            routes,
            "[[route]]\nrequest = \"GET /r/{route}\"\nallow = [{}]\n\n",
            allow.join(", ")
        )?;
    }
    std::fs::write(dir.join("rolecall.toml"), suite)?;
    std::fs::write(dir.join("routes.toml"), routes)?;
    Ok(())
}

/// The bypass workload's suite: W1's, with every family on and `routes_count` routes that
/// every identity is refused (401 anonymous, 403 the others).
fn write_bypass_suite(dir: &Path, fast: &str, slow: &str, routes_count: usize) -> Result<()> {
    write_suite(dir, fast, slow, routes_count)?;
    let suite = std::fs::read_to_string(dir.join("rolecall.toml"))?;
    let suite = suite.replacen("[defaults]\n", "[defaults]\nbypass = true\n", 1);
    std::fs::write(dir.join("rolecall.toml"), suite)?;
    let routes: String = (DENIED_FROM..DENIED_FROM + routes_count)
        .map(|route| format!("[[route]]\nrequest = \"GET /r/{route}\"\nallow = []\n\n"))
        .collect();
    std::fs::write(dir.join("routes.toml"), routes)?;
    Ok(())
}

// --- the servers -----------------------------------------------------------------------

/// What the servers know: each token's identity and each route's allowed identities.
#[derive(Debug)]
struct Policy {
    identities: HashMap<String, usize>,
    allowed: Vec<[bool; IDENTITIES]>,
}

impl Policy {
    fn new() -> Self {
        Policy {
            identities: (1..IDENTITIES)
                .filter_map(|i| Some((token(i)?, i)))
                .collect(),
            allowed: (0..DENIED_FROM + ROUTES)
                .map(|r| std::array::from_fn(|i| allowed(r, i)))
                .collect(),
        }
    }
}

#[derive(Debug, Clone)]
struct Server {
    policy: Arc<Policy>,
    delay: Duration,
}

/// 401 with a challenge without valid credentials, 403 for an identity that is not
/// allowed, 200 otherwise; every answer is a small JSON body.
async fn answer(
    State(server): State<Server>,
    UrlPath(route): UrlPath<usize>,
    headers: HeaderMap,
) -> Response {
    if !server.delay.is_zero() {
        tokio::time::sleep(server.delay).await;
    }
    let json = [(header::CONTENT_TYPE, "application/json")];
    let identity = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .and_then(|t| server.policy.identities.get(t));
    let Some(&identity) = identity else {
        let challenge = [
            (header::CONTENT_TYPE, "application/json"),
            (header::WWW_AUTHENTICATE, "Bearer"),
        ];
        return (
            StatusCode::UNAUTHORIZED,
            challenge,
            r#"{"error":"unauthenticated"}"#,
        )
            .into_response();
    };
    match server.policy.allowed.get(route) {
        Some(allowed) if allowed[identity] => {
            (StatusCode::OK, json, r#"{"ok":true}"#).into_response()
        }
        Some(_) => (StatusCode::FORBIDDEN, json, r#"{"error":"forbidden"}"#).into_response(),
        None => (StatusCode::NOT_FOUND, json, r#"{"error":"not found"}"#).into_response(),
    }
}

/// Both servers, on a runtime of their own; dropping this stops them.
#[derive(Debug)]
struct Servers {
    _runtime: tokio::runtime::Runtime,
    fast: String,
    slow: String,
}

fn start_servers() -> Result<Servers> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("bench-server")
        .build()?;
    let policy = Arc::new(Policy::new());
    let fast = runtime.block_on(serve(policy.clone(), Duration::ZERO))?;
    let slow = runtime.block_on(serve(policy, SLOW))?;
    Ok(Servers {
        _runtime: runtime,
        fast,
        slow,
    })
}

async fn serve(policy: Arc<Policy>, delay: Duration) -> Result<String> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let address = listener.local_addr()?;
    let app = Router::new()
        .route("/r/{route}", get(answer))
        .with_state(Server { policy, delay });
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            eprintln!("bench server on {address} stopped: {e}");
        }
    });
    Ok(format!("http://{address}"))
}

// --- the reference: a plain reqwest loop -------------------------------------------------

/// Sends the `routes × IDENTITIES` requests with one client, 64 at a time, and checks
/// every status. Built like rolecall's client (same reqwest features, ring installed,
/// same settings) so that the difference is what rolecall does around it.
fn plain_loop(base: &str, routes: usize) -> Result<()> {
    let start = Instant::now();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .connect_timeout(Duration::from_secs(5))
        .no_proxy()
        .pool_max_idle_per_host(CONCURRENCY)
        .user_agent(USER_AGENT)
        .build()?;
    let requests: Arc<Vec<(String, Option<String>, u16)>> = Arc::new(
        (0..routes)
            .flat_map(|r| (0..IDENTITIES).map(move |i| (r, i)))
            .map(|(r, i)| {
                (
                    format!("{base}/r/{r}"),
                    token(i).map(|t| format!("Bearer {t}")),
                    expected_status(r, i),
                )
            })
            .collect(),
    );
    let next = Arc::new(AtomicUsize::new(0));
    let (matched, wrong) = runtime.block_on(async {
        let workers: Vec<_> = (0..CONCURRENCY)
            .map(|_| {
                let (client, requests, next) = (client.clone(), requests.clone(), next.clone());
                tokio::spawn(async move {
                    let (mut matched, mut wrong) = (0usize, 0usize);
                    while let Some((url, authorization, expected)) =
                        requests.get(next.fetch_add(1, Ordering::Relaxed))
                    {
                        let mut request = client.get(url);
                        if let Some(authorization) = authorization {
                            request = request.header(header::AUTHORIZATION, authorization);
                        }
                        let response = request.send().await?;
                        let status = response.status().as_u16();
                        response.bytes().await?;
                        if status == *expected {
                            matched += 1;
                        } else {
                            wrong += 1;
                        }
                    }
                    Ok::<_, reqwest::Error>((matched, wrong))
                })
            })
            .collect();
        let (mut matched, mut wrong) = (0, 0);
        for worker in workers {
            let (m, w) = worker.await??;
            matched += m;
            wrong += w;
        }
        Ok::<_, anyhow::Error>((matched, wrong))
    })?;
    println!(
        "{matched} as expected, {wrong} not, in {} ms",
        start.elapsed().as_millis()
    );
    if matched != routes * IDENTITIES {
        bail!("the plain loop saw {wrong} unexpected statuses");
    }
    Ok(())
}

// --- building --------------------------------------------------------------------------

#[derive(Debug)]
struct Binaries {
    rolecall: PathBuf,
    /// The `scenarios` test binary of `rolecall-scenarios`: what `cargo test` runs.
    test: PathBuf,
    /// The generated user crate's test binary, dev profile (only from `cargo xtask`).
    dev_test: Option<PathBuf>,
    /// This xtask in the dev profile, for the dev-profile plain loop.
    dev_xtask: Option<PathBuf>,
}

/// The user crate of the README: a path dependency on rolecall-runner and the
/// three-line harness, in the default dev profile.
pub(crate) const USER_MANIFEST: &str = r#"[package]
name = "bench-user"
version = "0.0.0"
edition = "2024"
publish = false

[dev-dependencies]
rolecall-runner = { path = "RUNNER" }

[[test]]
name = "authz"
harness = false
"#;
pub(crate) const USER_HARNESS: &str =
    "fn main() -> std::process::ExitCode {\n    rolecall_runner::harness(\"scenarios\")\n}\n";

/// Writes the user crate into a temporary directory, with the workspace's lock file (the
/// same dependency versions), builds its test binary in the dev profile in
/// `target/bench-user` (kept, so that the next bench builds incrementally) and returns it.
fn build_user_crate(target: &Path) -> Result<PathBuf> {
    let dir = tempfile::Builder::new()
        .prefix("rolecall-bench-user")
        .tempdir()?;
    let runner = crate::root().join("crates").join("runner");
    let manifest = USER_MANIFEST.replace("RUNNER", &runner.display().to_string());
    std::fs::write(dir.path().join("Cargo.toml"), manifest)?;
    std::fs::create_dir_all(dir.path().join("tests"))?;
    std::fs::create_dir_all(dir.path().join("src"))?;
    std::fs::write(dir.path().join("src").join("lib.rs"), "")?;
    std::fs::write(dir.path().join("tests").join("authz.rs"), USER_HARNESS)?;
    std::fs::copy(
        crate::root().join("Cargo.lock"),
        dir.path().join("Cargo.lock"),
    )?;
    test_executable(
        cargo_command()
            .current_dir(dir.path())
            .env("CARGO_TARGET_DIR", target.join("bench-user"))
            .args(["test", "--quiet", "--test", "authz", "--no-run"]),
        "authz",
    )
}

/// Runs `cargo test … --no-run` and returns the test executable named `name`.
fn test_executable(command: &mut Command, name: &str) -> Result<PathBuf> {
    eprintln!("$ {command:?}");
    let output = command
        .arg("--message-format=json-render-diagnostics")
        .stderr(Stdio::inherit())
        .output()
        .context("cannot run cargo test --no-run")?;
    if !output.status.success() {
        bail!("building the {name} test binary failed: {}", output.status);
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == name)
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .with_context(|| format!("cargo built no `{name}` test executable"))
}

/// The workspace's target directory, as cargo sees it (`CARGO_TARGET_DIR`, config).
pub(crate) fn target_dir() -> Result<PathBuf> {
    let output = cargo_command()
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .current_dir(crate::root())
        .stderr(Stdio::inherit())
        .output()
        .context("cannot run cargo metadata")?;
    if !output.status.success() {
        bail!("cargo metadata failed: {}", output.status);
    }
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    metadata["target_directory"]
        .as_str()
        .map(PathBuf::from)
        .context("cargo metadata names no target directory")
}

fn cargo_command() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

/// Builds rolecall and the example suite's test binary in release mode, separately, so
/// that each gets exactly the features a user's build gives it.
fn build(target: &Path) -> Result<Binaries> {
    crate::cargo(&["build", "--release", "--quiet", "-p", "rolecall"])?;
    let test = test_executable(
        cargo_command().current_dir(crate::root()).args([
            "test",
            "--release",
            "--quiet",
            "-p",
            "rolecall-scenarios",
            "--test",
            "scenarios",
            "--no-run",
        ]),
        "scenarios",
    )?;
    Ok(Binaries {
        rolecall: target.join("release").join("rolecall"),
        test,
        dev_test: None,
        dev_xtask: None,
    })
}

// --- measuring -------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    Plain,
    Harness,
    CargoTest,
    Run,
    /// `rolecall run` writing every file report format.
    RunReports,
    /// The plain loop built in the dev profile.
    DevPlain,
    /// The generated user crate's `cargo test` binary, dev profile.
    DevHarness,
}

impl Variant {
    fn label(self) -> &'static str {
        match self {
            Variant::Plain => "plain reqwest loop",
            Variant::Harness => "rolecall test (harness)",
            Variant::CargoTest => "cargo test binary",
            Variant::Run => "rolecall run",
            Variant::RunReports => "rolecall run, all reports",
            Variant::DevPlain => "dev: plain reqwest loop",
            Variant::DevHarness => "dev: user crate cargo test",
        }
    }

    /// What stdout must contain when all `cases` passed.
    fn success_marker(self, cases: usize) -> String {
        match self {
            Variant::Plain | Variant::DevPlain => format!("{cases} as expected, 0 not"),
            Variant::Harness | Variant::CargoTest | Variant::DevHarness => {
                format!("{cases} passed; 0 failed")
            }
            Variant::Run | Variant::RunReports => format!("{cases} passed, 0 failed"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Workload {
    /// W1: 2,000 cases, the instant server.
    Instant,
    /// W2: 2,000 cases, the slow server.
    Slow,
    /// W3: 100,000 cases, the instant server.
    Large,
    /// 2,000 refusals with every bypass family, the instant server; only when named.
    Bypass,
}

impl Workload {
    const ALL: [Workload; 3] = [Workload::Instant, Workload::Slow, Workload::Large];
    /// Every workload `--workload` knows, in bench order.
    const NAMED: [Workload; 4] = [
        Workload::Instant,
        Workload::Slow,
        Workload::Large,
        Workload::Bypass,
    ];

    fn name(self) -> &'static str {
        match self {
            Workload::Instant => "w1",
            Workload::Slow => "w2",
            Workload::Large => "w3",
            Workload::Bypass => "bypass",
        }
    }

    /// `w1,w2`: the named workloads, in bench order; empty: all of them.
    fn parse_list(list: &str) -> Result<Vec<Workload>> {
        let names: Vec<&str> = list.split(',').filter(|n| !n.is_empty()).collect();
        for name in &names {
            if !Workload::NAMED.iter().any(|w| w.name() == *name) {
                bail!("unknown workload `{name}`: expected w1, w2, w3 or bypass");
            }
        }
        if names.is_empty() {
            return Ok(Workload::ALL.to_vec());
        }
        Ok(Workload::NAMED
            .into_iter()
            .filter(|w| names.contains(&w.name()))
            .collect())
    }

    /// The workloads `--workload NAME` (repeatable, or comma-separated) name in `args`.
    fn from_args(args: &[&str]) -> Result<Vec<Workload>> {
        let mut names = Vec::new();
        let mut rest = args.iter().filter(|a| **a != "runner");
        while let Some(arg) = rest.next() {
            match *arg {
                "--workload" => names.push(*rest.next().context("--workload needs a name")?),
                other => match other.strip_prefix("--workload=") {
                    Some(name) => names.push(name),
                    None if ["scenario", "mock"].contains(&other) => {}
                    None => {
                        bail!("unknown argument `{other}`: expected --workload w1|w2|w3|bypass")
                    }
                },
            }
        }
        Workload::parse_list(&names.join(","))
    }

    fn target(self) -> &'static str {
        match self {
            Workload::Instant | Workload::Large | Workload::Bypass => "fast",
            Workload::Slow => "slow",
        }
    }

    fn routes(self) -> usize {
        match self {
            Workload::Instant | Workload::Slow | Workload::Bypass => ROUTES,
            Workload::Large => W3_ROUTES,
        }
    }

    fn cases(self) -> usize {
        self.routes() * IDENTITIES
    }

    fn variants(self) -> &'static [Variant] {
        match self {
            Workload::Instant => &[
                Variant::Plain,
                Variant::Harness,
                Variant::CargoTest,
                Variant::Run,
                Variant::RunReports,
                Variant::DevPlain,
                Variant::DevHarness,
            ],
            Workload::Slow => &[
                Variant::Plain,
                Variant::Harness,
                Variant::CargoTest,
                Variant::Run,
            ],
            Workload::Large => &[Variant::Plain, Variant::Run, Variant::RunReports],
            Workload::Bypass => &[Variant::Run],
        }
    }

    fn repetitions(self) -> usize {
        match self {
            Workload::Large => W3_REPETITIONS,
            _ => REPETITIONS,
        }
    }

    fn deadline(self) -> Duration {
        match self {
            Workload::Large => W3_DEADLINE,
            _ => CHILD_DEADLINE,
        }
    }
}

/// Everything a measurement needs.
struct Bench<'a> {
    binaries: &'a Binaries,
    xtask: PathBuf,
    suite: &'a Path,
    /// W3's suite, written when W3 is measured.
    large_suite: &'a Path,
    /// The bypass workload's suite, written when it is measured.
    bypass_suite: &'a Path,
    servers: &'a Servers,
    scratch: &'a Path,
    /// GNU time, when it is installed and understands `-f %M`.
    time: Option<PathBuf>,
    /// The file report formats rolecall knows.
    formats: Vec<String>,
    /// What the dev-profile harness takes as `CARGO_MANIFEST_DIR`: it holds `scenarios`,
    /// a link to W1's suite.
    user_root: PathBuf,
}

#[derive(Debug, Clone, Copy)]
struct Sample {
    wall: Duration,
    rss_kib: Option<u64>,
}

impl Bench<'_> {
    /// Whether `variant` can run: the dev-profile ones need their binaries, which only
    /// `cargo xtask` (a dev build) builds.
    fn available(&self, variant: Variant) -> bool {
        match variant {
            Variant::DevPlain => self.binaries.dev_xtask.is_some(),
            Variant::DevHarness => self.binaries.dev_test.is_some(),
            _ => true,
        }
    }

    fn command(&self, variant: Variant, workload: Workload) -> Command {
        let suite = match workload {
            Workload::Large => self.large_suite.as_os_str(),
            Workload::Bypass => self.bypass_suite.as_os_str(),
            _ => self.suite.as_os_str(),
        };
        let target = workload.target();
        let mut command = match variant {
            Variant::Plain | Variant::DevPlain => {
                let xtask = match (variant, &self.binaries.dev_xtask) {
                    (Variant::DevPlain, Some(dev)) => dev,
                    _ => &self.xtask,
                };
                let mut c = Command::new(xtask);
                let base = match workload {
                    Workload::Instant | Workload::Large | Workload::Bypass => &self.servers.fast,
                    Workload::Slow => &self.servers.slow,
                };
                c.args(["bench", "runner"])
                    .env(ROLE, "plain-loop")
                    .env(PLAIN_URL, base)
                    .env(PLAIN_ROUTES, workload.routes().to_string());
                c
            }
            Variant::Harness => {
                let mut c = Command::new(&self.binaries.rolecall);
                c.arg("test").arg(suite).args(["--target", target, "--"]);
                c
            }
            Variant::CargoTest => {
                // What `cargo test -p rolecall-scenarios` runs, pointed at the generated
                // suite: the harness resolves its path against CARGO_MANIFEST_DIR.
                let mut c = Command::new(&self.binaries.test);
                c.env("CARGO_MANIFEST_DIR", suite)
                    .env("ROLECALL_TARGET", target);
                c
            }
            Variant::DevHarness => {
                let test = self.binaries.dev_test.as_deref().unwrap_or(Path::new("-"));
                let mut c = Command::new(test);
                c.env("CARGO_MANIFEST_DIR", &self.user_root)
                    .env("ROLECALL_TARGET", target);
                c
            }
            Variant::Run => {
                let mut c = Command::new(&self.binaries.rolecall);
                c.arg("run").arg(suite).args(["--target", target]);
                c
            }
            Variant::RunReports => {
                let mut c = Command::new(&self.binaries.rolecall);
                c.arg("run").arg(suite).args(["--target", target]);
                for (format, path) in self.reports() {
                    c.arg("--report")
                        .arg(format!("{format}={}", path.display()));
                }
                c
            }
        };
        command
            .env_remove("ROLECALL_BASE_URL")
            .env_remove("ROLECALL_CONCURRENCY")
            .env_remove("RUST_TEST_THREADS")
            .env_remove("NO_COLOR");
        if !matches!(variant, Variant::CargoTest | Variant::DevHarness) {
            command.env_remove("ROLECALL_TARGET");
        }
        if !matches!(variant, Variant::Plain | Variant::DevPlain) {
            command.env_remove(ROLE);
        }
        command
    }

    /// Each file report format, and where `rolecall run, all reports` writes it.
    fn reports(&self) -> impl Iterator<Item = (&str, PathBuf)> {
        self.formats.iter().map(|format| {
            let path = self
                .scratch
                .join("reports")
                .join(format!("report.{format}"));
            (format.as_str(), path)
        })
    }

    /// Runs one variant to completion and checks that every case passed.
    fn sample(&self, variant: Variant, workload: Workload) -> Result<Sample> {
        let inner = self.command(variant, workload);
        let rss_file = self.scratch.join("rss");
        let mut command = match &self.time {
            Some(time) => {
                let mut c = Command::new(time);
                c.args(["-f", "%M", "-o"]).arg(&rss_file);
                c.arg(inner.get_program()).args(inner.get_args());
                for (name, value) in inner.get_envs() {
                    match value {
                        Some(v) => c.env(name, v),
                        None => c.env_remove(name),
                    };
                }
                c
            }
            None => inner,
        };
        let stdout_path = self.scratch.join("stdout");
        let stderr_path = self.scratch.join("stderr");
        command
            .current_dir(self.scratch)
            .stdin(Stdio::null())
            .stdout(File::create(&stdout_path)?)
            .stderr(File::create(&stderr_path)?)
            // Its own process group, so that a timeout stops the wrapped process too.
            .process_group(0);
        // A fresh directory for the reports, before the child checks it can write there.
        if variant == Variant::RunReports {
            let dir = self.scratch.join("reports");
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir)?;
        }
        let start = Instant::now();
        let child = command
            .spawn()
            .with_context(|| format!("cannot start {command:?}"))?;
        let (status, wall, polled_hwm) =
            wait(child, start, self.time.is_none(), workload.deadline())
                .with_context(|| format!("{} on {workload:?}", variant.label()))?;
        let stdout = std::fs::read_to_string(&stdout_path).unwrap_or_default();
        // Variants multiply the bypass workload's cases: every one must pass, or be skipped.
        let marker = match workload {
            Workload::Bypass => " passed, 0 failed, ".to_owned(),
            _ => variant.success_marker(workload.cases()),
        };
        if !status.success() || !stdout.contains(&marker) {
            let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
            bail!(
                "{} on {workload:?} did not pass every case ({status}):\n{}\n{}",
                variant.label(),
                tail(&stdout, 15),
                tail(&stderr, 15),
            );
        }
        if variant == Variant::RunReports {
            for (format, path) in self.reports() {
                let size = std::fs::metadata(&path).map_or(0, |m| m.len());
                if size == 0 {
                    bail!(
                        "rolecall run wrote no {format} report at {}",
                        path.display()
                    );
                }
            }
        }
        let rss_kib = match &self.time {
            Some(_) => std::fs::read_to_string(&rss_file)
                .ok()
                .and_then(|s| s.lines().last()?.trim().parse().ok()),
            None => polled_hwm,
        };
        Ok(Sample { wall, rss_kib })
    }
}

/// Waits for `child` within `deadline`, returning its status and wall time and,
/// when `poll_rss` is set, the last `VmHWM` read from `/proc` (every 5 ms). A thread
/// blocks in `wait` so that the clock stops when the child exits, not at the next poll,
/// and so that this process does not wake up while the child runs (2 CPUs are few).
pub(crate) fn wait(
    child: Child,
    start: Instant,
    poll_rss: bool,
    deadline: Duration,
) -> Result<(std::process::ExitStatus, Duration, Option<u64>)> {
    let pid = rustix::process::Pid::from_child(&child);
    let status_file = PathBuf::from(format!("/proc/{}/status", child.id()));
    let (tx, rx) = std::sync::mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let mut child = child;
        let status = child.wait();
        let _ = tx.send(Instant::now());
        status
    });
    let mut hwm = None;
    let tick = if poll_rss {
        Duration::from_millis(5)
    } else {
        deadline
    };
    let end = loop {
        match rx.recv_timeout(tick) {
            Ok(end) => break end,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) if start.elapsed() < deadline => {
                if poll_rss {
                    hwm = read_hwm(&status_file).or(hwm);
                }
            }
            Err(_) => {
                let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
                let _ = waiter.join();
                bail!("still running after {}s: killed", deadline.as_secs());
            }
        }
    };
    let status = waiter
        .join()
        .map_err(|_| anyhow::anyhow!("the waiting thread panicked"))??;
    Ok((status, end - start, hwm))
}

fn read_hwm(status_file: &Path) -> Option<u64> {
    let status = std::fs::read_to_string(status_file).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

pub(crate) fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// GNU time, if it is there and reports peak RSS.
pub(crate) fn gnu_time() -> Option<PathBuf> {
    let time = PathBuf::from("/usr/bin/time");
    let ok = Command::new(&time)
        .args(["-f", "%M", "-o", "/dev/null", "true"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    ok.then_some(time)
}

pub(crate) fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// Median wall time (ms) and median peak RSS (MiB) of a variant's samples.
#[derive(Debug, Clone, Copy)]
struct Summary {
    wall_ms: f64,
    min_ms: f64,
    max_ms: f64,
    rss_mib: Option<f64>,
}

fn summarise(samples: &[Sample]) -> Summary {
    let walls: Vec<f64> = samples.iter().map(|s| s.wall.as_secs_f64() * 1e3).collect();
    let rss: Vec<f64> = samples
        .iter()
        .filter_map(|s| s.rss_kib.map(|k| k as f64 / 1024.0))
        .collect();
    Summary {
        wall_ms: median(walls.clone()),
        min_ms: walls.iter().copied().fold(f64::INFINITY, f64::min),
        max_ms: walls.iter().copied().fold(0.0, f64::max),
        rss_mib: (!rss.is_empty()).then(|| median(rss)),
    }
}

fn verdict(ratio: f64, limit: f64) -> String {
    format!("≤{limit}× {}", if ratio <= limit { "PASS" } else { "MISS" })
}

/// The file report formats `rolecall` knows: its own list (`Format::ALL`), as its error
/// for an unknown format states it, less those without a file (`github`).
fn report_formats(rolecall: &Path) -> Result<Vec<String>> {
    let output = Command::new(rolecall)
        .args(["run", ".", "--report", "?=?"])
        .stdin(Stdio::null())
        .output()
        .context("cannot run rolecall")?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    let formats: Vec<String> = stderr
        .split('`')
        .filter_map(|item| item.strip_suffix("=FILE"))
        .map(str::to_owned)
        .collect();
    if formats.is_empty() {
        bail!("rolecall named no report format:\n{stderr}");
    }
    Ok(formats)
}

fn measure(binaries: &Binaries, workloads: &[Workload]) -> Result<()> {
    for path in [&binaries.rolecall, &binaries.test] {
        if !path.is_file() {
            bail!("{} is missing: build it first", path.display());
        }
    }
    let bench_start = Instant::now();
    let dir = tempfile::Builder::new()
        .prefix("rolecall-bench-runner")
        .tempdir()?;
    let suite = dir.path().join("suite");
    let large_suite = dir.path().join("suite-w3");
    let bypass_suite = dir.path().join("suite-bypass");
    let scratch = dir.path().join("scratch");
    std::fs::create_dir_all(&suite)?;
    std::fs::create_dir_all(&large_suite)?;
    std::fs::create_dir_all(&bypass_suite)?;
    std::fs::create_dir_all(&scratch)?;
    let servers = start_servers()?;
    write_suite(&suite, &servers.fast, &servers.slow, ROUTES)?;
    if workloads.contains(&Workload::Large) {
        write_suite(&large_suite, &servers.fast, &servers.slow, W3_ROUTES)?;
    }
    if workloads.contains(&Workload::Bypass) {
        write_bypass_suite(&bypass_suite, &servers.fast, &servers.slow, ROUTES)?;
    }
    let bench = Bench {
        binaries,
        xtask: std::env::current_exe()?,
        suite: &suite,
        large_suite: &large_suite,
        bypass_suite: &bypass_suite,
        servers: &servers,
        scratch: &scratch,
        time: gnu_time(),
        formats: report_formats(&binaries.rolecall)?,
        user_root: dir.path().join("user"),
    };
    std::fs::create_dir_all(&bench.user_root)?;
    std::os::unix::fs::symlink(&suite, bench.user_root.join("scenarios"))?;
    // Peak RSS counts the binaries' code as it is mapped, page cache folio by folio. A
    // binary the linker has just written is cached in the folios of those writes, whose
    // sizes differ from build to build: identical builds measured up to 1 MiB apart.
    // Evicted, each binary is read back the way an installed one is loaded, by the
    // warm-up run below.
    for path in [&binaries.rolecall, &binaries.test, &bench.xtask] {
        evict_from_page_cache(path)?;
    }
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    println!(
        "bench runner: W1/W2 {} cases ({IDENTITIES} identities × {ROUTES} routes), W3 {} cases ({IDENTITIES} × {W3_ROUTES}), concurrency {CONCURRENCY}, {cpus} CPUs, peak RSS from {}; reports: {}",
        Workload::Instant.cases(),
        Workload::Large.cases(),
        if bench.time.is_some() {
            "GNU time -f %M"
        } else {
            "/proc/PID/status VmHWM"
        },
        bench.formats.join(", "),
    );
    let mut results: Vec<(Workload, Variant, Summary)> = Vec::new();
    // Requests the bypass workload sends: the cases that passed (skipped ones send none).
    let mut bypass_requests = None;
    for &workload in workloads {
        let variants: Vec<Variant> = workload
            .variants()
            .iter()
            .copied()
            .filter(|v| bench.available(*v))
            .collect();
        // One unmeasured run of each: page cache, lazy server state.
        for &variant in &variants {
            bench.sample(variant, workload)?;
            if workload == Workload::Bypass {
                let stdout = std::fs::read_to_string(scratch.join("stdout"))?;
                bypass_requests = Some(passed_count(&stdout)?);
            }
        }
        let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); variants.len()];
        for _ in 0..workload.repetitions() {
            for (i, &variant) in variants.iter().enumerate() {
                samples[i].push(bench.sample(variant, workload)?);
            }
        }
        for (i, &variant) in variants.iter().enumerate() {
            results.push((workload, variant, summarise(&samples[i])));
        }
    }
    drop(servers);
    print!("{}", render(&results));
    if let Some(requests) = bypass_requests {
        print!("{}", render_bypass(&results, requests));
    }
    println!(
        "bench runner: done in {:.1}s",
        bench_start.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `N` of the run's summary line `N passed, 0 failed, …`.
fn passed_count(stdout: &str) -> Result<usize> {
    stdout
        .lines()
        .find_map(|line| line.split_once(" passed, "))
        .and_then(|(n, _)| n.trim().parse().ok())
        .context("rolecall run printed no `N passed` line")
}

/// The bypass workload's time per request against W1's `rolecall run` time per case.
fn render_bypass(results: &[(Workload, Variant, Summary)], requests: usize) -> String {
    let find = |w: Workload| {
        results
            .iter()
            .find(|(rw, rv, _)| *rw == w && *rv == Variant::Run)
            .map(|(_, _, s)| *s)
    };
    let Some(bypass) = find(Workload::Bypass) else {
        return String::new();
    };
    let per_request = bypass.wall_ms * 1e3 / requests as f64;
    let mut out = format!(
        "\nbypass: {} refusals, every family: {requests} requests in {:.0} ms (median, {:.0}–{:.0}): {per_request:.1} µs per request\n",
        Workload::Bypass.cases(),
        bypass.wall_ms,
        bypass.min_ms,
        bypass.max_ms,
    );
    if let Some(w1) = find(Workload::Instant) {
        let per_case = w1.wall_ms * 1e3 / Workload::Instant.cases() as f64;
        let ratio = per_request / per_case;
        let _ = writeln!(
            out,
            "W1 rolecall run: {per_case:.1} µs per case; ratio {ratio:.2} {}",
            verdict(ratio, 1.2)
        );
    }
    out
}

/// Drops the cached pages of `path` (those not mapped by a running process).
#[cfg(any(target_os = "linux", target_os = "android"))]
fn evict_from_page_cache(path: &Path) -> Result<()> {
    let file = std::fs::File::open(path).with_context(|| format!("open {}", path.display()))?;
    rustix::fs::fadvise(&file, 0, None, rustix::fs::Advice::DontNeed)
        .with_context(|| format!("evict {} from the page cache", path.display()))?;
    Ok(())
}

/// Elsewhere (macOS has no `posix_fadvise`) the page cache is left as it is.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn evict_from_page_cache(_path: &Path) -> Result<()> {
    Ok(())
}

fn render(results: &[(Workload, Variant, Summary)]) -> String {
    let cases = Workload::Slow.cases() as f64;
    let floor_ms = (cases * SLOW.as_secs_f64() * 1e3) / CONCURRENCY as f64;
    let find = |w: Workload, v: Variant| {
        results
            .iter()
            .find(|(rw, rv, _)| *rw == w && *rv == v)
            .map(|(_, _, s)| *s)
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n{:<22} {:<26} {:>9} {:>17} {:>7} {:<11} {:>9} {:>6} {:<10}",
        "workload",
        "variant",
        "median",
        "min–max",
        "ratio",
        "target",
        "peak RSS",
        "ratio",
        "target"
    );
    for workload in Workload::ALL {
        let Some(plain) = find(workload, Variant::Plain) else {
            continue;
        };
        let (title, reference) = match workload {
            Workload::Instant => ("W1 instant server", plain.wall_ms),
            Workload::Slow => ("W2 +20 ms/request", floor_ms),
            Workload::Large => ("W3 100,000 cases", plain.wall_ms),
            // Rendered by `render_bypass`: it has no plain loop.
            Workload::Bypass => continue,
        };
        if workload == Workload::Slow {
            let _ = writeln!(
                out,
                "{title:<22} {:<26} {:>6.0} ms {:>17} {:>7}",
                "floor 2000×20ms/64", floor_ms, "", "1.00"
            );
        }
        for &variant in workload.variants() {
            let Some(s) = find(workload, variant) else {
                continue;
            };
            // Dev-profile variants against the dev-profile plain loop.
            let (reference, plain) = match find(workload, Variant::DevPlain) {
                Some(dev) if matches!(variant, Variant::DevPlain | Variant::DevHarness) => {
                    (dev.wall_ms, dev)
                }
                _ => (reference, plain),
            };
            let ratio = s.wall_ms / reference;
            let time_target = match (workload, variant) {
                (Workload::Slow, Variant::Plain) => "(reference)".to_owned(),
                (_, Variant::Plain | Variant::DevPlain) => String::new(),
                (_, Variant::DevHarness) => verdict(ratio, 1.5),
                (Workload::Instant, Variant::Run) => verdict(ratio, 1.1),
                (Workload::Large, Variant::Run) => verdict(ratio, 1.05),
                (Workload::Large, _) => String::new(),
                (_, _) => verdict(ratio, 1.2),
            };
            let rss_limit = match workload {
                Workload::Large => 3.0,
                _ => 2.0,
            };
            let (rss, rss_ratio, rss_target) = match (s.rss_mib, plain.rss_mib) {
                (Some(r), Some(p)) if !matches!(variant, Variant::Plain | Variant::DevPlain) => (
                    format!("{r:.1} MiB"),
                    format!("{:.2}", r / p),
                    verdict(r / p, rss_limit),
                ),
                (Some(r), _) => (format!("{r:.1} MiB"), "1.00".to_owned(), String::new()),
                _ => ("n/a".to_owned(), String::new(), String::new()),
            };
            let label = if variant == Variant::Plain && workload != Workload::Slow {
                title
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "{label:<22} {:<26} {:>6.0} ms {:>7.0}–{:<6.0} ms {ratio:>7.2} {time_target:<11} {rss:>9} {rss_ratio:>6} {rss_target:<10}",
                variant.label(),
                s.wall_ms,
                s.min_ms,
                s.max_ms,
            );
            // Reports against the same run without them.
            if variant == Variant::RunReports
                && let Some(run) = find(workload, Variant::Run)
            {
                let ratio = s.wall_ms / run.wall_ms;
                let (rss_ratio, rss_target) = match (s.rss_mib, run.rss_mib) {
                    (Some(r), Some(p)) => (format!("{:.2}", r / p), verdict(r / p, 1.5)),
                    _ => (String::new(), String::new()),
                };
                let time_target = match workload {
                    Workload::Instant => verdict(ratio, 1.15),
                    _ => String::new(),
                };
                let rss_target = match workload {
                    Workload::Instant => rss_target,
                    _ => String::new(),
                };
                let _ = writeln!(
                    out,
                    "{:<22} {:<26} {:>9} {:>17} {ratio:>7.2} {time_target:<11} {:>9} {rss_ratio:>6} {rss_target:<10}",
                    "", "  ÷ rolecall run", "", "", "",
                );
            }
        }
    }
    if let (Some(plain), Some(harness), Some(dev_plain), Some(dev_harness)) = (
        find(Workload::Instant, Variant::Plain),
        find(Workload::Instant, Variant::Harness),
        find(Workload::Instant, Variant::DevPlain),
        find(Workload::Instant, Variant::DevHarness),
    ) {
        let dev = dev_harness.wall_ms / dev_plain.wall_ms;
        let release = harness.wall_ms / plain.wall_ms;
        let _ = writeln!(
            out,
            "\nW1 harness against the plain loop of its profile: dev {dev:.2} ({}), release {release:.2} ({})",
            verdict(dev, 1.5),
            verdict(release, 1.2),
        );
    }
    let _ = writeln!(
        out,
        "\nW1 and W3 ratios are to the plain loop (`dev:` rows: to the dev-profile plain loop), W2 ratios to the floor; RSS ratios to the plain loop of the same workload;\n\
         `÷ rolecall run` rows: the run with every report against the same run without reports.\n\
         Times are whole processes (start, suite loading, output, exit), medians of {REPETITIONS} (W3: {W3_REPETITIONS}) interleaved runs."
    );
    out
}
