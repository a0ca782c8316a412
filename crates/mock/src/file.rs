//! The `mock.toml` file format, exactly as written; `config` turns it into a runnable edge.
//!
//! Layers are one-key tables (`[[layer]]` then `[layer.waf]`) rather than a `kind` field:
//! serde's externally tagged enums deserialize without buffering, so every error keeps the
//! exact line and column of the offending key, and `deny_unknown_fields` works per kind.
//!
//! At run time `read` deserializes each item on its own (the edge, each layer, the origin,
//! each token, user, route and resource), so that every problem of a file is reported at once;
//! [`MockFile`] describes the whole file for the JSON Schema.

use serde::{Deserialize, Deserializer};
use toml::Spanned;

use crate::persona::Persona;

/// The whole file.
#[cfg(feature = "schema")]
#[expect(
    dead_code,
    reason = "describes the whole file for the JSON Schema; `read` reads it item by item"
)]
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(title = "rolecall mock.toml"))]
#[serde(deny_unknown_fields)]
pub(crate) struct MockFile {
    /// Persona defaults and settings shared by all layers.
    #[serde(default)]
    pub(crate) edge: EdgeFile,
    /// Edge layers, evaluated in order; the first that refuses answers.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Vec<LayerFile>"))]
    pub(crate) layer: Vec<Spanned<LayerFile>>,
    /// What answers requests that pass every layer.
    pub(crate) origin: OriginFile,
}

/// `[edge]`: who the edge pretends to be.
#[derive(Debug, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub(crate) struct EdgeFile {
    /// The CDN in front of everything (cloudflare, cloudfront or akamai): the default persona
    /// of ip, geo, user_agent, hotlink and rate_limit layers, and it stamps its headers
    /// (cf-ray, x-amz-cf-id …) on every response it passes through.
    #[cfg_attr(feature = "schema", schemars(with = "Option<Persona>"))]
    pub(crate) cdn: Option<Spanned<Persona>>,
    /// The web server in front of the origin (nginx or apache): the default persona of
    /// path_deny, directory_listing, method and fault layers, and it sets `Server` on
    /// responses it passes through.
    #[cfg_attr(feature = "schema", schemars(with = "Option<Persona>"))]
    pub(crate) server: Option<Spanned<Persona>>,
    /// The default persona of waf layers (modsecurity, aws_waf, cloudflare …).
    pub(crate) waf: Option<Persona>,
    /// Cloudflare data centre code in cf-ray ids. Default "FRA".
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub(crate) colo: Option<Spanned<String>>,
    /// CloudFront edge location in x-amz-cf-pop. Default "FRA56-P1".
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub(crate) pop: Option<Spanned<String>>,
    /// Host name Apache's pages name when the request has no Host header. Default "localhost".
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub(crate) server_name: Option<Spanned<String>>,
    /// nginx's `Server` header and page signature. Default "nginx/1.22.1".
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub(crate) nginx_server: Option<Spanned<String>>,
    /// Apache's `Server` header and page signature. Default "Apache/2.4.71 (Debian)".
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub(crate) apache_server: Option<Spanned<String>>,
    /// Header in which nginx/Apache refusals carry a request id (as with `add_header
    /// X-Request-Id $request_id`). Default: none, as the servers ship.
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub(crate) request_id_header: Option<Spanned<String>>,
    /// Add `x-amzn-waf-action: block` to AWS WAF refusals. Default false.
    #[serde(default)]
    pub(crate) aws_waf_action_header: bool,
    /// Peers whose forwarding header is believed (CIDR or address). Default: loopback only.
    #[cfg_attr(feature = "schema", schemars(with = "Option<Vec<String>>"))]
    pub(crate) trusted_proxies: Option<Vec<Spanned<String>>>,
    /// Header that carries the client address through trusted proxies. Default "X-Forwarded-For".
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub(crate) client_ip_header: Option<Spanned<String>>,
}

