//! The policy-driven mock app: routes with roles, scopes and tenant ownership.
//!
//! Its refusals are the kind of app-layer denials rolecall's deny-body contract asks for:
//! JSON with a machine-readable `code`, a `message` that names the boundary and a way
//! forward, and the `request_id` that is also in `X-Request-Id`. Messages never name the
//! roles a route needs or another tenant's identifiers.

use std::collections::BTreeMap;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, StatusCode};
use serde_json::{Value, json};

pub(crate) use crate::answer::{
    AppAnswer, AppRequest, Segment, answer, check_tenant, header_value, json_answer, match_path,
    method_not_allowed, not_found, parse_segments, refuse,
};
use crate::auth::{Authenticator, Authn, Principal};
use crate::resource::{self, Resource};
use crate::store::Store;

/// One route of the app.
#[derive(Debug)]
pub(crate) struct Route {
    pub(crate) method: Method,
    /// As written: "GET /v1/projects/{id}".
    pub(crate) label: String,
    pub(crate) segments: Vec<Segment>,
    pub(crate) public: bool,
    pub(crate) roles: Vec<String>,
    pub(crate) scopes: Vec<String>,
    pub(crate) tenant_param: Option<String>,
    pub(crate) conceal: bool,
    pub(crate) status: StatusCode,
    /// Text every refusal of this route leaks in a `debug` member (see the config's `leak`).
    pub(crate) leak: Option<String>,
}

/// Origin check for unsafe methods.
#[derive(Debug)]
pub(crate) struct Csrf {
    pub(crate) allowed_origins: Vec<String>,
    pub(crate) require_origin: bool,
}

/// The login endpoint.
#[derive(Debug)]
pub(crate) struct Login {
    pub(crate) path: String,
    pub(crate) cookie: String,
}

/// The compiled app.
#[derive(Debug)]
pub(crate) struct App {
    pub(crate) realm: String,
    pub(crate) auth: Authenticator,
    pub(crate) routes: Vec<Route>,
    /// Collections of objects callers create; their objects live in the server's `Store`.
    pub(crate) resources: Vec<Resource>,
    pub(crate) csrf: Option<Csrf>,
    pub(crate) login: Option<Login>,
}

