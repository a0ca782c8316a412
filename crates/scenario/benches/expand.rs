//! Load, validate and expand 100,000 cases (1,000 routes × 100 identities); then what
//! `rolecall check` does with 100,000 problems (load and render them all).
//!
//! Run with `cargo xtask bench scenario` (or `cargo bench -p rolecall-scenario --bench
//! expand`). Prints wall time, peak RSS and the ratio to a reference measured in the same
//! run: parsing the same files into `toml::Value`, the floor of any TOML-based loader;
//! for problems, checking a valid suite of the same size. Targets: under 1 s and under
//! 200 MB RSS on a 2-core machine; 100,000 problems reported in well under 2 s.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

const IDENTITIES: usize = 100;
const ROUTES: usize = 1_000;
const FILES: usize = 20;

fn suite_text() -> String {
    let mut s = String::from(
        "[defaults]\ndeny = 403\n[vars]\ntenant = \"acme\"\n[targets.local]\nbase_url = \"http://127.0.0.1:9\"\n[identities.anonymous]\n",
    );
    for i in 1..IDENTITIES {
        match i % 4 {
            0 => writeln!(s, "[identities.user{i}]\nbearer = \"token-{i:04}\"").unwrap(),
            1 => writeln!(
                s,
                "[identities.user{i}]\njwt = {{ secret = \"jwt-secret-{i}\", claims = {{ role = \"r{i}\", tenant = \"t{i}\" }} }}\nvars = {{ tenant = \"t{i}\" }}"
            )
            .unwrap(),
            2 => writeln!(s, "[identities.user{i}]\nextends = \"user{}\"\ncountry = \"DE\"", i - 1).unwrap(),
            _ => writeln!(s, "[identities.user{i}]\napi_key = {{ value = \"key-{i:04}\" }}\nclient_ip = \"203.0.113.{}\"", i % 250).unwrap(),
        }
    }
    s.push_str("[groups]\nstaff = [");
    for i in 1..20 {
        write!(s, "\"user{i}\", ").unwrap();
    }
    s.push_str("]\n");
    s
}

fn routes_text(file: usize) -> String {
    let mut s = String::new();
    for r in 0..ROUTES / FILES {
        let n = file * (ROUTES / FILES) + r;
        writeln!(
            s,
            "[[route]]\nrequest = \"GET /v1/tenants/{{tenant}}/things/{n}\"\nallow = [\"staff\", \"user{}\"]\ndeny = 404\n[[route.case]]\nidentity = \"user{}\"\nstatus = 403\nlayer = \"waf\"\nbody.json = {{ code = \"blocked\" }}\n",
            20 + n % (IDENTITIES - 20),
            1 + (n + 7) % (IDENTITIES - 1)
        )
        .unwrap();
    }
    s
}

fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn best_of(runs: usize, mut f: impl FnMut()) -> Duration {
    (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .min()
        .unwrap()
}

const PROBLEMS: usize = 100_000;

/// Route files of `PROBLEMS` routes: each naming an unknown identity, or all valid.
fn many_routes_text(valid: bool) -> String {
    let mut s = String::new();
    for i in 0..PROBLEMS {
        let allowed = if valid {
            "admin".to_owned()
        } else {
            format!("nobody{i}")
        };
        writeln!(
            s,
            "[[route]]\nrequest = \"GET /r/{i}\"\nallow = [\"{allowed}\"]"
        )
        .unwrap();
    }
    s
}

/// One route with `PROBLEMS` unknown keys.
fn unknown_keys_text() -> String {
    let mut s = String::from("[[route]]\nrequest = \"GET /r\"\n");
    for i in 0..PROBLEMS {
        writeln!(s, "k{i} = 1").unwrap();
    }
    s
}

/// What `rolecall check` does: load, and render every problem.
fn check(dir: &std::path::Path, options: &rolecall_scenario::LoadOptions) -> usize {
    match rolecall_scenario::load(dir, options) {
        Ok(_) => 0,
        Err(e) => {
            std::hint::black_box(e.render(rolecall_scenario::RenderStyle::Plain));
            e.diagnostics().len()
        }
    }
}

/// Times `check` on a suite whose only route file is `routes`; the problems it found.
fn time_check(routes: &str, options: &rolecall_scenario::LoadOptions) -> (Duration, usize) {
    let dir = std::env::temp_dir().join(format!("rolecall-bench-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("rolecall.toml"),
        "[targets.local]\nbase_url = \"http://127.0.0.1:9\"\n[identities.anonymous]\n[identities.admin]\nbearer = \"token\"\n",
    )
    .unwrap();
    std::fs::write(dir.join("routes.toml"), routes).unwrap();
    let mut problems = 0;
    let time = best_of(3, || problems = check(&dir, options));
    std::fs::remove_dir_all(&dir).ok();
    (time, problems)
}

fn bench_problems(options: &rolecall_scenario::LoadOptions) {
    let (valid, none) = time_check(&many_routes_text(true), options);
    let (identities, found) = time_check(&many_routes_text(false), options);
    let (keys, found_keys) = time_check(&unknown_keys_text(), options);
    assert_eq!((none, found, found_keys), (0, PROBLEMS, PROBLEMS));
    println!("scenario/check: {PROBLEMS} problems, rendered (what `rolecall check` does)");
    println!(
        "  valid suite, {PROBLEMS} routes {:>8.1} ms (best of 3; the reference)",
        valid.as_secs_f64() * 1e3
    );
    for (what, time) in [("unknown identities", identities), ("unknown keys", keys)] {
        println!(
            "  {PROBLEMS} {what:<19}{:>8.1} ms, {:.2}x the valid suite (target < 2000 ms)",
            time.as_secs_f64() * 1e3,
            time.as_secs_f64() / valid.as_secs_f64()
        );
    }
}

fn main() {
    let dir = std::env::temp_dir().join(format!("rolecall-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("rolecall.toml"), suite_text()).unwrap();
    for f in 0..FILES {
        std::fs::write(dir.join(format!("routes{f:02}.toml")), routes_text(f)).unwrap();
    }
    let options = rolecall_scenario::LoadOptions::new().env(|_| None);
    let mut cases = 0;
    let load = best_of(5, || {
        let suite = rolecall_scenario::load(&dir, &options).unwrap_or_else(|e| panic!("{e}"));
        cases = suite.cases.len();
        drop(suite);
    });
    let rss = peak_rss_mib();
    let reference = best_of(5, || {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            let value: toml::Value = toml::from_str(&text).unwrap();
            std::hint::black_box(value);
        }
    });
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(cases, ROUTES * IDENTITIES);
    println!(
        "scenario/expand: {cases} cases ({ROUTES} routes x {IDENTITIES} identities, {FILES} files)"
    );
    println!(
        "  load+validate+expand  {:>8.1} ms (best of 5; target < 1000 ms)",
        load.as_secs_f64() * 1e3
    );
    println!(
        "  reference toml::Value {:>8.1} ms",
        reference.as_secs_f64() * 1e3
    );
    println!(
        "  ratio                 {:>8.2}x the TOML parse alone",
        load.as_secs_f64() / reference.as_secs_f64()
    );
    match rss {
        Some(mib) => println!("  peak RSS              {mib:>8.1} MiB (target < 200 MB)"),
        None => println!("  peak RSS              unavailable (no /proc)"),
    }
    bench_problems(&options);
}
