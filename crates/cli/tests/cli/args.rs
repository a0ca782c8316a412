//! Invalid command-line arguments exit 2, with a clear message and no panic, before any
//! request leaves: each suite here targets a recording server that counts connections.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::server::Recorder;
use crate::{rolecall, text, write};

/// A suite whose every case is sent to `recorder` and passes there.
fn suite(recorder: &Recorder) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &[
            (
                "rolecall.toml",
                &format!(
                    "[targets.local]\nbase_url = \"{}\"\n[targets.other]\nbase_url = \"{}\"\n[defaults]\ntarget = \"local\"\n[identities.anonymous]\n",
                    recorder.url(),
                    recorder.url()
                ),
            ),
            ("r.toml", "[[route]]\nrequest = \"GET /a\"\npublic = true\n"),
        ],
    );
    dir
}

/// Exit 2, `needle` on stderr, no panic, and not one connection to the target.
#[track_caller]
fn refused(out: &Output, recorder: &Recorder, needle: &str) {
    let all = text(out);
    assert_eq!(out.status.code(), Some(2), "{all}");
    assert!(all.contains(needle), "missing `{needle}` in:\n{all}");
    assert!(!all.contains("panicked"), "{all}");
    assert_eq!(recorder.connections(), 0, "a request was sent:\n{all}");
}

/// The same suite with a valid command line reaches the recorder: the checks above can fail.
#[track_caller]
fn sends(args: &[&str], dir: &Path, recorder: &Recorder) {
    let before = recorder.connections();
    let out = rolecall(args, dir);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(recorder.connections() > before, "nothing was sent");
}

/// Every file below `dir`, to show that a refused command left nothing behind.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path.clone());
            }
            out.push(path);
        }
    }
    out.sort();
    out
}

#[test]
fn absurd_concurrency_exits_2_and_sends_nothing() {
    let recorder = Recorder::start();
    let dir = suite(&recorder);
    for value in [
        "0",
        "4097",
        "99999999999999999999",
        "-1",
        "lots",
        "",
        "1e3",
        "0x10",
    ] {
        let arg = format!("--concurrency={value}");
        let out = rolecall(&["run", ".", &arg], dir.path());
        refused(&out, &recorder, "--concurrency");
    }
    // Given as a separate word, `-1` is still read as the value, not as an option.
    let out = rolecall(&["run", ".", "--concurrency", "-1"], dir.path());
    refused(&out, &recorder, "--concurrency");
    let out = rolecall(&["run", ".", "--concurrency", "4097"], dir.path());
    refused(&out, &recorder, "4097 is not in 1..=4096");
    sends(
        &["run", ".", "--concurrency", "4096"],
        dir.path(),
        &recorder,
    );
    sends(&["run", ".", "--concurrency", "1"], dir.path(), &recorder);
}

#[test]
fn an_unparsable_base_url_exits_2_and_sends_nothing() {
    let recorder = Recorder::start();
    let dir = suite(&recorder);
    let addr = recorder.url().trim_start_matches("http://").to_owned();
    for value in [
        "not a url".to_owned(),
        addr.clone(),
        format!("ftp://{addr}"),
        format!("file:///{addr}"),
        "http://".to_owned(),
        format!("http:///{addr}"),
        format!("http:{addr}"),
        "http://:80".to_owned(),
        "https://exa mple.com".to_owned(),
        format!("http://{addr}\n"),
        format!("http://{addr}/?debug=1"),
        format!("http://{addr}/#x"),
    ] {
        let out = rolecall(&["run", ".", "--base-url", &value], dir.path());
        refused(&out, &recorder, "--base-url");
    }
    // A rejected URL is not repeated: it may carry a credential.
    for value in [
        "https://deploy:hunter2-pass@exa mple.com",
        "http://127.0.0.1:9/?token=t0k3n-secret",
    ] {
        let out = rolecall(&["run", ".", "--base-url", value], dir.path());
        refused(&out, &recorder, "--base-url");
        let all = text(&out);
        for secret in ["hunter2-pass", "t0k3n-secret"] {
            assert!(!all.contains(secret), "the URL was repeated:\n{all}");
        }
    }
    sends(
        &["run", ".", "--base-url", &recorder.url()],
        dir.path(),
        &recorder,
    );
}

