//! `cargo xtask`: the project's own automation, behind a cargo alias.
//!
//! - `cargo xtask ci`: everything CI checks (fmt, clippy, tests incl. doctests, rustdoc,
//!   JSON Schema drift). `.ci/run` and the GitHub workflow call it.
//! - `cargo xtask schema [--check]`: (re)generate `schema/*.schema.json`; `--check` fails
//!   when the committed files differ from the generated ones.
//! - `cargo xtask bench [scenario|runner|fixtures|coverage|mock|nextest]`: benchmarks,
//!   reported as ratios against a reference measured in the same run; `bench runner
//!   --workload w3` measures only W3 (100,000 cases), likewise `w1`, `w2`; `bench coverage`
//!   holds `rolecall coverage` of a large public description to 1 s and 200 MB; `bench
//!   nextest` the per-case cost under cargo-nextest (not part of a bare `bench`: it needs
//!   cargo-nextest); `bench build [--profiles]` a user crate's cold first build against a
//!   reference crate (not part of a bare `bench`: minutes of compiling).
//! - `cargo xtask modules`: each crate's module edges; fails on a loop or a glob import
//!   (a unit test checks the same on every `cargo test`).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

mod bench_build;
mod bench_coverage;
mod bench_fixtures;
mod bench_nextest;
mod bench_runner;
mod modules;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["ci"] => ci(),
        ["schema"] => schema(false),
        ["schema", "--check"] => schema(true),
        ["bench", rest @ ..] => bench(rest),
        ["modules"] => {
            if !modules::print(&root())? {
                bail!("module loops or glob imports (see PROBLEM lines)");
            }
            Ok(())
        }
        _ => {
            eprintln!(
                "usage: cargo xtask <ci | schema [--check] | bench [scenario|runner [--workload w1|w2|w3|bypass]|fixtures|coverage|mock|nextest|build [--profiles]] | modules>"
            );
            std::process::exit(2);
        }
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

fn cargo(args: &[&str]) -> Result<()> {
    run(Command::new(cargo_bin()).args(args))
}

fn run(command: &mut Command) -> Result<()> {
    eprintln!("$ {command:?}");
    let status = command
        .current_dir(root())
        .status()
        .with_context(|| format!("cannot start {command:?}"))?;
    if !status.success() {
        bail!("{command:?} failed: {status}");
    }
    Ok(())
}

fn ci() -> Result<()> {
    cargo(&["fmt", "--all", "--check"])?;
    cargo(&[
        "clippy",
        "--workspace",
        "--all-targets",
        "--all-features",
        "--",
        "-D",
        "warnings",
    ])?;
    cargo(&["test", "--workspace", "--all-features", "--no-fail-fast"])?;
    insta_check()?;
    run(Command::new(cargo_bin())
        .args(["doc", "--workspace", "--no-deps", "--all-features"])
        .env("RUSTDOCFLAGS", "-D warnings"))?;
    schema(true)
}

fn cargo_bin() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// Deny-body snapshots: none may be stale or unreferenced, and none is ever written here.
fn insta_check() -> Result<()> {
    let installed = Command::new(cargo_bin())
        .args(["insta", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !installed {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            bail!("cargo-insta is required in CI: `cargo install cargo-insta --locked`");
        }
        eprintln!("note: cargo-insta is not installed; skipping the unreferenced-snapshot check");
        return Ok(());
    }
    cargo(&[
        "insta",
        "test",
        "-p",
        "rolecall-scenarios",
        "--check",
        "--unreferenced=reject",
    ])
}

/// The generated schemas: file name and content.
fn schemas() -> Result<Vec<(&'static str, String)>> {
    let render = |schema: schemars::Schema| -> Result<String> {
        Ok(serde_json::to_string_pretty(&schema)? + "\n")
    };
    Ok(vec![
        (
            "rolecall.schema.json",
            render(rolecall_scenario::suite_schema())?,
        ),
        (
            "routes.schema.json",
            render(rolecall_scenario::routes_schema())?,
        ),
        ("mock.schema.json", render(rolecall_mock::json_schema())?),
    ])
}

fn schema(check: bool) -> Result<()> {
    let dir = root().join("schema");
    std::fs::create_dir_all(&dir)?;
    let mut drift = Vec::new();
    for (name, text) in schemas()? {
        let path = dir.join(name);
        let current = std::fs::read_to_string(&path).unwrap_or_default();
        if current != text {
            if check {
                drift.push(name);
            } else {
                std::fs::write(&path, text)?;
                eprintln!("wrote schema/{name}");
            }
        }
    }
    if !drift.is_empty() {
        bail!(
            "schema/{} out of date: run `cargo xtask schema` and commit the result",
            drift.join(", schema/")
        );
    }
    Ok(())
}

fn bench(which: &[&str]) -> Result<()> {
    let all = which.is_empty();
    if all || which.contains(&"scenario") {
        cargo(&[
            "bench",
            "-q",
            "-p",
            "rolecall-scenario",
            "--bench",
            "expand",
        ])?;
    }
    if all || which.contains(&"runner") {
        bench_runner::run(which)?;
    }
    if all || which.contains(&"fixtures") {
        bench_fixtures::run()?;
    }
    if all || which.contains(&"coverage") {
        bench_coverage::run()?;
    }
    if which.contains(&"build") {
        bench_build::run(which)?;
    }
    if which.contains(&"nextest") {
        bench_nextest::run()?;
    }
    if all || which.contains(&"mock") {
        cargo(&[
            "bench",
            "-q",
            "-p",
            "rolecall-mock",
            "--bench",
            "throughput",
        ])?;
    }
    Ok(())
}
