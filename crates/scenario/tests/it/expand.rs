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
    // One case per identity × route; on an owner route one per identity × owner (the
    // three document owners of objects.toml), less each owner's own on its `others_only`
    // DELETE; the bypass variants of the refusals opted in; and a journey's steps are
    // routes walked by its identities only.
    let steps: usize = suite.journeys.iter().map(|j| j.steps.len()).sum();
    let base: Vec<_> = suite
        .cases
        .iter()
        .filter(|c| c.variant.is_none() && c.journey.is_none())
        .collect();
    let owner_routes: std::collections::BTreeSet<usize> = base
        .iter()
        .filter(|c| c.owner.is_some())
        .map(|c| c.route)
        .collect();
    let identities = suite.identities.len();
    assert_eq!(owner_routes.len(), 3);
    assert_eq!(
        base.iter().filter(|c| c.owner.is_none()).count(),
        (suite.routes.len() - steps - owner_routes.len()) * identities
    );
    assert_eq!(
        base.iter().filter(|c| c.owner.is_some()).count(),
        3 * identities * 3 - 3
    );
    let walked: Vec<&str> = suite
        .cases
        .iter()
        .filter(|c| c.journey.is_some())
        .map(|c| c.name.as_str())
        .collect();
    assert!(
        walked.contains(&"journeys::launch::editor::export"),
        "{walked:?}"
    );
    assert!(steps >= 3, "the example journey has at least three steps");
    assert!(suite.cases.iter().any(|c| c.variant.is_some()));
    let mut names: Vec<_> = suite.cases.iter().map(|c| &c.name).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), suite.cases.len(), "case names are unique");
}

fn env_options() -> rolecall_scenario::LoadOptions {
    rolecall_scenario::LoadOptions::new().env(|name| match name {
        "TENANT" => Some("tenant-from-env".to_owned()),
        "API_KEY" => Some("key-from-env-7781".to_owned()),
        "SHORT" => Some("ab".to_owned()),
        "REGION" => Some("eu".to_owned()),
        _ => None,
    })
}

const ENV_SUITE: &str = "[targets.t]\nbase_url = \"http://127.0.0.1:9\"\n[identities.a]\nbearer = \"token-of-a-1234\"\n";

#[test]
fn names_come_from_the_request_as_written_never_from_the_environment() {
    let dir = suite_dir(&[
        ("rolecall.toml", ENV_SUITE),
        (
            "r.toml",
            "[[route]]\nrequest = \"GET /v1/${env:TENANT}/projects?key=${env:API_KEY}\"\nallow = [\"a\"]\n",
        ),
    ]);
    let suite =
        rolecall_scenario::load(dir.path(), &env_options()).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = suite.cases.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["r::get_v1_env_tenant_projects::a"]);
    // The value is what is sent.
    assert_eq!(
        suite.routes[0].path,
        "/v1/tenant-from-env/projects?key=key-from-env-7781"
    );
    assert_eq!(suite.routes[0].name, "get_v1_env_tenant_projects");
}

#[test]
fn a_route_name_cannot_read_the_environment() {
    let dir = suite_dir(&[
        ("rolecall.toml", ENV_SUITE),
        (
            "r.toml",
            "[[route]]\nname = \"${env:TENANT}\"\nrequest = \"GET /a\"\nallow = [\"a\"]\n",
        ),
    ]);
    let error = rolecall_scenario::load(dir.path(), &env_options()).unwrap_err();
    let found: Vec<(u32, u32, &str)> = error
        .diagnostics()
        .iter()
        .map(|d| (d.line, d.column, d.message.as_str()))
        .collect();
    assert_eq!(found, [(2, 8, "a route name cannot read the environment")]);
    assert!(
        !error
            .render(rolecall_scenario::RenderStyle::Plain)
            .contains("tenant-from-env")
    );
}

