//! The validated suite: what the runner consumes.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::diagnostic::{Location, SourceFile};
use crate::layer::Layer;
use crate::secrets::{Secret, Secrets};
pub(crate) mod fixtures;
pub(crate) mod journeys;
pub(crate) mod variants;

use fixtures::{Fixture, Instance};
use journeys::{Journey, JourneyStep};

use variants::{Bypass, Variant};

/// A loaded, validated and expanded suite. `Debug` summarises it: values inside may be
/// secrets (headers, variables and URLs from `${env:…}`).
#[derive(Clone)]
pub struct Suite {
    /// The directory holding `rolecall.toml`.
    pub root: PathBuf,
    /// Every file read, in load order (the suite file first).
    pub files: Vec<SourceFile>,
    /// Suite-wide settings.
    pub settings: Settings,
    /// The target selected for this run.
    pub target: Target,
    /// Every identity, in declaration order; [`Case::identity`] indexes this.
    pub identities: Vec<Identity>,
    /// Every route, in file and declaration order; [`Case::route`] indexes this.
    pub routes: Vec<Route>,
    /// One case per identity × route (per actor × owner for an owner route).
    pub cases: Vec<Case>,
    /// Objects created before the cases, in declaration order; [`Instance::fixture`]
    /// indexes this.
    pub fixtures: Vec<Fixture>,
    /// Ordered steps walked per identity; [`JourneyStep::journey`] indexes this.
    pub journeys: Vec<Journey>,
    /// Every secret value (credentials and `${env:…}` values) to redact from output.
    pub secrets: Secrets,
    /// The deny-body contracts; see [`Suite::contract`].
    pub contracts: crate::contract::Contracts,
}

impl fmt::Debug for Suite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Suite")
            .field("root", &self.root)
            .field("target", &self.target.name)
            .field("files", &self.files.len())
            .field("identities", &self.identities.len())
            .field("routes", &self.routes.len())
            .field("cases", &self.cases.len())
            .field("fixtures", &self.fixtures.len())
            .finish_non_exhaustive()
    }
}

/// The most requests a run keeps in flight at once, wherever the number comes from
/// (`defaults.concurrency`, `--concurrency`, `ROLECALL_CONCURRENCY`).
pub const MAX_CONCURRENCY: usize = 4096;

/// Suite-wide settings from `[defaults]`.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Per-request timeout.
    pub timeout: Duration,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Header carrying [`Credentials::client_ip`].
    pub client_ip_header: String,
    /// Header carrying [`Credentials::country`].
    pub country_header: String,
    /// Headers sent with every request.
    pub headers: Vec<(String, String)>,
    /// A fingerprint file extending layer attribution.
    pub fingerprints: Option<PathBuf>,
}

/// Where requests go.
#[derive(Debug, Clone)]
pub struct Target {
    /// The name under `[targets]`.
    pub name: String,
    /// A URL or an in-process mock.
    pub endpoint: Endpoint,
    /// Whether POST, PUT, PATCH and DELETE may be sent.
    pub allow_mutations: bool,
    /// Per-request timeout for this target; the suite's when absent.
    pub timeout: Option<Duration>,
    /// An extra CA certificate (PEM file) to trust.
    pub ca_cert: Option<PathBuf>,
    /// Accept any TLS certificate.
    pub insecure: bool,
    /// A shell command that starts the service under test.
    pub command: Option<String>,
    /// A path polled until the service answers.
    pub ready: Option<String>,
    /// How long to wait for `ready`.
    pub ready_timeout: Duration,
}

/// How a target is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A base URL such as `https://staging.example.com`.
    BaseUrl(String),
    /// A rolecall mock edge configuration, started in-process.
    Mock(PathBuf),
}

/// Who sends a request.
#[derive(Debug, Clone)]
pub struct Identity {
    /// The name under `[identities]`.
    pub name: String,
    /// What the identity stands for.
    pub description: Option<String>,
    /// Whether the identity carries valid credentials.
    pub authenticated: bool,
    /// What it sends.
    pub credentials: Credentials,
    /// Values for `{name}` placeholders.
    pub vars: BTreeMap<String, String>,
    /// Where it is declared.
    pub location: Location,
}