#[test]
fn a_report_that_cannot_be_written_exits_2_before_the_first_request() {
    let recorder = Recorder::start();
    let dir = suite(&recorder);
    std::fs::write(dir.path().join("plain-file"), "").unwrap();
    std::fs::create_dir(dir.path().join("a-dir")).unwrap();
    let before = files(dir.path());
    for (spec, needle) in [
        ("json=missing/out.json", "missing"),
        ("json=plain-file/out.json", "plain-file"),
        ("json=a-dir", "a directory"),
        ("json=.", "a directory"),
        ("xml=out.xml", "unknown format `xml`"),
        ("json=", "no file after `json=`"),
        ("out.json", "json=FILE"),
    ] {
        let out = rolecall(&["run", ".", "--report", spec], dir.path());
        refused(&out, &recorder, needle);
        assert_eq!(files(dir.path()), before, "`{spec}` left files behind");
    }
    // A directory the user may not write to. Root may write anywhere, so the form is only
    // attacked where the permission holds (as on CI runners).
    let read_only = dir.path().join("read-only");
    std::fs::create_dir(&read_only).unwrap();
    std::fs::set_permissions(
        &read_only,
        std::os::unix::fs::PermissionsExt::from_mode(0o555),
    )
    .unwrap();
    if std::fs::write(read_only.join("probe"), "").is_ok() {
        eprintln!("privileged user: a read-only directory is writable, form skipped");
    } else {
        let out = rolecall(
            &["run", ".", "--report", "json=read-only/out.json"],
            dir.path(),
        );
        refused(&out, &recorder, "read-only");
        assert_eq!(std::fs::read_dir(&read_only).unwrap().count(), 0);
    }
    sends(
        &["run", ".", "--report", "json=a-dir/out.json"],
        dir.path(),
        &recorder,
    );
    let report = std::fs::read_to_string(dir.path().join("a-dir/out.json")).unwrap();
    assert!(report.contains("\"outcome\": \"pass\""), "{report}");
    // Only the report itself: the file it was written to first is gone.
    assert_eq!(
        std::fs::read_dir(dir.path().join("a-dir")).unwrap().count(),
        1
    );
}

#[test]
fn a_run_that_fails_leaves_the_previous_report_whole() {
    let recorder = Recorder::start();
    let dir = suite(&recorder);
    std::fs::write(dir.path().join("out.json"), "previous report").unwrap();
    // The target's command exits before the target answers: the run stops with an error.
    write(
        dir.path(),
        &[(
            "rolecall.toml",
            "[targets.local]\nbase_url = \"http://127.0.0.1:9\"\ncommand = \"exit 3\"\nready_timeout = \"5s\"\n[identities.anonymous]\n",
        )],
    );
    let before = files(dir.path());
    let out = rolecall(&["run", ".", "--report", "json=out.json"], dir.path());
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("out.json")).unwrap(),
        "previous report"
    );
    assert_eq!(
        files(dir.path()),
        before,
        "a partial report was left behind"
    );
}

#[test]
fn an_unknown_target_exits_2_with_did_you_mean_and_sends_nothing() {
    let recorder = Recorder::start();
    let dir = suite(&recorder);
    for command in ["run", "test", "check"] {
        let out = rolecall(&[command, ".", "--target", "locl"], dir.path());
        refused(&out, &recorder, "unknown target `locl`");
        assert!(
            text(&out).contains("did you mean `local`?"),
            "{command}: {}",
            text(&out)
        );
    }
    sends(&["run", ".", "--target", "other"], dir.path(), &recorder);
}
