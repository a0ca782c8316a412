//! Targets that are down or hang, credentials across hosts, and writes.

use std::time::{Duration, Instant};

use rolecall_runner::Outcome;

use crate::server::TestServer;
use crate::{run_all, suite};

const IDENTITIES: &str =
    "[identities.anonymous]\n[identities.admin]\nbearer = \"admin-token-2222\"\n";

fn routes(n: usize) -> String {
    (0..n)
        .map(|i| format!("[[route]]\nrequest = \"GET /r/{i}\"\nallow = [\"admin\"]\n"))
        .collect()
}

#[test]
fn a_target_that_refuses_connections_fails_each_case_quickly() {
    // A port that was just free: connecting is refused at once.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (_dir, suite) = suite(&[
        (
            "rolecall.toml",
            &format!("[targets.t]\nbase_url = \"http://127.0.0.1:{port}\"\n{IDENTITIES}"),
        ),
        ("routes.toml", &routes(50)),
    ]);
    let start = Instant::now();
    let run = run_all(&suite);
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(run.results.len(), 100);
    assert!(run.results.iter().all(|r| r.outcome == Outcome::Error));
    let messages: Vec<&str> = run
        .results
        .iter()
        .filter_map(|r| r.message.as_deref())
        .collect();
    assert!(
        messages
            .iter()
            .any(|m| m.contains(&format!("cannot connect to http://127.0.0.1:{port}"))),
        "{messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("not sent: 3 connections to the target failed in a row")),
        "{messages:?}"
    );
}

#[test]
fn a_target_that_never_answers_fails_each_case_quickly() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    // Accept and hold every connection without answering.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
            if held.len() > 500 {
                break;
            }
        }
    });
    let (_dir, suite) = suite(&[
        // With 4 requests in flight and a 300 ms timeout, 200 cases would take 15 s if each
        // waited for its own timeout; the circuit breaker makes it about one timeout.
        (
            "rolecall.toml",
            &format!(
                "[defaults]\ntimeout = \"300ms\"\nconcurrency = 4\n[targets.t]\nbase_url = \"http://{addr}\"\n{IDENTITIES}"
            ),
        ),
        ("routes.toml", &routes(100)),
    ]);
    let start = Instant::now();
    let run = run_all(&suite);
    let elapsed = start.elapsed();
    assert!(
        elapsed < Duration::from_secs(2),
        "200 hanging cases took {elapsed:?}"
    );
    assert!(run.results.iter().all(|r| r.outcome == Outcome::Error));
    let messages: Vec<&str> = run
        .results
        .iter()
        .filter_map(|r| r.message.as_deref())
        .collect();
    assert!(
        messages.iter().any(|m| m.contains("within the timeout")),
        "{messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("answered nothing for a whole timeout (300ms)")),
        "{messages:?}"
    );
}

#[test]
fn credentials_never_follow_a_redirect_to_another_host() {
    let target = TestServer::start();
    let elsewhere = TestServer::start();
    let (_dir, suite) = suite(&[
        (
            "rolecall.toml",
            &format!(
                "[targets.t]\nbase_url = \"{}\"\n[identities.admin]\nbearer = \"admin-token-2222\"\ncookies = {{ sid = \"cookie-9999\" }}\napi_key = {{ value = \"key-8888\" }}\n",
                target.url()
            ),
        ),
        (
            "routes.toml",
            &format!(
                "[[route]]\nname = \"away\"\nrequest = \"GET /redirect?to={}/landing\"\nallow = [\"admin\"]\nfollow_redirects = true\n[[route]]\nrequest = \"GET /redirect?to=/same-host\"\nallow = [\"admin\"]\nfollow_redirects = true\n",
                elsewhere.url()
            ),
        ),
    ]);
    let run = run_all(&suite);
    assert!(
        run.results.iter().all(|r| r.outcome == Outcome::Pass),
        "{:?}",
        run.results
    );
    let away = elsewhere.seen();
    assert_eq!(away.len(), 1);
    assert_eq!(away[0].uri, "/landing");
    for name in ["authorization", "cookie", "x-api-key"] {
        assert!(
            away[0].header(name).is_none(),
            "{name} leaked to another host: {:?}",
            away[0]
        );
    }
    let home = target.seen();
    let same = home.iter().find(|s| s.uri == "/same-host").unwrap();
    assert_eq!(
        same.header("authorization"),
        Some("Bearer admin-token-2222")
    );
}

