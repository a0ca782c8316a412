//! Integration tests of rolecall-scenario: one binary, one module per area.

mod contract;
mod expand;
mod files;
mod fixtures;
mod headers;
mod item_errors;
mod many_problems;
mod objects;

use std::path::Path;

/// Writes `files` into a fresh directory and returns it.
pub(crate) fn suite_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

pub(crate) fn no_env() -> rolecall_scenario::LoadOptions {
    rolecall_scenario::LoadOptions::new().env(|_| None)
}

pub(crate) fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}