/// Everything an identity adds to a request.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    /// `Authorization: Bearer`.
    pub bearer: Option<Secret>,
    /// Basic authentication: user name and password.
    pub basic: Option<(String, Secret)>,
    /// Cookies.
    pub cookies: Vec<(String, Secret)>,
    /// An API key header: name and value.
    pub api_key: Option<(String, Secret)>,
    /// Other headers.
    pub headers: Vec<(String, String)>,
    /// `User-Agent`.
    pub user_agent: Option<String>,
    /// `Referer`.
    pub referer: Option<String>,
    /// `Origin`.
    pub origin: Option<String>,
    /// Client address for the client-IP header.
    pub client_ip: Option<IpAddr>,
    /// Country code for the country header.
    pub country: Option<String>,
    /// A JWT to mint.
    pub jwt: Option<Jwt>,
    /// A login flow to run once per run.
    pub login: Option<Login>,
}

/// A JWT minted by the runner.
#[derive(Debug, Clone)]
pub struct Jwt {
    /// Signing key.
    pub key: JwtKey,
    /// Signing algorithm, e.g. `HS256`, `RS256`, `ES256`.
    pub alg: String,
    /// `kid` header.
    pub kid: Option<String>,
    /// Claims other than `exp` and `nbf`, including `iss`, `aud` and `sub` when given.
    pub claims: serde_json::Map<String, serde_json::Value>,
    /// Seconds from now until `exp` (negative: already expired).
    pub expires_in: i64,
    /// Seconds from now until `nbf`, when set.
    pub not_before: Option<i64>,
    /// A deliberate defect.
    pub defect: Option<JwtDefect>,
    /// Header carrying the token; `Authorization` gets the `Bearer ` prefix.
    pub header: String,
}

/// The key a JWT is signed with.
#[derive(Debug, Clone)]
pub enum JwtKey {
    /// HMAC secret.
    Secret(Secret),
    /// PEM-encoded private key.
    PrivateKeyPem(Secret),
}

/// Deliberately bad tokens, each of which a service must answer with 401.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtDefect {
    /// `exp` in the past.
    Expired,
    /// `nbf` in the future.
    NotYetValid,
    /// `aud` that no service accepts.
    WrongAudience,
    /// Signed with a different key.
    WrongSignature,
    /// `alg: none`, no signature.
    AlgNone,
}

impl JwtDefect {
    pub(crate) const NAMES: [&'static str; 5] = [
        "expired",
        "not_yet_valid",
        "wrong_audience",
        "wrong_signature",
        "alg_none",
    ];

    pub(crate) fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "expired" => JwtDefect::Expired,
            "not_yet_valid" => JwtDefect::NotYetValid,
            "wrong_audience" => JwtDefect::WrongAudience,
            "wrong_signature" => JwtDefect::WrongSignature,
            "alg_none" => JwtDefect::AlgNone,
            _ => return None,
        })
    }
}

/// A request run once per run to obtain a token or a cookie.
#[derive(Debug, Clone)]
pub struct Login {
    /// Method.
    pub method: Method,
    /// Path and query, relative to the target.
    pub path: String,
    /// Headers.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Option<Body>,
    /// JSON pointer to a token sent afterwards as a bearer token.
    pub token: Option<String>,
    /// A cookie the response must set.
    pub cookie: Option<String>,
}

/// HTTP methods rolecall sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// GET
    Get,
    /// HEAD
    Head,
    /// OPTIONS
    Options,
    /// TRACE
    Trace,
    /// POST
    Post,
    /// PUT
    Put,
    /// PATCH
    Patch,
    /// DELETE
    Delete,
}

impl Method {
    pub(crate) const NAMES: [&'static str; 8] = [
        "GET", "HEAD", "OPTIONS", "TRACE", "POST", "PUT", "PATCH", "DELETE",
    ];