/// One `[[layer]]`: a table with exactly one key naming its kind.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub(crate) enum LayerFile {
    /// Allow or deny client addresses by CIDR.
    Ip(IpLayer),
    /// Block or allow countries named by a country header.
    Geo(GeoLayer),
    /// Regex rules with anomaly scores over path, query, headers and body.
    Waf(WafLayer),
    /// Block user agents by regex.
    UserAgent(UserAgentLayer),
    /// Refuse protected paths unless the Referer is allowed.
    Hotlink(HotlinkLayer),
    /// Deny paths by prefix or glob, after nginx-style normalisation.
    PathDeny(PathDenyLayer),
    /// Refuse directory listings (paths ending in `/`) under prefixes.
    DirectoryListing(DirectoryListingLayer),
    /// Allow or deny HTTP methods.
    Method(MethodLayer),
    /// Token bucket per client address; 429 with Retry-After when empty.
    RateLimit(RateLimitLayer),
    /// Delay, abort or fail matching requests.
    Fault(FaultLayer),
    /// A directory of refusals `rolecall run --record` recorded, relative to this file:
    /// a matching request (method, path and query, caller) gets its recorded response.
    Replay(#[cfg_attr(feature = "schema", schemars(with = "String"))] Spanned<String>),
}

/// `[layer.ip]`
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub(crate) struct IpLayer {
    /// Name in the refusal log. Default: the kind.
    pub(crate) name: Option<String>,
    /// Vendor to imitate. Default: `[edge] cdn`.
    pub(crate) persona: Option<Persona>,
    /// Only requests whose normalised path matches one of these globs. Default: all.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Vec<String>"))]
    pub(crate) paths: Vec<Spanned<String>>,
    /// When set, every other address is refused.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Vec<String>"))]
    pub(crate) allow: Vec<Spanned<String>>,
    /// Addresses refused even when allowed.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Vec<String>"))]
    pub(crate) deny: Vec<Spanned<String>>,
}

/// `[layer.geo]`
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub(crate) struct GeoLayer {
    /// Name in the refusal log. Default: the kind.
    pub(crate) name: Option<String>,
    /// Vendor to imitate. Default: `[edge] cdn`.
    pub(crate) persona: Option<Persona>,
    /// Only requests whose normalised path matches one of these globs. Default: all.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Vec<String>"))]
    pub(crate) paths: Vec<Spanned<String>>,
    /// Header with the ISO 3166 country code. Default "CF-IPCountry"; CloudFront uses
    /// "CloudFront-Viewer-Country".
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub(crate) header: Option<Spanned<String>>,
    /// Countries refused.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Vec<String>"))]
    pub(crate) block: Vec<Spanned<String>>,
    /// When set, every other country is refused.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Vec<String>"))]
    pub(crate) allow: Vec<Spanned<String>>,
    /// Refuse requests without the header. Default false.
    #[serde(default)]
    pub(crate) block_unknown: bool,
}

/// `[layer.waf]`
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub(crate) struct WafLayer {
    /// Name in the refusal log. Default: the kind.
    pub(crate) name: Option<String>,
    /// Vendor to imitate. Default: `[edge] waf`.
    pub(crate) persona: Option<Persona>,
    /// Only requests whose normalised path matches one of these globs. Default: all.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Vec<String>"))]
    pub(crate) paths: Vec<Spanned<String>>,
    /// Built-in rule sets: sqli, xss, path_traversal (each rule scores 5).
    #[serde(default)]
    pub(crate) presets: Vec<WafPreset>,
    /// Block when the summed score of matching rules reaches this. Default 5 (CRS's
    /// inbound anomaly threshold).
    pub(crate) threshold: Option<u32>,
    /// Bytes of request body inspected. Default 8192 (AWS WAF inspects the first 8 KB).
    pub(crate) body_limit: Option<usize>,
    /// Own rules.
    #[serde(default)]
    pub(crate) rule: Vec<WafRuleFile>,
    /// A header added to this layer's refusals, the way a ModSecurity deny action can mark
    /// its blocks (`setenv` + `Header always set X-Blocked-By ModSecurity env=…`), so that
    /// they are told apart from the web server's own 403.
    pub(crate) mark: Option<MarkFile>,
}

/// `mark = { header = "X-Blocked-By", value = "ModSecurity" }`
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub(crate) struct MarkFile {
    /// Header name.
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub(crate) header: Spanned<String>,
    /// Header value.
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub(crate) value: Spanned<String>,
}

/// A built-in WAF rule set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub(crate) enum WafPreset {
    /// SQL injection: UNION SELECT, tautologies, stacked queries, comment terminators.
    Sqli,
    /// Cross-site scripting: script tags, event handlers, javascript: URIs.
    Xss,
    /// Path traversal: `../`, encoded dot-dot, well-known system files.
    PathTraversal,
}

