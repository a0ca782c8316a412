//! Bypass variants against raw loopback servers: the bytes on the wire, and bypasses of
//! rules that only hold for one spelling caught, with the request that got through.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use rolecall_runner::Outcome;

use crate::raw::RawServer;
use crate::{run_all, suite};

const VIEWER: &str = "viewer-token-31337";

fn files(url: &str, bypass: &str) -> [(&'static str, String); 2] {
    [
        (
            "rolecall.toml",
            format!(
                "[targets.t]\nbase_url = \"{url}\"\n[identities.admin]\nbearer = \"admin-token-2222\"\n[identities.viewer]\nbearer = \"{VIEWER}\"\n"
            ),
        ),
        (
            "routes.toml",
            format!(
                "[[route]]\nrequest = \"GET /v1/admin\"\nallow = [\"admin\"]\nbypass = {bypass}\n"
            ),
        ),
    ]
}

fn answer(status: u16) -> &'static [u8] {
    match status {
        200 => b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\n\r\n{\"ok\":true}",
        403 => b"HTTP/1.1 403 Forbidden\r\ncontent-type: application/json\r\ncontent-length: 21\r\n\r\n{\"error\":\"forbidden\"}",
        _ => b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n",
    }
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[test]
fn path_variants_go_out_byte_exact() {
    let heads = Arc::new(Mutex::new(Vec::<String>::new()));
    let log = heads.clone();
    let server = RawServer::answering(move |head, _| {
        let viewer = head.contains(VIEWER);
        if viewer {
            log.lock().unwrap().push(head.to_owned());
        }
        Some(if viewer {
            b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n" as &[u8]
        } else {
            answer(200)
        })
    });
    let [a, b] = files(&server.url(), "[\"path\", \"protocol\"]");
    let (_dir, suite) = suite(&[(a.0, &a.1), (b.0, &b.1)]);
    let run = run_all(&suite);
    let failed: Vec<_> = run
        .results
        .iter()
        .filter(|r| r.outcome != Outcome::Pass)
        .map(|r| (&suite.cases[r.index].name, &r.message))
        .collect();
    assert!(failed.is_empty(), "{failed:#?}");
    let heads = heads.lock().unwrap();
    let lines: BTreeSet<&str> = heads.iter().map(|h| h.lines().next().unwrap()).collect();
    let expected: BTreeSet<&str> = [
        "GET /v1/admin HTTP/1.1",
        "GET /v1/admin/ HTTP/1.1",
        "GET /v1/admin/. HTTP/1.1",
        "GET //v1/admin HTTP/1.1",
        "GET /v1//admin HTTP/1.1",
        "GET /v1/./admin HTTP/1.1",
        "GET /v1/Admin HTTP/1.1",
        "GET /v1/%61dmin HTTP/1.1",
        "GET /v1%2fadmin HTTP/1.1",
        "GET /v1/%2561dmin HTTP/1.1",
        "GET /..;/v1/admin HTTP/1.1",
        "GET /v1/admin;rolecall HTTP/1.1",
        "GET /v1/admin%20 HTTP/1.1",
        "GET /v1/admin%09 HTTP/1.1",
        "GET /v1/admin? HTTP/1.1",
        "GET /v1/admin# HTTP/1.1",
        "GET /v1/admin.json HTTP/1.1",
        "GET /v1/admin HTTP/1.0",
    ]
    .into();
    assert_eq!(lines, expected);
    assert_eq!(heads.len(), expected.len(), "one request per variant");
    let host = server.url().trim_start_matches("http://").to_owned();
    for head in heads.iter() {
        let http10 = head.starts_with("GET /v1/admin HTTP/1.0");
        assert_eq!(header(head, "host").is_none(), http10, "{head}");
        if !http10 {
            assert_eq!(header(head, "host"), Some(host.as_str()), "{head}");
        }
        assert_eq!(
            header(head, "authorization"),
            Some(format!("Bearer {VIEWER}").as_str()),
            "the identity's credentials ride every variant: {head}"
        );
    }
    // The refused case and its variants, in suite order, named after the case.
    let names: Vec<&str> = suite.cases.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names[1], "routes::get_v1_admin::viewer");
    assert_eq!(
        names[2],
        "routes::get_v1_admin::viewer::path-trailing-slash"
    );
    assert_eq!(
        names.last(),
        Some(&"routes::get_v1_admin::viewer::protocol-http10-no-host")
    );
}

/// A rule that holds for one spelling only (an exact-match deny), behind it an app that
/// serves every spelling of the path, and a proxy that trusts `X-Forwarded-For` from
/// any peer: every spelling that still names the path gets through.
fn bypassable(head: &str) -> u16 {
    let target = head.split(' ').nth(1).unwrap_or("");
    let loopback = header(head, "x-forwarded-for") == Some("127.0.0.1");
    if target == "/v1/admin" {
        if loopback || !head.contains(VIEWER) {
            200
        } else {
            403
        }
    } else if target.to_ascii_lowercase().contains("admin") {
        200
    } else {
        404
    }
}

#[test]
fn a_rule_that_holds_for_one_spelling_is_caught_with_the_request_that_got_through() {
    let server = RawServer::answering(|head, _| Some(answer(bypassable(head))));
    let [a, b] = files(&server.url(), "true");
    let (_dir, suite) = suite(&[(a.0, &a.1), (b.0, &b.1)]);
    let run = run_all(&suite);
    let by_name = |name: &str| {
        run.results
            .iter()
            .find(|r| {
                suite.cases[r.index]
                    .name
                    .ends_with(&format!("::viewer::{name}"))
            })
            .unwrap_or_else(|| panic!("no variant {name}"))
    };
    let failed: BTreeSet<&str> = run
        .results
        .iter()
        .filter(|r| r.outcome == Outcome::Fail)
        .map(|r| suite.cases[r.index].name.rsplit("::").next().unwrap())
        .collect();
    let expected: BTreeSet<&str> = [
        "path-trailing-slash",
        "path-dot-suffix",
        "path-leading-double-slash",
        "path-inner-double-slash",
        "path-dot-segment",
        "path-letter-case",
        "path-encoded-slash",
        "path-dotdot-semicolon",
        "path-semicolon-param",
        "path-trailing-space",
        "path-trailing-tab",
        "path-trailing-question",
        "path-trailing-hash",
        "path-json-suffix",
        "client-ip-x-forwarded-for-loopback",
    ]
    .into();
    assert_eq!(failed, expected);
    let message = by_name("path-trailing-slash").message.as_deref().unwrap();
    assert!(message.starts_with("POSSIBLE PRIVILEGE ESCALATION\nPOSSIBLE BYPASS: variant `path-trailing-slash` (path) was granted 200 where 403 (deny) was expected"), "{message}");
    assert!(
        message.contains(&format!("  request:    GET {}/v1/admin/\n", server.url())),
        "{message}"
    );
    assert!(
        message.contains("Bearer ***") && !message.contains(VIEWER),
        "{message}"
    );
    let message = by_name("client-ip-x-forwarded-for-loopback")
        .message
        .as_deref()
        .unwrap();
    assert!(
        message.contains("  request:    GET ")
            && message.contains("/v1/admin\n              X-Forwarded-For: 127.0.0.1\n"),
        "{message}"
    );
    // Writes are not sent to a target that does not allow them.
    let post = by_name("method-post");
    assert_eq!(post.outcome, Outcome::Skipped);
    assert!(
        post.message
            .as_deref()
            .unwrap()
            .contains("variant `method-post` not sent: POST counts as a write"),
        "{:?}",
        post.message
    );
    // Refused another way is not a bypass: it passes, and the report says so.
    assert_eq!(by_name("path-percent-letter").outcome, Outcome::Pass);
    let report: serde_json::Value =
        serde_json::from_str(&rolecall_runner::json_report(&suite, &run)).unwrap();
    let case = report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "routes::get_v1_admin::viewer::path-percent-letter")
        .unwrap();
    assert_eq!(case["variant"]["refused_differently"], 404);
    assert_eq!(case["variant"]["family"], "path");
    let held = report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "routes::get_v1_admin::viewer::protocol-http10-no-host")
        .unwrap();
    assert_eq!(held["outcome"], "pass");
    assert_eq!(
        held["variant"]["refused_differently"],
        serde_json::Value::Null
    );
}