#[test]
fn nothing_configured_follows_a_redirect_to_another_origin() {
    let target = TestServer::start();
    let elsewhere = TestServer::start();
    let (_dir, suite) = suite(&[
        (
            "rolecall.toml",
            &format!(
                "[defaults]\nheaders = {{ X-Suite-Key = \"suite-key-1234\" }}\n[targets.t]\nbase_url = \"{}\"\nallow_mutations = true\n[identities.admin]\nbearer = \"admin-token-2222\"\n",
                target.url()
            ),
        ),
        (
            "routes.toml",
            &format!(
                "[[route]]\nname = \"get_away\"\nrequest = \"GET /redirect?to={0}/landing\"\nheaders = {{ X-Route-Secret = \"route-secret-5678\" }}\nallow = [\"admin\"]\nfollow_redirects = true\n\n[[route]]\nname = \"post_away\"\nrequest = \"POST /redirect?code=307&to={0}/landing\"\nbody.json = {{ password = \"route-secret-5678\" }}\nallow = [\"admin\"]\nstatus = 307\nfollow_redirects = true\n",
                elsewhere.url()
            ),
        ),
    ]);
    let run = run_all(&suite);
    assert!(
        run.results.iter().all(|r| r.outcome == Outcome::Pass),
        "{:?}",
        run.results
    );
    let away = elsewhere.seen();
    // The GET followed (without anything configured); the POST's 307 was not replayed.
    assert_eq!(away.len(), 1, "{away:?}");
    assert_eq!(
        (away[0].method.as_str(), away[0].body.as_str()),
        ("GET", "")
    );
    for name in ["authorization", "x-suite-key", "x-route-secret", "cookie"] {
        assert!(
            away[0].header(name).is_none(),
            "{name} went to another origin: {:?}",
            away[0]
        );
    }
    // At home, everything configured was sent.
    let home = target.seen();
    assert!(
        home.iter()
            .all(|s| s.header("x-suite-key") == Some("suite-key-1234"))
    );
}

#[test]
fn writes_never_reach_a_target_without_allow_mutations() {
    let server = TestServer::start();
    let routes = r#"
[[route]]
request = "POST /w"
allow = ["admin"]
body.json = { a = 1 }
[[route]]
request = "PUT /w"
allow = ["admin"]
[[route]]
request = "PATCH /w"
allow = ["admin"]
[[route]]
request = "DELETE /w"
allow = ["admin"]
[[route]]
request = "GET /r"
allow = ["admin"]
"#;
    for allow in [false, true] {
        let (_dir, suite) = suite(&[
            (
                "rolecall.toml",
                &format!(
                    "[targets.t]\nbase_url = \"{}\"\nallow_mutations = {allow}\n{IDENTITIES}",
                    server.url()
                ),
            ),
            ("routes.toml", routes),
        ]);
        let before = server.seen().len();
        let run = run_all(&suite);
        let seen = server.seen()[before..].to_vec();
        let writes = seen.iter().filter(|s| s.method != "GET").count();
        if allow {
            assert_eq!(writes, 8, "{seen:?}");
        } else {
            assert_eq!(writes, 0, "a write reached the target: {seen:?}");
            let skipped: Vec<_> = run
                .results
                .iter()
                .filter(|r| r.outcome == Outcome::Skipped)
                .collect();
            assert_eq!(skipped.len(), 8);
            assert!(
                skipped[0]
                    .message
                    .as_deref()
                    .unwrap()
                    .contains("does not allow mutations")
            );
        }
        assert_eq!(seen.iter().filter(|s| s.method == "GET").count(), 2);
    }

    // A base URL given on the command line never inherits the target's permission.
    let (_dir, suite) = suite(&[
        (
            "rolecall.toml",
            &format!(
                "[targets.t]\nbase_url = \"http://127.0.0.1:1\"\nallow_mutations = true\n{IDENTITIES}"
            ),
        ),
        ("routes.toml", routes),
    ]);
    let before = server.seen().len();
    let all: Vec<usize> = (0..suite.cases.len()).collect();
    let overridden = rolecall_runner::RunConfig {
        base_url: Some(server.url()),
        ..Default::default()
    };
    let run = rolecall_runner::run(
        suite.clone(),
        &overridden,
        &all,
        rolecall_runner::Keep::Reports,
        |_, _, _| {},
    )
    .unwrap();
    let seen = server.seen()[before..].to_vec();
    assert_eq!(
        seen.iter().filter(|s| s.method != "GET").count(),
        0,
        "{seen:?}"
    );
    assert_eq!(
        run.results
            .iter()
            .filter(|r| r.outcome == Outcome::Skipped)
            .count(),
        8
    );
    let opted_in = rolecall_runner::RunConfig {
        allow_mutations: Some(true),
        ..overridden
    };
    rolecall_runner::run(
        suite,
        &opted_in,
        &all,
        rolecall_runner::Keep::Reports,
        |_, _, _| {},
    )
    .unwrap();
    assert_eq!(
        server.seen()[before..]
            .iter()
            .filter(|s| s.method != "GET")
            .count(),
        8
    );
}

