//! Loading a `mock.toml`: parse, validate and compile everything up front, so a bad regex,
//! CIDR or key file is an error at load time with its line and column, never a surprise
//! on the first request.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::IpAddr;
use std::ops::Range;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use http::header::{HeaderName, HeaderValue};
use http::{Method, StatusCode, Uri};
use ipnet::IpNet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use regex::RegexSet;
use toml::Spanned;

use crate::app::{App, Csrf, Login, Route, Segment, parse_segments};
use crate::auth::{Authenticator, JwtVerifier, Principal};
use crate::client_ip::ClientIpResolver;
use crate::edge::{Check, EdgeLayer, Fault, FaultEnd};
use crate::errors::{MockConfigError, MockConfigErrorKind};
use crate::file::{self, FaultAbort, LayerFile, MockFile, OriginFile, WafTarget};
use crate::persona::{Persona, PersonaSettings};
use crate::proxy::Proxy;
use crate::rate_limit::RateLimiter;
use crate::waf::{Waf, WafRule, preset_rules};

/// A loaded and validated `mock.toml`, ready to serve. Cheap to clone.
#[derive(Clone)]
pub struct MockConfig {
    pub(crate) edge: Arc<Edge>,
}

/// Everything the server needs, compiled.
#[derive(Debug)]
pub(crate) struct Edge {
    pub(crate) settings: PersonaSettings,
    /// Personas that decorate responses they pass through.
    pub(crate) cdn: Option<Persona>,
    pub(crate) server: Option<Persona>,
    pub(crate) client_ip: ClientIpResolver,
    pub(crate) layers: Vec<EdgeLayer>,
    pub(crate) origin: Origin,
    /// Body bytes to buffer before the layers run (the largest WAF body limit).
    pub(crate) body_limit: usize,
}

/// What answers requests that pass the edge.
#[derive(Debug)]
pub(crate) enum Origin {
    App(Box<App>),
    Proxy(Box<Proxy>),
}

impl fmt::Debug for MockConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Only the shape: the app holds secrets (tokens, passwords, keys).
        let layers: Vec<String> = self
            .edge
            .layers
            .iter()
            .map(|l| format!("{} ({}, {})", l.name, l.kind, l.persona.name()))
            .collect();
        let origin = match &self.edge.origin {
            Origin::App(app) => format!("app with {} routes", app.routes.len()),
            Origin::Proxy(proxy) => format!("proxy to {}", proxy.upstream()),
        };
        f.debug_struct("MockConfig")
            .field("layers", &layers)
            .field("origin", &origin)
            .finish()
    }
}

impl MockConfig {
    /// Reads and compiles a `mock.toml`. Key files it names are read relative to its folder.
    pub fn from_path(path: &Path) -> Result<Self, MockConfigError> {
        let src = std::fs::read_to_string(path)
            .map_err(|err| MockConfigError::new(path, None, MockConfigErrorKind::Read(err)))?;
        Self::from_str(&src, path)
    }

    /// Compiles `mock.toml` text; `path` names the file in errors, and its folder is where
    /// relative key files are looked up.
    pub fn from_str(src: &str, path: &Path) -> Result<Self, MockConfigError> {
        let compiler = Compiler {
            src,
            path,
            base: path.parent().unwrap_or(Path::new(".")),
        };
        let file: MockFile = toml::from_str(src).map_err(|err| {
            let line_col = err.span().map(|span| line_col(src, span.start));
            MockConfigError::new(
                path,
                line_col,
                MockConfigErrorKind::Syntax(err.message().to_owned()),
            )
        })?;
        let edge = compiler.compile(file)?;
        Ok(Self {
            edge: Arc::new(edge),
        })
    }
}

/// 1-based line and column (in characters) of a byte offset.
fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(src.len());
    let before = &src[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

struct Compiler<'a> {
    src: &'a str,
    path: &'a Path,
    base: &'a Path,
}

type Result<T, E = MockConfigError> = std::result::Result<T, E>;

