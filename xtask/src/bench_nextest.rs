//! `cargo xtask bench nextest`: what a case of the example suite costs under nextest,
//! which runs each test in its own process.
//!
//! Three figures from one run, each nextest's own wall time divided by the cases it ran
//! (a quarter partition, as CI shards would):
//! - *floor*: trivial `#[test]`s of a dependency-free crate, as many as the partition's
//!   cases: what nextest and a process cost before rolecall does anything;
//! - *shared*: the example suite as users run it (one agent per run, `agent.rs`);
//! - *per process*: `ROLECALL_NEXTEST_SHARE=0`, every process loading the suite and
//!   starting the mock itself, on a fortieth of the suite (it costs that much).

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

/// The target per case with the agent.
const LIMIT_MS: f64 = 5.0;
const SAMPLES: usize = 3;

pub(crate) fn run() -> Result<()> {
    if Command::new("cargo-nextest")
        .arg("--version")
        .output()
        .is_err()
    {
        bail!("cargo-nextest is not installed (`cargo install cargo-nextest --locked`)");
    }
    let root = crate::root();
    crate::cargo(&[
        "nextest",
        "run",
        "--cargo-quiet",
        "-p",
        "rolecall-scenarios",
        "--no-run",
    ])?;
    let shared: Vec<(f64, usize)> = (0..SAMPLES)
        .map(|_| nextest(&root, &["-p", "rolecall-scenarios"], "count:1/4", &[]))
        .collect::<Result<_>>()?;
    let cases = shared[0].1;
    let floor_dir = tempfile::tempdir()?;
    write_floor_crate(floor_dir.path(), cases)?;
    let floor: Vec<(f64, usize)> = (0..SAMPLES)
        .map(|_| nextest(floor_dir.path(), &[], "count:1/1", &[]))
        .collect::<Result<_>>()?;
    let alone = nextest(
        &root,
        &["-p", "rolecall-scenarios"],
        "count:1/40",
        &[("ROLECALL_NEXTEST_SHARE", "0")],
    )?;
    let per_case = |runs: &[(f64, usize)]| {
        let mut ms: Vec<f64> = runs.iter().map(|(s, n)| s * 1000.0 / *n as f64).collect();
        ms.sort_by(f64::total_cmp);
        ms[ms.len() / 2]
    };
    let (floor, shared, alone) = (per_case(&floor), per_case(&shared), per_case(&[alone]));
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("nextest, per case (median of {SAMPLES}; wall time / cases; load {load:.14})");
    println!("  floor (trivial tests)      {floor:8.1} ms");
    println!(
        "  example suite, shared      {shared:8.1} ms  {:.2}× the floor  ≤{LIMIT_MS} ms {}",
        shared / floor,
        if shared <= LIMIT_MS { "PASS" } else { "MISS" }
    );
    println!(
        "  example suite, per process {alone:8.1} ms  {:.1}× shared (ROLECALL_NEXTEST_SHARE=0)",
        alone / shared
    );
    Ok(())
}

/// Runs one nextest partition in `dir`; its wall time in seconds and the tests it ran.
fn nextest(
    dir: &Path,
    package: &[&str],
    partition: &str,
    env: &[(&str, &str)],
) -> Result<(f64, usize)> {
    let output = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(dir)
        .args(["nextest", "run", "--cargo-quiet", "--partition", partition])
        .args(package)
        .envs(env.iter().copied())
        .output()
        .context("running cargo nextest")?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        bail!("cargo nextest failed in {}:\n{stderr}", dir.display());
    }
    summary(&stderr).with_context(|| format!("no nextest summary in:\n{stderr}"))
}

/// `Summary [   5.867s] 488 tests run: …` → (5.867, 488).
fn summary(text: &str) -> Option<(f64, usize)> {
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("Summary ["))?;
    let (_, rest) = line.split_once('[')?;
    let (seconds, rest) = rest.split_once("s]")?;
    let tests = rest.split_whitespace().next()?.parse().ok()?;
    Some((seconds.trim().parse().ok()?, tests))
}

/// A crate with `tests` empty `#[test]`s and no dependencies.
fn write_floor_crate(dir: &Path, tests: usize) -> Result<()> {
    std::fs::create_dir_all(dir.join("src"))?;
    std::fs::create_dir_all(dir.join("tests"))?;
    std::fs::write(
        dir.join("Cargo.toml"),
        "[package]\nname = \"floor\"\nversion = \"0.0.0\"\nedition = \"2021\"\n[workspace]\n",
    )?;
    std::fs::write(dir.join("src/lib.rs"), "")?;
    let body: String = (0..tests)
        .map(|i| format!("#[test]\nfn case_{i:05}() {{}}\n"))
        .collect();
    std::fs::write(dir.join("tests/floor.rs"), body)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_summary_line_is_read() {
        let text = "        PASS [   0.011s] a\n────────────\n     Summary [   5.867s] 488 tests run: 488 passed, 1462 skipped\n";
        assert_eq!(super::summary(text), Some((5.867, 488)));
        assert_eq!(super::summary("nothing"), None);
    }
}
