//! Record and replay against the real nginx: `rolecall run --record` (through the library
//! call it makes) records nginx's own 403 and the app's JSON 403 behind it; a suite whose
//! target is a mock edge with `replay = "DIR"` then gets, offline, the same bytes and the
//! same attribution. The replayed run is recorded again, so the comparison is of files
//! written by the same code from two different sources.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use libtest_mimic::Failed;
use rolecall_runner::{Keep, RunConfig};

use crate::suite_run::ROUTES;
use crate::{Kind, Servers};

/// What each case saw: status, layer, vendor.
type Seen = BTreeMap<String, (u16, String, String)>;

const IDENTITIES: &str =
    "[identities.anonymous]\n\n[identities.viewer]\nbearer = \"viewer-token-7c41\"\n";

fn run_suite(dir: &Path, target: &str, config: &RunConfig) -> Result<Seen, Failed> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    for (name, text) in [
        (
            "rolecall.toml",
            format!("[targets.t]\n{target}\n\n{IDENTITIES}"),
        ),
        ("routes.toml", ROUTES.to_owned()),
    ] {
        std::fs::write(dir.join(name), text).map_err(|e| format!("cannot write {name}: {e}"))?;
    }
    let suite = rolecall_scenario::load(dir, &rolecall_scenario::LoadOptions::new())
        .map_err(|error| format!("suite does not load:\n{error}"))?;
    let suite = Arc::new(suite);
    let all: Vec<usize> = (0..suite.cases.len()).collect();
    let mut seen = Seen::new();
    rolecall_runner::run(
        Arc::clone(&suite),
        config,
        &all,
        Keep::Reports,
        |suite, result, _| {
            let attribution = result.attribution.as_ref();
            seen.insert(
                suite.cases[result.index].name.clone(),
                (
                    result.observed.as_ref().map_or(0, |o| o.status),
                    attribution.map_or_else(String::new, |a| a.layer.to_string()),
                    attribution.map_or_else(String::new, |a| a.vendor.clone()),
                ),
            );
        },
    )
    .map_err(|error| format!("run failed: {error}"))?;
    Ok(seen)
}

/// Every file under `dir`, by path relative to it.
fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(root, &path, out);
            } else if let Ok(bytes) = std::fs::read(&path) {
                out.insert(path.strip_prefix(root).unwrap_or(&path).to_owned(), bytes);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// A recording's TOML without the lines that differ by design between two runs (when,
/// and the per-run salt and digest).
fn stable(toml: &[u8]) -> String {
    String::from_utf8_lossy(toml)
        .lines()
        .filter(|line| {
            !["recorded_at", "salt", "sha256"]
                .iter()
                .any(|k| line.starts_with(k))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

pub(crate) fn record_then_replay(servers: &Servers) -> Result<(), Failed> {
    let server = servers.server(Kind::Nginx)?;
    let base_url = format!("http://127.0.0.1:{}", server.port);
    let work = tempfile::Builder::new()
        .prefix("rolecall-replay-")
        .tempdir()
        .map_err(|error| format!("cannot create a directory: {error}"))?;
    let (recorded, rerecorded) = (work.path().join("recorded"), work.path().join("replayed"));

    let live = run_suite(
        &work.path().join("live"),
        &format!("base_url = \"{base_url}\""),
        &RunConfig {
            base_url: Some(base_url.clone()),
            record: Some(recorded.clone()),
            ..RunConfig::default()
        },
    )?;
    let mock = work.path().join("offline");
    std::fs::create_dir_all(&mock).map_err(|e| e.to_string())?;
    std::fs::write(
        mock.join("mock.toml"),
        format!(
            "[[layer]]\nreplay = \"{}\"\n\n[origin.app]\n",
            recorded.display()
        ),
    )
    .map_err(|e| e.to_string())?;
    let offline = run_suite(
        &mock,
        "mock = \"mock.toml\"",
        &RunConfig {
            record: Some(rerecorded.clone()),
            ..RunConfig::default()
        },
    )?;

    // Two routes (nginx's 403, the app's behind it) × two identities, all refused.
    if live.len() != 4 || live.values().any(|(status, _, _)| *status != 403) {
        return Err(format!("expected four 403s from nginx, saw {live:?}").into());
    }
    if offline != live {
        return Err(format!("replayed {offline:?}\nrecorded {live:?}").into());
    }
    let (first, second) = (files(&recorded), files(&rerecorded));
    // What a person reads: the verdict, the identity's credential as a digest only.
    for (file, verdict, credential) in [
        (
            "routes/admin/viewer.toml",
            "layer = \"server\"\nvendor = \"nginx\"",
            "headers = [\"authorization\"]",
        ),
        (
            "routes/private/anonymous.toml",
            "layer = \"app\"\nvendor = \"app\"",
            "headers = []",
        ),
    ] {
        let text =
            String::from_utf8_lossy(first.get(Path::new(file)).map_or(&[][..], Vec::as_slice))
                .into_owned();
        if !text.contains(verdict) || !text.contains(credential) || text.contains("viewer-token") {
            return Err(format!("{file} is not the recording expected:\n{text}").into());
        }
    }
    // Four recordings of two files each, and the directory's marker.
    if first.len() != 9 || first.keys().ne(second.keys()) {
        return Err(format!(
            "recorded {:?}, replayed and recorded again {:?}",
            first.keys(),
            second.keys()
        )
        .into());
    }
    let nginx_page = servers
        .client
        .get(format!("{base_url}/admin/"))
        .send()
        .and_then(|response| response.bytes())
        .map_err(|error| format!("cannot fetch nginx's page: {error}"))?;
    for (path, bytes) in &first {
        let again = &second[path];
        let same = match path.extension().and_then(|e| e.to_str()) {
            Some("body") => bytes == again,
            _ => stable(bytes) == stable(again),
        };
        if !same {
            return Err(format!(
                "{} differs after replay:\n{}\n---\n{}",
                path.display(),
                String::from_utf8_lossy(bytes),
                String::from_utf8_lossy(again)
            )
            .into());
        }
        if path.starts_with("routes/admin") && path.extension().is_some_and(|e| e == "body") {
            // nginx's page as nginx sends it, CRLF line ends and all.
            if bytes[..] != nginx_page[..] {
                return Err(format!("{} is not nginx's page byte for byte", path.display()).into());
            }
        }
    }
    Ok(())
}
