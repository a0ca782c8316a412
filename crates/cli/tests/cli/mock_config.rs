//! A target's mock configuration is part of the suite: `check`, `run` and `test` report
//! every problem in it, located, and exit 2 before anything is sent.

use crate::server::Recorder;
use crate::{rolecall, text, write};

/// Proxies to `upstream` once it loads; as written it has a problem on lines 3 and 6.
fn broken_mock(upstream: &str) -> String {
    format!(
        "[edge]\ncdn = \"cloudflare\"\ncolour = \"orange\"\n\n[[layer]]\nip = {{ deny = [\"10.0.0.0/33\"] }}\n\n[origin.proxy]\nupstream = \"{upstream}\"\n"
    )
}

#[test]
fn a_broken_mock_configuration_exits_2_with_every_problem_before_anything_is_sent() {
    let recorder = Recorder::start();
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &[
            (
                "rolecall.toml",
                "[targets.local]\nmock = \"mock.toml\"\nallow_mutations = true\n[identities.anonymous]\n",
            ),
            ("r.toml", "[[route]]\nrequest = \"GET /a\"\npublic = true\n"),
            ("mock.toml", &broken_mock(&recorder.url())),
        ],
    );
    for args in [
        &["check", "."][..],
        &["run", "."][..],
        &["test", "."][..],
        &["test", ".", "--", "--list"][..],
    ] {
        let out = rolecall(args, dir.path());
        let all = text(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}:\n{all}");
        for needle in [
            "error: unknown key `colour`\n --> mock.toml:3:1\n  |\n3 | colour = \"orange\"\n  | ^^^^^^ not a known key here",
            "help: did you mean `colo`?",
            "error: `10.0.0.0/33` is not an IP address or CIDR block\n --> mock.toml:6:16",
            "error: could not load the mock configuration due to 2 previous errors",
        ] {
            assert!(
                all.contains(needle),
                "{args:?}: missing `{needle}` in:\n{all}"
            );
        }
        assert!(!all.contains("panicked"), "{all}");
        assert_eq!(recorder.connections(), 0, "{args:?} sent a request");
    }
    // Fixed, the same suite passes `check` and its run goes through the mock to the upstream.
    let fixed = broken_mock(&recorder.url())
        .replace("colour = \"orange\"\n", "")
        .replace("/33", "/8");
    write(dir.path(), &[("mock.toml", &fixed)]);
    let out = rolecall(&["check", "."], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = rolecall(&["run", "."], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(recorder.connections() > 0, "the fixed mock sent nothing");
}

#[test]
fn mock_serve_reports_every_problem_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &[("mock.toml", &broken_mock("http://127.0.0.1:9"))],
    );
    let out = rolecall(
        &[
            "mock",
            "serve",
            "--config",
            "mock.toml",
            "--listen",
            "127.0.0.1:0",
        ],
        dir.path(),
    );
    let all = text(&out);
    assert_eq!(out.status.code(), Some(2), "{all}");
    assert!(all.contains(" --> mock.toml:3:1"), "{all}");
    assert!(all.contains(" --> mock.toml:6:16"), "{all}");
    assert!(
        all.contains("could not load the mock configuration due to 2 previous errors"),
        "{all}"
    );
}

/// A mock's token table holds the credentials the identities send: a problem on such a
/// line shows the line with the suite's secrets masked, like any other output.
#[test]
fn a_mock_problem_on_a_credential_line_does_not_show_the_credential() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &[
            (
                "rolecall.toml",
                "[targets.local]\nmock = \"mock.toml\"\n[identities.admin]\nbearer = \"adm1n-t0ken-42\"\n",
            ),
            (
                "r.toml",
                "[[route]]\nrequest = \"GET /a\"\nallow = [\"admin\"]\n",
            ),
            (
                "mock.toml",
                "[origin.app]\ntoken = [\n  { bearer = \"adm1n-t0ken-42\", roles = \"admin\" },\n]\n",
            ),
        ],
    );
    for args in [&["check", "."][..], &["run", "."][..], &["test", "."][..]] {
        let out = rolecall(args, dir.path());
        let all = text(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}:\n{all}");
        assert!(
            all.contains("mock.toml:3:"),
            "{args:?}: not located:\n{all}"
        );
        assert!(!all.contains("adm1n-t0ken-42"), "{args:?} leaked:\n{all}");
    }
}

#[test]
fn malformed_recordings_of_a_replay_layer_exit_2_each_located() {
    let dir = tempfile::tempdir().unwrap();
    let admin = dir.path().join("recorded/routes/admin");
    std::fs::create_dir_all(&admin).unwrap();
    // As `rolecall run --record` leaves it: the suite does not read it as routes.
    write(
        &dir.path().join("recorded"),
        &[(rolecall_scenario::RECORDINGS_MARKER, "")],
    );
    write(
        &admin,
        &[
            (
                "viewer.toml",
                "method = \"GET\"\npath = \"/admin/\"\nstatus = 99\nbody = \"gone.body\"\n[verdict]\nlayer = \"cdn\"\n",
            ),
            ("anonymous.toml", "method = \"GET\"\npath = \n"),
        ],
    );
    write(
        dir.path(),
        &[
            (
                "rolecall.toml",
                "[targets.local]\nmock = \"mock.toml\"\n[identities.anonymous]\n",
            ),
            ("r.toml", "[[route]]\nrequest = \"GET /a\"\npublic = true\n"),
            (
                "mock.toml",
                "[[layer]]\nreplay = \"recorded\"\n\n[origin.app]\n",
            ),
        ],
    );
    for args in [
        &["check", "."][..],
        &["run", "."][..],
        &[
            "mock",
            "serve",
            "--config",
            "mock.toml",
            "--listen",
            "127.0.0.1:0",
        ][..],
    ] {
        let out = rolecall(args, dir.path());
        let all = text(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}:\n{all}");
        for needle in [
            "recorded/routes/admin/anonymous.toml:2:8",
            "error: status 99 is out of range: expected 100 to 599\n --> recorded/routes/admin/viewer.toml:3:10",
            "error: body file `gone.body`: no such file\n --> recorded/routes/admin/viewer.toml:4:8",
            "could not load the mock configuration due to 3 previous errors",
        ] {
            assert!(
                all.contains(needle),
                "{args:?}: missing `{needle}` in:\n{all}"
            );
        }
    }
}

#[test]
fn a_recording_directory_that_cannot_be_made_exits_2_before_anything_is_sent() {
    let recorder = Recorder::start();
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &[
            (
                "rolecall.toml",
                &format!(
                    "[targets.local]\nbase_url = \"{}\"\n[identities.anonymous]\n",
                    recorder.url()
                ),
            ),
            ("r.toml", "[[route]]\nrequest = \"GET /a\"\npublic = true\n"),
            ("taken", "a file where the directory would go"),
        ],
    );
    let out = rolecall(&["run", ".", "--record", "taken/recorded"], dir.path());
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("cannot record into `taken/recorded`"),
        "{}",
        text(&out)
    );
    assert_eq!(recorder.connections(), 0, "a request was sent");
}