impl Compiler<'_> {
    fn error(&self, span: Range<usize>, kind: MockConfigErrorKind) -> MockConfigError {
        MockConfigError::new(self.path, Some(line_col(self.src, span.start)), kind)
    }

    fn invalid(&self, span: Range<usize>, message: impl Into<String>) -> MockConfigError {
        self.error(span, MockConfigErrorKind::Invalid(message.into()))
    }

    fn compile(&self, file: MockFile) -> Result<Edge> {
        let edge = file.edge;
        let cdn = match edge.cdn {
            Some(cdn)
                if !matches!(
                    *cdn.get_ref(),
                    Persona::Cloudflare | Persona::Cloudfront | Persona::Akamai
                ) =>
            {
                return Err(
                    self.invalid(cdn.span(), "`cdn` must be cloudflare, cloudfront or akamai")
                );
            }
            cdn => cdn.map(Spanned::into_inner),
        };
        let server = match edge.server {
            Some(server) if !matches!(*server.get_ref(), Persona::Nginx | Persona::Apache) => {
                return Err(self.invalid(server.span(), "`server` must be nginx or apache"));
            }
            server => server.map(Spanned::into_inner),
        };
        let defaults = PersonaSettings::default();
        let request_id_header = edge
            .request_id_header
            .map(|h| self.header_name(&h))
            .transpose()?;
        let settings = PersonaSettings {
            colo: edge.colo.unwrap_or(defaults.colo),
            pop: edge.pop.unwrap_or(defaults.pop),
            server_name: edge.server_name.unwrap_or(defaults.server_name),
            request_id_header,
            nginx_server: edge.nginx_server.unwrap_or(defaults.nginx_server),
            apache_server: edge.apache_server.unwrap_or(defaults.apache_server),
            modsecurity_host: server.unwrap_or(Persona::Apache),
            aws_waf_action_header: edge.aws_waf_action_header,
        };
        for (name, value) in [
            ("colo", &settings.colo),
            ("pop", &settings.pop),
            ("server_name", &settings.server_name),
            ("nginx_server", &settings.nginx_server),
            ("apache_server", &settings.apache_server),
        ] {
            if value.is_empty() || !value.bytes().all(|b| (0x20..0x7f).contains(&b)) {
                return Err(MockConfigError::new(
                    self.path,
                    None,
                    MockConfigErrorKind::Invalid(format!("[edge] {name} must be printable ASCII")),
                ));
            }
        }
        let trusted = match edge.trusted_proxies {
            Some(list) => self.networks(&list)?,
            None => vec![
                "127.0.0.0/8".parse().expect("valid CIDR"),
                "::1/128".parse().expect("valid CIDR"),
            ],
        };
        let client_ip = ClientIpResolver {
            trusted,
            header: match edge.client_ip_header {
                Some(h) => self.header_name(&h)?,
                None => HeaderName::from_static("x-forwarded-for"),
            },
        };
        let personas = Defaults {
            cdn,
            server,
            waf: edge.waf,
        };
        let mut layers = Vec::with_capacity(file.layer.len());
        for layer in file.layer {
            layers.push(self.layer(layer, &personas)?);
        }
        let body_limit = layers.iter().map(EdgeLayer::body_limit).max().unwrap_or(0);
        let origin = match file.origin {
            OriginFile::App(app) => Origin::App(Box::new(self.app(*app)?)),
            OriginFile::Proxy(proxy) => Origin::Proxy(Box::new(self.proxy(proxy)?)),
        };
        Ok(Edge {
            settings,
            cdn,
            server,
            client_ip,
            layers,
            origin,
            body_limit,
        })
    }

    fn layer(&self, layer: Spanned<LayerFile>, defaults: &Defaults) -> Result<EdgeLayer> {
        let span = layer.span();
        let persona = |explicit: Option<Persona>, fallback: Option<Persona>, edge_key: &str| {
            explicit.or(fallback).ok_or_else(|| {
                self.invalid(
                    span.clone(),
                    format!("this layer names no `persona` and `[edge] {edge_key}` is not set"),
                )
            })
        };
        let build = |name: Option<String>,
                     kind: &'static str,
                     persona: Persona,
                     paths: Option<GlobSet>,
                     check: Check| EdgeLayer {
            name: name.unwrap_or_else(|| kind.to_owned()),
            kind,
            persona,
            paths,
            check,
            mark: None,
        };
        Ok(match layer.into_inner() {
            LayerFile::Ip(l) => {
                let (allow, deny) = (self.networks(&l.allow)?, self.networks(&l.deny)?);
                if allow.is_empty() && deny.is_empty() {
                    return Err(self.invalid(span, "an ip layer needs `allow` or `deny`"));
                }
                build(
                    l.name,
                    "ip",
                    persona(l.persona, defaults.cdn, "cdn")?,
                    self.globs(&l.paths, false)?,
                    Check::Ip { allow, deny },
                )
            }
            LayerFile::Geo(l) => {
                let header = match &l.header {
                    Some(h) => self.header_name(h)?,
                    None => HeaderName::from_static("cf-ipcountry"),
                };
                let (allow, block) = (self.countries(&l.allow)?, self.countries(&l.block)?);
                if allow.is_empty() && block.is_empty() && !l.block_unknown {
                    return Err(self.invalid(
                        span,
                        "a geo layer needs `allow`, `block` or `block_unknown`",
                    ));
                }
                let check = Check::Geo {
                    header,
                    allow,
                    block,
                    block_unknown: l.block_unknown,
                };
                build(
                    l.name,
                    "geo",
                    persona(l.persona, defaults.cdn, "cdn")?,
                    self.globs(&l.paths, false)?,
                    check,
                )
            }
            LayerFile::Waf(l) => {
                let threshold = l.threshold.unwrap_or(5).max(1);
                let mut rules: Vec<WafRule> = Vec::new();
                let mut seen = HashSet::new();
                for preset in &l.presets {
                    if seen.insert(*preset) {
                        rules.extend(preset_rules(*preset));
                    }
                }
                let mut spans = vec![span.clone(); rules.len()];
                for rule in &l.rule {
                    let headers = rule
                        .headers
                        .iter()
                        .map(|h| self.header_name(h))
                        .collect::<Result<Vec<_>>>()?;
                    let targets = rule.targets.clone().unwrap_or_else(|| {
                        vec![WafTarget::Path, WafTarget::Query, WafTarget::Body]
                    });
                    if !headers.is_empty() && !targets.contains(&WafTarget::Headers) {
                        return Err(self.invalid(
                            rule.pattern.span(),
                            "`headers` needs \"headers\" in `targets`",
                        ));
                    }
                    spans.push(rule.pattern.span());
                    rules.push(WafRule {
                        name: rule.name.clone(),
                        pattern: rule.pattern.get_ref().clone(),
                        score: rule.score.unwrap_or(threshold),
                        targets,
                        headers,
                    });
                }
                if rules.is_empty() {
                    return Err(
                        self.invalid(span, "a waf layer needs `presets` or at least one `rule`")
                    );
                }
                let waf = Waf::new(rules, threshold, l.body_limit.unwrap_or(8192)).map_err(
                    |(index, err)| {
                        self.invalid(spans[index].clone(), format!("invalid regex: {err}"))
                    },
                )?;
                let mark = match &l.mark {
                    Some(mark) => {
                        let value = HeaderValue::from_str(mark.value.get_ref()).map_err(|_| {
                            self.invalid(mark.value.span(), "not a valid header value")
                        })?;
                        Some((self.header_name(&mark.header)?, value))
                    }
                    None => None,
                };
                EdgeLayer {
                    mark,
                    ..build(
                        l.name,
                        "waf",
                        persona(l.persona, defaults.waf, "waf")?,
                        self.globs(&l.paths, false)?,
                        Check::Waf(waf),
                    )
                }
            }
            LayerFile::UserAgent(l) => {
                for pattern in &l.block {
                    regex::Regex::new(pattern.get_ref()).map_err(|err| {
                        self.invalid(pattern.span(), format!("invalid regex: {err}"))
                    })?;
                }
                let block = RegexSet::new(l.block.iter().map(|p| p.get_ref().as_str()))
                    .map_err(|err| self.invalid(span.clone(), format!("invalid regex: {err}")))?;
                if block.is_empty() && !l.block_empty {
                    return Err(
                        self.invalid(span, "a user_agent layer needs `block` or `block_empty`")
                    );
                }
                let check = Check::UserAgent {
                    block,
                    block_empty: l.block_empty,
                };
                build(
                    l.name,
                    "user_agent",
                    persona(l.persona, defaults.cdn, "cdn")?,
                    self.globs(&l.paths, false)?,
                    check,
                )
            }
            LayerFile::Hotlink(l) => {
                let paths = self.globs(&l.paths, false)?;
                if paths.is_none() {
                    return Err(self.invalid(span, "a hotlink layer needs `paths` to protect"));
                }
                let allow_hosts = l
                    .allow_hosts
                    .iter()
                    .map(|h| h.to_ascii_lowercase())
                    .collect();
                let check = Check::Hotlink {
                    allow_hosts,
                    allow_empty: l.allow_empty.unwrap_or(true),
                };
                build(
                    l.name,
                    "hotlink",
                    persona(l.persona, defaults.cdn, "cdn")?,
                    paths,
                    check,
                )
            }
            LayerFile::PathDeny(l) => {
                let prefixes = self.prefixes(&l.prefixes)?;
                let globs = self.globs(&l.globs, l.case_insensitive)?;
                if prefixes.is_empty() && globs.is_none() {
                    return Err(self.invalid(span, "a path_deny layer needs `prefixes` or `globs`"));
                }
                let check = Check::PathDeny {
                    prefixes,
                    globs,
                    case_insensitive: l.case_insensitive,
                };
                build(
                    l.name,
                    "path_deny",
                    persona(l.persona, defaults.server, "server")?,
                    None,
                    check,
                )
            }
            LayerFile::DirectoryListing(l) => {
                let prefixes = match &l.prefixes {
                    Some(list) => self.prefixes(list)?,
                    None => vec!["/".to_owned()],
                };
                let check = Check::DirectoryListing { prefixes };
                build(
                    l.name,
                    "directory_listing",
                    persona(l.persona, defaults.server, "server")?,
                    None,
                    check,
                )
            }
            LayerFile::Method(l) => {
                let (allow, deny) = (self.methods(&l.allow)?, self.methods(&l.deny)?);
                if allow.is_empty() && deny.is_empty() {
                    return Err(self.invalid(span, "a method layer needs `allow` or `deny`"));
                }
                let check = Check::Method { allow, deny };
                build(
                    l.name,
                    "method",
                    persona(l.persona, defaults.server, "server")?,
                    self.globs(&l.paths, false)?,
                    check,
                )
            }
            LayerFile::RateLimit(l) => self.rate_limit(l, span, defaults)?,
            LayerFile::Fault(l) => {
                let paths = self.globs(&l.paths, false)?;
                if paths.is_none() {
                    return Err(self.invalid(span, "a fault layer needs `paths`"));
                }
                let delay = l.delay.as_ref().map(|d| self.duration(d)).transpose()?;
                let end = match (l.abort, &l.status) {
                    (Some(_), Some(status)) => {
                        return Err(self.invalid(
                            status.span(),
                            "a fault either aborts or answers with a status, not both",
                        ));
                    }
                    (Some(FaultAbort::Reset), None) => Some(FaultEnd::Reset),
                    (Some(FaultAbort::Close), None) => Some(FaultEnd::Close),
                    (None, Some(status)) => match StatusCode::from_u16(*status.get_ref()) {
                        Ok(code) if code.is_server_error() => Some(FaultEnd::Status(code)),
                        _ => return Err(self.invalid(status.span(), "a fault status must be 5xx")),
                    },
                    (None, None) => None,
                };
                if delay.is_none() && end.is_none() {
                    return Err(
                        self.invalid(span, "a fault layer needs `delay`, `abort` or `status`")
                    );
                }
                let probability = match &l.probability {
                    Some(p) if !(0.0..=1.0).contains(p.get_ref()) => {
                        return Err(
                            self.invalid(p.span(), "`probability` must be between 0.0 and 1.0")
                        );
                    }
                    Some(p) => *p.get_ref(),
                    None => 1.0,
                };
                let check = Check::Fault(Fault {
                    delay,
                    end,
                    probability,
                });
                build(
                    l.name,
                    "fault",
                    persona(l.persona, defaults.server, "server")?,
                    paths,
                    check,
                )
            }
        })
    }

    fn rate_limit(
        &self,
        l: file::RateLimitLayer,
        span: Range<usize>,
        defaults: &Defaults,
    ) -> Result<EdgeLayer> {
        let persona = l.persona.or(defaults.cdn).ok_or_else(|| {
            self.invalid(
                span.clone(),
                "this layer names no `persona` and `[edge] cdn` is not set",
            )
        })?;
        if l.requests == 0 {
            return Err(self.invalid(span, "`requests` must be at least 1"));
        }
        let per = match &l.per {
            Some(per) => self.duration(per)?,
            None => Duration::from_secs(1),
        };
        let status = match &l.status {
            Some(status) => match StatusCode::from_u16(*status.get_ref()) {
                Ok(code) if code.is_client_error() || code.is_server_error() => code,
                _ => {
                    return Err(
                        self.invalid(status.span(), "a rate limit status must be 4xx or 5xx")
                    );
                }
            },
            None => StatusCode::TOO_MANY_REQUESTS,
        };
        let burst = l.burst.unwrap_or(l.requests);
        let limiter = RateLimiter::new(l.requests, per, burst, l.max_clients.unwrap_or(10_000));
        let describe = format!(
            "more than {} requests per {} (burst {burst})",
            l.requests,
            humantime::format_duration(per)
        );
        Ok(EdgeLayer {
            name: l.name.unwrap_or_else(|| "rate_limit".to_owned()),
            kind: "rate_limit",
            persona,
            paths: self.globs(&l.paths, false)?,
            check: Check::RateLimit {
                limiter,
                status,
                describe,
            },
            mark: None,
        })
    }

    fn networks(&self, list: &[Spanned<String>]) -> Result<Vec<IpNet>> {
        list.iter()
            .map(|item| {
                let text = item.get_ref().trim();
                text.parse::<IpNet>()
                    .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
                    .map(|net| net.trunc())
                    .map_err(|_| {
                        self.invalid(
                            item.span(),
                            format!("`{text}` is not an IP address or CIDR block"),
                        )
                    })
            })
            .collect()
    }

    fn countries(&self, list: &[Spanned<String>]) -> Result<Vec<String>> {
        list.iter()
            .map(|item| {
                let code = item.get_ref().trim();
                if code.len() == 2 && code.bytes().all(|b| b.is_ascii_alphanumeric()) {
                    Ok(code.to_ascii_uppercase())
                } else {
                    Err(self.invalid(
                        item.span(),
                        format!("`{code}` is not a two-letter country code"),
                    ))
                }
            })
            .collect()
    }

    fn globs(&self, list: &[Spanned<String>], case_insensitive: bool) -> Result<Option<GlobSet>> {
        if list.is_empty() {
            return Ok(None);
        }
        let mut builder = GlobSetBuilder::new();
        for item in list {
            let pattern = item.get_ref();
            if !pattern.starts_with('/') {
                return Err(self.invalid(
                    item.span(),
                    format!("path glob `{pattern}` must start with `/`"),
                ));
            }
            let glob = GlobBuilder::new(pattern)
                .literal_separator(true)
                .case_insensitive(case_insensitive)
                .build()
                .map_err(|err| {
                    self.invalid(item.span(), format!("invalid glob: {}", err.kind()))
                })?;
            builder.add(glob);
        }
        builder
            .build()
            .map(Some)
            .map_err(|err| self.invalid(list[0].span(), format!("invalid glob: {err}")))
    }

    fn prefixes(&self, list: &[Spanned<String>]) -> Result<Vec<String>> {
        list.iter()
            .map(|item| {
                let prefix = item.get_ref();
                if prefix.starts_with('/') {
                    Ok(prefix.clone())
                } else {
                    Err(self.invalid(
                        item.span(),
                        format!("path prefix `{prefix}` must start with `/`"),
                    ))
                }
            })
            .collect()
    }

    fn methods(&self, list: &[Spanned<String>]) -> Result<Vec<Method>> {
        list.iter()
            .map(|item| {
                Method::from_bytes(item.get_ref().trim().to_ascii_uppercase().as_bytes()).map_err(
                    |_| {
                        self.invalid(
                            item.span(),
                            format!("`{}` is not an HTTP method", item.get_ref()),
                        )
                    },
                )
            })
            .collect()
    }

    fn header_name(&self, name: &Spanned<String>) -> Result<HeaderName> {
        HeaderName::from_bytes(name.get_ref().trim().as_bytes()).map_err(|_| {
            self.invalid(
                name.span(),
                format!("`{}` is not a header name", name.get_ref()),
            )
        })
    }

    fn duration(&self, text: &Spanned<String>) -> Result<Duration> {
        match humantime::parse_duration(text.get_ref().trim()) {
            Ok(duration) if !duration.is_zero() => Ok(duration),
            Ok(_) => Err(self.invalid(text.span(), "the duration must be more than zero")),
            Err(err) => Err(self.invalid(
                text.span(),
                format!("invalid duration `{}`: {err}", text.get_ref()),
            )),
        }
    }

    /// Replaces `${env:NAME}` references.
    fn expand(&self, text: &Spanned<String>) -> Result<String> {
        let mut out = String::new();
        let mut rest = text.get_ref().as_str();
        while let Some(start) = rest.find("${env:") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 6..];
            let Some(end) = after.find('}') else {
                return Err(self.invalid(text.span(), "unclosed `${env:` reference"));
            };
            let name = &after[..end];
            let value = std::env::var(name).map_err(|_| {
                self.error(
                    text.span(),
                    MockConfigErrorKind::MissingEnv(name.to_owned()),
                )
            })?;
            out.push_str(&value);
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    fn proxy(&self, proxy: file::ProxyFile) -> Result<Proxy> {
        let upstream = proxy.upstream.get_ref();
        let uri: Uri = upstream.parse().map_err(|err| {
            self.invalid(
                proxy.upstream.span(),
                format!("invalid upstream URL: {err}"),
            )
        })?;
        if uri.scheme_str() != Some("http") || uri.authority().is_none() {
            return Err(self.invalid(
                proxy.upstream.span(),
                "the upstream must be an http:// URL with a host",
            ));
        }
        let timeout = match &proxy.timeout {
            Some(t) => self.duration(t)?,
            None => Duration::from_secs(30),
        };
        Ok(Proxy::new(uri, timeout))
    }

    fn app(&self, app: file::AppFile) -> Result<App> {
        let realm = app.realm.unwrap_or_else(|| "rolecall-mock".to_owned());
        if realm.contains(['"', '\\']) || !realm.bytes().all(|b| (0x20..0x7f).contains(&b)) {
            return Err(MockConfigError::new(
                self.path,
                None,
                MockConfigErrorKind::Invalid(
                    "`realm` must be printable ASCII without quotes".to_owned(),
                ),
            ));
        }
        let api_key_header = match &app.api_key_header {
            Some(h) => self.header_name(h)?,
            None => HeaderName::from_static("x-api-key"),
        };
        let jwt = app.jwt.map(|jwt| self.jwt(jwt)).transpose()?;
        let principal = |sub: String,
                         roles: Vec<String>,
                         scopes: Vec<String>,
                         tenant: Option<String>| Principal {
            sub,
            roles,
            scopes,
            tenant,
        };
        let mut bearer_tokens = HashMap::new();
        let mut api_keys = HashMap::new();
        for (index, token) in app.token.into_iter().enumerate() {
            let who = principal(
                token.sub.unwrap_or_else(|| format!("token-{}", index + 1)),
                token.roles,
                token.scopes,
                token.tenant,
            );
            if token.bearer.is_none() && token.api_key.is_none() {
                return Err(MockConfigError::new(
                    self.path,
                    None,
                    MockConfigErrorKind::Invalid(format!(
                        "token #{} needs `bearer` or `api_key`",
                        index + 1
                    )),
                ));
            }
            if let Some(bearer) = &token.bearer
                && bearer_tokens
                    .insert(self.expand(bearer)?, who.clone())
                    .is_some()
            {
                return Err(self.invalid(bearer.span(), "this bearer token is listed twice"));
            }
            if let Some(key) = &token.api_key
                && api_keys.insert(self.expand(key)?, who).is_some()
            {
                return Err(self.invalid(key.span(), "this API key is listed twice"));
            }
        }
        let mut users = HashMap::new();
        for user in app.user {
            let password = self.expand(&user.password)?;
            let who = principal(
                user.sub.unwrap_or_else(|| user.username.clone()),
                user.roles,
                user.scopes,
                user.tenant,
            );
            if users
                .insert(user.username.clone(), (password, who))
                .is_some()
            {
                return Err(self.invalid(
                    user.password.span(),
                    format!("user `{}` is listed twice", user.username),
                ));
            }
        }
        let login = app.login.map(|login| Login {
            path: login.path.unwrap_or_else(|| "/v1/login".to_owned()),
            cookie: login.cookie.unwrap_or_else(|| "session".to_owned()),
        });
        if let Some(login) = &login
            && (!login.path.starts_with('/')
                || login.cookie.is_empty()
                || login.cookie.contains([';', '=', ' ']))
        {
            return Err(MockConfigError::new(
                self.path,
                None,
                MockConfigErrorKind::Invalid(
                    "[origin.app.login] needs a path starting with `/` and a plain cookie name"
                        .to_owned(),
                ),
            ));
        }
        let csrf = app.csrf.map(|csrf| Csrf {
            allowed_origins: csrf.allowed_origins,
            require_origin: csrf.require_origin,
        });
        let mut routes: Vec<Route> = Vec::new();
        for route in app.route {
            let compiled = self.route(route)?;
            if let Some(other) = routes.iter().find(|r| {
                r.method == compiled.method && same_shape(&r.segments, &compiled.segments)
            }) {
                return Err(MockConfigError::new(
                    self.path,
                    None,
                    MockConfigErrorKind::Invalid(format!(
                        "routes `{}` and `{}` overlap",
                        other.label, compiled.label
                    )),
                ));
            }
            routes.push(compiled);
        }
        let auth = Authenticator::new(
            api_key_header,
            jwt,
            bearer_tokens,
            api_keys,
            users,
            login.as_ref().map(|l| l.cookie.clone()),
        );
        Ok(App {
            realm,
            auth,
            routes,
            csrf,
            login,
        })
    }

    fn route(&self, route: file::RouteFile) -> Result<Route> {
        let span = route.request.span();
        let text = route.request.get_ref().trim();
        let Some((method, path)) = text.split_once(char::is_whitespace) else {
            return Err(self.invalid(span, "a route is written \"METHOD /path\""));
        };
        let method = Method::from_bytes(method.to_ascii_uppercase().as_bytes())
            .map_err(|_| self.invalid(span.clone(), format!("`{method}` is not an HTTP method")))?;
        let path = path.trim();
        let segments =
            parse_segments(path).map_err(|message| self.invalid(span.clone(), message))?;
        let tenant_param = match route.tenant_param {
            Some(param) => {
                let known = segments
                    .iter()
                    .any(|s| matches!(s, Segment::Param(name) if name == param.get_ref()));
                if !known {
                    return Err(self.invalid(
                        param.span(),
                        format!("`{}` is not a parameter of `{path}`", param.get_ref()),
                    ));
                }
                Some(param.into_inner())
            }
            None => None,
        };
        let status = match route.status {
            Some(status) => StatusCode::from_u16(*status.get_ref())
                .ok()
                .filter(StatusCode::is_success)
                .ok_or_else(|| self.invalid(status.span(), "a route status must be 2xx"))?,
            None if method == Method::POST => StatusCode::CREATED,
            None => StatusCode::OK,
        };
        if route.public
            && (!route.roles.is_empty() || !route.scopes.is_empty() || tenant_param.is_some())
        {
            return Err(self.invalid(
                span,
                "a public route cannot also require roles, scopes or a tenant",
            ));
        }
        Ok(Route {
            label: format!("{method} {path}"),
            method,
            segments,
            public: route.public,
            roles: route.roles,
            scopes: route.scopes,
            tenant_param,
            conceal: route.conceal,
            status,
        })
    }

    fn jwt(&self, jwt: file::JwtFile) -> Result<JwtVerifier> {
        // Both crypto backends may be enabled by feature unification in a bigger build;
        // naming ours avoids jsonwebtoken's ambiguity panic. A second install is harmless.
        let _ = jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.install_default();
        let mut algorithms = Vec::new();
        for alg in &jwt.algorithms {
            if alg.get_ref().eq_ignore_ascii_case("none") {
                return Err(self.invalid(alg.span(), "the `none` algorithm is never accepted"));
            }
            let parsed = Algorithm::from_str(alg.get_ref()).map_err(|_| {
                self.invalid(
                    alg.span(),
                    format!("unknown JWT algorithm `{}`", alg.get_ref()),
                )
            })?;
            algorithms.push((parsed, alg.span()));
        }
        let key = match (&jwt.secret, &jwt.public_key_file) {
            (Some(secret), None) => {
                if algorithms.is_empty() {
                    algorithms.push((Algorithm::HS256, secret.span()));
                }
                if let Some((alg, span)) = algorithms.iter().find(|(a, _)| {
                    !matches!(a, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512)
                }) {
                    return Err(self.invalid(
                        span.clone(),
                        format!("{alg:?} needs `public_key_file`, not `secret`"),
                    ));
                }
                DecodingKey::from_secret(self.expand(secret)?.as_bytes())
            }
            (None, Some(file)) => {
                let full = self.base.join(file.get_ref());
                let pem = std::fs::read(&full).map_err(|err| {
                    self.error(
                        file.span(),
                        MockConfigErrorKind::Key {
                            file: full.clone(),
                            reason: err.to_string(),
                        },
                    )
                })?;
                let key_error = |reason: String| {
                    self.error(
                        file.span(),
                        MockConfigErrorKind::Key {
                            file: full.clone(),
                            reason,
                        },
                    )
                };
                let (key, family) = if let Ok(key) = DecodingKey::from_rsa_pem(&pem) {
                    (key, "rsa")
                } else if let Ok(key) = DecodingKey::from_ec_pem(&pem) {
                    (key, "ec")
                } else if let Ok(key) = DecodingKey::from_ed_pem(&pem) {
                    (key, "ed")
                } else {
                    return Err(key_error(
                        "not an RSA, EC or Ed25519 public key in PEM form".to_owned(),
                    ));
                };
                if algorithms.is_empty() {
                    let default = match family {
                        "rsa" => Algorithm::RS256,
                        "ec" => Algorithm::ES256,
                        _ => Algorithm::EdDSA,
                    };
                    algorithms.push((default, file.span()));
                }
                for (alg, span) in &algorithms {
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
                        return Err(self.invalid(
                            span.clone(),
                            format!(
                                "{alg:?} does not fit the {family} key in `{}`",
                                file.get_ref()
                            ),
                        ));
                    }
                }
                key
            }
            _ => {
                return Err(MockConfigError::new(
                    self.path,
                    None,
                    MockConfigErrorKind::Invalid(
                        "[origin.app.jwt] needs exactly one of `secret` and `public_key_file`"
                            .to_owned(),
                    ),
                ));
            }
        };
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
        Ok(JwtVerifier {
            key,
            validation,
            roles_claim: jwt.roles_claim,
            scopes_claim: jwt.scopes_claim,
            tenant_claim: jwt.tenant_claim.unwrap_or_else(|| "tenant".to_owned()),
        })
    }
}

/// Default personas by tier, from `[edge]`.
struct Defaults {
    cdn: Option<Persona>,
    server: Option<Persona>,
    waf: Option<Persona>,
}

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
    fn line_col_counts_characters() {
        let src = "a = 1\nbé = \"x\"\n";
        assert_eq!(line_col(src, 0), (1, 1));
        assert_eq!(line_col(src, 6), (2, 1));
        assert_eq!(line_col(src, src.find('=').unwrap()), (1, 3));
        let second_eq = src.rfind('=').unwrap();
        assert_eq!(line_col(src, second_eq), (2, 4));
    }

    #[test]
    fn route_shapes_overlap_on_parameters_only() {
        let a = parse_segments("/v1/{id}").unwrap();
        let b = parse_segments("/v1/{name}").unwrap();
        let c = parse_segments("/v1/me").unwrap();
        assert!(same_shape(&a, &b));
        assert!(!same_shape(&a, &c));
    }
}