/// `[[layer.waf.rule]]`
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub(crate) struct WafRuleFile {
    /// Rule name in the refusal log.
    pub(crate) name: String,
    /// Regular expression (Rust regex syntax); matched against raw and percent-decoded text.
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub(crate) pattern: Spanned<String>,
    /// Score added when the rule matches. Default: the threshold (the rule blocks alone).
    pub(crate) score: Option<u32>,
    /// Parts inspected. Default ["path", "query", "body"].
    pub(crate) targets: Option<Vec<WafTarget>>,
    /// With target "headers": only these headers. Default: every header.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Vec<String>"))]
    pub(crate) headers: Vec<Spanned<String>>,
}

/// A part of the request a WAF rule inspects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub(crate) enum WafTarget {
    /// The path as sent, before normalisation.
    Path,
    /// The query string.
    Query,
    /// Header values.
    Headers,
    /// The first `body_limit` bytes of the body.
    Body,
}

/// `[layer.user_agent]`
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub(crate) struct UserAgentLayer {
    /// Name in the refusal log. Default: the kind.
    pub(crate) name: Option<String>,
    /// Vendor to imitate. Default: `[edge] cdn`.
    pub(crate) persona: Option<Persona>,
    /// Only requests whose normalised path matches one of these globs. Default: all.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Vec<String>"))]
    pub(crate) paths: Vec<Spanned<String>>,
    /// Regular expressions; a user agent matching any is refused.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Vec<String>"))]
    pub(crate) block: Vec<Spanned<String>>,
    /// Refuse requests without a User-Agent. Default false.
    #[serde(default)]
    pub(crate) block_empty: bool,
}

/// `[layer.hotlink]`
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub(crate) struct HotlinkLayer {
    /// Name in the refusal log. Default: the kind.
    pub(crate) name: Option<String>,
    /// Vendor to imitate. Default: `[edge] cdn`.
    pub(crate) persona: Option<Persona>,
    /// Protected paths (globs, e.g. "/images/**").
    #[cfg_attr(feature = "schema", schemars(with = "Vec<String>"))]
    pub(crate) paths: Vec<Spanned<String>>,
    /// Referer hosts allowed: "example.com", "*.example.com" (subdomains), ".example.com"
    /// (both). The request's own Host is always allowed.
    #[serde(default)]
    pub(crate) allow_hosts: Vec<String>,
    /// Allow requests without a Referer (nginx `valid_referers none`). Default true.
    pub(crate) allow_empty: Option<bool>,
}

/// `[layer.path_deny]`
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub(crate) struct PathDenyLayer {
    /// Name in the refusal log. Default: the kind.
    pub(crate) name: Option<String>,
    /// Vendor to imitate. Default: `[edge] server`.
    pub(crate) persona: Option<Persona>,
    /// Denied prefixes on segment boundaries: "/admin" covers "/admin", "/admin/" and
    /// "/admin/x" but not "/administrator".
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Vec<String>"))]
    pub(crate) prefixes: Vec<Spanned<String>>,
    /// Denied globs: `*` stays within a segment, `**` crosses them ("/**/*.bak").
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Vec<String>"))]
    pub(crate) globs: Vec<Spanned<String>>,
    /// Match regardless of letter case (Windows/IIS style). Default false, as nginx.
    #[serde(default)]
    pub(crate) case_insensitive: bool,
}

/// `[layer.directory_listing]`
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub(crate) struct DirectoryListingLayer {
    /// Name in the refusal log. Default: the kind.
    pub(crate) name: Option<String>,
    /// Vendor to imitate. Default: `[edge] server`.
    pub(crate) persona: Option<Persona>,
    /// Prefixes under which a path ending in "/" is refused. Default ["/"].
    #[cfg_attr(feature = "schema", schemars(with = "Option<Vec<String>>"))]
    pub(crate) prefixes: Option<Vec<Spanned<String>>>,
}

/// `[layer.method]`
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub(crate) struct MethodLayer {
    /// Name in the refusal log. Default: the kind.
    pub(crate) name: Option<String>,
    /// Vendor to imitate. Default: `[edge] server`.
    pub(crate) persona: Option<Persona>,
    /// Only requests whose normalised path matches one of these globs. Default: all.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Vec<String>"))]
    pub(crate) paths: Vec<Spanned<String>>,
    /// When set, every other method is refused (nginx `limit_except`).
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Vec<String>"))]
    pub(crate) allow: Vec<Spanned<String>>,
    /// Methods refused.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Vec<String>"))]
    pub(crate) deny: Vec<Spanned<String>>,
}

