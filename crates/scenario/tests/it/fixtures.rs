//! Every invalid fixture renders a diagnostic snapshot, and every diagnostic is located.

use std::path::Path;

use rolecall_scenario::RenderStyle;

use crate::{manifest_dir, no_env};

fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

#[test]
fn invalid_fixtures_render_located_diagnostics() {
    let root = manifest_dir().join("tests/fixtures/invalid");
    let base = manifest_dir().join("tests/fixtures/base/rolecall.toml");
    let mut names: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert!(names.len() >= 15, "fixtures went missing: {names:?}");
    for name in names {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(&root.join(&name), dir.path());
        if !dir.path().join("rolecall.toml").exists() {
            std::fs::copy(&base, dir.path().join("rolecall.toml")).unwrap();
        }
        let error = match rolecall_scenario::load(dir.path(), &no_env()) {
            Ok(suite) => panic!("fixture `{name}` loaded: {} cases", suite.cases.len()),
            Err(error) => error,
        };
        for d in error.diagnostics() {
            assert!(d.line >= 1 && d.column >= 1, "{name}: unlocated {d:?}");
            assert!(
                d.path.starts_with(dir.path()),
                "{name}: diagnostic outside the suite: {d:?}"
            );
        }
        let rendered = error.render(RenderStyle::Plain).replace(
            &dir.path().display().to_string(),
            &format!("fixtures/{name}"),
        );
        for d in error.diagnostics() {
            let file = d.path.file_name().unwrap().to_string_lossy();
            let at = format!("fixtures/{name}/{file}:{}:{}", d.line, d.column);
            assert!(rendered.contains(&at), "{name}: `{at}` not rendered");
        }
        insta::assert_snapshot!(name.as_str(), rendered);
    }
}

#[test]
fn many_problems_are_reported_at_once() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(
        &manifest_dir().join("tests/fixtures/invalid/many_problems"),
        dir.path(),
    );
    std::fs::copy(
        manifest_dir().join("tests/fixtures/base/rolecall.toml"),
        dir.path().join("rolecall.toml"),
    )
    .unwrap();
    let error = rolecall_scenario::load(dir.path(), &no_env()).unwrap_err();
    let found: Vec<(u32, u32, &str)> = error
        .diagnostics()
        .iter()
        .map(|d| (d.line, d.column, d.message.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            (3, 1, "unknown key `alow`"),
            (4, 10, "unknown identity `admn`"),
            (5, 10, "invalid status 999"),
        ]
    );
}

#[test]
fn known_credentials_are_redacted_from_rendered_diagnostics() {
    let dir = crate::suite_dir(&[
        (
            "rolecall.toml",
            "[targets.local]\nbase_url = \"http://127.0.0.1:9\"\n[identities.admin]\nbearer = \"admin-token-5678\"\n",
        ),
        (
            "routes.toml",
            "[[route]]\nrequest = \"GET /a\"\nheaders = { Authorization = \"Bearer admin-token-5678\", X-Count = 5 }\n",
        ),
    ]);
    let error = rolecall_scenario::load(dir.path(), &no_env()).unwrap_err();
    let rendered = error.render(RenderStyle::Plain);
    assert!(rendered.contains("invalid type"), "{rendered}");
    // A credential header's whole value is a secret, scheme included.
    assert!(
        rendered.contains(r#"Authorization = "***********************""#),
        "{rendered}"
    );
    assert!(!rendered.contains("admin-token-5678"), "{rendered}");
}
