//! Every identity kind of the scenario model is sent for real.

use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode};

use crate::server::{SESSION_COOKIE, SESSION_TOKEN, TestServer};
use crate::{outcomes, run_all, suite};

fn suite_file(url: &str) -> String {
    format!(
        r#"
[defaults]
client_ip_header = "X-Real-IP"
[targets.t]
base_url = "{url}"
allow_mutations = true   # the login flows POST
[identities.anonymous]
[identities.bearer]
bearer = "${{env:TEST_TOKEN}}"
[identities.basic]
basic = {{ username = "alice", password = "${{env:TEST_PASSWORD}}" }}
[identities.cookies]
cookies = {{ sid = "cookie-value-1234", theme = "dark" }}
[identities.api_key]
api_key = {{ header = "X-API-Key", value = "api-key-5678" }}
[identities.browser]
headers = {{ "X-Tenant" = "acme" }}
user_agent = "Mozilla/5.0 (rolecall test)"
referer = "https://app.example.test/page"
origin = "https://app.example.test"
client_ip = "203.0.113.7"
country = "DE"
[identities.hs256]
jwt = {{ secret = "hs-secret-0000", issuer = "https://id.test", audience = "api", subject = "u1", claims = {{ role = "admin" }} }}
[identities.rs256]
jwt = {{ private_key = "rs256-test-only.pem", alg = "RS256", kid = "k1", audience = "api" }}
[identities.es256]
jwt = {{ private_key = "es256-test-only.pem", alg = "ES256", audience = "api" }}
[identities.expired]
extends = "hs256"
jwt.defect = "expired"
[identities.not_yet]
extends = "hs256"
jwt.defect = "not_yet_valid"
[identities.wrong_aud]
extends = "hs256"
jwt.defect = "wrong_audience"
[identities.wrong_sig]
extends = "hs256"
jwt.defect = "wrong_signature"
[identities.alg_none]
extends = "hs256"
jwt.defect = "alg_none"
[identities.session]
login = {{ request = "POST /login", body.json = {{ user = "alice", password = "${{env:TEST_PASSWORD}}" }}, token = "/access_token" }}
[identities.cookie_session]
login = {{ request = "POST /login", body.form = {{ user = "bob" }}, cookie = "sid" }}
"#
    )
}

const ROUTES: &str = r#"
[[route]]
request = "GET /echo"
public = true
"#;

