//! The policy-driven mock app: credentials, roles, scopes, tenants, concealment, CSRF and
//! the login flow.

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rolecall_scenario::Layer;
use serde_json::{Value, json};

use crate::support::{Edge, Reply, snapshot_text};

const SECRET: &str = "test-secret";

fn app(extra: &str) -> String {
    format!(
        r#"
[origin.app]
realm = "projects"
{extra}
[origin.app.jwt]
secret = "{SECRET}"
issuer = "https://auth.example"
audience = ["api"]

[[origin.app.token]]
bearer = "viewer-token"
sub = "viewer"
roles = ["viewer"]
scopes = ["projects:read"]
tenant = "acme"

[[origin.app.token]]
api_key = "ci-key"
sub = "ci"
roles = ["automation"]
tenant = "acme"

[[origin.app.user]]
username = "ann"
password = "pw"
roles = ["admin"]
tenant = "acme"

[origin.app.login]
path = "/v1/login"
cookie = "session"

[origin.app.csrf]
allowed_origins = ["https://app.example.com"]

[[origin.app.route]]
request = "GET /v1/health"
public = true

[[origin.app.route]]
request = "GET /v1/tenants/{{tenant}}/projects"
roles = ["viewer", "admin"]
tenant_param = "tenant"

[[origin.app.route]]
request = "GET /v1/tenants/{{tenant}}/secrets"
roles = ["admin"]
tenant_param = "tenant"
conceal = true

[[origin.app.route]]
request = "GET /v1/reports"
scopes = ["reports:read"]

[[origin.app.route]]
request = "POST /v1/projects/{{id}}/archive"
roles = ["admin"]
"#
    )
}