    pub(crate) fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "OPTIONS" => Method::Options,
            "TRACE" => Method::Trace,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "PATCH" => Method::Patch,
            "DELETE" => Method::Delete,
            _ => return None,
        })
    }

    /// The method as sent.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Options => "OPTIONS",
            Method::Trace => "TRACE",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }

    /// Safe methods (RFC 9110) never change state; the others are writes.
    pub fn is_safe(self) -> bool {
        matches!(
            self,
            Method::Get | Method::Head | Method::Options | Method::Trace
        )
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A request body.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// JSON.
    Json(serde_json::Value),
    /// `application/x-www-form-urlencoded`.
    Form(Vec<(String, String)>),
    /// Raw bytes with an optional content type.
    Raw {
        /// The body.
        text: String,
        /// `Content-Type`.
        content_type: Option<String>,
    },
}

/// One `[[route]]`.
#[derive(Debug, Clone)]
pub struct Route {
    /// The name used in case names.
    pub name: String,
    /// File stem path used in case names, e.g. `projects` or `admin::users`.
    pub file_name: String,
    /// What the route is for.
    pub description: Option<String>,
    /// Method.
    pub method: Method,
    /// Path and query with `{var}` placeholders.
    pub path: String,
    /// Extra query parameters.
    pub query: Vec<(String, String)>,
    /// Request headers.
    pub headers: Vec<(String, String)>,
    /// Request body.
    pub body: Option<Body>,
    /// Where the route is declared.
    pub location: Location,
}

/// Which rule produced an expectation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// The identity is listed in `allow` (or the route is public).
    Allow,
    /// The identity is not listed: least privilege says it must be refused.
    Deny,
    /// The identity has no valid credentials.
    Unauthenticated,
}

impl Decision {
    /// `allow`, `deny` or `unauthenticated`.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allow => "allow",
            Decision::Deny => "deny",
            Decision::Unauthenticated => "unauthenticated",
        }
    }
}

/// An expected status: exact or a class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusMatch {
    /// Exactly this status.
    Exact(u16),
    /// Any status of this class: `Class(2)` is 2xx.
    Class(u8),
}

impl StatusMatch {
    /// Whether `status` satisfies the expectation.
    pub fn matches(self, status: u16) -> bool {
        match self {
            StatusMatch::Exact(s) => s == status,
            StatusMatch::Class(c) => status / 100 == u16::from(c),
        }
    }
}

impl fmt::Display for StatusMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StatusMatch::Exact(s) => write!(f, "{s}"),
            StatusMatch::Class(c) => write!(f, "{c}xx"),
        }
    }
}

/// A body matcher.
#[derive(Debug, Clone)]
pub enum BodyMatch {
    /// The body is JSON containing this value as a subset.
    Json(serde_json::Value),
    /// The body contains this text.
    Contains(String),
    /// The body does not contain this text.
    NotContains(String),
    /// The body matches this regular expression.
    Regex(regex::Regex),
}

/// A header matcher.
#[derive(Debug, Clone)]
pub struct HeaderMatch {
    /// Header name, lowercase.
    pub name: String,
    /// What the header must satisfy.
    pub rule: HeaderRule,
}

/// What a header must satisfy.
#[derive(Debug, Clone)]
pub enum HeaderRule {
    /// Equal to this value.
    Equals(String),
    /// Contains this text.
    Contains(String),
    /// Matches this regular expression.
    Regex(regex::Regex),
    /// Present (true) or absent (false).
    Present(bool),
}

