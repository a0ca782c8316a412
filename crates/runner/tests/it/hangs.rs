//! Targets that accept connections and answer nothing: a hung target costs about one
//! timeout per run, whatever the mix of routes and identities, and a route that hangs
//! only for some identities is still judged per case.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rolecall_runner::{Outcome, RunOutput};
use rolecall_scenario::Suite;

use crate::raw::RawServer;
use crate::{run_all, suite};

const OK: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";

/// A suite of `routes` public routes × `identities` identities against `url`.
fn grid(
    url: &str,
    defaults: &str,
    routes: usize,
    identities: usize,
) -> (tempfile::TempDir, Arc<Suite>) {
    let identities: String = (0..identities)
        .map(|i| format!("[identities.user{i}]\nbearer = \"token-{i:04}-abcdef\"\n"))
        .collect();
    let routes: String = (0..routes)
        .map(|r| format!("[[route]]\nrequest = \"GET /r/{r}\"\npublic = true\n"))
        .collect();
    suite(&[
        (
            "rolecall.toml",
            &format!("[defaults]\n{defaults}[targets.t]\nbase_url = \"{url}\"\n{identities}"),
        ),
        ("routes.toml", &routes),
    ])
}

fn messages(run: &RunOutput) -> Vec<&str> {
    run.results
        .iter()
        .filter_map(|r| r.message.as_deref())
        .map(|m| m.lines().next().unwrap_or(""))
        .collect()
}

#[test]
fn one_route_for_200_identities_on_a_hung_target_costs_about_one_timeout() {
    let server = RawServer::answering(|_, _| None);
    // The default concurrency (64): waiting a timeout per round of 64 would take 4 s.
    let (_dir, suite) = grid(&server.url(), "timeout = \"1s\"\n", 1, 200);
    let start = Instant::now();
    let run = run_all(&suite);
    let elapsed = start.elapsed();
    assert!(
        elapsed < Duration::from_millis(2_500),
        "200 hanging cases took {elapsed:?}"
    );
    assert!(run.results.iter().all(|r| r.outcome == Outcome::Error));
    let messages = messages(&run);
    assert!(
        messages
            .iter()
            .any(|m| m.contains("within the timeout (1s; the target hangs or is too slow)")),
        "{messages:?}"
    );
    let rest = "the target answered nothing for a whole timeout (1s) while requests were in flight, so the run stopped waiting for it";
    assert!(
        messages
            .iter()
            .any(|m| *m == format!("not sent: {rest}, so the remaining cases fail at once")),
        "{messages:?}"
    );
    assert!(
        messages
            .iter()
            .all(|m| m.contains("within the timeout") || m.contains(rest)),
        "{messages:?}"
    );
    assert!(server.accepted() <= 64, "{} connections", server.accepted());
}

#[test]
fn a_hung_target_costs_about_one_timeout_whatever_the_mix_of_routes_and_identities() {
    for (routes, identities, concurrency) in [(3, 70, 8), (40, 5, 16), (200, 1, 64)] {
        let server = RawServer::answering(|_, _| None);
        let (_dir, suite) = grid(
            &server.url(),
            &format!("timeout = \"1s\"\nconcurrency = {concurrency}\n"),
            routes,
            identities,
        );
        let start = Instant::now();
        let run = run_all(&suite);
        let elapsed = start.elapsed();
        assert!(
            elapsed < Duration::from_millis(2_500),
            "{routes} routes × {identities} identities took {elapsed:?}"
        );
        assert!(run.results.iter().all(|r| r.outcome == Outcome::Error));
        assert!(server.accepted() <= concurrency);
    }
}

#[test]
fn a_target_that_hangs_after_answering_costs_about_one_timeout_more() {
    // The target answers its first 40 requests, then hangs: requests sent before it
    // stopped saw answers while they waited; the first sent after it stopped sees none.
    let server = RawServer::answering(|_, received| (received < 40).then_some(OK));
    let (_dir, suite) = grid(
        &server.url(),
        "timeout = \"1s\"\nconcurrency = 16\n",
        1,
        300,
    );
    let start = Instant::now();
    let run = run_all(&suite);
    let elapsed = start.elapsed();
    // Waiting a timeout per round of 16 would take 17 s.
    assert!(elapsed < Duration::from_millis(3_500), "took {elapsed:?}");
    let passed = run
        .results
        .iter()
        .filter(|r| r.outcome == Outcome::Pass)
        .count();
    assert_eq!(passed, 40);
    assert!(
        run.results
            .iter()
            .all(|r| matches!(r.outcome, Outcome::Pass | Outcome::Error))
    );
}

#[test]
fn a_route_that_hangs_for_some_identities_is_judged_per_case() {
    // `/slow` hangs for the `hang…` identities and answers everyone else; every other
    // route answers at once.
    let server = RawServer::answering(|head, _| {
        let hangs = head.starts_with("GET /slow ") && head.contains("Bearer hang-");
        (!hangs).then_some(OK)
    });
    let identities = "[identities.a]\nbearer = \"a-token-1\"\n[identities.b]\nbearer = \"b-token-2\"\n[identities.hang1]\nbearer = \"hang-token-1\"\n[identities.c]\nbearer = \"c-token-3\"\n[identities.hang2]\nbearer = \"hang-token-2\"\n";
    let mut routes = String::from("[[route]]\nrequest = \"GET /slow\"\npublic = true\n");
    for i in 0..40 {
        routes.push_str(&format!(
            "[[route]]\nrequest = \"GET /ok/{i}\"\npublic = true\n"
        ));
    }
    let (_dir, suite) = suite(&[
        (
            "rolecall.toml",
            &format!(
                "[defaults]\ntimeout = \"1s\"\nconcurrency = 4\n[targets.t]\nbase_url = \"{}\"\n{identities}",
                server.url()
            ),
        ),
        ("routes.toml", &routes),
    ]);
    let run = run_all(&suite);
    let errors: Vec<String> = run
        .results
        .iter()
        .filter(|r| r.outcome != Outcome::Pass)
        .map(|r| {
            format!(
                "{} {}",
                suite.cases[r.index].name,
                r.message
                    .as_deref()
                    .unwrap_or("")
                    .lines()
                    .next()
                    .unwrap_or("")
            )
        })
        .collect();
    let timeout = "no answer from http://127.0.0.1:PORT within the timeout (1s; the target hangs or is too slow)";
    let port = server.addr.port().to_string();
    let errors: Vec<String> = errors.iter().map(|e| e.replace(&port, "PORT")).collect();
    assert_eq!(
        errors,
        [
            format!("routes::get_slow::hang1 {timeout}"),
            format!("routes::get_slow::hang2 {timeout}"),
        ]
    );
}
