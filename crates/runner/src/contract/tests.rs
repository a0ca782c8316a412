//! Each built-in detector against real samples and near misses that must not fire, and
//! the shape rules against app refusals.
//!
//! Provenance of the samples (shapes kept, identifiers shortened): the Python traceback
//! is CPython's own format; the Java trace follows kevinherron/opc-ua-stack#5 and
//! mauricioaniche/ck#10; the .NET Framework trace n2cms/n2cms#197 ("in c:\Users\…:367"),
//! the .NET Core one the `:line N` form of DotNetRu/App#74; Go's panic cmu440/intro-to-go#1
//! and bcicen/grmon#8; PHP's PDO error pufferpanel/pufferpanel#178 and matomo#8306; the
//! Node, Rust, Jinja, Rails and Twig lines are the runtimes' default formats.

use std::path::PathBuf;

use regex::Regex;
use rolecall_scenario::{
    Contract, Forbidden, JsonType, Location, RequestIdRule, Requirement, TextRule,
};

use super::*;

fn at(line: u32) -> Location {
    Location {
        path: PathBuf::from("rolecall.toml"),
        line,
        column: 1,
    }
}

fn contract() -> Contract {
    Contract {
        statuses: None,
        require: vec![Requirement {
            pointer: "/code".to_owned(),
            json_type: Some(JsonType::String),
            pattern: Some(Regex::new("^[a-z_]+$").unwrap()),
            at: at(2),
        }],
        message: Some(TextRule {
            pointer: Some("/message".to_owned()),
            pattern: Some(Regex::new("may not use|another tenant").unwrap()),
            at: at(3),
        }),
        recovery: Some(TextRule {
            pointer: Some("/message".to_owned()),
            pattern: Some(Regex::new("Ask|Request|Switch").unwrap()),
            at: at(4),
        }),
        request_id: Some(RequestIdRule {
            pointer: "/request_id".to_owned(),
            at: at(5),
        }),
        forbid: vec![Forbidden {
            pattern: Regex::new("policy\\.rego").unwrap(),
            at: at(6),
        }],
        off: Vec::new(),
        tenant_vars: None,
        at: at(1),
    }
}

fn attribution(layer: Layer) -> Attribution {
    Attribution {
        layer,
        vendor: layer.as_str().to_owned(),
        evidence: Vec::new(),
        ambiguity: None,
    }
}

/// Every violation of `body`, a 403 from `layer`.
fn mismatches(layer: Layer, body: &str) -> Vec<Mismatch> {
    let tenants = ["globex".to_owned()];
    let cx = Context {
        foreign_tenants: &tenants,
        secret_at: None,
        head: false,
        sent_addresses: &[],
        sent_texts: &[],
    };
    check_contract(
        &contract(),
        &Observed::sample(403, &[("x-request-id", "req-1")], body),
        &attribution(layer),
        &cx,
    )
}

/// The messages of every violation of `body`, a 403 from `layer`.
fn violations(layer: Layer, body: &str) -> Vec<String> {
    mismatches(layer, body)
        .into_iter()
        .map(|m| m.message)
        .collect()
}

/// The detectors that fire on `body` (a 403 from a server, so only leaks count).
#[track_caller]
fn fires(body: &str) -> Vec<String> {
    mismatches(Layer::Server, body)
        .into_iter()
        .map(|m| {
            m.expected
                .strip_prefix("no ")
                .unwrap_or(&m.expected)
                .to_owned()
        })
        .collect()
}

#[track_caller]
fn check(body: &str, expected: &[&str]) {
    assert_eq!(fires(body), expected, "body: {body}");
}