#[test]
fn a_short_credential_from_the_environment_is_refused_where_it_is_read() {
    let dir = suite_dir(&[
        (
            "rolecall.toml",
            "[targets.t]\nbase_url = \"http://127.0.0.1:9\"\n[identities.a]\nbearer = \"${env:SHORT}\"\nvars = { region = \"${env:REGION}\" }\n",
        ),
        (
            "r.toml",
            "[[route]]\nrequest = \"GET /{region}\"\nallow = [\"a\"]\n",
        ),
    ]);
    let error = rolecall_scenario::load(dir.path(), &env_options()).unwrap_err();
    let found: Vec<(u32, u32, &str)> = error
        .diagnostics()
        .iter()
        .map(|d| (d.line, d.column, d.message.as_str()))
        .collect();
    // The short region is no credential: only the bearer token is refused.
    assert_eq!(
        found,
        [(
            4,
            10,
            "credential of 2 bytes is too short to keep out of the output"
        )]
    );
}

#[test]
fn credential_headers_and_login_passwords_are_secrets_wherever_they_are_set() {
    let dir = suite_dir(&[
        (
            "rolecall.toml",
            "[defaults]\nheaders = { X-Suite-Key = \"suite-key-0042\", Accept = \"application/json\" }\n[targets.t]\nbase_url = \"http://127.0.0.1:9\"\nallow_mutations = true\n[identities.a]\nheaders = { X-Auth-Token = \"abc123-literal\", Authorization = \"Basic YWxpY2U6czNjcmV0L3B3\" }\nlogin = { request = \"POST /login\", body.form = { user = \"alice\", password = \"login-password-9\" }, cookie = \"sid\" }\n",
        ),
        (
            "r.toml",
            "[[route]]\nrequest = \"GET /a\"\nheaders = { Cookie = \"theme=dark; sid=route-cookie-55\" }\nallow = [\"a\"]\n",
        ),
    ]);
    let suite = rolecall_scenario::load(dir.path(), &no_env()).unwrap_or_else(|e| panic!("{e}"));
    let secrets = &suite.secrets;
    assert_eq!(
        secrets.redact(
            "suite-key-0042 abc123-literal alice:s3cret/pw s3cret/pw login-password-9 route-cookie-55"
        ),
        "*** *** *** *** *** ***"
    );
    // Neither ordinary headers nor user names are secrets.
    assert_eq!(
        secrets.redact("application/json alice"),
        "application/json alice"
    );
}

#[test]
fn bypass_variants_follow_the_refused_case_where_opted_in() {
    let names = |suite_defaults: &str, routes: &str| -> Vec<String> {
        let suite_file = SUITE.replacen(
            "[defaults]\n",
            &format!("[defaults]\n{suite_defaults}\n"),
            1,
        );
        let dir = suite_dir(&[("rolecall.toml", &suite_file), ("routes.toml", routes)]);
        let suite =
            rolecall_scenario::load(dir.path(), &no_env()).unwrap_or_else(|e| panic!("{e}"));
        suite
            .cases
            .iter()
            .filter(|c| c.variant.is_some())
            .map(|c| c.name.clone())
            .collect()
    };
    let route = "[[route]]\nrequest = \"GET /a\"\nallow = [\"admins\"]\n";
    // Off by default.
    assert!(names("", route).is_empty());
    // Suite-wide: every refused identity (anonymous 401, viewer 403, expired_admin 401).
    assert_eq!(
        names("bypass = [\"protocol\"]", route),
        [
            "routes::get_a::anonymous::protocol-http10-no-host",
            "routes::get_a::viewer::protocol-http10-no-host",
            "routes::get_a::expired_admin::protocol-http10-no-host",
        ]
    );
    // A route opts out, one case opts back in with another family; a 2xx case never.
    let routes = format!(
        "{route}bypass = false\n[[route.case]]\nidentity = \"viewer\"\nstatus = 404\nbypass = [\"method\"]\n[[route.case]]\nidentity = \"anonymous\"\nstatus = 200\nbypass = true\n"
    );
    assert_eq!(
        names("bypass = true", &routes),
        [
            "routes::get_a::viewer::method-head",
            "routes::get_a::viewer::method-post",
            "routes::get_a::viewer::method-override-x-http-method-override",
            "routes::get_a::viewer::method-override-x-http-method",
            "routes::get_a::viewer::method-override-x-method-override",
            "routes::get_a::viewer::method-override-param",
        ]
    );
    // Every family, on a path of one segment (no inner `//`).
    let all = names("", &format!("{route}bypass = true\n"));
    assert_eq!(all.len(), 3 * (15 + 6 + 3 + 24 + 1));
}
