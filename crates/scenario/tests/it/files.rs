//! Files that are not files: FIFOs, devices, links to them, oversized files, directories
//! named `*.toml`, link loops and invalid UTF-8 are refused quickly with a clear reason.

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use rolecall_scenario::{LoadError, RenderStyle, Suite};

use crate::{no_env, suite_dir};

const SUITE: &str = "[targets.local]\nbase_url = \"http://127.0.0.1:9\"\n[identities.anonymous]\n[identities.admin]\nbearer = \"admin-token-5678\"\n";
const ROUTES: &str = "[[route]]\nrequest = \"GET /a\"\nallow = [\"admin\"]\n";

/// Loads `dir` on another thread and fails the test, instead of hanging it, when loading
/// takes longer than a few seconds (a blocked `open` or an endless read).
#[track_caller]
fn load_within_seconds(dir: &Path) -> Result<Suite, LoadError> {
    let (tx, rx) = mpsc::channel();
    let dir = dir.to_path_buf();
    std::thread::spawn(move || {
        let _ = tx.send(rolecall_scenario::load(&dir, &no_env()));
    });
    rx.recv_timeout(Duration::from_secs(10))
        .expect("loading did not finish within 10 s")
}

/// The one diagnostic of a refused file: its message, and the path it names.
#[track_caller]
fn refused(dir: &Path, name: &str) -> String {
    let error = load_within_seconds(dir).expect_err("the suite loaded");
    let d = error
        .diagnostics()
        .iter()
        .find(|d| d.path.ends_with(name))
        .unwrap_or_else(|| panic!("no diagnostic names {name}: {error}"));
    let rendered = error.render(RenderStyle::Plain);
    assert!(rendered.contains(name), "{rendered}");
    d.message.clone()
}

fn mkfifo(path: &Path) {
    rustix::fs::mkfifoat(
        rustix::fs::CWD,
        path,
        rustix::fs::Mode::from_raw_mode(0o644),
    )
    .unwrap();
}

#[test]
fn a_fifo_route_file_is_refused_without_blocking() {
    let dir = suite_dir(&[("rolecall.toml", SUITE)]);
    mkfifo(&dir.path().join("pipe.toml"));
    let message = refused(dir.path(), "pipe.toml");
    assert_eq!(message, "`pipe.toml` is a FIFO, not a regular file");
}

#[test]
fn a_fifo_suite_file_is_refused_without_blocking() {
    let dir = suite_dir(&[("routes.toml", ROUTES)]);
    mkfifo(&dir.path().join("rolecall.toml"));
    let message = refused(dir.path(), "rolecall.toml");
    assert_eq!(message, "`rolecall.toml` is a FIFO, not a regular file");
}

#[test]
fn links_to_devices_are_refused() {
    let dir = suite_dir(&[("rolecall.toml", SUITE), ("routes.toml", ROUTES)]);
    std::os::unix::fs::symlink("/dev/zero", dir.path().join("endless.toml")).unwrap();
    std::os::unix::fs::symlink("/dev/null", dir.path().join("empty.toml")).unwrap();
    let error = load_within_seconds(dir.path()).expect_err("the suite loaded");
    let messages: Vec<&str> = error
        .diagnostics()
        .iter()
        .map(|d| d.message.as_str())
        .collect();
    assert_eq!(
        messages,
        [
            "`empty.toml` is a character device, not a regular file",
            "`endless.toml` is a character device, not a regular file",
        ]
    );
}

#[test]
fn an_oversized_file_is_refused_without_reading_it_whole() {
    let dir = suite_dir(&[("rolecall.toml", SUITE)]);
    let big = std::fs::File::create(dir.path().join("big.toml")).unwrap();
    big.set_len(20 * 1024 * 1024).unwrap();
    let message = refused(dir.path(), "big.toml");
    assert_eq!(
        message,
        "`big.toml` is larger than 8 MiB, the limit for a scenario file"
    );
}

#[test]
fn a_directory_named_like_a_route_file_is_reported() {
    let dir = suite_dir(&[
        ("rolecall.toml", SUITE),
        ("routes.toml", ROUTES),
        ("admin.toml/routes.toml", ROUTES),
    ]);
    let message = refused(dir.path(), "admin.toml");
    assert_eq!(message, "`admin.toml` is a directory, not a route file");
}

#[test]
fn link_loops_end_the_walk_and_each_directory_is_read_once() {
    let dir = suite_dir(&[
        ("rolecall.toml", SUITE),
        ("routes.toml", ROUTES),
        ("api/v1.toml", ROUTES),
    ]);
    // A link to the suite directory, one to a parent, and one to itself.
    std::os::unix::fs::symlink(dir.path(), dir.path().join("again")).unwrap();
    std::os::unix::fs::symlink("..", dir.path().join("api/up")).unwrap();
    std::os::unix::fs::symlink("self", dir.path().join("self")).unwrap();
    let suite = load_within_seconds(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = suite.cases.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "api::v1::get_a::anonymous",
            "api::v1::get_a::admin",
            "routes::get_a::anonymous",
            "routes::get_a::admin",
        ]
    );
}

#[test]
fn a_linked_directory_is_walked() {
    let outside = suite_dir(&[("v2.toml", ROUTES)]);
    let dir = suite_dir(&[("rolecall.toml", SUITE)]);
    std::os::unix::fs::symlink(outside.path(), dir.path().join("linked")).unwrap();
    let suite = load_within_seconds(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = suite.cases.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        ["linked::v2::get_a::anonymous", "linked::v2::get_a::admin"]
    );
}

#[test]
fn a_route_file_link_loop_is_reported() {
    let dir = suite_dir(&[("rolecall.toml", SUITE)]);
    std::os::unix::fs::symlink("loop.toml", dir.path().join("loop.toml")).unwrap();
    let message = refused(dir.path(), "loop.toml");
    assert!(
        message.starts_with("cannot read `loop.toml`: "),
        "{message}"
    );
}

#[test]
fn invalid_utf8_is_reported_at_the_line_and_column_of_the_bad_byte() {
    let dir = suite_dir(&[("rolecall.toml", SUITE)]);
    let mut text = b"[[route]]\nrequest = \"GET /\xc3\xa9".to_vec();
    text.extend_from_slice(b"\xff\"\nallow = [\"admin\"]\n");
    std::fs::write(dir.path().join("routes.toml"), text).unwrap();
    let error = load_within_seconds(dir.path()).expect_err("the suite loaded");
    let [d] = error.diagnostics() else {
        panic!("{error}");
    };
    assert_eq!(
        (d.line, d.column, d.message.as_str()),
        (2, 18, "invalid UTF-8: byte 0xff does not start a character")
    );
    let rendered = error.render(RenderStyle::Plain);
    assert!(rendered.contains("routes.toml:2:18"), "{rendered}");
}

#[test]
fn a_suite_path_that_is_a_fifo_is_refused() {
    let dir = suite_dir(&[]);
    let pipe = dir.path().join("suite");
    mkfifo(&pipe);
    let error = load_within_seconds(&pipe).expect_err("the suite loaded");
    assert_eq!(
        error.diagnostics()[0].message,
        format!(
            "`{}` is a FIFO, not a suite directory or file",
            pipe.display()
        )
    );
}