#[test]
fn stack_traces_of_every_runtime() {
    let samples = [
        "Traceback (most recent call last):\n  File \"app.py\", line 12, in view\nKeyError: 'x'",
        "Exception in thread \"main\" java.lang.NullPointerException\n    at com.example.server.ServerExample.<init>(ServerExample.java:27)",
        "java.lang.IllegalStateException: no\n\tat com.github.ck.FileUtils.getAllDirs(FileUtils.java:23)",
        "[NullReferenceException: Object reference not set]\n   N2.Collections.TraverseHelper.Path(String path) in c:\\Web\\TraverseHelper.cs:367",
        "System.NullReferenceException: x\n   at Acme.Api.Controllers.ProjectsController.Get() in C:\\build\\ProjectsController.cs:line 5",
        "TypeError: Cannot read properties of undefined (reading 'id')\n    at authorize (/srv/api/policy.js:14:22)",
        "panic: runtime error: invalid memory address or nil pointer dereference\n\ngoroutine 1 [running]:\nmain.main()",
        "thread 'tokio-runtime-worker' panicked at src/authz.rs:41:9:\ncalled `Option::unwrap()` on a `None` value",
        "PHP Fatal error:  Uncaught Error: Call to a member function can() on null in /var/www/html/authz.php:33",
    ];
    for sample in samples {
        let fired = fires(sample);
        assert!(
            fired.contains(&"stack_trace".to_owned()),
            "{sample}: {fired:?}"
        );
    }
}

#[test]
fn database_and_template_errors() {
    check(
        "SQLSTATE[42S22]: Column not found: 1054 Unknown column 'password' in 'field list'",
        &["sql_error"],
    );
    check("ORA-00942: table or view does not exist", &["sql_error"]);
    check(
        "PG::UndefinedTable: ERROR:  relation \"grants\" does not exist",
        &["sql_error"],
    );
    check(
        "psycopg2.errors.UndefinedColumn: column \"role\" does not exist",
        &["sql_error"],
    );
    check(
        "SequelizeDatabaseError: relation \"Users\" does not exist",
        &["sql_error"],
    );
    check(
        "You have an error in your SQL syntax; check the manual that corresponds to your MySQL server version for the right syntax",
        &["sql_error"],
    );
    check(
        "jinja2.exceptions.UndefinedError: 'user' is undefined",
        &["template_error"],
    );
    check(
        "ActionView::Template::Error (undefined method `admin?')",
        &["template_error"],
    );
    check(
        "Twig\\Error\\RuntimeError: Variable \"tenant\" does not exist",
        &["template_error"],
    );
}

#[test]
fn hosts_addresses_and_paths() {
    check(
        "upstream authz.prod.svc.cluster.local refused",
        &["internal_host"],
    );
    check("served by ip-10-0-3-17.ec2.internal", &["internal_host"]);
    check("db.corp answered", &["internal_host"]);
    check("policy server at 10.12.0.5:8181", &["private_address"]);
    check("peer 172.20.1.9", &["private_address"]);
    check("from 192.168.1.20", &["private_address"]);
    check("node fd12:3456:789a:1::1 refused", &["private_address"]);
    check("open /home/deploy/app/config.yml", &["file_path"]);
    check("in \"/usr/src/app/lib/authz.js\"", &["file_path"]);
    check("C:\\Users\\svc\\AppData\\policy.json", &["file_path"]);
}

#[test]
fn near_misses_do_not_fire() {
    for body in [
        // Versions, public and reserved addresses, loopback.
        "nginx/10.0.3 (Debian); API v10.1.2.3; build 192.168.1.20.4",
        "Your IP: 203.0.113.7 (documentation range); 8.8.8.8; 127.0.0.1; 172.32.0.1",
        // Words that look like trace or SQL keywords.
        "Ask your administrator. Please panic: not. File a request at the help desk.",
        "at the request of an administrator (see our policy)",
        "The ORA-123 and SQLSTATE are words here.",
        // Routes and URLs, not server paths; hosts that are public.
        "Go back to /home/dashboard or https://docs.acme.test/var/www/help",
        "See https://status.acme.test and https://app.acme.example",
        "document.location and localhost are fine",
        // Another tenant's name inside a longer word.
        "globexcorp and preglobex are other words",
        // A well-formed app refusal.
        r#"{"code":"insufficient_role","message":"Your account may not use GET /v1/projects. Ask an administrator.","request_id":"req-1"}"#,
    ] {
        check(body, &[]);
    }
}

