//! No secret value reaches a result, a message or a report, even when the target echoes it.

use crate::server::{SESSION_COOKIE, SESSION_TOKEN, TestServer};
use crate::{run_all, suite};

#[test]
fn results_and_reports_never_contain_secrets() {
    let server = TestServer::start();
    let suite_file = format!(
        r#"
[targets.t]
base_url = "{}"
allow_mutations = true   # the login flow POSTs
[identities.anonymous]
[identities.env_bearer]
bearer = "${{env:TEST_TOKEN}}"
[identities.basic]
basic = {{ username = "alice", password = "${{env:TEST_PASSWORD}}" }}
[identities.jwt]
jwt = {{ secret = "jwt-signing-secret-31", claims = {{ role = "admin" }} }}
[identities.session]
login = {{ request = "POST /login", token = "/access_token", cookie = "sid" }}
"#,
        server.url()
    );
    // Every case fails: the echo route answers 200 to everyone, including those who must
    // be refused, and echoes the Authorization header; /whoami echoes session secrets.
    let routes = "[[route]]\nrequest = \"GET /echo\"\nallow = [\"session\"]\n[[route]]\nrequest = \"GET /whoami\"\nallow = [\"env_bearer\"]\n";
    let (_dir, suite) = suite(&[("rolecall.toml", &suite_file), ("routes.toml", routes)]);
    let run = run_all(&suite);
    assert!(
        run.results
            .iter()
            .filter(|r| r.outcome == rolecall_runner::Outcome::Fail)
            .count()
            >= 6
    );
    let minted: Vec<String> = server
        .seen()
        .iter()
        .filter_map(|s| {
            s.header("authorization")
                .map(|a| a.split_once(' ').map_or(a, |(_, v)| v).to_owned())
        })
        .collect();
    assert!(
        minted.iter().any(|t| t.matches('.').count() == 2),
        "no JWT was sent: {minted:?}"
    );
    assert!(
        minted.iter().any(|t| t == SESSION_TOKEN),
        "the login flow did not run: {minted:?}"
    );
    let mut secrets: Vec<String> = vec![
        "env-token-5b1e0c77".into(),
        "env-password-9d2f".into(),
        "jwt-signing-secret-31".into(),
        SESSION_TOKEN.into(),
        SESSION_COOKIE.into(),
    ];
    secrets.extend(minted);
    let mut everything = rolecall_runner::json_report(&suite, &run);
    for r in &run.results {
        everything.push_str(r.message.as_deref().unwrap_or(""));
        if let Some(o) = &r.observed {
            everything.push_str(&o.body);
            for (_, v) in &o.headers {
                everything.push_str(v);
            }
        }
    }
    assert!(
        everything.contains("***"),
        "nothing was redacted, so nothing was tested"
    );
    for secret in &secrets {
        assert!(
            !everything.contains(secret.as_str()),
            "secret `{secret}` leaked"
        );
    }
}

#[test]
fn errors_never_contain_secrets_either() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let suite_file = format!(
        "[targets.t]\nbase_url = \"http://127.0.0.1:{port}\"\n[identities.a]\nbearer = \"a-token-1234\"\nvars = {{ key = \"${{env:TEST_TOKEN}}\" }}\n"
    );
    let routes = "[[route]]\nrequest = \"GET /v1/{key}/x\"\nallow = [\"a\"]\n";
    let (_dir, suite) = suite(&[("rolecall.toml", &suite_file), ("routes.toml", routes)]);
    let run = run_all(&suite);
    assert_eq!(run.results[0].outcome, rolecall_runner::Outcome::Error);
    let mut everything = rolecall_runner::json_report(&suite, &run);
    everything.push_str(run.results[0].message.as_deref().unwrap());
    assert!(everything.contains("/v1/***/x"), "{everything}");
    assert!(!everything.contains("env-token-5b1e0c77"), "{everything}");
}
