//! A suite with fixtures against a real application, Radicale (CalDAV, rights
//! `owner_only`), through the `rolecall` binary: alice, bob and carol each create a
//! calendar, every one of them tries to read every calendar (the owner matrix), and the
//! calendars each user has left behind are counted through Radicale's own API (PROPFIND)
//! after a passing run, a failing run and a run stopped by SIGTERM: 0 every time.
//!
//! Missing Radicale (Debian package `radicale`) skips these tests with a message on a
//! developer machine and fails them with `CI=true`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use reqwest::blocking::Client;

use crate::text;

#[allow(dead_code, reason = "the runner's tests use the rest of it")]
#[path = "../../../runner/tests/real_servers/process.rs"]
mod process;

#[path = "../../../runner/tests/real_servers/radicale.rs"]
mod server;

use server::{Radicale, USERS, calendar, objects_left};

/// Radicale started in a temporary folder, or `None` (with the reason printed) when it
/// is not installed and CI does not require it.
fn start(dir: &Path) -> Option<Radicale> {
    let binary = match Radicale::find() {
        Ok(binary) => binary,
        Err(reason) if matches!(std::env::var("CI").as_deref(), Ok("true" | "1")) => {
            panic!("{reason}; CI=true requires it (.ci/run installs it)")
        }
        Err(reason) => {
            eprintln!("skipped: {reason}");
            return None;
        }
    };
    let server = dir.join("radicale");
    std::fs::create_dir_all(&server).unwrap();
    Some(Radicale::start(&binary, &server).unwrap_or_else(|e| panic!("{e}")))
}

/// Writes the suite: each user creates `/<user>/rolecall-objects/` (a whole-calendar PUT;
/// Radicale answers it with no body, so a second fixture reads it back to capture the
/// owner's name for the matrix's paths), deleted after the cases. `routes` routes read
/// every calendar as every user, one request at a time; `wrong` adds a route that
/// expects bob to read alice's calendar.
fn suite(dir: &Path, radicale: &Radicale, routes: usize, wrong: bool) {
    let identities: String = USERS
        .iter()
        .map(|(user, password)| {
            format!("[identities.{user}]\nbasic = {{ username = \"{user}\", password = \"{password}\" }}\n")
        })
        .collect();
    let suite = format!(
        "[defaults]\ndeny = 403\nunauthenticated = 401\nconcurrency = 1\ntimeout = \"10s\"\n\
         [targets.radicale]\nbase_url = \"{}\"\nallow_mutations = true\n{identities}",
        radicale.url("").trim_end_matches('/')
    );
    let body = calendar("rolecall-{identity}").replace("\r\n", "\\r\\n");
    let mut calendars = format!(
        r#"
[[fixture]]
name = "cal"
per_identity = ["alice", "bob", "carol"]
request = "PUT /{{identity}}/rolecall-objects/"
body.raw = "{body}"
body.content_type = "text/calendar; charset=utf-8"
status = 201
teardown = "DELETE /{{identity}}/rolecall-objects/"

[[fixture]]
name = "home"
per_identity = ["alice", "bob", "carol"]
needs = ["cal"]
request = "GET /{{identity}}/rolecall-objects/"
status = 200
capture.owner = {{ regex = 'UID:rolecall-(\w+)' }}
"#
    );
    for n in 0..routes {
        calendars.push_str(&format!(
            "\n[[route]]\nrequest = \"GET /{{home.owner}}/rolecall-objects/\"\nname = \"read_{n}\"\nquery = {{ n = \"{n}\" }}\nowner = \"home\"\nallow = [\"owner\"]\n"
        ));
    }
    if wrong {
        calendars.push_str(
            "\n[[route]]\nrequest = \"GET /{home.owner}/rolecall-objects/\"\nname = \"wrong\"\nowner = \"home\"\nallow = [\"owner\", \"bob\"]   # wrong: owner_only refuses bob\n",
        );
    }
    crate::write(
        dir,
        &[("rolecall.toml", &suite), ("calendars.toml", &calendars)],
    );
}

fn command(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rolecall"));
    command
        .args(["run", "."])
        .current_dir(dir)
        .env_remove("CI")
        .env_remove("GITHUB_ACTIONS")
        .env("NO_COLOR", "1");
    command
}

/// The calendars each of alice, bob and carol has, as Radicale lists them.
fn left(client: &Client, radicale: &Radicale) -> Vec<usize> {
    USERS
        .iter()
        .map(|(user, _)| objects_left(client, radicale, user).unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

/// A client for counting; reqwest is built without a TLS provider in this workspace.
fn client() -> Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Client::builder().no_proxy().build().unwrap()
}

/// A running Radicale, a client to count with, and an empty suite folder.
struct Setup {
    _dir: tempfile::TempDir,
    radicale: Radicale,
    client: Client,
    suite_dir: PathBuf,
}

fn setup() -> Option<Setup> {
    let dir = tempfile::tempdir().unwrap();
    let radicale = start(dir.path())?;
    let suite_dir = dir.path().join("suite");
    std::fs::create_dir_all(&suite_dir).unwrap();
    Some(Setup {
        _dir: dir,
        radicale,
        client: client(),
        suite_dir,
    })
}

fn run(dir: &Path) -> Output {
    command(dir).output().unwrap()
}

#[test]
fn radicale_owner_matrix_leaves_nothing_after_a_passing_and_a_failing_run() {
    let Some(Setup {
        _dir,
        radicale,
        client,
        suite_dir,
    }) = setup()
    else {
        return;
    };
    assert_eq!(left(&client, &radicale), [0, 0, 0], "a fresh Radicale");

    // (a) A passing run: each owner reads its own calendar (200), the two others are
    // refused (403) as `owner_only` says.
    suite(&suite_dir, &radicale, 1, false);
    let out = run(&suite_dir);
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(0), "{shown}");
    assert!(
        shown.contains("9 passed, 0 failed, 0 skipped, 0 errors"),
        "{shown}"
    );
    assert_eq!(left(&client, &radicale), [0, 0, 0], "after a passing run");

    // (b) A failing run: a wrong expectation fails bob@alice and bob@carol; teardown still
    // removes every calendar.
    suite(&suite_dir, &radicale, 1, true);
    let out = run(&suite_dir);
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(1), "{shown}");
    assert!(
        shown.contains("FAIL  calendars::wrong::bob@alice 403 (expected 2xx)")
            && shown.contains("16 passed, 2 failed"),
        "{shown}"
    );
    assert_eq!(left(&client, &radicale), [0, 0, 0], "after a failing run");
}

#[test]
fn radicale_sigterm_in_the_middle_of_a_run_leaves_nothing() {
    let Some(Setup {
        _dir,
        radicale,
        client,
        suite_dir,
    }) = setup()
    else {
        return;
    };
    // 300 routes × 9 pairs, one request at a time: seconds of cases after set-up.
    suite(&suite_dir, &radicale, 300, false);
    let mut child = command(&suite_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while left(&client, &radicale) != [1, 1, 1] {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before every calendar existed"
        );
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "calendars never created"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // Cases are under way: the calendars exist, and the run has not finished.
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the run ended too soon"
    );
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(143), "{shown}");
    assert!(shown.contains("interrupted"), "{shown}");
    assert_eq!(left(&client, &radicale), [0, 0, 0], "after SIGTERM");
}
