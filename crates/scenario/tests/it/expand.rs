//! Expansion: every route yields one case per identity, with the expected decision.

use std::fmt::Write as _;

use rolecall_scenario::{Decision, Suite};

use crate::{no_env, suite_dir};

const SUITE: &str = r#"
[defaults]
deny = 403
[vars]
tenant = "acme"
other = "globex"
[targets.local]
base_url = "http://127.0.0.1:9"
[identities.anonymous]
[identities.viewer]
bearer = "viewer-token-1234"
[identities.admin]
jwt = { secret = "jwt-secret-value", claims = { role = "admin" } }
[identities.expired_admin]
extends = "admin"
jwt.defect = "expired"
[identities.globex_admin]
extends = "admin"
vars = { tenant = "globex", other = "acme" }
[groups]
admins = ["admin", "globex_admin"]
"#;

fn expand(routes: &str) -> Suite {
    let dir = suite_dir(&[("rolecall.toml", SUITE), ("api/routes.toml", routes)]);
    rolecall_scenario::load(dir.path(), &no_env()).unwrap_or_else(|e| panic!("{e}"))
}

/// Renders each case as `name path status decision`.
#[track_caller]
fn check(routes: &str, expected: &str) {
    let suite = expand(routes);
    let mut out = String::new();
    for case in &suite.cases {
        let route = suite.route(case);
        writeln!(
            out,
            "{} {} {} {} {}",
            case.name,
            route.method,
            case.path,
            case.expect.status,
            case.expect.decision.as_str()
        )
        .unwrap();
    }
    let expected: String = expected
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(out, expected);
}

#[test]
fn everyone_not_allowed_is_refused() {
    check(
        r#"
        [[route]]
        request = "DELETE /v1/projects/1"
        allow = ["admin"]
        "#,
        "
        api::routes::delete_v1_projects_1::anonymous DELETE /v1/projects/1 401 unauthenticated
        api::routes::delete_v1_projects_1::viewer DELETE /v1/projects/1 403 deny
        api::routes::delete_v1_projects_1::admin DELETE /v1/projects/1 2xx allow
        api::routes::delete_v1_projects_1::expired_admin DELETE /v1/projects/1 401 unauthenticated
        api::routes::delete_v1_projects_1::globex_admin DELETE /v1/projects/1 403 deny
        ",
    );
}

#[test]
fn tenant_isolation_uses_identity_variables() {
    check(
        r#"
        [[route]]
        name = "own"
        request = "GET /t/{tenant}/p"
        allow = ["admins", "viewer"]
        status = 200

        [[route]]
        name = "other"
        request = "GET /t/{other}/p"
        deny = 404
        "#,
        "
        api::routes::own::anonymous GET /t/acme/p 401 unauthenticated
        api::routes::own::viewer GET /t/acme/p 200 allow
        api::routes::own::admin GET /t/acme/p 200 allow
        api::routes::own::expired_admin GET /t/acme/p 401 unauthenticated
        api::routes::own::globex_admin GET /t/globex/p 200 allow
        api::routes::other::anonymous GET /t/globex/p 401 unauthenticated
        api::routes::other::viewer GET /t/globex/p 404 deny
        api::routes::other::admin GET /t/globex/p 404 deny
        api::routes::other::expired_admin GET /t/globex/p 401 unauthenticated
        api::routes::other::globex_admin GET /t/acme/p 404 deny
        ",
    );
}

#[test]
fn explicit_cases_override_and_public_routes_allow_everyone() {
    check(
        r#"
        [[route]]
        request = "GET /health"
        public = true

        [[route]]
        request = "GET /v1/admin"
        allow = ["admin"]
        [[route.case]]
        identities = ["viewer", "globex_admin"]
        status = 404
        [[route.case]]
        identity = "anonymous"
        status = 302
        redirect = "/login"
        "#,
        "
        api::routes::get_health::anonymous GET /health 2xx allow
        api::routes::get_health::viewer GET /health 2xx allow
        api::routes::get_health::admin GET /health 2xx allow
        api::routes::get_health::expired_admin GET /health 2xx allow
        api::routes::get_health::globex_admin GET /health 2xx allow
        api::routes::get_v1_admin::anonymous GET /v1/admin 302 unauthenticated
        api::routes::get_v1_admin::viewer GET /v1/admin 404 deny
        api::routes::get_v1_admin::admin GET /v1/admin 2xx allow
        api::routes::get_v1_admin::expired_admin GET /v1/admin 401 unauthenticated
        api::routes::get_v1_admin::globex_admin GET /v1/admin 404 deny
        ",
    );
}

#[test]
fn identities_inherit_and_secrets_are_collected() {
    let suite = expand("[[route]]\nrequest = \"GET /a\"\nallow = [\"admin\"]\n");
    let expired = &suite.identities[3];
    assert_eq!(expired.name, "expired_admin");
    assert!(!expired.authenticated);
    let jwt = expired.credentials.jwt.as_ref().unwrap();
    assert!(jwt.expires_in < 0);
    assert_eq!(jwt.claims["role"], "admin");
    assert_eq!(jwt.alg, "HS256");
    assert_eq!(
        suite.secrets.redact("viewer-token-1234 jwt-secret-value"),
        "*** ***"
    );
    assert_eq!(
        format!("{:?}", suite.identities[1].credentials.bearer),
        "Some(***)"
    );
    let anonymous = &suite.identities[0];
    assert!(!anonymous.authenticated);
    assert_eq!(suite.cases[0].expect.decision, Decision::Unauthenticated);
    assert!(suite.cases[0].expect.www_authenticate);
}

#[test]
fn env_values_are_interpolated_and_secret() {
    let dir = suite_dir(&[
        (
            "rolecall.toml",
            "[targets.prod]\nbase_url = \"${env:URL}\"\n[identities.a]\nbearer = \"x-${env:TOKEN}\"\nheaders = { Literal = \"$${env:TOKEN}\" }\n",
        ),
        (
            "r.toml",
            "[[route]]\nrequest = \"GET /a\"\nallow = [\"a\"]\n",
        ),
    ]);
    let options = rolecall_scenario::LoadOptions::new().env(|name| match name {
        "URL" => Some("http://127.0.0.1:8080/".to_owned()),
        "TOKEN" => Some("tok-from-env".to_owned()),
        _ => None,
    });
    let suite = rolecall_scenario::load(dir.path(), &options).unwrap();
    assert_eq!(
        suite.target.endpoint,
        rolecall_scenario::Endpoint::BaseUrl("http://127.0.0.1:8080".to_owned())
    );
    let identity = &suite.identities[0];
    assert_eq!(
        identity.credentials.bearer.as_ref().unwrap().expose(),
        "x-tok-from-env"
    );
    assert_eq!(
        identity.credentials.headers,
        [("Literal".to_owned(), "${env:TOKEN}".to_owned())]
    );
    assert_eq!(suite.secrets.redact("tok-from-env"), "***");
}

#[test]
fn example_suite_loads() {
    let suite = rolecall_scenario::load(
        &crate::manifest_dir().join("../../scenarios"),
        &rolecall_scenario::LoadOptions::new(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        suite.cases.len(),
        suite.routes.len() * suite.identities.len()
    );
    let mut names: Vec<_> = suite.cases.iter().map(|c| &c.name).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), suite.cases.len(), "case names are unique");
}
