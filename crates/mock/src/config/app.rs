//! Compiling the origin: a proxied upstream, or the mock app's credentials, JWT settings,
//! login and routes.

use std::collections::HashMap;
use std::ops::Range;
use std::str::FromStr;
use std::time::Duration;

use http::header::HeaderName;
use http::{Method, StatusCode, Uri};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use toml::Spanned;

use super::Compiler;
use crate::app::{App, Csrf, Login, Route, Segment, parse_segments};
use crate::auth::{Authenticator, JwtVerifier, Principal};
use crate::file;
use crate::file::Read;
use crate::proxy::Proxy;

/// Credentials to the principal they stand for.
type Principals = HashMap<String, Principal>;

impl Compiler<'_> {
    pub(super) fn proxy(&self, proxy: file::ProxyFile) -> Option<Proxy> {
        let upstream = proxy.upstream.get_ref();
        let uri = match upstream.parse::<Uri>() {
            Ok(uri) if uri.scheme_str() == Some("http") && uri.authority().is_some() => Some(uri),
            Ok(_) => {
                self.p
                    .error(
                        proxy.upstream.span(),
                        "the upstream must be an http:// URL with a host",
                    )
                    .label("expected e.g. \"http://127.0.0.1:8080\"");
                None
            }
            Err(err) => {
                self.p
                    .error(
                        proxy.upstream.span(),
                        format!("invalid upstream URL: {err}"),
                    )
                    .label("expected e.g. \"http://127.0.0.1:8080\"");
                None
            }
        };
        let timeout = match &proxy.timeout {
            Some(t) => self.duration(t),
            None => Some(Duration::from_secs(30)),
        };
        Some(Proxy::new(uri?, timeout?))
    }

    pub(super) fn app(&self, app: file::AppFile) -> Option<App> {
        let realm = match &app.realm {
            None => Some("rolecall-mock".to_owned()),
            Some(realm) => {
                let text = realm.get_ref();
                if text.contains(['"', '\\']) || !text.bytes().all(|b| (0x20..0x7f).contains(&b)) {
                    self.p
                        .error(
                            realm.span(),
                            "`realm` must be printable ASCII without quotes",
                        )
                        .label("sent inside a quoted `WWW-Authenticate` parameter");
                    None
                } else {
                    Some(text.clone())
                }
            }
        };
        let api_key_header = match &app.api_key_header {
            Some(h) => self.header_name(h),
            None => Some(HeaderName::from_static("x-api-key")),
        };
        let jwt = match &app.jwt {
            Some(jwt) => self.jwt(&jwt.value, jwt.clean).map(Some),
            None => Some(None),
        };
        let tokens = self.tokens(&app.token);
        let users = self.users(&app.user);
        let login = match &app.login {
            Some(login) => self.login(login).map(Some),
            None => Some(None),
        };
        let csrf = app.csrf.map(|csrf| Csrf {
            allowed_origins: csrf.allowed_origins,
            require_origin: csrf.require_origin,
        });
        let mut routes: Vec<(Route, Range<usize>)> = Vec::new();
        let mut routes_ok = true;
        for route in &app.route {
            let Some(compiled) = self.route(route.value.get_ref()) else {
                routes_ok = false;
                continue;
            };
            let span = route.value.get_ref().request.span();
            if let Some((other, other_span)) = routes.iter().find(|(r, _)| {
                r.method == compiled.method && same_shape(&r.segments, &compiled.segments)
            }) {
                let (line, _) = self.p.file().line_col(other_span.start);
                self.p
                    .error(
                        span,
                        format!(
                            "routes `{}` and `{}` overlap",
                            other.label, compiled.label
                        ),
                    )
                    .label(format!("matches the same requests as line {line}"))
                    .help("parameters match any segment: give one route a literal segment, or remove it");
                routes_ok = false;
                continue;
            }
            routes.push((compiled, span));
        }
        let resources = self.resources(&app.resource, &routes);
        let session_cookie = login.as_ref()?.as_ref().map(|l: &Login| l.cookie.clone());
        let (bearer_tokens, api_keys) = tokens?;
        let auth = Authenticator::new(
            api_key_header?,
            jwt?,
            bearer_tokens,
            api_keys,
            users?,
            session_cookie,
        );
        if !routes_ok {
            return None;
        }
        Some(App {
            realm: realm?,
            auth,
            routes: routes.into_iter().map(|(r, _)| r).collect(),
            resources: resources?,
            csrf,
            login: login?,
        })
    }

    /// The token table: bearer tokens and API keys, each at most once.
    fn tokens(
        &self,
        tokens: &[Read<Spanned<file::TokenFile>>],
    ) -> Option<(Principals, Principals)> {
        let mut bearer_tokens = HashMap::new();
        let mut api_keys = HashMap::new();
        let mut ok = true;
        for (index, read) in tokens.iter().enumerate() {
            let token = read.value.get_ref();
            let who = Principal {
                sub: token
                    .sub
                    .clone()
                    .unwrap_or_else(|| format!("token-{}", index + 1)),
                roles: token.roles.clone(),
                scopes: token.scopes.clone(),
                tenant: token.tenant.clone(),
            };
            if token.bearer.is_none() && token.api_key.is_none() {
                self.needs(
                    read.clean,
                    read.value.span(),
                    "a token needs `bearer` or `api_key`",
                );
                ok = false;
            }
            for (credential, table, what) in [
                (&token.bearer, &mut bearer_tokens, "bearer token"),
                (&token.api_key, &mut api_keys, "API key"),
            ] {
                let Some(credential) = credential else {
                    continue;
                };
                let Some(value) = self.secret(credential) else {
                    ok = false;
                    continue;
                };
                if table.insert(value, who.clone()).is_some() {
                    self.p
                        .error(credential.span(), format!("this {what} is listed twice"))
                        .label("already in the token table")
                        .help("each credential stands for one principal");
                    ok = false;
                }
            }
        }
        ok.then_some((bearer_tokens, api_keys))
    }

    fn users(
        &self,
        users: &[Read<Spanned<file::UserFile>>],
    ) -> Option<HashMap<String, (String, Principal)>> {
        let mut table = HashMap::new();
        let mut ok = true;
        for read in users {
            let user = read.value.get_ref();
            let Some(password) = self.secret(&user.password) else {
                ok = false;
                continue;
            };
            let who = Principal {
                sub: user.sub.clone().unwrap_or_else(|| user.username.clone()),
                roles: user.roles.clone(),
                scopes: user.scopes.clone(),
                tenant: user.tenant.clone(),
            };
            if table
                .insert(user.username.clone(), (password, who))
                .is_some()
            {
                self.p
                    .error(
                        user.password.span(),
                        format!("user `{}` is listed twice", user.username),
                    )
                    .label("a second password for the same user");
                ok = false;
            }
        }
        ok.then_some(table)
    }

    fn login(&self, login: &file::LoginFile) -> Option<Login> {
        let path = match &login.path {
            None => Some("/v1/login".to_owned()),
            Some(path) if path.get_ref().starts_with('/') => Some(path.get_ref().clone()),
            Some(path) => {
                self.p
                    .error(path.span(), "the login path must start with `/`")
                    .label("not an absolute path");
                None
            }
        };
        let cookie = match &login.cookie {
            None => Some("session".to_owned()),
            Some(cookie)
                if !cookie.get_ref().is_empty()
                    && cookie
                        .get_ref()
                        .bytes()
                        .all(|b| b.is_ascii_graphic() && !b";=,\"\\".contains(&b)) =>
            {
                Some(cookie.get_ref().clone())
            }
            Some(cookie) => {
                self.p
                    .error(
                        cookie.span(),
                        format!("`{}` is not a plain cookie name", cookie.get_ref()),
                    )
                    .label("letters, digits and `-`, `_`, `.` only, e.g. \"session\"");
                None
            }
        };
        Some(Login {
            path: path?,
            cookie: cookie?,
        })
    }

    fn route(&self, route: &file::RouteFile) -> Option<Route> {
        let span = route.request.span();
        let mut conflict = false;
        if route.public
            && (!route.roles.is_empty() || !route.scopes.is_empty() || route.tenant_param.is_some())
        {
            self.p
                .error(
                    span.clone(),
                    "a public route cannot also require roles, scopes or a tenant",
                )
                .label("public")
                .help("remove `public = true`, or the roles, scopes and `tenant_param`");
            conflict = true;
        }
        let (method, path) = self.method_and_rest(
            &route.request,
            "a route is written \"METHOD /path\"",
            "expected e.g. \"GET /v1/projects/{id}\"",
        )?;
        let segments = match parse_segments(path) {
            Ok(segments) => Some(segments),
            Err(message) => {
                self.p
                    .error(self.locate(span.clone(), path), message)
                    .label("in this path");
                None
            }
        };
        let tenant_param =
            self.tenant_param(route.tenant_param.as_ref(), segments.as_deref(), path);
        let status = match (&route.status, &method) {
            (Some(status), _) => {
                match StatusCode::from_u16(*status.get_ref())
                    .ok()
                    .filter(StatusCode::is_success)
                {
                    Some(code) => Some(code),
                    None => {
                        self.p
                            .error(status.span(), "a route status must be 2xx")
                            .label("an allowed request succeeds");
                        None
                    }
                }
            }
            (None, Some(method)) if *method == Method::POST => Some(StatusCode::CREATED),
            (None, _) => Some(StatusCode::OK),
        };
        if conflict {
            return None;
        }
        let (method, segments, tenant_param, status) = (method?, segments?, tenant_param?, status?);
        Some(Route {
            label: format!("{method} {path}"),
            method,
            segments,
            public: route.public,
            roles: route.roles.clone(),
            scopes: route.scopes.clone(),
            tenant_param,
            conceal: route.conceal,
            status,
            leak: route.leak.clone(),
        })
    }

    /// Splits "METHOD rest" and parses the method, reporting what is wrong; `None` when
    /// there is nothing to split.
    pub(super) fn method_and_rest<'t>(
        &self,
        request: &'t Spanned<String>,
        form: &str,
        example: &str,
    ) -> Option<(Option<Method>, &'t str)> {
        let span = request.span();
        let Some((method, rest)) = request.get_ref().trim().split_once(char::is_whitespace) else {
            self.p.error(span, form).label(example);
            return None;
        };
        let parsed = match Method::from_bytes(method.to_ascii_uppercase().as_bytes()) {
            Ok(method) => Some(method),
            Err(_) => {
                self.p
                    .error(
                        self.locate(span, method),
                        format!("`{method}` is not an HTTP method"),
                    )
                    .label("expected e.g. GET, POST or DELETE");
                None
            }
        };
        Some((parsed, rest.trim()))
    }

    /// The path parameter naming the tenant, which must be one of `segments`' parameters:
    /// `Some(None)` without one, `None` when it is not there (reported).
    pub(super) fn tenant_param(
        &self,
        param: Option<&Spanned<String>>,
        segments: Option<&[Segment]>,
        path: &str,
    ) -> Option<Option<String>> {
        let Some(param) = param else {
            return Some(None);
        };
        let segments = segments?;
        let name = param.get_ref();
        if segments
            .iter()
            .any(|s| matches!(s, Segment::Param(p) if p == name))
        {
            return Some(Some(name.clone()));
        }
        self.p
            .error(
                param.span(),
                format!("`{name}` is not a parameter of `{path}`"),
            )
            .label("no such `{…}` in the path");
        None
    }

    fn jwt(&self, jwt: &Spanned<file::JwtFile>, clean: bool) -> Option<JwtVerifier> {
        // Both crypto backends may be enabled by feature unification in a bigger build;
        // naming ours avoids jsonwebtoken's ambiguity panic. A second install is harmless.
        let _ = jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.install_default();
        let table_span = jwt.span();
        let jwt = jwt.get_ref();
        let mut algorithms = Vec::new();
        let mut ok = true;
        for alg in &jwt.algorithms {
            if alg.get_ref().eq_ignore_ascii_case("none") {
                self.p
                    .error(alg.span(), "the `none` algorithm is never accepted")
                    .label("unsigned tokens");
                ok = false;
                continue;
            }
            match Algorithm::from_str(alg.get_ref()) {
                Ok(parsed) => algorithms.push((parsed, alg.span())),
                Err(_) => {
                    self.p
                        .error(
                            alg.span(),
                            format!("unknown JWT algorithm `{}`", alg.get_ref()),
                        )
                        .label("not an algorithm")
                        .help_opt(rolecall_scenario::did_you_mean(
                            alg.get_ref(),
                            JWT_ALGORITHMS.iter().copied(),
                        ));
                    ok = false;
                }
            }
        }
        let key = match (&jwt.secret, &jwt.public_key_file) {
            (Some(secret), None) => {
                if algorithms.is_empty() && ok {
                    algorithms.push((Algorithm::HS256, secret.span()));
                }
                for (alg, span) in &algorithms {
                    if !matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512) {
                        self.p
                            .error(
                                span.clone(),
                                format!("{alg:?} needs `public_key_file`, not `secret`"),
                            )
                            .label("an asymmetric algorithm");
                        ok = false;
                    }
                }
                self.secret(secret)
                    .map(|secret| DecodingKey::from_secret(secret.as_bytes()))
            }
            (None, Some(file)) => self.public_key(file, &mut algorithms, ok),
            _ => {
                if clean {
                    self.p
                        .error(
                            table_span,
                            "`[origin.app.jwt]` needs exactly one of `secret` and `public_key_file`",
                        )
                        .label("a JWT key")
                        .help("`secret` for HS256/384/512, `public_key_file` for RS*, PS*, ES* and EdDSA");
                }
                None
            }
        };
        let key = key?;
        if !ok {
            return None;
        }
        let mut validation = Validation::new(algorithms[0].0);
        validation.algorithms = algorithms.iter().map(|(alg, _)| *alg).collect();
        validation.leeway = jwt.leeway.unwrap_or(0);
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp"]);
        if let Some(issuer) = &jwt.issuer {
            validation.set_issuer(&[issuer]);
        }
        if jwt.audience.is_empty() {
            // Without a configured audience, a token's `aud` is not checked (jsonwebtoken
            // would otherwise refuse every token that has one).
            validation.validate_aud = false;
        } else {
            validation.set_audience(&jwt.audience);
        }
        Some(JwtVerifier {
            key,
            validation,
            roles_claim: jwt.roles_claim.clone(),
            scopes_claim: jwt.scopes_claim.clone(),
            tenant_claim: jwt
                .tenant_claim
                .clone()
                .unwrap_or_else(|| "tenant".to_owned()),
        })
    }

    /// Reads a PEM public key and checks that every algorithm fits it; with none given,
    /// the key's family decides.
    fn public_key(
        &self,
        file: &Spanned<String>,
        algorithms: &mut Vec<(Algorithm, Range<usize>)>,
        algorithms_ok: bool,
    ) -> Option<DecodingKey> {
        let full = self.base.join(file.get_ref());
        let key_error = |reason: String| {
            self.p
                .error(
                    file.span(),
                    format!("cannot load key file `{}`: {reason}", full.display()),
                )
                .label("a PEM public key, relative to this file's folder");
        };
        // A device or a FIFO named here would never end: only a small regular file is read.
        let pem = match std::fs::metadata(&full) {
            Ok(meta) if !meta.is_file() => Err("not a regular file".to_owned()),
            Ok(meta) if meta.len() > MAX_KEY_BYTES => Err("larger than 64 KiB".to_owned()),
            Ok(_) => std::fs::read(&full).map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        let pem = match pem {
            Ok(pem) => pem,
            Err(reason) => {
                key_error(reason);
                return None;
            }
        };
        let (key, family) = if let Ok(key) = DecodingKey::from_rsa_pem(&pem) {
            (key, "rsa")
        } else if let Ok(key) = DecodingKey::from_ec_pem(&pem) {
            (key, "ec")
        } else if let Ok(key) = DecodingKey::from_ed_pem(&pem) {
            (key, "ed")
        } else {
            key_error("not an RSA, EC or Ed25519 public key in PEM form".to_owned());
            return None;
        };
        if algorithms.is_empty() && algorithms_ok {
            let default = match family {
                "rsa" => Algorithm::RS256,
                "ec" => Algorithm::ES256,
                _ => Algorithm::EdDSA,
            };
            algorithms.push((default, file.span()));
        }
        let mut ok = true;
        for (alg, span) in algorithms.iter() {
            let fits = match family {
                "rsa" => matches!(
                    alg,
                    Algorithm::RS256
                        | Algorithm::RS384
                        | Algorithm::RS512
                        | Algorithm::PS256
                        | Algorithm::PS384
                        | Algorithm::PS512
                ),
                "ec" => matches!(alg, Algorithm::ES256 | Algorithm::ES384),
                _ => matches!(alg, Algorithm::EdDSA),
            };
            if !fits {
                self.p
                    .error(
                        span.clone(),
                        format!(
                            "{alg:?} does not fit the {family} key in `{}`",
                            file.get_ref()
                        ),
                    )
                    .label("another key family");
                ok = false;
            }
        }
        ok.then_some(key)
    }
}

/// A PEM public key is a few kilobytes.
const MAX_KEY_BYTES: u64 = 64 * 1024;

/// Algorithm names, for "did you mean".
const JWT_ALGORITHMS: [&str; 12] = [
    "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256",
    "ES384", "EdDSA",
];

/// Whether two routes would match the same paths (parameters match anything).
fn same_shape(a: &[Segment], b: &[Segment]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|pair| match pair {
            (Segment::Literal(x), Segment::Literal(y)) => x == y,
            _ => matches!(pair, (Segment::Param(_), Segment::Param(_))),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_shapes_overlap_on_parameters_only() {
        let a = parse_segments("/v1/{id}").unwrap();
        let b = parse_segments("/v1/{name}").unwrap();
        let c = parse_segments("/v1/me").unwrap();
        assert!(same_shape(&a, &b));
        assert!(!same_shape(&a, &c));
    }
}