/// The planted bypass of the offline demo: an edge that trusts `X-Forwarded-For` from any
/// peer in front of an intranet-only status page the app serves to anyone.
const TRUSTING_EDGE: &str = r#"
[edge]
server = "nginx"
trusted_proxies = ["0.0.0.0/0", "::/0"]   # planted: any peer may say who the client is

[[layer]]
ip = { name = "intranet-only", persona = "nginx", paths = ["/internal/**"], allow = ["10.0.0.0/8"] }

[origin.app]
realm = "demo"

[[origin.app.route]]
request = "GET /internal/status"
public = true
"#;

#[test]
fn the_mock_reproduces_a_bypass_offline_and_holds_every_other_variant() {
    let (_dir, suite) = suite(&[
        (
            "rolecall.toml",
            "[targets.local]\nmock = \"mock.toml\"\n[identities.anonymous]\n",
        ),
        ("mock.toml", TRUSTING_EDGE),
        (
            "internal.toml",
            "[[route]]\nrequest = \"GET /internal/status\"\nunauthenticated = 403\nlayer = \"server\"\nbypass = true\n",
        ),
    ]);
    let run = run_all(&suite);
    let failed: Vec<(&str, &str)> = run
        .results
        .iter()
        .filter(|r| r.outcome != Outcome::Pass && r.outcome != Outcome::Skipped)
        .map(|r| {
            (
                suite.cases[r.index].name.as_str(),
                r.message.as_deref().unwrap_or(""),
            )
        })
        .collect();
    let names: Vec<&str> = failed.iter().map(|(n, _)| *n).collect();
    // Every claimed address in 10/8 gets through, in every header the edge reads; the
    // path spellings do not, because the mock matches the path as nginx does.
    assert_eq!(
        names,
        ["internal::get_internal_status::anonymous::client-ip-x-forwarded-for-10"],
        "{failed:#?}"
    );
    let message = failed[0].1;
    assert!(
        message.starts_with(
            "POSSIBLE PRIVILEGE ESCALATION\nPOSSIBLE BYPASS: variant `client-ip-x-forwarded-for-10` (client_ip) was granted 200 where 403 (unauthenticated) was expected\n"
        ),
        "{message}"
    );
    assert!(
        message.contains("/internal/status\n              X-Forwarded-For: 10.0.0.1\n"),
        "{message}"
    );
}