#[test]
fn another_tenants_identifier_and_forbidden_patterns() {
    check("project p-7 belongs to globex", &["foreign_tenant"]);
    check(
        "see policy.rego line 12",
        &["nothing matching /policy\\.rego/"],
    );
}

#[test]
fn a_leaked_secret_is_quoted_redacted() {
    let tenants = Vec::new();
    let cx = Context {
        foreign_tenants: &tenants,
        secret_at: Some(6),
        head: false,
        sent_addresses: &[],
        sent_texts: &[],
    };
    // The runner redacts before checking; the detector quotes the marker.
    let found = check_contract(
        &contract(),
        &Observed::sample(401, &[], "token *** is not valid here"),
        &attribution(Layer::Waf),
        &cx,
    );
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].kind, MismatchKind::Leak);
    assert_eq!(
        found[0].message,
        "refusal leaks one of the run's secrets, in any encoding (secret): `token *** is not valid here`"
    );
    assert_eq!(found[0].location, at(1));
}

#[test]
fn app_refusals_must_have_the_declared_shape() {
    let good = r#"{"code":"insufficient_role","message":"Your account may not use GET /v1/x. Ask an administrator.","request_id":"req-1"}"#;
    assert_eq!(violations(Layer::App, good), Vec::<String>::new());
    assert_eq!(
        violations(
            Layer::App,
            r#"{"code":403,"message":"Forbidden","request_id":"other"}"#
        ),
        [
            "deny-body contract: `/code` is `403`, expected a string",
            "deny-body contract: `/message` does not say which boundary refused: `Forbidden` does not match /may not use|another tenant/",
            "deny-body contract: `/message` does not say how to recover: `Forbidden` does not match /Ask|Request|Switch/",
            "deny-body contract: `/request_id` is `other`, not the request id `req-1` of x-request-id",
        ]
    );
    assert_eq!(
        violations(Layer::App, "Forbidden"),
        [
            "deny-body contract: the refusal is not JSON, and must carry `/code`",
            "deny-body contract: the refusal has no `/message` (which boundary refused)",
            "deny-body contract: the refusal has no `/message` (how to recover)",
            "deny-body contract: the refusal does not echo the request id in `/request_id`",
        ]
    );
    // Shape rules are for the app: an edge page is only checked for leaks.
    assert_eq!(violations(Layer::Cdn, "Forbidden"), Vec::<String>::new());
}

#[test]
fn excerpts_are_bounded_and_on_one_line() {
    let body = format!(
        "{}Traceback (most recent call last)\n\n{}",
        "a".repeat(500),
        "b".repeat(500)
    );
    let found = violations(Layer::Server, &body);
    let quote = found[0].split_once(": ").unwrap().1;
    assert!(
        quote.starts_with("`…a") && quote.ends_with("b…`"),
        "{quote}"
    );
    assert!(
        quote.chars().count() < 200 && !quote.contains('\n'),
        "{quote}"
    );
}

#[test]
fn an_address_the_request_sent_is_not_a_leak_when_echoed_back() {
    let tenants = Vec::new();
    let sent = ["10.0.0.1".parse().unwrap()];
    let cx = Context {
        foreign_tenants: &tenants,
        secret_at: None,
        head: false,
        sent_addresses: &sent,
        sent_texts: &[],
    };
    let body = "Your IP: 10.0.0.1";
    let echoed = check_contract(
        &contract(),
        &Observed::sample(403, &[], body),
        &attribution(Layer::Cdn),
        &cx,
    );
    assert!(echoed.is_empty(), "{echoed:?}");
    // Another private address in the same page still is.
    let body = "Your IP: 10.0.0.1, served by 10.0.0.2";
    let other = check_contract(
        &contract(),
        &Observed::sample(403, &[], body),
        &attribution(Layer::Cdn),
        &cx,
    );
    assert_eq!(other.len(), 1, "{other:?}");
    assert!(
        other[0].message.contains("10.0.0.2"),
        "{}",
        other[0].message
    );
}