impl App {
    /// The answer to `request`; objects of resources are read from and kept in `store`.
    pub(crate) fn handle(&self, request: &AppRequest<'_>, store: &Store) -> AppAnswer {
        if let Some(login) = &self.login
            && request.path == login.path
        {
            return self.login(login, request);
        }
        let mut allowed_methods: Vec<&Method> = Vec::new();
        let mut found = None;
        for route in &self.routes {
            if let Some(params) = match_path(&route.segments, request.path) {
                let head_as_get = request.method == Method::HEAD && route.method == Method::GET;
                if route.method == *request.method || head_as_get {
                    found = Some((route, params));
                    break;
                }
                allowed_methods.push(&route.method);
            }
        }
        let Some((route, params)) = found else {
            // Resources never overlap routes (checked at load), so order does not matter.
            let caller = || match self.check_csrf(request) {
                Some(refusal) => Err(Box::new(refusal)),
                None => self.principal(request),
            };
            if let Some(answer) = resource::handle(&self.resources, request, store, caller) {
                return answer;
            }
            if allowed_methods.is_empty() {
                return not_found(request);
            }
            let allow = allowed_methods
                .iter()
                .map(|m| m.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            return method_not_allowed(&allow, request);
        };
        let answer = self.decide(route, &params, request);
        match &route.leak {
            Some(leak) if answer.status.is_client_error() => with_leak(answer, leak),
            _ => answer,
        }
    }

    /// The answer of `route` to `request`: allowed, or refused by the first rule it breaks.
    fn decide(
        &self,
        route: &Route,
        params: &BTreeMap<&str, &str>,
        request: &AppRequest<'_>,
    ) -> AppAnswer {
        if let Some(answer) = self.check_csrf(request) {
            return answer;
        }
        if route.public {
            return allow(route, params, None, request);
        }
        let principal = match self.principal(request) {
            Ok(principal) => principal,
            Err(answer) => return *answer,
        };
        // Tenant membership comes first: whether a resource of another tenant exists is
        // itself information, so `conceal` answers those 404. Inside their own tenant,
        // members learn that they lack a role or scope (403), as most APIs behave.
        if let Some(answer) = check_tenant(
            route.tenant_param.as_deref(),
            params,
            &principal,
            route.conceal,
            request,
        ) {
            return answer;
        }
        let deny = |code: &'static str, message: &str| {
            if route.conceal && route.tenant_param.is_none() {
                not_found(request)
            } else {
                refuse(StatusCode::FORBIDDEN, code, message, request)
            }
        };
        if !route.roles.is_empty()
            && !route
                .roles
                .iter()
                .any(|role| principal.roles.contains(role))
        {
            return deny(
                "insufficient_role",
                &format!(
                    "Your account may not use {}. Ask an administrator of your workspace to grant you access to it.",
                    route.label
                ),
            );
        }
        let missing: Vec<&str> = route
            .scopes
            .iter()
            .filter(|s| !principal.scopes.contains(s))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            let mut answer = deny(
                "insufficient_scope",
                &format!(
                    "Your token may not use {}. Request a token with the scope this route needs.",
                    route.label
                ),
            );
            if !(route.conceal && route.tenant_param.is_none()) {
                let challenge = format!(
                    "Bearer realm=\"{}\", error=\"insufficient_scope\", scope=\"{}\"",
                    self.realm,
                    missing.join(" ")
                );
                answer
                    .headers
                    .insert(header::WWW_AUTHENTICATE, header_value(&challenge));
            }
            return answer;
        }
        allow(route, params, Some(&principal), request)
    }

    /// The caller, or the 401 that says why there is none.
    pub(crate) fn principal(&self, request: &AppRequest<'_>) -> Result<Principal, Box<AppAnswer>> {
        match self.auth.authenticate(request.headers) {
            Authn::Authenticated(principal) => Ok(principal),
            Authn::Anonymous => Err(Box::new(self.unauthenticated(request))),
            Authn::Rejected { description, basic } => {
                Err(Box::new(self.rejected(&description, basic, request)))
            }
        }
    }

    /// Unsafe methods must come from an allowed Origin (or Referer, as browsers may omit
    /// Origin on same-origin requests).
    pub(crate) fn check_csrf(&self, request: &AppRequest<'_>) -> Option<AppAnswer> {
        let csrf = self.csrf.as_ref()?;
        if matches!(
            *request.method,
            Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
        ) {
            return None;
        }
        let origin = request
            .headers
            .get(header::ORIGIN)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .or_else(|| {
                request
                    .headers
                    .get(header::REFERER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(origin_of)
            });
        let allowed = match origin {
            Some(origin) => csrf
                .allowed_origins
                .iter()
                .any(|allowed| allowed.eq_ignore_ascii_case(&origin)),
            None => !csrf.require_origin,
        };
        (!allowed).then(|| {
            refuse(
                StatusCode::FORBIDDEN,
                "csrf_origin_mismatch",
                "Cross-site request refused: this page's origin may not change data here. Retry from the application itself.",
                request,
            )
        })
    }

    fn unauthenticated(&self, request: &AppRequest<'_>) -> AppAnswer {
        let mut answer = refuse(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "Sign in to use this API: send a bearer token, an API key or a session cookie.",
            request,
        );
        answer.headers.insert(
            header::WWW_AUTHENTICATE,
            header_value(&format!("Bearer realm=\"{}\"", self.realm)),
        );
        if self.auth.offers_basic() {
            answer.headers.append(
                header::WWW_AUTHENTICATE,
                header_value(&format!("Basic realm=\"{}\"", self.realm)),
            );
        }
        answer
    }

    fn rejected(&self, description: &str, basic: bool, request: &AppRequest<'_>) -> AppAnswer {
        let mut answer = refuse(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            &format!(
                "Your credentials were not accepted: {description}. Sign in again to get new ones."
            ),
            request,
        );
        let challenge = if basic {
            format!("Basic realm=\"{}\"", self.realm)
        } else {
            format!(
                "Bearer realm=\"{}\", error=\"invalid_token\", error_description=\"{description}\"",
                self.realm
            )
        };
        answer
            .headers
            .insert(header::WWW_AUTHENTICATE, header_value(&challenge));
        answer
    }

    fn login(&self, login: &Login, request: &AppRequest<'_>) -> AppAnswer {
        if request.method != Method::POST {
            let mut answer = refuse(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "Sign in with POST and a JSON body {\"username\", \"password\"}.",
                request,
            );
            answer
                .headers
                .insert(header::ALLOW, HeaderValue::from_static("POST"));
            return answer;
        }
        let form: Value = serde_json::from_slice(request.body).unwrap_or(Value::Null);
        let username = form.get("username").and_then(Value::as_str).unwrap_or("");
        let password = form.get("password").and_then(Value::as_str).unwrap_or("");
        let Some(token) = self.auth.login(username, password) else {
            return refuse(
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                "Wrong user name or password. Check them and sign in again.",
                request,
            );
        };
        let body = json!({ "access_token": token, "token_type": "Bearer", "request_id": request.request_id });
        let mut answer = json_answer(StatusCode::OK, &body, request);
        let cookie = format!("{}={token}; Path=/; HttpOnly; SameSite=Lax", login.cookie);
        answer
            .headers
            .insert(header::SET_COOKIE, header_value(&cookie));
        answer
    }
}

/// `https://app.example/x` → `https://app.example`.
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    Some(format!("{scheme}://{authority}"))
}

fn allow(
    route: &Route,
    params: &BTreeMap<&str, &str>,
    principal: Option<&Principal>,
    request: &AppRequest<'_>,
) -> AppAnswer {
    /// Serialised straight from borrowed fields: this is the hot path of every allowed request.
    #[derive(serde::Serialize)]
    struct Allowed<'a> {
        route: &'a str,
        params: &'a BTreeMap<&'a str, &'a str>,
        sub: Option<&'a str>,
        tenant: Option<&'a str>,
        request_id: &'a str,
    }
    let body = Allowed {
        route: &route.label,
        params,
        sub: principal.map(|p| p.sub.as_str()),
        tenant: principal.and_then(|p| p.tenant.as_deref()),
        request_id: request.request_id,
    };
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    answer(route.status, Bytes::from(bytes), request)
}

/// `answer` with `leak` added as a `debug` member, the way a framework left in debug mode
/// adds the exception to its error body.
fn with_leak(mut answer: AppAnswer, leak: &str) -> AppAnswer {
    if let Ok(Value::Object(mut body)) = serde_json::from_slice::<Value>(&answer.body) {
        body.insert("debug".to_owned(), Value::String(leak.to_owned()));
        answer.body = Bytes::from(Value::Object(body).to_string());
    }
    answer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_come_from_referers() {
        assert_eq!(
            origin_of("https://app.example:8443/a?b").as_deref(),
            Some("https://app.example:8443")
        );
        assert_eq!(origin_of("nonsense"), None);
    }
}
