//! `cargo xtask bench build`: a user's first build, cold, against a reference built in the
//! same run.
//!
//! - **User crate**: the README's (a path dependency on rolecall-runner with its default
//!   features, the three-line harness, a tiny scenario directory), `cargo test --no-run`
//!   in the dev profile with its own empty `CARGO_TARGET_DIR`. Target (issue 16): 60 s on
//!   two quiet cores.
//! - **Reference**: a binary crate depending only on reqwest, tokio and rustls with the
//!   runner's features, `cargo build` in the same profile: the HTTP client any such tool
//!   needs. The ratio is what to compare between machines and loads.
//!
//! Each figure is wall time, the number of crates compiled and the load average before
//! it. Both builds use the workspace's lock file (the same versions) and run `--offline`
//! when `cargo fetch --offline` finds everything cached. Each is stopped after
//! [`DEADLINE`].
//!
//! `--profiles` also builds the user crate once per profile override of [`PROFILES`]
//! (the README's "Build time against speed" table) and hands each test binary to `cargo
//! xtask bench runner`'s W1 measurement (the `dev: user crate cargo test` row, against
//! the dev-profile plain loop of the same run).

use std::collections::HashSet;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// One cold build may take this long before it is stopped (two loaded cores are slow).
const DEADLINE: Duration = Duration::from_secs(30 * 60);

/// The profile overrides a user can add to their Cargo.toml: label and TOML.
pub(crate) const PROFILES: &[(&str, &str)] = &[
    ("dev profile as is", ""),
    (
        "dependencies without debug info",
        "[profile.dev.package.\"*\"]\ndebug = false\n",
    ),
    (
        "dependencies at opt-level 1",
        "[profile.dev.package.\"*\"]\nopt-level = 1\n",
    ),
    (
        "dependencies at opt-level 2, no debug info",
        "[profile.dev.package.\"*\"]\nopt-level = 2\ndebug = false\n",
    ),
];

const REFERENCE_MANIFEST: &str = r#"[package]
name = "bench-reference"
version = "0.0.0"
edition = "2024"
publish = false

[dependencies]
reqwest = { version = "0.13.5", default-features = false, features = ["rustls-no-provider", "cookies", "http2"] }
rustls = { version = "0.23", default-features = false, features = ["ring", "std", "tls12"] }
tokio = { version = "1.54.1", default-features = false, features = ["rt-multi-thread", "time", "sync", "macros", "net", "io-util", "signal"] }
"#;

const REFERENCE_MAIN: &str = "fn main() {\n    let _ = reqwest::Client::builder();\n    let _ = tokio::runtime::Builder::new_multi_thread();\n    let _ = rustls::crypto::ring::default_provider();\n}\n";

/// A suite the harness can load: one identity, one route, a loopback target.
const SUITE: &str = "[defaults]\ntarget = \"local\"\n\n[targets.local]\nbase_url = \"http://127.0.0.1:9\"\nallow_mutations = false\n\n[identities.anonymous]\ndescription = \"no credentials\"\n";
const ROUTES: &str = "[[route]]\nrequest = \"GET /health\"\nallow = [\"anonymous\"]\n";

/// One cold build's figures.
#[derive(Debug)]
struct Built {
    seconds: f64,
    crates: usize,
    load: String,
    /// The test or binary executable built.
    executable: PathBuf,
}

/// `args`: what follows `cargo xtask bench build` (`--profiles`).
pub(crate) fn run(args: &[&str]) -> Result<()> {
    let profiles = args.contains(&"--profiles");
    let scratch = tempfile::Builder::new()
        .prefix("rolecall-bench-build")
        .tempdir()?;
    let offline = offline(scratch.path())?;
    let reference = cold_build(
        &write_reference(scratch.path())?,
        "bench-reference",
        offline,
    )?;
    let chosen = if profiles { PROFILES } else { &PROFILES[..1] };
    let mut users = Vec::new();
    for (label, profile) in chosen {
        let dir = write_user_crate(
            &scratch.path().join(format!("user-{}", users.len())),
            profile,
        )?;
        users.push((*label, cold_build(&dir, "authz", offline)?));
    }
    println!(
        "\ncold builds, dev profile ({}; load average before each build)",
        if offline { "offline" } else { "online" }
    );
    let line = |label: &str, b: &Built| {
        println!(
            "  {label:<44} {:>7.1} s  {:>3} crates  {:>5.2}× reference  load {}",
            b.seconds,
            b.crates,
            b.seconds / reference.seconds,
            b.load
        );
    };
    line("reference: reqwest + tokio + rustls", &reference);
    for (label, built) in &users {
        line(&format!("user crate, {label}"), built);
    }
    let user = &users[0].1;
    println!(
        "user crate cold `cargo test --no-run`: {:.1} s, {:.2}× the reference (target 60 s on two quiet cores)",
        user.seconds,
        user.seconds / reference.seconds
    );
    if profiles {
        for (label, built) in &users {
            println!("\nW1 with the user crate built with: {label}");
            crate::bench_runner::measure_dev_w1(&built.executable)?;
        }
    }
    Ok(())
}

