//! Who is calling the mock app: JWTs, static tokens and API keys, basic auth and sessions.

use std::collections::HashMap;
use std::sync::Mutex;

use base64::Engine as _;
use http::header::{self, HeaderMap, HeaderName};
use jsonwebtoken::errors::ErrorKind as JwtErrorKind;
use jsonwebtoken::{DecodingKey, Validation};
use serde_json::Value;

use crate::request_id;

/// The caller the app authorises.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Principal {
    pub(crate) sub: String,
    pub(crate) roles: Vec<String>,
    pub(crate) scopes: Vec<String>,
    pub(crate) tenant: Option<String>,
}

/// The outcome of reading credentials.
#[derive(Debug)]
pub(crate) enum Authn {
    /// No credentials at all.
    Anonymous,
    Authenticated(Principal),
    /// Credentials were sent but are not good; `basic` tells which challenge to answer with.
    Rejected {
        description: String,
        basic: bool,
    },
}

/// Verifies JWTs with the keys scenario identities sign with.
pub(crate) struct JwtVerifier {
    pub(crate) key: DecodingKey,
    pub(crate) validation: Validation,
    pub(crate) roles_claim: Option<String>,
    pub(crate) scopes_claim: Option<String>,
    pub(crate) tenant_claim: String,
}

impl std::fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key stays out of logs and panic messages.
        f.debug_struct("JwtVerifier")
            .field("algorithms", &self.validation.algorithms)
            .finish_non_exhaustive()
    }
}

impl JwtVerifier {
    fn verify(&self, token: &str) -> Result<Principal, String> {
        let data = jsonwebtoken::decode::<Value>(token, &self.key, &self.validation)
            .map_err(|err| describe_jwt_error(err.kind()))?;
        let claims = data.claims;
        let sub = claims
            .get("sub")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let roles = match &self.roles_claim {
            Some(name) => strings(claims.get(name)),
            None => {
                let roles = strings(claims.get("roles"));
                if roles.is_empty() {
                    strings(claims.get("role"))
                } else {
                    roles
                }
            }
        };
        let scopes = match &self.scopes_claim {
            Some(name) => strings(claims.get(name)),
            None => {
                let scopes = strings(claims.get("scope"));
                if scopes.is_empty() {
                    strings(claims.get("scp"))
                } else {
                    scopes
                }
            }
        };
        let tenant = claims
            .get(&self.tenant_claim)
            .and_then(Value::as_str)
            .map(str::to_owned);
        Ok(Principal {
            sub,
            roles,
            scopes,
            tenant,
        })
    }
}

