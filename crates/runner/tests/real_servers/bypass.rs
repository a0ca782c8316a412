//! Bypass variants against the real nginx: every configuration bypassable the way real
//! deployments are is found, the hardened ones give no false bypass, and Debian's
//! defaults (merge_slashes, percent-decoding and dot segments resolved before matching)
//! hold.

use std::collections::BTreeSet;
use std::sync::Arc;

use libtest_mimic::Failed;
use rolecall_runner::{Keep, Outcome, RunConfig};

use crate::{Kind, Servers};

const ROUTES: &str = r#"
[[route]]
request = "GET /exact/admin"
name = "exact_match"
description = "`location = /exact/admin { return 403; }` before an app serving /exact/admin/"
unauthenticated = 403
bypass = true

[[route]]
request = "GET /admin/"
name = "prefix_deny"
description = "`location /admin/ { deny all; }`: hardened"
unauthenticated = 403
bypass = true

[[route]]
request = "GET /internal/"
name = "trusted_forwarded_for"
description = "`allow 10.0.0.0/8` with X-Forwarded-For trusted from the local peer"
unauthenticated = 403
bypass = true
"#;

/// Every bypass each configuration must show, as `route variant`; nothing else may fail.
const EXPECTED: &[&str] = &[
    "exact_match path-trailing-slash",
    "trusted_forwarded_for client-ip-x-forwarded-for-10",
];

pub(crate) fn table_against_nginx(servers: &Servers) -> Result<(), Failed> {
    let server = servers.server(Kind::Nginx)?;
    let base_url = format!("http://127.0.0.1:{}", server.port);
    let dir = tempfile::Builder::new()
        .prefix("rolecall-bypass-")
        .tempdir()
        .map_err(|error| format!("cannot create the suite directory: {error}"))?;
    // nginx runs with 64 worker connections: the run keeps well under them.
    let suite_file = format!(
        "[defaults]\nconcurrency = 8\n[targets.t]\nbase_url = \"{base_url}\"\n[identities.anonymous]\n"
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
    let output = rolecall_runner::run(
        Arc::clone(&suite),
        &RunConfig::default(),
        &all,
        Keep::Reports,
        |_, _, _| {},
    )
    .map_err(|error| format!("run failed: {error}"))?;
    let mut found = BTreeSet::new();
    let mut problems = Vec::new();
    let mut table = String::new();
    for result in &output.results {
        let case = &suite.cases[result.index];
        let route = &suite.route(case).name;
        match (&case.variant, result.outcome) {
            (_, Outcome::Error) => problems.push(format!(
                "{}: {}",
                case.name,
                result.message.as_deref().unwrap_or("")
            )),
            (None, Outcome::Fail) => {
                problems.push(format!("{}: the refusal itself failed", case.name))
            }
            (Some(variant), Outcome::Fail) => {
                found.insert(format!("{route} {}", variant.name));
                table.push_str(&format!(
                    "{route} × {}: bypass {}\n",
                    variant.family, variant.name
                ));
            }
            _ => {}
        }
    }
    let expected: BTreeSet<String> = EXPECTED.iter().map(|s| (*s).to_owned()).collect();
    if found != expected || !problems.is_empty() {
        return Err(format!(
            "bypasses found:\n{table}expected: {expected:?}\nproblems: {problems:#?}"
        )
        .into());
    }
    Ok(())
}