async fn edge() -> Edge {
    Edge::start(&app("")).await
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn claims() -> Value {
    json!({"sub": "u1", "role": "admin", "tenant": "acme", "iss": "https://auth.example", "aud": "api", "exp": now() + 600})
}

fn hs256(claims: &Value, secret: &str) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

#[track_caller]
fn assert_invalid_token(reply: &Reply, description: &str) {
    assert_eq!(reply.status, 401, "{}", reply.text());
    let challenge = reply.header("www-authenticate").unwrap();
    assert_eq!(
        challenge,
        format!(
            "Bearer realm=\"projects\", error=\"invalid_token\", error_description=\"{description}\""
        )
    );
    assert_eq!(reply.json()["code"], "invalid_token");
}

#[tokio::test]
async fn a_good_jwt_is_allowed_and_echoed() {
    let edge = edge().await;
    let token = hs256(&claims(), SECRET);
    let reply = edge
        .send(
            "GET",
            "/v1/tenants/acme/projects",
            &[("Authorization", &bearer(&token))],
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let body = reply.json();
    assert_eq!(body["route"], "GET /v1/tenants/{tenant}/projects");
    assert_eq!(
        (body["sub"].as_str(), body["tenant"].as_str()),
        (Some("u1"), Some("acme"))
    );
    assert_eq!(body["params"]["tenant"], "acme");
    assert_eq!(body["request_id"].as_str(), reply.header("x-request-id"));
}

#[tokio::test]
async fn bad_jwts_get_401_with_a_reason() {
    let edge = edge().await;
    let send = |token: String| {
        let edge = &edge;
        async move {
            edge.send(
                "GET",
                "/v1/tenants/acme/projects",
                &[("Authorization", &bearer(&token))],
            )
            .await
        }
    };
    let mut expired = claims();
    expired["exp"] = json!(now() - 60);
    assert_invalid_token(
        &send(hs256(&expired, SECRET)).await,
        "the token has expired",
    );

    let mut early = claims();
    early["nbf"] = json!(now() + 600);
    assert_invalid_token(
        &send(hs256(&early, SECRET)).await,
        "the token is not valid yet",
    );

    let mut wrong_aud = claims();
    wrong_aud["aud"] = json!("other");
    assert_invalid_token(
        &send(hs256(&wrong_aud, SECRET)).await,
        "the token is meant for another audience",
    );

    let mut wrong_iss = claims();
    wrong_iss["iss"] = json!("https://evil.example");
    assert_invalid_token(
        &send(hs256(&wrong_iss, SECRET)).await,
        "the token comes from an issuer that is not trusted",
    );

    assert_invalid_token(
        &send(hs256(&claims(), "wrong-secret")).await,
        "the token signature is invalid",
    );

    let mut no_exp = claims();
    no_exp.as_object_mut().unwrap().remove("exp");
    assert_invalid_token(
        &send(hs256(&no_exp, SECRET)).await,
        "the token has no exp claim",
    );

    // alg: none, unsigned.
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let unsigned = format!(
        "{}.{}.",
        b64.encode(r#"{"alg":"none","typ":"JWT"}"#),
        b64.encode(claims().to_string())
    );
    assert_invalid_token(&send(unsigned).await, "the token is malformed");

    // HS384 is a fine algorithm but not the one configured.
    let hs384 = jsonwebtoken::encode(
        &Header::new(Algorithm::HS384),
        &claims(),
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap();
    assert_invalid_token(&send(hs384).await, "the token algorithm is not accepted");
    let refusal = edge.last_refusal();
    assert_eq!(
        (refusal.layer, refusal.status, refusal.rule.as_str()),
        (Layer::App, 401, "invalid_token")
    );
}

#[tokio::test]
async fn missing_credentials_are_challenged() {
    let edge = edge().await;
    let reply = edge.send("GET", "/v1/tenants/acme/projects", &[]).await;
    assert_eq!(reply.status, 401);
    assert_eq!(
        reply.header_all("www-authenticate"),
        ["Bearer realm=\"projects\"", "Basic realm=\"projects\""]
    );
    insta::assert_snapshot!("app_401_unauthenticated", snapshot_text(&reply));
}

#[tokio::test]
async fn public_key_jwts_verify() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/fixtures/keys/");
    for (alg, public, private) in [
        (Algorithm::RS256, "rs256.pub.pem", "rs256-test-only.key.pem"),
        (Algorithm::ES256, "es256.pub.pem", "es256-test-only.key.pem"),
    ] {
        let toml = format!(
            "[origin.app.jwt]\npublic_key_file = \"keys/{public}\"\n[[origin.app.route]]\nrequest = \"GET /me\"\n"
        );
        let edge = Edge::start(&toml).await;
        let pem = std::fs::read(format!("{dir}{private}")).unwrap();
        let key = match alg {
            Algorithm::RS256 => EncodingKey::from_rsa_pem(&pem).unwrap(),
            _ => EncodingKey::from_ec_pem(&pem).unwrap(),
        };
        let token = jsonwebtoken::encode(&Header::new(alg), &claims(), &key).unwrap();
        let reply = edge
            .send("GET", "/me", &[("Authorization", &bearer(&token))])
            .await;
        assert_eq!(reply.status, 200, "{alg:?}: {}", reply.text());
        // A token signed with the shared secret instead must not pass (algorithm confusion).
        let reply = edge
            .send(
                "GET",
                "/me",
                &[("Authorization", &bearer(&hs256(&claims(), SECRET)))],
            )
            .await;
        assert_eq!(reply.status, 401, "{alg:?}");
    }
}

#[tokio::test]
async fn static_tokens_api_keys_and_basic_auth() {
    let edge = edge().await;
    let reply = edge
        .send(
            "GET",
            "/v1/tenants/acme/projects",
            &[("Authorization", "Bearer viewer-token")],
        )
        .await;
    assert_eq!(
        (reply.status, reply.json()["sub"].as_str()),
        (200, Some("viewer"))
    );
    let reply = edge
        .send(
            "GET",
            "/v1/tenants/acme/projects",
            &[("X-Api-Key", "ci-key")],
        )
        .await;
    assert_eq!(reply.status, 403);
    assert_eq!(reply.json()["code"], "insufficient_role");
    let reply = edge
        .send(
            "GET",
            "/v1/tenants/acme/projects",
            &[("Authorization", "Basic YW5uOnB3")],
        )
        .await;
    assert_eq!(reply.status, 200);
    let reply = edge
        .send(
            "GET",
            "/v1/tenants/acme/projects",
            &[("Authorization", "Basic YW5uOng=")],
        )
        .await;
    assert_eq!(
        (reply.status, reply.header("www-authenticate")),
        (401, Some("Basic realm=\"projects\""))
    );
    let reply = edge
        .send(
            "GET",
            "/v1/tenants/acme/projects",
            &[("Authorization", "Bearer unknown")],
        )
        .await;
    assert_invalid_token(&reply, "the token is not known");
}

#[tokio::test]
async fn role_refusals_explain_without_leaking_policy() {
    let edge = edge().await;
    let reply = edge
        .send(
            "GET",
            "/v1/tenants/acme/projects",
            &[("X-Api-Key", "ci-key")],
        )
        .await;
    let body = reply.json();
    assert_eq!(body["request_id"].as_str(), reply.header("x-request-id"));
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("GET /v1/tenants/{tenant}/projects"),
        "{message}"
    );
    assert!(
        !message.contains("viewer") && !message.contains("admin\""),
        "{message}"
    );
    insta::assert_snapshot!("app_403_insufficient_role", snapshot_text(&reply));
}

#[tokio::test]
async fn tenant_mismatch_and_concealment() {
    let edge = edge().await;
    let viewer = [("Authorization", "Bearer viewer-token")];
    let reply = edge
        .send("GET", "/v1/tenants/globex/projects", &viewer)
        .await;
    assert_eq!(reply.status, 403);
    assert_eq!(reply.json()["code"], "tenant_mismatch");
    assert!(
        !reply.text().contains("acme"),
        "the caller's own tenant is not the point: {}",
        reply.text()
    );

    // Inside their own tenant a member learns they lack a role; another tenant's
    // resource is concealed as if it did not exist.
    let own = edge.send("GET", "/v1/tenants/acme/secrets", &viewer).await;
    assert_eq!(
        (own.status, own.json()["code"].as_str()),
        (403, Some("insufficient_role"))
    );
    let concealed = edge
        .send("GET", "/v1/tenants/globex/secrets", &viewer)
        .await;
    let missing = edge.send("GET", "/v1/nothing/here", &viewer).await;
    assert_eq!((concealed.status, missing.status), (404, 404));
    let strip = |reply: &Reply| {
        let mut body = reply.json();
        body["request_id"] = json!("");
        body
    };
    assert_eq!(
        strip(&concealed),
        strip(&missing),
        "concealment must look like a missing route"
    );
    assert_eq!(concealed.header("www-authenticate"), None);

    let admin = hs256(&claims(), SECRET);
    let reply = edge
        .send(
            "GET",
            "/v1/tenants/acme/secrets",
            &[("Authorization", &bearer(&admin))],
        )
        .await;
    assert_eq!(reply.status, 200);
    let reply = edge
        .send(
            "GET",
            "/v1/tenants/globex/secrets",
            &[("Authorization", &bearer(&admin))],
        )
        .await;
    assert_eq!(reply.status, 404);
}

#[tokio::test]
async fn scopes_are_all_required() {
    let edge = edge().await;
    let reply = edge
        .send(
            "GET",
            "/v1/reports",
            &[("Authorization", "Bearer viewer-token")],
        )
        .await;
    assert_eq!(reply.status, 403);
    assert_eq!(reply.json()["code"], "insufficient_scope");
    assert_eq!(
        reply.header("www-authenticate"),
        Some("Bearer realm=\"projects\", error=\"insufficient_scope\", scope=\"reports:read\"")
    );
    let mut with_scope = claims();
    with_scope["scope"] = json!("reports:read other");
    let reply = edge
        .send(
            "GET",
            "/v1/reports",
            &[("Authorization", &bearer(&hs256(&with_scope, SECRET)))],
        )
        .await;
    assert_eq!(reply.status, 200);
}

#[tokio::test]
async fn unsafe_methods_check_the_origin() {
    let edge = edge().await;
    let admin = bearer(&hs256(&claims(), SECRET));
    let reply = edge
        .send(
            "POST",
            "/v1/projects/1/archive",
            &[
                ("Authorization", &admin),
                ("Origin", "https://evil.example"),
            ],
        )
        .await;
    assert_eq!(reply.status, 403);
    assert_eq!(reply.json()["code"], "csrf_origin_mismatch");
    let reply = edge
        .send(
            "POST",
            "/v1/projects/1/archive",
            &[
                ("Authorization", &admin),
                ("Referer", "https://evil.example/page"),
            ],
        )
        .await;
    assert_eq!(reply.status, 403);
    let reply = edge
        .send(
            "POST",
            "/v1/projects/1/archive",
            &[
                ("Authorization", &admin),
                ("Origin", "https://app.example.com"),
            ],
        )
        .await;
    assert_eq!(reply.status, 201);
    let reply = edge
        .send(
            "POST",
            "/v1/projects/1/archive",
            &[("Authorization", &admin)],
        )
        .await;
    assert_eq!(
        reply.status, 201,
        "without require_origin, a missing Origin passes"
    );

    let strict =
        Edge::start(&app("").replace("allowed_origins", "require_origin = true\nallowed_origins"))
            .await;
    let reply = strict
        .send(
            "POST",
            "/v1/projects/1/archive",
            &[("Authorization", &admin)],
        )
        .await;
    assert_eq!(reply.status, 403);
}

#[tokio::test]
async fn the_login_flow_issues_a_token_and_a_cookie() {
    let edge = edge().await;
    let reply = edge
        .send_body(
            "POST",
            "/v1/login",
            &[("Content-Type", "application/json")],
            r#"{"username":"ann","password":"nope"}"#,
        )
        .await;
    assert_eq!(
        (reply.status, reply.json()["code"].as_str()),
        (401, Some("invalid_credentials"))
    );
    let reply = edge
        .send_body(
            "POST",
            "/v1/login",
            &[("Content-Type", "application/json")],
            r#"{"username":"ann","password":"pw"}"#,
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let token = reply.json()["access_token"].as_str().unwrap().to_owned();
    let cookie = reply.header("set-cookie").unwrap();
    assert_eq!(
        cookie,
        format!("session={token}; Path=/; HttpOnly; SameSite=Lax")
    );

    let by_cookie = edge
        .send(
            "GET",
            "/v1/tenants/acme/projects",
            &[("Cookie", &format!("session={token}"))],
        )
        .await;
    assert_eq!(
        (by_cookie.status, by_cookie.json()["sub"].as_str()),
        (200, Some("ann"))
    );
    let by_bearer = edge
        .send(
            "GET",
            "/v1/tenants/acme/projects",
            &[("Authorization", &bearer(&token))],
        )
        .await;
    assert_eq!(by_bearer.status, 200);
    let stale = edge
        .send(
            "GET",
            "/v1/tenants/acme/projects",
            &[("Cookie", "session=sess_stale")],
        )
        .await;
    assert_eq!(stale.status, 401);
    assert_eq!(edge.send("GET", "/v1/login", &[]).await.status, 405);
}

#[tokio::test]
async fn routing_answers_404_and_405() {
    let edge = edge().await;
    assert_eq!(edge.send("GET", "/v1/health", &[]).await.status, 200);
    assert_eq!(edge.send("HEAD", "/v1/health", &[]).await.status, 200);
    let reply = edge.send("DELETE", "/v1/health", &[]).await;
    assert_eq!((reply.status, reply.header("allow")), (405, Some("GET")));
    let reply = edge.send("GET", "/v1/unknown", &[]).await;
    assert_eq!(
        (reply.status, reply.json()["code"].as_str()),
        (404, Some("not_found"))
    );
    insta::assert_snapshot!("app_404_not_found", snapshot_text(&reply));
}