/// A `${env:…}` secret in the path never reaches a failure message, whole or with one
/// letter changed by a spelling, even when every spelling gets through and the target
/// echoes the path it was sent.
#[test]
fn a_secret_path_segment_never_reaches_a_failure_whole_or_spelled() {
    const INVITE: &str = "env-token-5b1e0c77";
    let server = RawServer::answering(|head, _| {
        let target = head.split(' ').nth(1).unwrap_or("").to_owned();
        let refused = !head.contains(VIEWER) || target == "/v1/invites/env-token-5b1e0c77";
        let (status, body) = if refused {
            ("403 Forbidden", String::new())
        } else {
            ("200 OK", format!("{{\"path\":\"{target}\"}}"))
        };
        Some(
            format!(
                "HTTP/1.1 {status}\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            )
            .into_bytes()
            .leak() as &[u8],
        )
    });
    let [a, _] = files(&server.url(), "[\"path\"]");
    let routes = "[[route]]\nrequest = \"GET /v1/invites/${env:TEST_TOKEN}\"\nallow = []\nbypass = [\"path\"]\n";
    let (_dir, suite) = suite(&[(a.0, &a.1), ("routes.toml", routes)]);
    let run = run_all(&suite);
    let failed: Vec<&str> = run
        .results
        .iter()
        .filter(|r| r.outcome == Outcome::Fail)
        .filter_map(|r| r.message.as_deref())
        .collect();
    assert!(
        failed.len() >= 3,
        "the spellings got through, so their messages quote the target: {failed:#?}"
    );
    let everything = failed.join("\n");
    assert!(everything.contains("/%761/invites/***"), "{everything}");
    for cut in 0..INVITE.len() {
        let piece = &INVITE[cut + 1..];
        if piece.len() >= 12 {
            assert!(!everything.contains(piece), "{piece} in {everything}");
        }
    }
    assert!(!everything.contains(INVITE), "{everything}");
}

/// A virtual host set by the suite is the one `Host` a raw variant sends (none over
/// HTTP/1.0), and framing headers a user set never go out beside rolecall's own.
#[test]
fn raw_variants_send_one_host_and_their_own_framing() {
    let heads = Arc::new(Mutex::new(Vec::<String>::new()));
    let log = heads.clone();
    let server = RawServer::answering(move |head, _| {
        if head.contains(VIEWER) {
            log.lock().unwrap().push(head.to_owned());
        }
        Some(b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n" as &[u8])
    });
    let [a, b] = files(&server.url(), "[\"path\", \"protocol\"]");
    let a = a.1.replace(
        &format!("bearer = \"{VIEWER}\"\n"),
        &format!(
            "bearer = \"{VIEWER}\"\nheaders = {{ Host = \"api.example.test\", Transfer-Encoding = \"chunked\", Connection = \"keep-alive\", Content-Length = \"5\" }}\n"
        ),
    );
    let (_dir, suite) = suite(&[("rolecall.toml", &a), (b.0, &b.1)]);
    let _ = run_all(&suite);
    let heads = heads.lock().unwrap();
    // The refused case itself goes through the ordinary client; its variants raw.
    let raw: Vec<&String> = heads
        .iter()
        .filter(|h| !h.starts_with("GET /v1/admin HTTP/1.1\r\n"))
        .collect();
    assert_eq!(raw.len(), 17, "{heads:#?}");
    for head in raw {
        let named = |name: &str| {
            head.lines()
                .filter(|l| {
                    l.split_once(':')
                        .is_some_and(|(n, _)| n.eq_ignore_ascii_case(name))
                })
                .count()
        };
        let http10 = head.lines().next().unwrap().ends_with("HTTP/1.0");
        if http10 {
            assert_eq!(named("host"), 0, "{head}");
        } else {
            assert_eq!(named("host"), 1, "{head}");
            assert_eq!(header(head, "host"), Some("api.example.test"), "{head}");
        }
        assert_eq!(named("transfer-encoding"), 0, "{head}");
        assert_eq!(named("content-length"), 0, "{head}");
        assert_eq!(named("connection"), 1, "{head}");
        assert_eq!(header(head, "connection"), Some("close"), "{head}");
    }
}