#[test]
fn a_head_refusal_has_no_body_to_hold_to_the_shape_rules_but_leaks_still_count() {
    let tenants = Vec::new();
    let cx = Context {
        foreign_tenants: &tenants,
        secret_at: None,
        head: true,
        sent_addresses: &[],
        sent_texts: &[],
    };
    let empty = check_contract(
        &contract(),
        &Observed::sample(403, &[("x-request-id", "req-1")], ""),
        &attribution(Layer::App),
        &cx,
    );
    assert!(empty.is_empty(), "{empty:?}");
    let get = Context { head: false, ..cx };
    let shaped = check_contract(
        &contract(),
        &Observed::sample(403, &[("x-request-id", "req-1")], ""),
        &attribution(Layer::App),
        &get,
    );
    assert!(
        !shaped.is_empty(),
        "the same empty refusal to a GET breaks the contract"
    );
}

/// Leaks found in `body`, a 403 from the server, when the request sent `sent_texts`.
fn leaks_when_sent(body: &str, sent_texts: &[String]) -> Vec<String> {
    let cx = Context {
        foreign_tenants: &[],
        secret_at: None,
        head: false,
        sent_addresses: &[],
        sent_texts,
    };
    check_contract(
        &contract(),
        &Observed::sample(403, &[("x-request-id", "req-1")], body),
        &attribution(Layer::Server),
        &cx,
    )
    .into_iter()
    .filter(|m| m.kind == MismatchKind::Leak)
    .map(|m| m.message)
    .collect()
}

#[test]
fn the_targets_host_and_the_requests_path_are_not_leaks_when_echoed() {
    let apache = "<address>Apache/2.4.62 (Debian) Server at api.staging.internal Port 80</address>";
    let json = r#"{"error":"forbidden","path":"/home/feed/x"}"#;
    // Not sent, they are leaks: the detectors fire on these pages.
    assert!(
        leaks_when_sent(apache, &[])
            .iter()
            .any(|m| m.contains("internal_host")),
        "{:?}",
        leaks_when_sent(apache, &[])
    );
    assert!(
        leaks_when_sent(json, &[])
            .iter()
            .any(|m| m.contains("file_path")),
        "{:?}",
        leaks_when_sent(json, &[])
    );
    let sent = ["api.staging.internal".to_owned(), "/home/feed/x".to_owned()];
    assert_eq!(leaks_when_sent(apache, &sent), Vec::<String>::new());
    assert_eq!(leaks_when_sent(json, &sent), Vec::<String>::new());
    // Another internal name on the same page still is one.
    let both = format!("{apache} upstream db.prod.internal");
    assert_eq!(leaks_when_sent(&both, &sent).len(), 1);
}

#[test]
fn a_leaked_secret_is_quoted_where_it_was() {
    let body = format!("masked *** by design;{} token *** here", " ".repeat(100));
    let at = body.rfind("***").unwrap();
    let cx = Context {
        foreign_tenants: &[],
        secret_at: Some(at),
        head: false,
        sent_addresses: &[],
        sent_texts: &[],
    };
    let found = check_contract(
        &contract(),
        &Observed::sample(401, &[], &body),
        &attribution(Layer::Waf),
        &cx,
    );
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].message.contains("token ***"),
        "{}",
        found[0].message
    );
    assert!(!found[0].message.contains("masked"), "{}", found[0].message);
}

#[test]
fn a_targets_host_is_its_address_where_it_is_one() {
    use super::host_ip;
    let ip = |s: &str| Some(s.parse().unwrap());
    assert_eq!(host_ip("10.0.0.5"), ip("10.0.0.5"));
    assert_eq!(host_ip("10.0.0.5:8080"), ip("10.0.0.5"));
    assert_eq!(host_ip("[fd00::5]"), ip("fd00::5"));
    assert_eq!(host_ip("[fd00::5]:443"), ip("fd00::5"));
    assert_eq!(host_ip("fd00::1:5"), ip("fd00::1:5"));
    assert_eq!(host_ip("api.staging.internal:80"), None);
}