/// A claim holding one name, a space-separated list (OAuth `scope`) or an array.
fn strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(text)) => text.split_whitespace().map(str::to_owned).collect(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

/// Words for `error_description`: say what is wrong with the token, never echo it.
fn describe_jwt_error(kind: &JwtErrorKind) -> String {
    match kind {
        JwtErrorKind::ExpiredSignature => "the token has expired".to_owned(),
        JwtErrorKind::ImmatureSignature => "the token is not valid yet".to_owned(),
        JwtErrorKind::InvalidAudience => "the token is meant for another audience".to_owned(),
        JwtErrorKind::InvalidIssuer => {
            "the token comes from an issuer that is not trusted".to_owned()
        }
        JwtErrorKind::InvalidSignature => "the token signature is invalid".to_owned(),
        JwtErrorKind::InvalidAlgorithm
        | JwtErrorKind::InvalidAlgorithmName
        | JwtErrorKind::UnsupportedAlgorithm => "the token algorithm is not accepted".to_owned(),
        JwtErrorKind::MissingRequiredClaim(claim) => format!("the token has no {claim} claim"),
        _ => "the token is malformed".to_owned(),
    }
}

/// Credentials the app knows and the sessions it issued.
#[derive(Debug)]
pub(crate) struct Authenticator {
    pub(crate) api_key_header: HeaderName,
    pub(crate) jwt: Option<JwtVerifier>,
    pub(crate) bearer_tokens: HashMap<String, Principal>,
    pub(crate) api_keys: HashMap<String, Principal>,
    /// User name to (password, principal).
    pub(crate) users: HashMap<String, (String, Principal)>,
    pub(crate) session_cookie: Option<String>,
    sessions: Mutex<HashMap<String, Principal>>,
}

/// Sessions kept at most; the mock forgets all of them rather than grow without bound.
const MAX_SESSIONS: usize = 10_000;

impl Authenticator {
    pub(crate) fn new(
        api_key_header: HeaderName,
        jwt: Option<JwtVerifier>,
        bearer_tokens: HashMap<String, Principal>,
        api_keys: HashMap<String, Principal>,
        users: HashMap<String, (String, Principal)>,
        session_cookie: Option<String>,
    ) -> Self {
        Self {
            api_key_header,
            jwt,
            bearer_tokens,
            api_keys,
            users,
            session_cookie,
            sessions: Mutex::new(HashMap::new()),
        }
    }

    /// Whether basic auth is offered, so 401s also challenge for it.
    pub(crate) fn offers_basic(&self) -> bool {
        !self.users.is_empty()
    }

    /// Reads the credentials of a request. The first credential present decides: a bad
    /// bearer token is refused even if a good cookie is also sent.
    pub(crate) fn authenticate(&self, headers: &HeaderMap) -> Authn {
        if let Some(authorization) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        {
            let (scheme, credentials) = authorization
                .trim()
                .split_once(' ')
                .unwrap_or((authorization, ""));
            let credentials = credentials.trim();
            if scheme.eq_ignore_ascii_case("bearer") {
                return self.bearer(credentials);
            }
            if scheme.eq_ignore_ascii_case("basic") {
                return self.basic(credentials);
            }
            return Authn::Rejected {
                description: format!("the {scheme} scheme is not supported"),
                basic: false,
            };
        }
        if let Some(key) = headers
            .get(&self.api_key_header)
            .and_then(|v| v.to_str().ok())
        {
            return match self.api_keys.get(key) {
                Some(principal) => Authn::Authenticated(principal.clone()),
                None => Authn::Rejected {
                    description: "the API key is not known".to_owned(),
                    basic: false,
                },
            };
        }
        if let Some(session) = self.session_from_cookie(headers) {
            return match self.lock_sessions().get(session) {
                Some(principal) => Authn::Authenticated(principal.clone()),
                None => Authn::Rejected {
                    description: "the session is not known or has ended".to_owned(),
                    basic: false,
                },
            };
        }
        Authn::Anonymous
    }

    fn bearer(&self, token: &str) -> Authn {
        if let Some(principal) = self.bearer_tokens.get(token) {
            return Authn::Authenticated(principal.clone());
        }
        if let Some(principal) = self.lock_sessions().get(token) {
            return Authn::Authenticated(principal.clone());
        }
        match &self.jwt {
            Some(jwt) if token.matches('.').count() == 2 => match jwt.verify(token) {
                Ok(principal) => Authn::Authenticated(principal),
                Err(description) => Authn::Rejected {
                    description,
                    basic: false,
                },
            },
            _ => Authn::Rejected {
                description: "the token is not known".to_owned(),
                basic: false,
            },
        }
    }

    fn basic(&self, encoded: &str) -> Authn {
        let rejected = || Authn::Rejected {
            description: "wrong user name or password".to_owned(),
            basic: true,
        };
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded) else {
            return rejected();
        };
        let Ok(text) = String::from_utf8(decoded) else {
            return rejected();
        };
        let Some((username, password)) = text.split_once(':') else {
            return rejected();
        };
        match self.users.get(username) {
            Some((expected, principal)) if expected == password => {
                Authn::Authenticated(principal.clone())
            }
            _ => rejected(),
        }
    }

    fn session_from_cookie<'h>(&self, headers: &'h HeaderMap) -> Option<&'h str> {
        let name = self.session_cookie.as_deref()?;
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.trim_matches('"'))
    }

    /// Checks a user's password and opens a session for them.
    pub(crate) fn login(&self, username: &str, password: &str) -> Option<String> {
        let (expected, principal) = self.users.get(username)?;
        if expected != password {
            return None;
        }
        let token = format!("sess_{}", request_id::hex32());
        let mut sessions = self.lock_sessions();
        if sessions.len() >= MAX_SESSIONS {
            sessions.clear();
        }
        sessions.insert(token.clone(), principal.clone());
        Some(token)
    }

    fn lock_sessions(&self) -> std::sync::MutexGuard<'_, HashMap<String, Principal>> {
        // A panic elsewhere leaves the map intact; keep serving.
        self.sessions
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    use serde_json::json;

    fn principal(sub: &str) -> Principal {
        Principal {
            sub: sub.to_owned(),
            roles: vec!["viewer".to_owned()],
            scopes: vec![],
            tenant: Some("acme".to_owned()),
        }
    }

    fn authenticator() -> Authenticator {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.validate_aud = false;
        let jwt = JwtVerifier {
            key: DecodingKey::from_secret(b"s3cret"),
            validation,
            roles_claim: None,
            scopes_claim: None,
            tenant_claim: "tenant".to_owned(),
        };
        Authenticator::new(
            HeaderName::from_static("x-api-key"),
            Some(jwt),
            HashMap::from([("tok".to_owned(), principal("t1"))]),
            HashMap::from([("key".to_owned(), principal("k1"))]),
            HashMap::from([("ann".to_owned(), ("pw".to_owned(), principal("ann")))]),
            Some("session".to_owned()),
        )
    }

    fn headers(name: &'static str, value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(name, HeaderValue::from_str(value).unwrap());
        headers
    }

    fn sub(authn: Authn) -> String {
        match authn {
            Authn::Authenticated(p) => p.sub,
            other => panic!("not authenticated: {other:?}"),
        }
    }

    #[test]
    fn each_credential_kind_authenticates() {
        let auth = authenticator();
        assert_eq!(
            sub(auth.authenticate(&headers("authorization", "Bearer tok"))),
            "t1"
        );
        assert_eq!(sub(auth.authenticate(&headers("x-api-key", "key"))), "k1");
        assert_eq!(
            sub(auth.authenticate(&headers("authorization", "Basic YW5uOnB3"))),
            "ann"
        );
        let claims = json!({"sub": "u1", "role": "admin", "scope": "a b", "tenant": "acme", "exp": 4_000_000_000u64});
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(b"s3cret"),
        )
        .unwrap();
        match auth.authenticate(&headers("authorization", &format!("Bearer {token}"))) {
            Authn::Authenticated(p) => {
                assert_eq!(p.roles, ["admin"]);
                assert_eq!(p.scopes, ["a", "b"]);
                assert_eq!(p.tenant.as_deref(), Some("acme"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn sessions_work_as_cookie_and_bearer() {
        let auth = authenticator();
        assert!(auth.login("ann", "wrong").is_none());
        let token = auth.login("ann", "pw").unwrap();
        assert_eq!(
            sub(auth.authenticate(&headers("cookie", &format!("theme=dark; session={token}")))),
            "ann"
        );
        assert_eq!(
            sub(auth.authenticate(&headers("authorization", &format!("Bearer {token}")))),
            "ann"
        );
    }

    #[test]
    fn bad_credentials_are_rejected_not_ignored() {
        let auth = authenticator();
        assert!(matches!(
            auth.authenticate(&HeaderMap::new()),
            Authn::Anonymous
        ));
        for (name, value) in [
            ("authorization", "Bearer nope"),
            ("authorization", "Bearer a.b.c"),
            ("authorization", "Basic YW5uOng="),
            ("authorization", "Digest x"),
            ("x-api-key", "nope"),
            ("cookie", "session=nope"),
        ] {
            assert!(
                matches!(
                    auth.authenticate(&headers(name, value)),
                    Authn::Rejected { .. }
                ),
                "{name}: {value}"
            );
        }
    }

    #[test]
    fn claims_may_be_strings_or_arrays() {
        assert_eq!(strings(Some(&json!("a b"))), ["a", "b"]);
        assert_eq!(strings(Some(&json!(["a", 1, "b"]))), ["a", "b"]);
        assert!(strings(Some(&json!(3))).is_empty());
        assert!(strings(None).is_empty());
    }
}