/// `[layer.rate_limit]`
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub(crate) struct RateLimitLayer {
    /// Name in the refusal log. Default: the kind.
    pub(crate) name: Option<String>,
    /// Vendor to imitate. Default: `[edge] cdn`.
    pub(crate) persona: Option<Persona>,
    /// Only requests whose normalised path matches one of these globs. Default: all.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Vec<String>"))]
    pub(crate) paths: Vec<Spanned<String>>,
    /// Requests refilled per `per`.
    #[cfg_attr(feature = "schema", schemars(with = "u32"))]
    pub(crate) requests: Spanned<u32>,
    /// Refill period, e.g. "1s", "1m". Default "1s".
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub(crate) per: Option<Spanned<String>>,
    /// Bucket size: requests allowed at once. Default: `requests`.
    pub(crate) burst: Option<u32>,
    /// Status of the refusal. Default 429.
    #[cfg_attr(feature = "schema", schemars(with = "Option<u16>"))]
    pub(crate) status: Option<Spanned<u16>>,
    /// Client addresses tracked at most; idle buckets are dropped first. Default 10000.
    pub(crate) max_clients: Option<usize>,
}

/// `[layer.fault]`
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub(crate) struct FaultLayer {
    /// Name in the refusal log. Default: the kind.
    pub(crate) name: Option<String>,
    /// Vendor whose 5xx page is sent. Default: `[edge] server`.
    pub(crate) persona: Option<Persona>,
    /// Affected paths (globs).
    #[cfg_attr(feature = "schema", schemars(with = "Vec<String>"))]
    pub(crate) paths: Vec<Spanned<String>>,
    /// Wait this long first, e.g. "250ms".
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub(crate) delay: Option<Spanned<String>>,
    /// Then drop the connection: "reset" (TCP RST) or "close" (FIN, no response).
    pub(crate) abort: Option<FaultAbort>,
    /// Or then answer with this 5xx status in the persona's style.
    #[cfg_attr(feature = "schema", schemars(with = "Option<u16>"))]
    pub(crate) status: Option<Spanned<u16>>,
    /// Share of matching requests affected, 0.0 to 1.0. Default 1.0.
    #[cfg_attr(feature = "schema", schemars(with = "Option<f64>"))]
    pub(crate) probability: Option<Spanned<f64>>,
}

/// How an injected fault ends the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub(crate) enum FaultAbort {
    /// Reset the TCP connection.
    Reset,
    /// Close the connection without a response.
    Close,
}

/// `[origin]`: exactly one of `app` or `proxy`.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub(crate) enum OriginFile {
    /// A policy-driven mock application.
    App(Box<AppFile>),
    /// Forward to a real upstream.
    Proxy(ProxyFile),
}

/// `[origin.proxy]`
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub(crate) struct ProxyFile {
    /// Upstream base URL, e.g. "http://127.0.0.1:8080" (plain HTTP).
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub(crate) upstream: Spanned<String>,
    /// Give up on the upstream after this long and answer 504. Default "30s".
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub(crate) timeout: Option<Spanned<String>>,
}

/// `[origin.app]`
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub(crate) struct AppFile {
    /// Realm in `WWW-Authenticate` challenges. Default "rolecall-mock".
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub(crate) realm: Option<Spanned<String>>,
    /// Header carrying API keys of the token table. Default "X-Api-Key".
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub(crate) api_key_header: Option<Spanned<String>>,
    /// JWT bearer verification.
    #[cfg_attr(feature = "schema", schemars(with = "Option<JwtFile>"))]
    pub(crate) jwt: Option<Read<Spanned<JwtFile>>>,
    /// Static bearer tokens and API keys.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Vec<TokenFile>"))]
    pub(crate) token: Vec<Read<Spanned<TokenFile>>>,
    /// Users for basic auth and the login endpoint.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Vec<UserFile>"))]
    pub(crate) user: Vec<Read<Spanned<UserFile>>>,
    /// A login endpoint that issues session tokens and cookies.
    pub(crate) login: Option<LoginFile>,
    /// Origin check on unsafe methods.
    pub(crate) csrf: Option<CsrfFile>,
    /// The routes the app serves.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Vec<RouteFile>"))]
    pub(crate) route: Vec<Read<Spanned<RouteFile>>>,
    /// Collections of objects created through the API, kept per running mock.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Vec<ResourceFile>"))]
    pub(crate) resource: Vec<Read<Spanned<ResourceFile>>>,
}