/// Whether everything the builds need is in the local registry cache.
fn offline(scratch: &Path) -> Result<bool> {
    let dir = write_user_crate(&scratch.join("fetch"), "")?;
    let ok = Command::new(crate::cargo_bin())
        .args(["fetch", "--offline", "--quiet"])
        .current_dir(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    Ok(ok)
}

fn write_reference(scratch: &Path) -> Result<PathBuf> {
    let dir = scratch.join("reference");
    std::fs::create_dir_all(dir.join("src"))?;
    std::fs::write(dir.join("Cargo.toml"), REFERENCE_MANIFEST)?;
    std::fs::write(dir.join("src").join("main.rs"), REFERENCE_MAIN)?;
    std::fs::copy(crate::root().join("Cargo.lock"), dir.join("Cargo.lock"))?;
    Ok(dir)
}

/// The README's user crate in `dir`, with `profile` appended to its manifest.
fn write_user_crate(dir: &Path, profile: &str) -> Result<PathBuf> {
    let runner = crate::root().join("crates").join("runner");
    let manifest =
        crate::bench_runner::USER_MANIFEST.replace("RUNNER", &runner.display().to_string());
    for sub in ["src", "tests", "scenarios"] {
        std::fs::create_dir_all(dir.join(sub))?;
    }
    std::fs::write(dir.join("Cargo.toml"), format!("{manifest}\n{profile}"))?;
    std::fs::write(dir.join("src").join("lib.rs"), "")?;
    std::fs::write(
        dir.join("tests").join("authz.rs"),
        crate::bench_runner::USER_HARNESS,
    )?;
    std::fs::write(dir.join("scenarios").join("rolecall.toml"), SUITE)?;
    std::fs::write(dir.join("scenarios").join("health.toml"), ROUTES)?;
    std::fs::copy(crate::root().join("Cargo.lock"), dir.join("Cargo.lock"))?;
    Ok(dir.to_path_buf())
}

/// `cargo test --no-run` (or `cargo build` for the reference) in `dir` with an empty
/// target directory of its own; `name`: the executable to return.
fn cold_build(dir: &Path, name: &str, offline: bool) -> Result<Built> {
    let target = dir.join("target");
    let _ = std::fs::remove_dir_all(&target);
    let mut command = Command::new(crate::cargo_bin());
    if name == "authz" {
        command.args(["test", "--no-run", "--test", "authz"]);
    } else {
        command.arg("build");
    }
    if offline {
        command.arg("--offline");
    }
    let log = dir.join("cargo.jsonl");
    command
        .arg("--message-format=json")
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", &target)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&log)?)
        .stderr(Stdio::null())
        .process_group(0);
    let load = std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ");
    eprintln!("$ {command:?} (load {load})");
    let start = Instant::now();
    let child = command.spawn().context("cannot start cargo")?;
    let (status, wall, _) = crate::bench_runner::wait(child, start, false, DEADLINE)?;
    let messages: Vec<serde_json::Value> = std::fs::read_to_string(&log)?
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    if !status.success() {
        let errors: Vec<&str> = messages
            .iter()
            .filter_map(|m| m["message"]["rendered"].as_str())
            .collect();
        bail!(
            "the cold build in {} failed ({status}):\n{}",
            dir.display(),
            errors.join("\n")
        );
    }
    let artifacts = || {
        messages
            .iter()
            .filter(|m| m["reason"] == "compiler-artifact")
    };
    let crates: HashSet<&str> = artifacts()
        .filter_map(|m| m["package_id"].as_str())
        .collect();
    let executable = artifacts()
        .filter(|m| m["target"]["name"] == name)
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .with_context(|| format!("cargo built no `{name}` executable"))?;
    Ok(Built {
        seconds: wall.as_secs_f64(),
        crates: crates.len(),
        load,
        executable,
    })
}