/// What must happen when a case is sent.
#[derive(Debug, Clone)]
pub struct Expectation {
    /// The access decision the suite states for this identity.
    pub decision: Decision,
    /// The expected status.
    pub status: StatusMatch,
    /// For unauthenticated cases that expect 401: `WWW-Authenticate` should be present.
    pub www_authenticate: bool,
    /// The `Location` header must contain this (login redirects, explicit redirects).
    pub redirect: Option<String>,
    /// Layer that must refuse.
    pub layer: Option<Layer>,
    /// Vendor that must refuse.
    pub vendor: Option<String>,
    /// Body matchers.
    pub body: Vec<BodyMatch>,
    /// Header matchers.
    pub headers: Vec<HeaderMatch>,
    /// Snapshot the response with insta.
    pub snapshot: bool,
    /// Follow redirects.
    pub follow_redirects: bool,
    /// Do not send; the reason.
    pub skip: Option<String>,
    /// Where an explicit `[[route.case]]` for this identity is declared.
    pub explicit_at: Option<Location>,
    /// Where each part of this expectation was set.
    pub set_at: SetAt,
    /// The bypass families this refusal is re-tried in (`bypass`); empty by default.
    pub bypass: Bypass,
}

/// Where each part of an [`Expectation`] was set: the key of the `[[route.case]]`, the
/// `[[route]]` or `[defaults]` that decided it (`status`, `deny`, an `allow` entry,
/// `layer` …), or the route's request line where only a built-in default did. Locations
/// are shared by the cases of a route, so a suite holds one per key, not one per case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetAt {
    /// The expected status: `status`, `deny` or `unauthenticated` of the case, the route
    /// or `[defaults]`; else the `allow` entry that lists the identity, or the route's
    /// `allow` list that leaves it out.
    pub status: Arc<Location>,
    /// The expected `Location` header: the case's `redirect`, or `login_redirect` of
    /// `[defaults]`.
    pub redirect: Arc<Location>,
    /// The expected layer: `layer` of the case or the route.
    pub layer: Arc<Location>,
    /// The expected vendor: `vendor` of the case or the route.
    pub vendor: Arc<Location>,
    /// One per body matcher, in the order of [`Expectation::body`] (`body.json` …).
    pub body: Vec<Arc<Location>>,
    /// One per header matcher, in the order of [`Expectation::headers`].
    pub headers: Vec<Arc<Location>>,
    /// Whether the response is snapshotted: `snapshot` of the case, the route or
    /// `[defaults]`.
    pub snapshot: Arc<Location>,
}

impl SetAt {
    /// Every part set at `at`, with no body or header matcher.
    pub fn all_at(at: Location) -> Self {
        let at = Arc::new(at);
        SetAt {
            status: at.clone(),
            redirect: at.clone(),
            layer: at.clone(),
            vendor: at.clone(),
            body: Vec::new(),
            headers: Vec::new(),
            snapshot: at,
        }
    }
}

/// One identity × route pair: one test.
#[derive(Debug, Clone)]
pub struct Case {
    /// `file::route::identity`, stable and unique.
    pub name: String,
    /// Index into [`Suite::routes`].
    pub route: usize,
    /// Index into [`Suite::identities`].
    pub identity: usize,
    /// The path with this identity's variables filled in.
    pub path: String,
    /// What must happen.
    pub expect: Expectation,
    /// For a bypass variant of a refused case: what it changes in the request.
    pub variant: Option<Arc<Variant>>,
    /// The fixture objects whose captures the request uses, one per fixture it names
    /// (their own needs are in [`crate::Fixture::needs`]).
    pub fixtures: Vec<Instance>,
    /// For an owner route: the identity whose object the case is sent at.
    pub owner: Option<usize>,
    /// For a journey step: where it sits, and the step it runs after.
    pub journey: Option<JourneyStep>,
}

impl Suite {
    /// The deny-body contract `route`'s responses are checked against, if any.
    pub fn contract(&self, route: &Route) -> Option<&crate::contract::Contract> {
        self.contracts
            .files
            .iter()
            .find(|(path, _)| *path == route.location.path)
            .map(|(_, c)| c.as_ref())
            .or(self.contracts.suite.as_deref())
    }

    /// The route of a case.
    pub fn route(&self, case: &Case) -> &Route {
        &self.routes[case.route]
    }

    /// The identity of a case.
    pub fn identity(&self, case: &Case) -> &Identity {
        &self.identities[case.identity]
    }

    /// Number of route files read.
    pub fn route_file_count(&self) -> usize {
        self.files.len().saturating_sub(1)
    }
}