/// `[[origin.app.resource]]`: a collection whose objects callers create (POST, 201 with
/// `Location`), list (GET), read (GET), replace (PUT), change (PATCH) and delete (DELETE)
/// at `{collection}/{id}`, share (POST `{collection}/{id}/members` with `{"user": sub}`)
/// and act on (`action`). Each object records its owner (the caller's subject) and tenant.
///
/// Who may do what is a list of grants, any of which allows: "authenticated" (any
/// signed-in caller), "owner", "members" (added through the invite route), "tenant"
/// (callers of the object's tenant) and "role:NAME" (callers with that role in the
/// object's tenant).
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub(crate) struct ResourceFile {
    /// Path of the collection, e.g. "/v1/docs" or "/v1/tenants/{tenant}/workspaces".
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub(crate) collection: Spanned<String>,
    /// Path parameter that must equal the caller's tenant, as on routes.
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub(crate) tenant_param: Option<Spanned<String>>,
    /// Answer 404 to callers who may not read an object (and to callers of another
    /// tenant), hiding that it exists; callers who may read it but not change it get 403.
    #[serde(default)]
    pub(crate) conceal: bool,
    /// Objects kept at most; creating one more answers 507. Default 10000.
    #[cfg_attr(feature = "schema", schemars(with = "Option<u64>"))]
    pub(crate) max_objects: Option<Spanned<u64>>,
    /// Who may create. Default ["authenticated"].
    #[cfg_attr(feature = "schema", schemars(with = "Option<Vec<String>>"))]
    pub(crate) create: Option<Vec<Spanned<String>>>,
    /// Who may list; the list holds the objects the caller may read. Default ["authenticated"].
    #[cfg_attr(feature = "schema", schemars(with = "Option<Vec<String>>"))]
    pub(crate) list: Option<Vec<Spanned<String>>>,
    /// Who may read an object. Default ["owner"].
    #[cfg_attr(feature = "schema", schemars(with = "Option<Vec<String>>"))]
    pub(crate) read: Option<Vec<Spanned<String>>>,
    /// Who may replace or change an object (PUT, PATCH). Default ["owner"].
    #[cfg_attr(feature = "schema", schemars(with = "Option<Vec<String>>"))]
    pub(crate) update: Option<Vec<Spanned<String>>>,
    /// Who may delete an object. Default ["owner"].
    #[cfg_attr(feature = "schema", schemars(with = "Option<Vec<String>>"))]
    pub(crate) delete: Option<Vec<Spanned<String>>>,
    /// Who may add members to an object. Default ["owner"].
    #[cfg_attr(feature = "schema", schemars(with = "Option<Vec<String>>"))]
    pub(crate) invite: Option<Vec<Spanned<String>>>,
    /// Operations on an object at `{collection}/{id}/{name}`.
    #[serde(default)]
    pub(crate) action: Vec<ActionFile>,
}

/// `[[origin.app.resource.action]]`
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub(crate) struct ActionFile {
    /// "METHOD name", e.g. "GET export" for `GET {collection}/{id}/export`.
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub(crate) request: Spanned<String>,
    /// Who may, as the resource's grants.
    #[cfg_attr(feature = "schema", schemars(with = "Vec<String>"))]
    pub(crate) allow: Vec<Spanned<String>>,
}

/// `[origin.app.jwt]`
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub(crate) struct JwtFile {
    /// Accepted algorithms, e.g. ["HS256"] or ["RS256", "ES256"]. Default: the family of the
    /// key (HS256 for a secret). "none" is never accepted.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(with = "Vec<String>"))]
    pub(crate) algorithms: Vec<Spanned<String>>,
    /// HMAC secret; "${env:NAME}" reads an environment variable.
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub(crate) secret: Option<Spanned<String>>,
    /// PEM public key (RSA or EC) for RS*/PS*/ES*, relative to the mock.toml folder.
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub(crate) public_key_file: Option<Spanned<String>>,
    /// Required `iss`.
    pub(crate) issuer: Option<String>,
    /// Required `aud` (one of).
    #[serde(default)]
    pub(crate) audience: Vec<String>,
    /// Clock skew allowed for exp and nbf, in seconds. Default 0.
    pub(crate) leeway: Option<u64>,
    /// Claim with roles (string or array). Default: "roles", else "role".
    pub(crate) roles_claim: Option<String>,
    /// Claim with scopes (space-separated string or array). Default: "scope", else "scp".
    pub(crate) scopes_claim: Option<String>,
    /// Claim with the tenant. Default "tenant".
    pub(crate) tenant_claim: Option<String>,
}

