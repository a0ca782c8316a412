//! `rolecall run --base-url … --report json=…` against the real nginx, through the library
//! calls the command makes: load the suite, [`rolecall_runner::run`] with a base URL,
//! [`rolecall_runner::json_report`]. The binary itself cannot be found reliably from this
//! crate's tests; the library is the same code path minus argument parsing.

use std::sync::Arc;

use libtest_mimic::Failed;
use rolecall_runner::{Keep, RunConfig};
use serde_json::Value;

use crate::{Kind, Servers};

pub(crate) const ROUTES: &str = r#"
[[route]]
request = "GET /admin/"
name = "admin"
description = "`location /admin/ { deny all; }` in nginx"
unauthenticated = 403

[[route.case]]
identities = ["anonymous", "viewer"]
status = 403
layer = "server"
vendor = "nginx"

[[route]]
request = "GET /api/private"
name = "private"
description = "the app behind nginx refuses with its own JSON"
unauthenticated = 403

[[route.case]]
identities = ["anonymous", "viewer"]
status = 403
layer = "app"
vendor = "app"
"#;

/// What each case's `observed` must say, by route name.
const EXPECTED: &[(&str, &str, &str)] = &[("admin", "server", "nginx"), ("private", "app", "app")];

pub(crate) fn run_against_nginx(servers: &Servers) -> Result<(), Failed> {
    let server = servers.server(Kind::Nginx)?;
    let base_url = format!("http://127.0.0.1:{}", server.port);
    let dir = tempfile::Builder::new()
        .prefix("rolecall-suite-")
        .tempdir()
        .map_err(|error| format!("cannot create the suite directory: {error}"))?;
    let suite_file = format!(
        "[targets.t]\nbase_url = \"{base_url}\"\n\n[identities.anonymous]\n\n[identities.viewer]\nbearer = \"viewer-token-7c41\"\n"
    );
    for (name, text) in [
        ("rolecall.toml", suite_file.as_str()),
        ("routes.toml", ROUTES),
    ] {
        std::fs::write(dir.path().join(name), text)
            .map_err(|error| format!("cannot write {name}: {error}"))?;
    }
    let suite = rolecall_scenario::load(dir.path(), &rolecall_scenario::LoadOptions::new())
        .map_err(|error| format!("suite does not load:\n{error}"))?;
    let suite = Arc::new(suite);
    let all: Vec<usize> = (0..suite.cases.len()).collect();
    // What `--base-url` sets; the same URL as the target's, so the run cannot pass by
    // sending anywhere else.
    let config = RunConfig {
        base_url: Some(base_url.clone()),
        ..RunConfig::default()
    };
    let output = rolecall_runner::run(
        Arc::clone(&suite),
        &config,
        &all,
        Keep::Reports,
        |_, _, _| {},
    )
    .map_err(|error| format!("run failed: {error}"))?;
    let json = rolecall_runner::json_report(&suite, &output);
    check_report(&json, &base_url)
        .map_err(|problem| format!("{problem}\n--- report\n{json}").into())
}

fn check_report(json: &str, base_url: &str) -> Result<(), String> {
    let report: Value =
        serde_json::from_str(json).map_err(|error| format!("report is not JSON: {error}"))?;
    if report["base_url"].as_str() != Some(base_url) {
        return Err(format!("base_url is {}", report["base_url"]));
    }
    let cases = report["cases"]
        .as_array()
        .ok_or("report has no `cases` array")?;
    // Two routes, two identities each.
    if cases.len() != 4 || report["summary"]["pass"] != 4 {
        return Err(format!(
            "expected 4 passing cases, summary {}",
            report["summary"]
        ));
    }
    for case in cases {
        let name = case["name"].as_str().unwrap_or_default();
        let (_, layer, vendor) = EXPECTED
            .iter()
            .find(|(route, _, _)| name.contains(&format!("::{route}::")))
            .ok_or_else(|| format!("unexpected case {name}"))?;
        let observed = &case["observed"];
        let got = (
            case["outcome"].as_str(),
            observed["status"].as_u64(),
            observed["layer"].as_str(),
            observed["vendor"].as_str(),
        );
        if got != (Some("pass"), Some(403), Some(*layer), Some(*vendor)) {
            return Err(format!(
                "{name}: expected pass 403 {layer}/{vendor}, got {got:?}"
            ));
        }
    }
    Ok(())
}