#[test]
fn a_login_that_writes_is_not_sent_to_a_read_only_target() {
    let server = TestServer::start();
    let (_dir, suite) = suite(&[
        (
            "rolecall.toml",
            &format!(
                "[targets.t]\nbase_url = \"{}\"\n[identities.session]\nlogin = {{ request = \"POST /login\", token = \"/access_token\" }}\n[identities.reader]\nbearer = \"reader-token-1\"\n",
                server.url()
            ),
        ),
        (
            "routes.toml",
            "[[route]]\nrequest = \"GET /r\"\nallow = [\"session\", \"reader\"]\n",
        ),
    ]);
    let run = run_all(&suite);
    let seen = server.seen();
    assert!(seen.iter().all(|s| s.method == "GET"), "{seen:?}");
    assert_eq!(seen.len(), 1, "only the reader's case is sent");
    let session = &run.results[0];
    assert_eq!(session.outcome, Outcome::Skipped);
    assert!(
        session
            .message
            .as_deref()
            .unwrap()
            .contains("login of `session` is a POST"),
        "{:?}",
        session.message
    );
}

#[test]
fn a_route_that_drops_connections_does_not_fail_the_healthy_ones() {
    // A raw server: `/drop` closes the connection without answering (like nginx `return
    // 444`), everything else answers 200.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        use std::io::{BufRead, BufReader, Write};
        for stream in listener.incoming().flatten().take(2_000) {
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream);
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let drop = line.contains("/drop");
                    loop {
                        let mut header = String::new();
                        if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
                            break;
                        }
                    }
                    if drop {
                        return;
                    }
                    let _ = reader
                        .get_mut()
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
                }
            });
        }
    });
    let mut routes = String::from("[[route]]\nrequest = \"GET /drop\"\npublic = true\n");
    routes.push_str(
        &(0..20)
            .map(|i| format!("[[route]]\nrequest = \"GET /ok/{i}\"\npublic = true\n"))
            .collect::<String>(),
    );
    let (_dir, suite) = suite(&[
        (
            "rolecall.toml",
            &format!(
                "[defaults]\nconcurrency = 4\n[targets.t]\nbase_url = \"http://{addr}\"\n[identities.a]\n[identities.b]\n[identities.c]\n[identities.d]\n"
            ),
        ),
        ("routes.toml", &routes),
    ]);
    let run = run_all(&suite);
    let errors: Vec<_> = run
        .results
        .iter()
        .filter(|r| r.outcome == Outcome::Error)
        .map(|r| suite.cases[r.index].name.clone())
        .collect();
    assert_eq!(
        errors,
        [
            "routes::get_drop::a",
            "routes::get_drop::b",
            "routes::get_drop::c",
            "routes::get_drop::d"
        ]
    );
}

#[test]
fn only_the_selected_trials_are_sent() {
    let server = TestServer::start();
    let (_dir, suite) = suite(&[
        (
            "rolecall.toml",
            &format!("[targets.t]\nbase_url = \"{}\"\n{IDENTITIES}", server.url()),
        ),
        ("routes.toml", &routes(20)),
    ]);
    let config = rolecall_runner::RunConfig::default();
    let list = rolecall_runner::Arguments::from_iter(["harness", "--list"]);
    let listed = rolecall_runner::run_trials(suite.clone(), &config, &list);
    assert!(!listed.has_failed());
    assert_eq!(server.seen().len(), 0, "--list sent requests");

    let exact =
        rolecall_runner::Arguments::from_iter(["harness", "--exact", "routes::get_r_7::admin"]);
    let conclusion = rolecall_runner::run_trials(suite.clone(), &config, &exact);
    assert_eq!(
        (conclusion.num_passed, conclusion.num_filtered_out),
        (1, 39)
    );
    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].uri, "/r/7");

    let filtered =
        rolecall_runner::Arguments::from_iter(["harness", "get_r_1", "--skip", "anonymous"]);
    let conclusion = rolecall_runner::run_trials(suite, &config, &filtered);
    // get_r_1 and get_r_10 … get_r_19, admin only.
    assert_eq!(conclusion.num_passed, 11);
    assert_eq!(server.seen().len(), 12);
}
