//! `cargo xtask bench coverage`: `rolecall coverage` of a large public API description
//! against a generated 10,000-route suite, within 1 s and 200 MB.
//!
//! The description is GitHub Enterprise Cloud's REST API (`ghec.json`, OpenAPI 3.0.3, about
//! 1,500 operations, 14 MB), from the npm package `@octokit/openapi` (MIT licence, GitHub's
//! own description with Octokit's extensions). It is fetched with `npm pack` into the
//! target directory at bench time, never committed. The suite has 10,000 routes over three
//! identities (30,000 cases): most are instances of the description's operations with
//! concrete parameter values, one in twenty is a path the description lacks.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::bench_runner::{gnu_time, median, tail, target_dir, wait};

const PACKAGE: &str = "@octokit/openapi@23.0.2";
const DESCRIPTION: &str = "package/generated/ghec.json";
const ROUTES: usize = 10_000;
const FILES: usize = 20;
const RUNS: usize = 3;
const LIMIT: Duration = Duration::from_secs(1);
const LIMIT_MIB: f64 = 200.0;

pub(crate) fn run() -> Result<()> {
    let target = target_dir()?;
    crate::cargo(&["build", "--release", "--quiet", "-p", "rolecall"])?;
    let rolecall = target.join("release").join("rolecall");
    let dir = target.join("bench-coverage");
    std::fs::create_dir_all(&dir)?;
    let description = fetch(&dir)?;
    let text = std::fs::read_to_string(&description)?;
    let doc: serde_json::Value = serde_json::from_str(&text)?;
    let operations = operations(&doc);
    let suite = dir.join("suite");
    let _ = std::fs::remove_dir_all(&suite);
    std::fs::create_dir_all(&suite)?;
    let documented = write_suite(&suite, &operations)?;
    eprintln!(
        "description: {} ({} operations, {:.1} MB); suite: {ROUTES} routes, {documented} of them documented",
        description.display(),
        operations.len(),
        text.len() as f64 / 1e6
    );
    let time = gnu_time();
    let mut walls = Vec::new();
    let mut rss = Vec::new();
    for _ in 0..RUNS {
        let rss_file = dir.join("rss");
        let report = dir.join("coverage.json");
        let mut command = match &time {
            Some(time) => {
                let mut c = Command::new(time);
                c.args(["-f", "%M", "-o"]).arg(&rss_file).arg(&rolecall);
                c
            }
            None => Command::new(&rolecall),
        };
        command
            .arg("coverage")
            .arg(&suite)
            .arg("--openapi")
            .arg(&description)
            .arg("--report")
            .arg(format!("json={}", report.display()))
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(dir.join("stdout"))?)
            .stderr(Stdio::inherit());
        let start = Instant::now();
        let child = command.spawn().context("cannot start rolecall coverage")?;
        let (status, wall, polled) = wait(child, start, time.is_none(), Duration::from_secs(60))?;
        let stdout = std::fs::read_to_string(dir.join("stdout"))?;
        if !status.success() {
            bail!(
                "rolecall coverage failed ({status}):\n{}",
                tail(&stdout, 15)
            );
        }
        let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report)?)?;
        let summary = &report["summary"];
        if summary["operations"] != operations.len()
            || summary["undocumented"] != ROUTES - documented
        {
            bail!("unexpected coverage: {summary}");
        }
        let kib = match &time {
            Some(_) => std::fs::read_to_string(&rss_file)?
                .lines()
                .last()
                .and_then(|l| l.trim().parse::<u64>().ok()),
            None => polled,
        };
        walls.push(wall.as_secs_f64() * 1000.0);
        rss.extend(kib.map(|k| k as f64 / 1024.0));
        eprintln!("  {}", tail(&stdout, 1));
    }
    let wall = median(walls);
    let mut line = format!("coverage: median {wall:.0} ms over {RUNS} runs");
    let mib = (!rss.is_empty()).then(|| median(rss));
    if let Some(mib) = mib {
        let _ = write!(line, ", peak RSS {mib:.0} MiB");
    }
    println!("{line} (limits: {} ms, {LIMIT_MIB} MiB)", LIMIT.as_millis());
    if wall > LIMIT.as_secs_f64() * 1000.0 || mib.is_some_and(|m| m > LIMIT_MIB) {
        bail!("coverage is over its limits");
    }
    Ok(())
}

/// The description, fetched with `npm pack` unless an earlier run left it.
fn fetch(dir: &Path) -> Result<PathBuf> {
    let file = dir.join(DESCRIPTION);
    if file.is_file() {
        return Ok(file);
    }
    let output = Command::new("npm")
        .args(["pack", PACKAGE, "--silent", "--pack-destination"])
        .arg(dir)
        .stderr(Stdio::inherit())
        .output()
        .context("cannot run npm (needed once, to fetch the description)")?;
    if !output.status.success() {
        bail!("npm pack {PACKAGE} failed: {}", output.status);
    }
    let tarball = String::from_utf8_lossy(&output.stdout)
        .trim()
        .lines()
        .last()
        .unwrap_or("")
        .to_owned();
    let status = Command::new("tar")
        .arg("-xzf")
        .arg(dir.join(&tarball))
        .args(["-C"])
        .arg(dir)
        .args([DESCRIPTION, "package/LICENSE"])
        .status()?;
    if !status.success() {
        bail!("cannot unpack {tarball}");
    }
    Ok(file)
}

/// Every operation: method and path template.
fn operations(doc: &serde_json::Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for method in [
            "get", "put", "post", "delete", "patch", "head", "options", "trace",
        ] {
            if item.get(method).is_some() {
                out.push((method.to_ascii_uppercase(), path.clone()));
            }
        }
    }
    out
}

/// The suite: three identities; route `i` an instance of operation `i % n` (its
/// parameters filled with values unique to `i`) or, for one in twenty, an undocumented
/// path. Returns how many routes are documented.
fn write_suite(dir: &Path, operations: &[(String, String)]) -> Result<usize> {
    std::fs::write(
        dir.join("rolecall.toml"),
        "[targets.local]\nbase_url = \"http://127.0.0.1:9\"\n\n[identities.anonymous]\n[identities.reader]\nbearer = \"bench-reader-token\"\n[identities.admin]\nbearer = \"bench-admin-token\"\n",
    )?;
    let mut files = vec![String::new(); FILES];
    let mut documented = 0;
    for i in 0..ROUTES {
        let (method, path) = if i % 20 == 19 {
            ("GET".to_owned(), format!("/bench/undocumented/{i}"))
        } else {
            documented += 1;
            let (method, template) = &operations[i % operations.len()];
            (method.clone(), fill(template, i))
        };
        let allow = match i % 3 {
            0 => "allow = [\"admin\"]",
            1 => "allow = [\"reader\", \"admin\"]",
            _ => "public = true",
        };
        let _ = write!(
            files[i % FILES],
            "[[route]]\nrequest = \"{method} {path}\"\n{allow}\n\n"
        );
    }
    for (n, text) in files.iter().enumerate() {
        std::fs::write(dir.join(format!("routes_{n:02}.toml")), text)?;
    }
    Ok(documented)
}

/// `template` with each `{param}` replaced by a value unique to route `i`.
fn fill(template: &str, i: usize) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let Some(len) = rest[start..].find('}') else {
            break;
        };
        out.push_str(&rest[..start]);
        let _ = write!(out, "v{i}");
        rest = &rest[start + len + 1..];
    }
    out.push_str(rest);
    out
}
