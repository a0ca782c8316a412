//! The validated suite: what the runner consumes.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use aho_corasick::AhoCorasick;

use crate::diagnostic::{Location, SourceFile};
use crate::layer::Layer;

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
    /// One case per identity × route.
    pub cases: Vec<Case>,
    /// Every secret value (credentials and `${env:…}` values) to redact from output.
    pub secrets: Secrets,
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

/// A string that must never be printed. `Debug` and `Display` show `***`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Secret(String);

impl Secret {
    pub(crate) fn new(value: String) -> Self {
        Secret(value)
    }

    /// The secret value, for sending it. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Every secret value of a suite, for redaction.
#[derive(Clone, Default)]
pub struct Secrets {
    /// Longest first.
    values: Vec<Arc<str>>,
    /// Every value in one automaton, built on first use: texts are searched once, not
    /// once per secret. Reset whenever a value is added.
    matcher: OnceLock<Option<AhoCorasick>>,
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secrets({} values)", self.values.len())
    }
}

impl Secrets {
    pub(crate) fn add(&mut self, value: &str) {
        // Very short values would redact ordinary words; they are not credentials anyone
        // should rely on, and the runner's own tests show what is redacted.
        if value.len() >= 4 && !self.values.iter().any(|s| &**s == value) {
            // Longest first, so that a secret containing another is redacted whole.
            let at = self.values.partition_point(|s| s.len() >= value.len());
            self.values.insert(at, value.into());
            self.matcher = OnceLock::new();
        }
    }

    /// Adds a value learned at run time, such as a token captured by a login flow.
    pub fn insert(&mut self, value: &str) {
        self.add(value);
    }

    /// The values, longest first so that a secret containing another is redacted whole.
    pub fn values(&self) -> &[Arc<str>] {
        &self.values
    }

    fn matcher(&self) -> Option<&AhoCorasick> {
        self.matcher
            .get_or_init(|| {
                if self.values.is_empty() {
                    return None;
                }
                // Standard semantics report every occurrence, overlapping ones included.
                // Building only fails past size limits that no suite's secrets reach; the
                // plain search below is the fallback all the same.
                AhoCorasick::new(self.values.iter().map(|v| v.as_bytes())).ok()
            })
            .as_ref()
    }

    /// Every byte range of `text` covered by a secret, sorted; ranges that overlap are
    /// merged, so that no part of any secret survives redaction.
    fn covered(&self, text: &str) -> Vec<Range<usize>> {
        let mut ranges: Vec<Range<usize>> = match self.matcher() {
            Some(matcher) => matcher
                .find_overlapping_iter(text)
                .map(|m| m.range())
                .collect(),
            None => self
                .values
                .iter()
                .flat_map(|v| text.match_indices(&**v).map(|(at, v)| at..at + v.len()))
                .collect(),
        };
        ranges.sort_unstable_by_key(|r| (r.start, std::cmp::Reverse(r.end)));
        let mut merged: Vec<Range<usize>> = Vec::with_capacity(ranges.len());
        for range in ranges {
            match merged.last_mut() {
                Some(last) if range.start < last.end => last.end = last.end.max(range.end),
                _ => merged.push(range),
            }
        }
        merged
    }

    /// Whether `text` contains any secret value.
    pub fn appear_in(&self, text: &str) -> bool {
        match self.matcher() {
            Some(matcher) => matcher.is_match(text),
            None => self.values.iter().any(|v| text.contains(&**v)),
        }
    }

    /// Replaces every secret value in `text` with as many `*` as it has bytes, keeping
    /// offsets valid (for quoting source lines under carets).
    pub fn mask(&self, text: &str) -> String {
        self.replace(text, |range| "*".repeat(range.len()))
            .unwrap_or_else(|| text.to_owned())
    }

    /// Replaces every secret value in `text` with `***`.
    pub fn redact(&self, text: &str) -> String {
        self.replace(text, |_| "***".to_owned())
            .unwrap_or_else(|| text.to_owned())
    }

    /// [`redact`](Self::redact) in place: `text` is only rewritten when a secret
    /// appears in it, so the common case allocates nothing.
    pub fn redact_in_place(&self, text: &mut String) {
        if let Some(redacted) = self.replace(text, |_| "***".to_owned()) {
            *text = redacted;
        }
    }

    /// `text` with every covered range replaced, or `None` when no secret appears in it.
    fn replace(&self, text: &str, with: impl Fn(&Range<usize>) -> String) -> Option<String> {
        let covered = self.covered(text);
        if covered.is_empty() {
            return None;
        }
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for range in covered {
            out.push_str(&text[at..range.start]);
            out.push_str(&with(&range));
            at = range.end;
        }
        out.push_str(&text[at..]);
        Some(out)
    }
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
}

impl Suite {
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

#[cfg(test)]
mod tests {
    use super::Secrets;

    fn secrets(values: &[&str]) -> Secrets {
        let mut secrets = Secrets::default();
        for value in values {
            secrets.insert(value);
        }
        secrets
    }

    #[test]
    fn every_occurrence_of_every_secret_is_redacted() {
        let s = secrets(&["tok-alpha", "hunter22"]);
        assert_eq!(
            s.redact("a tok-alpha b hunter22 c tok-alpha"),
            "a *** b *** c ***"
        );
        assert_eq!(
            s.redact("tok-alphatok-alpha"),
            "******",
            "adjacent stay apart"
        );
        assert_eq!(s.redact("nothing here"), "nothing here");
        let mut text = "header: hunter22".to_owned();
        s.redact_in_place(&mut text);
        assert_eq!(text, "header: ***");
        assert!(s.appear_in("xhunter22x"));
        assert!(!s.appear_in("hunter2"));
    }

    #[test]
    fn overlapping_secrets_leave_no_part_behind() {
        // A shorter secret that starts first must not leave the tail of a longer one.
        let s = secrets(&["abcdefgh", "xxab"]);
        assert_eq!(s.redact("1xxabcdefgh2"), "1***2");
        assert_eq!(s.mask("1xxabcdefgh2"), "1**********2");
        // One secret inside another.
        let s = secrets(&["secret-token", "token"]);
        assert_eq!(s.redact("[secret-token] [token]"), "[***] [***]");
    }

    #[test]
    fn masking_keeps_offsets_and_values_added_later_count() {
        let mut s = secrets(&["p4ssw0rd"]);
        assert_eq!(s.mask("pw = \"p4ssw0rd\""), "pw = \"********\"");
        let before = s.clone();
        assert_eq!(before.redact("captured-1"), "captured-1");
        s.insert("captured-1");
        assert_eq!(s.redact("captured-1 p4ssw0rd"), "*** ***");
        assert_eq!(
            before.redact("captured-1"),
            "captured-1",
            "clones are snapshots"
        );
        assert_eq!(
            secrets(&["abc"]).redact("abc"),
            "abc",
            "too short to be a secret"
        );
        assert_eq!(Secrets::default().redact("x"), "x");
    }

    #[test]
    fn multibyte_text_around_secrets_stays_valid() {
        let s = secrets(&["clé-secrète"]);
        assert_eq!(s.redact("« clé-secrète »"), "« *** »");
        assert_eq!(s.mask("é clé-secrète"), format!("é {}", "*".repeat(13)));
    }
}
