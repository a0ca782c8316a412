//! Integration tests of rolecall-runner against real servers on loopback.

mod bodies;
mod bypass;
mod contract;
mod corpus;
mod derived_secrets;
mod edges;
mod expectations;
mod fixture_trust;
mod fixtures;
mod hangs;
mod hostile;
mod html;
mod identities;
mod journeys;
mod persona_contract;
mod personas;
mod raw;
mod reporters;
pub(crate) mod reports;
mod secrets;
mod server;
mod targets;
mod tls;
mod writes;

use std::sync::Arc;

use rolecall_runner::{RunConfig, RunOutput};
use rolecall_scenario::Suite;

/// Writes a suite into a temporary directory and loads it.
pub(crate) fn suite(files: &[(&str, &str)]) -> (tempfile::TempDir, Arc<Suite>) {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let keys = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/keys");
    for key in std::fs::read_dir(keys).unwrap() {
        let key = key.unwrap();
        std::fs::copy(key.path(), dir.path().join(key.file_name())).unwrap();
    }
    let options = rolecall_scenario::LoadOptions::new().env(|name| match name {
        "TEST_TOKEN" => Some("env-token-5b1e0c77".to_owned()),
        "TEST_PASSWORD" => Some("env-password-9d2f".to_owned()),
        _ => None,
    });
    let suite = rolecall_scenario::load(dir.path(), &options).unwrap_or_else(|e| panic!("{e}"));
    (dir, Arc::new(suite))
}

/// Runs every case of `suite`.
pub(crate) fn run_all(suite: &Arc<Suite>) -> RunOutput {
    let all: Vec<usize> = (0..suite.cases.len()).collect();
    rolecall_runner::run(
        suite.clone(),
        &RunConfig::default(),
        &all,
        rolecall_runner::Keep::Reports,
        |_, _, _| {},
    )
    .unwrap()
}

/// The outcome of each case as `name outcome`.
pub(crate) fn outcomes(suite: &Suite, run: &RunOutput) -> Vec<String> {
    run.results
        .iter()
        .map(|r| format!("{} {}", suite.cases[r.index].name, r.outcome.as_str()))
        .collect()
}

/// A response as attribution reads it: status, headers (lowercase names) and body text.
pub(crate) fn fetch(
    client: &reqwest::blocking::Client,
    url: &str,
) -> (u16, Vec<(String, String)>, String) {
    let response = client.get(url).send().unwrap();
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            (name.as_str().to_owned(), value)
        })
        .collect();
    (status, headers, response.text().unwrap())
}
