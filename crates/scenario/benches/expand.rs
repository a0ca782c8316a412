//! Load, validate and expand 100,000 cases (1,000 routes × 100 identities).
//!
//! Run with `cargo xtask bench scenario` (or `cargo bench -p rolecall-scenario --bench
//! expand`). Prints wall time, peak RSS and the ratio to a reference measured in the same
//! run: parsing the same files into `toml::Value`, the floor of any TOML-based loader.
//! Target: under 1 s and under 200 MB RSS on a 2-core machine.

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
}
