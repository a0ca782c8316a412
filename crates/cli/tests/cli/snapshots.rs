//! Deny-body snapshots in the harness: a missing or changed snapshot fails its case with a
//! typed `snapshot` mismatch in every report, and CI never writes one.

use std::path::Path;
use std::process::{Command, Output};

use crate::server::Server;
use crate::{text, write};

/// `rolecall test .` (the libtest harness) in `dir`, writing JSON and JUnit reports
/// through `ROLECALL_REPORT`, with `env` added.
fn harness(dir: &Path, env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rolecall"))
        .args(["test", "."])
        .current_dir(dir)
        .env_remove("CI")
        .env_remove("GITHUB_ACTIONS")
        .env_remove("INSTA_UPDATE")
        .env_remove("INSTA_FORCE_PASS")
        .env("INSTA_WORKSPACE_ROOT", dir)
        .env("ROLECALL_REPORT", "json=report.json,junit=report.xml")
        .env("NO_COLOR", "1")
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

/// The report's summary and the viewer's case (the one refused, whose body is
/// snapshotted).
fn viewer_case(dir: &Path) -> (serde_json::Value, serde_json::Value) {
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    let case = report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["identity"] == "viewer")
        .cloned()
        .unwrap_or_else(|| panic!("no viewer case: {report:#}"));
    (report["summary"].clone(), case)
}

fn snapshot_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir.join("snapshots"))
        .map(|entries| {
            entries
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn a_missing_or_changed_snapshot_fails_its_case_in_every_report() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &[
            (
                "rolecall.toml",
                &format!(
                    "[targets.local]\nbase_url = \"{}\"\n[identities.viewer]\nbearer = \"viewer-token-1234\"\n[identities.admin]\nbearer = \"admin-token-5678\"\n",
                    server.url()
                ),
            ),
            (
                "r.toml",
                "[[route]]\nrequest = \"GET /admin-only\"\nallow = [\"admin\"]\nsnapshot = true\n",
            ),
        ],
    );

    // No reviewed snapshot, in CI: a failure, and nothing written.
    let missing = harness(dir.path(), &[("CI", "true")]);
    assert_eq!(missing.status.code(), Some(101), "{}", text(&missing));
    let (summary, case) = viewer_case(dir.path());
    assert_eq!((&summary["pass"], &summary["fail"]), (&1.into(), &1.into()));
    assert_eq!(case["outcome"], "fail", "{case:#}");
    let mismatch = &case["mismatches"][0];
    assert_eq!(mismatch["kind"], "snapshot", "{case:#}");
    assert_eq!(mismatch["observed"], "no reviewed snapshot");
    assert_eq!(mismatch["location"], "r.toml:2:11", "{case:#}");
    assert!(
        case["message"]
            .as_str()
            .unwrap()
            .contains("has not been reviewed"),
        "{case:#}"
    );
    assert_eq!(snapshot_files(dir.path()), Vec::<String>::new());

    // Accepted: the case passes.
    let accepted = harness(dir.path(), &[("INSTA_UPDATE", "always")]);
    assert_eq!(accepted.status.code(), Some(0), "{}", text(&accepted));
    let (summary, case) = viewer_case(dir.path());
    assert_eq!((&summary["pass"], &summary["fail"]), (&2.into(), &0.into()));
    assert_eq!(case["mismatches"], serde_json::json!([]), "{case:#}");
    let files = snapshot_files(dir.path());
    assert_eq!(files.len(), 1, "{files:?}");
    let snap = dir.path().join("snapshots").join(&files[0]);
    let reviewed = std::fs::read_to_string(&snap).unwrap();

    // The reviewed snapshot no longer matches (as if the deny page had changed): a
    // failure in the JSON and JUnit reports, and CI leaves the snapshot as it was.
    std::fs::write(&snap, reviewed.replace("forbidden", "refused")).unwrap();
    let changed = harness(dir.path(), &[("CI", "true")]);
    assert_eq!(changed.status.code(), Some(101), "{}", text(&changed));
    let (summary, case) = viewer_case(dir.path());
    assert_eq!((&summary["pass"], &summary["fail"]), (&1.into(), &1.into()));
    assert_eq!(case["outcome"], "fail", "{case:#}");
    assert_eq!(case["observed"]["status"], 403, "{case:#}");
    let mismatch = &case["mismatches"][0];
    assert_eq!(mismatch["kind"], "snapshot", "{case:#}");
    assert_eq!(mismatch["observed"], "a different response");
    assert_eq!(
        (&mismatch["file"], &mismatch["line"]),
        (&"r.toml".into(), &2.into())
    );
    let junit = std::fs::read_to_string(dir.path().join("report.xml")).unwrap();
    assert_eq!(junit.matches("<failure").count(), 1, "{junit}");
    assert!(junit.contains("differs from the reviewed one"), "{junit}");
    assert_eq!(snapshot_files(dir.path()), files, "CI wrote a snapshot");
    assert_eq!(
        std::fs::read_to_string(&snap).unwrap(),
        reviewed.replace("forbidden", "refused")
    );
}