/// `[[origin.app.token]]`: a static credential and the principal it stands for.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub(crate) struct TokenFile {
    /// Accepted as `Authorization: Bearer <bearer>`; "${env:NAME}" allowed.
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub(crate) bearer: Option<Spanned<String>>,
    /// Accepted in the API key header; "${env:NAME}" allowed.
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub(crate) api_key: Option<Spanned<String>>,
    /// Subject. Default: the user name, or "token-<n>".
    pub(crate) sub: Option<String>,
    /// Roles.
    #[serde(default)]
    pub(crate) roles: Vec<String>,
    /// Scopes.
    #[serde(default)]
    pub(crate) scopes: Vec<String>,
    /// Tenant.
    pub(crate) tenant: Option<String>,
}

/// `[[origin.app.user]]`: basic auth and login credentials.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub(crate) struct UserFile {
    /// User name.
    pub(crate) username: String,
    /// Password; "${env:NAME}" allowed.
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub(crate) password: Spanned<String>,
    /// Subject. Default: the user name, or "token-<n>".
    pub(crate) sub: Option<String>,
    /// Roles.
    #[serde(default)]
    pub(crate) roles: Vec<String>,
    /// Scopes.
    #[serde(default)]
    pub(crate) scopes: Vec<String>,
    /// Tenant.
    pub(crate) tenant: Option<String>,
}

/// `[origin.app.login]`
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub(crate) struct LoginFile {
    /// Path of the POST endpoint taking {"username", "password"}. Default "/v1/login".
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub(crate) path: Option<Spanned<String>>,
    /// Session cookie name. Default "session".
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub(crate) cookie: Option<Spanned<String>>,
}

/// `[origin.app.csrf]`
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub(crate) struct CsrfFile {
    /// Origins allowed on POST, PUT, PATCH and DELETE, e.g. "https://app.example.com".
    pub(crate) allowed_origins: Vec<String>,
    /// Refuse unsafe requests that carry no Origin header. Default false.
    #[serde(default)]
    pub(crate) require_origin: bool,
}

/// `[[origin.app.route]]`
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub(crate) struct RouteFile {
    /// "METHOD /path/{param}".
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub(crate) request: Spanned<String>,
    /// No credentials needed. Default false.
    #[serde(default)]
    pub(crate) public: bool,
    /// The principal needs at least one of these roles.
    #[serde(default)]
    pub(crate) roles: Vec<String>,
    /// The principal needs all of these scopes.
    #[serde(default)]
    pub(crate) scopes: Vec<String>,
    /// Path parameter that must equal the principal's tenant.
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub(crate) tenant_param: Option<Spanned<String>>,
    /// Answer 404 instead of 403, hiding that the resource exists: with `tenant_param`, for
    /// callers of another tenant (members still learn they lack a role); without it, for
    /// every refusal.
    #[serde(default)]
    pub(crate) conceal: bool,
    /// Status of an allowed request. Default 201 for POST, else 200.
    #[cfg_attr(feature = "schema", schemars(with = "Option<u16>"))]
    pub(crate) status: Option<Spanned<u16>>,
    /// A leaky deny body: every 4xx of this route carries this text in a `debug` member
    /// (a stack trace, an internal host …), as an app left in debug mode does.
    pub(crate) leak: Option<String>,
}

/// An item as read: what deserialized, and whether anything had to be taken out of it
/// first. Checks that a missing value would trip (a layer that "needs `allow`") only run on
/// clean items, so that one problem is never reported twice in other words.
#[derive(Debug)]
pub(crate) struct Read<T> {
    pub(crate) value: T,
    pub(crate) clean: bool,
}

/// An item read whole by serde (as in a unit test) is clean; `read` marks the items it
/// had to take problems out of.
impl<'de, T: Deserialize<'de>> Deserialize<'de> for Read<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::deserialize(deserializer).map(|value| Read { value, clean: true })
    }
}