#[test]
fn every_identity_kind_is_sent() {
    let server = TestServer::start();
    let (_dir, suite) = suite(&[
        ("rolecall.toml", &suite_file(&server.url())),
        ("routes.toml", ROUTES),
    ]);
    let run = run_all(&suite);
    assert!(
        outcomes(&suite, &run).iter().all(|o| o.ends_with(" pass")),
        "{:?}",
        outcomes(&suite, &run)
    );
    let seen = server.seen();
    // Requests carry no identity marker: each assertion finds the one request whose
    // credentials match, and there must be exactly one.
    let requests: Vec<_> = seen.iter().filter(|s| s.uri == "/echo").cloned().collect();
    assert_eq!(requests.len(), suite.identities.len());
    let with =
        |pred: &dyn Fn(&crate::server::Seen) -> bool| requests.iter().filter(|s| pred(s)).count();
    // anonymous: nothing but the default user agent
    assert_eq!(
        with(&|s| s.header("authorization").is_none()
            && s.header("cookie").is_none()
            && s.header("x-api-key").is_none()
            && s.header("x-tenant").is_none()),
        1
    );
    assert_eq!(
        with(&|s| s.header("authorization") == Some("Bearer env-token-5b1e0c77")),
        1
    );
    assert_eq!(
        with(&|s| s.header("authorization") == Some("Basic YWxpY2U6ZW52LXBhc3N3b3JkLTlkMmY=")),
        1
    );
    assert_eq!(
        with(&|s| s
            .header("cookie")
            .is_some_and(|c| c.contains("sid=cookie-value-1234") && c.contains("theme=dark"))),
        1
    );
    assert_eq!(with(&|s| s.header("x-api-key") == Some("api-key-5678")), 1);
    assert_eq!(
        with(&|s| s.header("x-tenant") == Some("acme")
            && s.header("user-agent") == Some("Mozilla/5.0 (rolecall test)")
            && s.header("referer") == Some("https://app.example.test/page")
            && s.header("origin") == Some("https://app.example.test")
            && s.header("x-real-ip") == Some("203.0.113.7")
            && s.header("cf-ipcountry") == Some("DE")),
        1
    );
    // Login flows ran once each, before the identity's first case.
    assert_eq!(seen.iter().filter(|s| s.uri == "/login").count(), 2);
    let login = seen
        .iter()
        .find(|s| s.uri == "/login" && s.body.contains("alice"))
        .unwrap();
    assert_eq!(
        login.body,
        r#"{"password":"env-password-9d2f","user":"alice"}"#
    );
    assert_eq!(
        with(&|s| s.header("authorization") == Some(&format!("Bearer {SESSION_TOKEN}"))),
        1
    );
    // Both login identities keep the session cookie /login sets, each in its own store.
    assert_eq!(
        with(&|s| s
            .header("cookie")
            .is_some_and(|c| c.contains(SESSION_COOKIE))),
        2
    );
    assert_eq!(
        with(&|s| s
            .header("cookie")
            .is_some_and(|c| c.contains(SESSION_COOKIE))
            && s.header("authorization").is_none()),
        1
    );

    // JWTs: decode each with the right key and check what it is.
    let tokens: Vec<String> = requests
        .iter()
        .filter_map(|s| {
            s.header("authorization")?
                .strip_prefix("Bearer ")
                .map(str::to_owned)
        })
        .filter(|t| t.matches('.').count() == 2)
        .collect();
    assert_eq!(tokens.len(), 8, "{tokens:?}");
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_audience(&["api"]);
    validation.set_issuer(&["https://id.test"]);
    validation.validate_nbf = true;
    let hs = DecodingKey::from_secret(b"hs-secret-0000");
    let verdicts: Vec<String> = tokens
        .iter()
        .map(|t| {
            let header = jsonwebtoken::decode_header(t)
                .map(|h| format!("{:?}", h.alg))
                .unwrap_or_else(|_| "none".into());
            let outcome = match header.as_str() {
                "HS256" => match decode::<serde_json::Value>(t, &hs, &validation) {
                    Ok(d) => format!("valid role={}", d.claims["role"]),
                    Err(e) => format!("{:?}", e.kind()),
                },
                "RS256" => {
                    let key =
                        DecodingKey::from_rsa_pem(include_bytes!("keys/rs256-test-only.pub.pem"))
                            .unwrap();
                    let mut v = Validation::new(Algorithm::RS256);
                    v.set_audience(&["api"]);
                    decode::<serde_json::Value>(t, &key, &v)
                        .map(|_| "valid".to_owned())
                        .unwrap_or_else(|e| format!("{:?}", e.kind()))
                }
                "ES256" => {
                    let key =
                        DecodingKey::from_ec_pem(include_bytes!("keys/es256-test-only.pub.pem"))
                            .unwrap();
                    let mut v = Validation::new(Algorithm::ES256);
                    v.set_audience(&["api"]);
                    decode::<serde_json::Value>(t, &key, &v)
                        .map(|_| "valid".to_owned())
                        .unwrap_or_else(|e| format!("{:?}", e.kind()))
                }
                other => other.to_owned(),
            };
            format!("{header}: {outcome}")
        })
        .collect();
    let mut verdicts = verdicts;
    verdicts.sort();
    assert_eq!(
        verdicts,
        [
            "ES256: valid",
            "HS256: ExpiredSignature",
            "HS256: ImmatureSignature",
            "HS256: InvalidAudience",
            "HS256: InvalidSignature",
            "HS256: valid role=\"admin\"",
            "RS256: valid",
            "none: none",
        ]
    );
}
