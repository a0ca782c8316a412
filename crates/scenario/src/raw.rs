//! The file formats as serde sees them: what a user may write, before validation.
//!
//! Fields that a later check must point at are `Spanned`. Unknown keys are not rejected
//! by serde (`deny_unknown_fields` stops at the first one); `serde_ignored` collects them
//! all instead, and the JSON Schema still says `additionalProperties: false`.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::ops::Range;

use serde::Deserialize;
use serde::de::{self, Visitor};
use toml::Spanned;

#[cfg(feature = "schema")]
use schemars::JsonSchema;

/// Where each key of an item is written, filled in by the reader after deserializing:
/// `status`, and one level down `body.json` or `headers.x-debug`. A run points a failed
/// expectation at the key that set it.
#[derive(Debug, Default, Clone)]
pub(crate) struct Keys(pub(crate) HashMap<String, Range<usize>>);

/// A status as written: an integer (`403`) or a class (`"2xx"`). Range checks happen
/// later so that they can be reported alongside every other problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StatusValue {
    Code(i64),
    Text(String),
}

impl<'de> Deserialize<'de> for StatusValue {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StatusVisitor;
        impl Visitor<'_> for StatusVisitor {
            type Value = StatusValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a status code such as 403 or a class such as \"2xx\"")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<StatusValue, E> {
                Ok(StatusValue::Code(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<StatusValue, E> {
                Ok(StatusValue::Code(i64::try_from(v).unwrap_or(i64::MAX)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<StatusValue, E> {
                Ok(StatusValue::Text(v.to_owned()))
            }
        }
        deserializer.deserialize_any(StatusVisitor)
    }
}

#[cfg(feature = "schema")]
impl JsonSchema for StatusValue {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Status".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "An HTTP status code (100-599) or a class such as \"2xx\".",
            "oneOf": [
                { "type": "integer", "minimum": 100, "maximum": 599 },
                { "type": "string", "pattern": "^[1-5]xx$" }
            ]
        })
    }
}

/// `bypass` as written: `true`, `false` or a list of families. Checked after reading,
/// so that an unknown family is reported with every other problem.
#[cfg(feature = "schema")]
pub(crate) struct BypassSchema;

#[cfg(feature = "schema")]
impl JsonSchema for BypassSchema {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Bypass".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "Re-try refusals in bypass variants: true for every family, or a list of families.",
            "oneOf": [
                { "type": "boolean" },
                { "type": "array", "items": { "enum": ["path", "method", "rewrite", "client_ip", "protocol"] } }
            ]
        })
    }
}

/// `rolecall.toml`: what every route file of a suite shares.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema), schemars(deny_unknown_fields))]
#[cfg_attr(
    feature = "schema",
    schemars(title = "rolecall suite file (rolecall.toml)")
)]
#[allow(
    dead_code,
    reason = "the loader reads each section on its own; this type describes the whole file for the schema"
)]
pub(crate) struct SuiteFile {
    /// Settings every route inherits.
    pub(crate) defaults: Option<Defaults>,
    /// Variables every identity inherits; `{name}` in a request path is replaced by them.
    pub(crate) vars: Option<BTreeMap<String, String>>,
    /// Where requests go. One target is selected per run.
    pub(crate) targets: BTreeMap<String, TargetDef>,
    /// Who sends requests. Every route is tried by every identity.
    pub(crate) identities: BTreeMap<String, IdentityDef>,
    /// Named lists of identities, usable wherever identities are listed.
    pub(crate) groups: Option<BTreeMap<String, Vec<String>>>,
    /// What every app-layer refusal must carry, and what no refusal may carry.
    pub(crate) deny_contract: Option<DenyContractDef>,
    /// Objects created before the cases and removed after them.
    pub(crate) fixture: Option<Vec<FixtureDef>>,
}

/// A route file: any other `*.toml` file of the suite.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema), schemars(deny_unknown_fields))]
#[cfg_attr(feature = "schema", schemars(title = "rolecall route file"))]
#[allow(
    dead_code,
    reason = "the loader reads each route on its own; this type describes the whole file for the schema"
)]
pub(crate) struct RoutesFile {
    /// The routes of this file, each tried by every identity.
    pub(crate) route: Option<Vec<RouteDef>>,
    /// Extends the suite's deny-body contract for this file's routes: lists are appended,
    /// single values replaced.
    pub(crate) deny_contract: Option<DenyContractDef>,
    /// Objects created before the cases and removed after them; any file's routes may
    /// use them.
    pub(crate) fixture: Option<Vec<FixtureDef>>,
    /// Ordered steps each identity walks through; a step that fails or is refused skips
    /// that identity's later steps.
    pub(crate) journey: Option<Vec<JourneyDef>>,
}

/// `[[journey]]`: ordered steps, walked once per identity; each step is its own case,
/// `file::journey::identity::step`.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema), schemars(deny_unknown_fields))]
pub(crate) struct JourneyDef {
    /// The name: in case names, and in placeholders `{name.capture}` of later steps.
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub(crate) name: Spanned<String>,
    /// Identities and groups that walk the journey, each on its own (default: every
    /// identity).
    #[cfg_attr(feature = "schema", schemars(with = "Option<Vec<String>>"))]
    pub(crate) identities: Option<Vec<Spanned<String>>>,
    /// The steps, in order (read one by one; declared here for the schema).
    #[cfg(feature = "schema")]
    #[expect(
        dead_code,
        reason = "steps are read one by one; this field describes them for the schema"
    )]
    pub(crate) step: Option<Vec<StepSchema>>,
}

/// A `[[journey.step]]` as the schema shows it: a route (with a required `name`) and
/// the keys only a step has.
#[cfg(feature = "schema")]
#[derive(Debug, Deserialize, JsonSchema)]
#[expect(dead_code, reason = "describes a step for the schema only")]
pub(crate) struct StepSchema {
    #[serde(flatten)]
    pub(crate) route: RouteDef,
    #[serde(flatten)]
    pub(crate) step: StepDef,
}

/// The keys of a `[[journey.step]]` that a route does not have.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
pub(crate) struct StepDef {
    /// Send this step as another identity (e.g. the invitee), within the same walk;
    /// expectations stay those of the identity walking the journey.
    #[serde(rename = "as")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub(crate) as_identity: Option<Spanned<String>>,
    /// Values to capture from this step's response for later steps, `{journey.name}`:
    /// a JSON pointer ("/id"), or `{ pointer = … }`, `{ header = … }`, `{ regex = … }`,
    /// each with an optional `secret = true`.
    #[cfg_attr(
        feature = "schema",
        schemars(with = "Option<BTreeMap<String, CaptureSchema>>")
    )]
    pub(crate) capture: Option<BTreeMap<String, Spanned<toml::Value>>>,
    /// Request line that undoes this step after the cases, in reverse order, sent as the
    /// step's sender, e.g. "DELETE /v1/workspaces/{launch.id}".
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub(crate) teardown: Option<Spanned<String>>,
}

/// `[[fixture]]`: a request run before the cases, whose response values fill
/// `{name.capture}` placeholders, and the request that removes what it created.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema), schemars(deny_unknown_fields))]
pub(crate) struct FixtureDef {
    /// The name placeholders use: `{name.capture}`.
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub(crate) name: Spanned<String>,
    /// The identity that creates it.
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub(crate) identity: Option<Spanned<String>>,
    /// Identities or groups that each create their own (instead of `identity`); a route
    /// with `owner = "<name>"` then expands over (actor, owner) pairs.
    #[cfg_attr(feature = "schema", schemars(with = "Option<Vec<String>>"))]
    pub(crate) per_identity: Option<Vec<Spanned<String>>>,
    /// Request line, e.g. "POST /v1/docs"; `{var}` and `{fixture.capture}` placeholders.
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub(crate) request: Spanned<String>,
    /// Query parameters.
    pub(crate) query: Option<BTreeMap<String, String>>,
    /// Request headers.
    pub(crate) headers: Option<BTreeMap<String, String>>,
    /// Request body.
    pub(crate) body: Option<BodyDef>,
    /// The status the request must get (default "2xx"); anything else fails the cases
    /// that need the fixture.
    #[cfg_attr(feature = "schema", schemars(with = "Option<StatusValue>"))]
    pub(crate) status: Option<Spanned<StatusValue>>,
    /// Values to capture: a JSON pointer ("/id"), or `{ pointer = … }`, `{ header = … }`,
    /// `{ regex = … }`, each with an optional `secret = true`.
    #[cfg_attr(
        feature = "schema",
        schemars(with = "Option<BTreeMap<String, CaptureSchema>>")
    )]
    pub(crate) capture: Option<BTreeMap<String, Spanned<toml::Value>>>,
    /// Fixtures to create first (also inferred from `{other.capture}` placeholders).
    #[cfg_attr(feature = "schema", schemars(with = "Option<Vec<String>>"))]
    pub(crate) needs: Option<Vec<Spanned<String>>>,
    /// Request line that removes the object, sent as the same identity after the cases,
    /// e.g. "DELETE /v1/docs/{doc.id}".
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub(crate) teardown: Option<Spanned<String>>,
}

/// A capture as written: a JSON pointer, or a table naming where the value is read.
#[cfg(feature = "schema")]
pub(crate) struct CaptureSchema;

#[cfg(feature = "schema")]
impl JsonSchema for CaptureSchema {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Capture".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A JSON pointer such as \"/id\", or a table with exactly one of `pointer`, `header` or `regex` (its first group), and `secret = true` for a credential.",
            "oneOf": [
                { "type": "string", "pattern": "^(/.*)?$" },
                {
                    "type": "object",
                    "additionalProperties": false,
                    "properties": {
                        "pointer": { "type": "string", "pattern": "^(/.*)?$" },
                        "header": { "type": "string" },
                        "regex": { "type": "string" },
                        "secret": { "type": "boolean" }
                    }
                }
            ]
        })
    }
}

#[derive(Debug, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema), schemars(deny_unknown_fields))]
pub(crate) struct Defaults {
    /// Where each key is written (not part of the format).
    #[serde(skip)]
    pub(crate) keys: Keys,
    /// The target used when none is named on the command line.
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub(crate) target: Option<Spanned<String>>,
    /// Expected status for an allowed identity (default "2xx").
    #[cfg_attr(feature = "schema", schemars(with = "Option<StatusValue>"))]
    pub(crate) allow: Option<Spanned<StatusValue>>,
    /// Expected status for an identity that is not allowed (default 403).
    #[cfg_attr(feature = "schema", schemars(with = "Option<StatusValue>"))]
    pub(crate) deny: Option<Spanned<StatusValue>>,
    /// Expected status for an identity without valid credentials (default 401).
    #[cfg_attr(feature = "schema", schemars(with = "Option<StatusValue>"))]
    pub(crate) unauthenticated: Option<Spanned<StatusValue>>,
    /// When set, an unauthenticated request must instead be redirected to a URL containing this.
    pub(crate) login_redirect: Option<String>,
    /// Per-request timeout, e.g. "5s" (default 10s).
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub(crate) timeout: Option<Spanned<String>>,
    /// Requests in flight at once (default 64).
    #[cfg_attr(
        feature = "schema",
        schemars(with = "Option<u32>", range(min = 1, max = 4096))
    )]
    pub(crate) concurrency: Option<Spanned<i64>>,
    /// Snapshot every refusal's body with insta (default false).
    pub(crate) snapshot: Option<bool>,
    /// Re-try refusals in bypass variants: `true` for every family, or a list of
    /// `path`, `method`, `rewrite`, `client_ip`, `protocol` (default false).
    #[cfg_attr(feature = "schema", schemars(with = "Option<BypassSchema>"))]
    pub(crate) bypass: Option<Spanned<toml::Value>>,
    /// Follow redirects (default false).
    pub(crate) follow_redirects: Option<bool>,
    /// Header carrying an identity's `client_ip` (default "X-Forwarded-For").
    pub(crate) client_ip_header: Option<String>,
    /// Header carrying an identity's `country` (default "CF-IPCountry").
    pub(crate) country_header: Option<String>,
    /// Headers sent with every request.
    pub(crate) headers: Option<BTreeMap<String, String>>,
    /// Extra layer-attribution fingerprints (your gateways, your app's error shapes); they
    /// take precedence over the built-in ones.
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub(crate) fingerprints: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema), schemars(deny_unknown_fields))]
pub(crate) struct TargetDef {
    /// Base URL of the service under test, e.g. "${env:STAGING_URL}".
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub(crate) base_url: Option<Spanned<String>>,
    /// A rolecall mock edge configuration started in-process for the run.
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub(crate) mock: Option<Spanned<String>>,
    /// Send POST, PUT, PATCH and DELETE (default false: such cases are skipped).
    pub(crate) allow_mutations: Option<bool>,
    /// Per-request timeout for this target, e.g. "2s".
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub(crate) timeout: Option<Spanned<String>>,
    /// PEM file with an extra CA certificate to trust.
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub(crate) ca_cert: Option<Spanned<String>>,
    /// Accept any TLS certificate. Never use against production.
    pub(crate) insecure: Option<bool>,
    /// Shell command that starts the service under test for the run.
    pub(crate) command: Option<String>,
    /// Path polled until the started service answers, e.g. "/healthz".
    pub(crate) ready: Option<String>,
    /// How long to wait for `ready` (default 30s).
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub(crate) ready_timeout: Option<Spanned<String>>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema), schemars(deny_unknown_fields))]
pub(crate) struct IdentityDef {
    /// What this identity stands for.
    pub(crate) description: Option<String>,
    /// Another identity whose settings this one starts from.
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub(crate) extends: Option<Spanned<String>>,
    /// Whether this identity carries valid credentials. Inferred when absent: an identity
    /// with no credentials or a deliberately bad JWT is unauthenticated.
    pub(crate) authenticated: Option<bool>,
    /// `Authorization: Bearer <token>`.
    pub(crate) bearer: Option<String>,
    /// HTTP basic authentication.
    pub(crate) basic: Option<BasicDef>,
    /// Cookies sent with every request.
    pub(crate) cookies: Option<BTreeMap<String, String>>,
    /// An API key header.
    pub(crate) api_key: Option<ApiKeyDef>,
    /// Any other headers.
    pub(crate) headers: Option<BTreeMap<String, String>>,
    /// `User-Agent`.
    pub(crate) user_agent: Option<String>,
    /// `Referer`.
    pub(crate) referer: Option<String>,
    /// `Origin`.
    pub(crate) origin: Option<String>,
    /// Client address, sent in the suite's `client_ip_header`.
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub(crate) client_ip: Option<Spanned<String>>,
    /// ISO 3166 country code, sent in the suite's `country_header`.
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub(crate) country: Option<Spanned<String>>,
    /// A JWT minted for every run.
    pub(crate) jwt: Option<JwtDef>,
    /// A request run once per run that yields a token or a cookie.
    pub(crate) login: Option<LoginDef>,
    /// Values for `{name}` placeholders in request paths (e.g. `tenant = "acme"`).
    pub(crate) vars: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema), schemars(deny_unknown_fields))]
pub(crate) struct BasicDef {
    pub(crate) username: String,
    pub(crate) password: String,
}

#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema), schemars(deny_unknown_fields))]
pub(crate) struct ApiKeyDef {
    /// Header name (default "X-API-Key").
    pub(crate) header: Option<String>,
    pub(crate) value: String,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema), schemars(deny_unknown_fields))]
pub(crate) struct JwtDef {
    /// HMAC secret for HS256/HS384/HS512.
    pub(crate) secret: Option<String>,
    /// PEM private key file (RS*, PS*, ES*, EdDSA), relative to the suite directory.
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub(crate) private_key: Option<Spanned<String>>,
    /// Signing algorithm (default HS256 with `secret`, RS256 with `private_key`).
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub(crate) alg: Option<Spanned<String>>,
    /// `kid` header.
    pub(crate) kid: Option<String>,
    /// `iss` claim.
    pub(crate) issuer: Option<String>,
    /// `aud` claim.
    pub(crate) audience: Option<String>,
    /// `sub` claim.
    pub(crate) subject: Option<String>,
    /// Any other claims.
    #[cfg_attr(
        feature = "schema",
        schemars(with = "Option<serde_json::Map<String, serde_json::Value>>")
    )]
    pub(crate) claims: Option<toml::Table>,
    /// Lifetime from now, e.g. "1h"; negative ("-1h") mints an expired token.
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub(crate) expires_in: Option<Spanned<String>>,
    /// `nbf` offset from now, e.g. "1h" mints a token that is not yet valid.
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub(crate) not_before: Option<Spanned<String>>,
    /// A deliberate defect: expired, not_yet_valid, wrong_audience, wrong_signature, alg_none.
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub(crate) defect: Option<Spanned<String>>,
    /// Header carrying the token (default "Authorization", as `Bearer <jwt>`).
    pub(crate) header: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema), schemars(deny_unknown_fields))]
pub(crate) struct LoginDef {
    /// Request line, e.g. "POST /v1/login".
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub(crate) request: Spanned<String>,
    pub(crate) headers: Option<BTreeMap<String, String>>,
    pub(crate) body: Option<BodyDef>,
    /// JSON pointer to a token in the response, sent afterwards as a bearer token.
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub(crate) token: Option<Spanned<String>>,
    /// Name of a cookie the response must set; the identity's cookie store keeps it.
    pub(crate) cookie: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema), schemars(deny_unknown_fields))]
pub(crate) struct BodyDef {
    /// A JSON body.
    #[cfg_attr(feature = "schema", schemars(with = "Option<serde_json::Value>"))]
    pub(crate) json: Option<Spanned<toml::Value>>,
    /// A form body (application/x-www-form-urlencoded).
    pub(crate) form: Option<BTreeMap<String, String>>,
    /// A raw body.
    pub(crate) raw: Option<String>,
    /// Content-Type for a raw body.
    pub(crate) content_type: Option<String>,
}

#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema), schemars(deny_unknown_fields))]
pub(crate) struct RouteDef {
    /// Where each key is written (not part of the format).
    #[serde(skip)]
    pub(crate) keys: Keys,
    /// Request line: "METHOD /path?query", with `{var}` placeholders from identity vars.
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub(crate) request: Spanned<String>,
    /// Name used in case names (default: derived from the request line).
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub(crate) name: Option<Spanned<String>>,
    /// What the route is for.
    pub(crate) description: Option<String>,
    /// Query parameters.
    pub(crate) query: Option<BTreeMap<String, String>>,
    /// Request headers.
    pub(crate) headers: Option<BTreeMap<String, String>>,
    /// Request body.
    pub(crate) body: Option<BodyDef>,
    /// Identities and groups that may use the route; everyone else must be refused. With
    /// `owner`, `"owner"` stands for the identity that created the object.
    #[cfg_attr(feature = "schema", schemars(with = "Option<Vec<String>>"))]
    pub(crate) allow: Option<Vec<Spanned<String>>>,
    /// A `per_identity` fixture: the route is tried by every identity on every
    /// identity's object (`file::route::actor@owner`).
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub(crate) owner: Option<Spanned<String>>,
    /// With `owner`: leave out each owner's own case (`alice@alice`), for a request that
    /// would remove or spoil the fixture mid-run (the owner's DELETE); the teardown, whose
    /// failure fails the run, is the owner's request then.
    #[cfg_attr(feature = "schema", schemars(with = "Option<bool>"))]
    pub(crate) others_only: Option<Spanned<bool>>,
    /// Everyone may use the route, credentials or not.
    pub(crate) public: Option<bool>,
    /// Expected status for allowed identities (default: the suite's `allow`).
    #[cfg_attr(feature = "schema", schemars(with = "Option<StatusValue>"))]
    pub(crate) status: Option<Spanned<StatusValue>>,
    /// Expected status for everyone else (default: the suite's `deny`).
    #[cfg_attr(feature = "schema", schemars(with = "Option<StatusValue>"))]
    pub(crate) deny: Option<Spanned<StatusValue>>,
    /// Expected status without valid credentials (default: the suite's `unauthenticated`).
    #[cfg_attr(feature = "schema", schemars(with = "Option<StatusValue>"))]
    pub(crate) unauthenticated: Option<Spanned<StatusValue>>,
    /// Layer that must answer every refusal of this route: app, server, waf or cdn.
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub(crate) layer: Option<Spanned<String>>,
    /// Vendor that must answer every refusal of this route, e.g. "nginx".
    pub(crate) vendor: Option<String>,
    /// Snapshot refusals of this route.
    pub(crate) snapshot: Option<bool>,
    /// Re-try refusals in bypass variants: `true` for every family, or a list of
    /// `path`, `method`, `rewrite`, `client_ip`, `protocol` (default false).
    #[cfg_attr(feature = "schema", schemars(with = "Option<BypassSchema>"))]
    pub(crate) bypass: Option<Spanned<toml::Value>>,
    /// Follow redirects.
    pub(crate) follow_redirects: Option<bool>,
    /// Explicit expectations for some identities.
    pub(crate) case: Option<Vec<CaseDef>>,
}

#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema), schemars(deny_unknown_fields))]
pub(crate) struct CaseDef {
    /// Where each key is written (not part of the format).
    #[serde(skip)]
    pub(crate) keys: Keys,
    /// The identity (or group) this expectation is for.
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub(crate) identity: Option<Spanned<String>>,
    /// Several identities or groups sharing this expectation.
    #[cfg_attr(feature = "schema", schemars(with = "Option<Vec<String>>"))]
    pub(crate) identities: Option<Vec<Spanned<String>>>,
    /// Expected status.
    #[cfg_attr(feature = "schema", schemars(with = "Option<StatusValue>"))]
    pub(crate) status: Option<Spanned<StatusValue>>,
    /// Layer that must refuse: app, server, waf or cdn.
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub(crate) layer: Option<Spanned<String>>,
    /// Vendor that must refuse, e.g. "cloudflare".
    pub(crate) vendor: Option<String>,
    /// Body matchers.
    pub(crate) body: Option<BodyMatchDef>,
    /// Header matchers, by header name.
    pub(crate) headers: Option<BTreeMap<String, HeaderMatchDef>>,
    /// The `Location` header must contain this.
    pub(crate) redirect: Option<String>,
    /// Snapshot this response.
    pub(crate) snapshot: Option<bool>,
    /// Re-try refusals in bypass variants: `true` for every family, or a list of
    /// `path`, `method`, `rewrite`, `client_ip`, `protocol` (default false).
    #[cfg_attr(feature = "schema", schemars(with = "Option<BypassSchema>"))]
    pub(crate) bypass: Option<Spanned<toml::Value>>,
    /// Follow redirects.
    pub(crate) follow_redirects: Option<bool>,
    /// Do not send; report the case as ignored with this reason.
    pub(crate) skip: Option<String>,
}

#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema), schemars(deny_unknown_fields))]
pub(crate) struct BodyMatchDef {
    /// The body is JSON containing at least these members.
    #[cfg_attr(feature = "schema", schemars(with = "Option<serde_json::Value>"))]
    pub(crate) json: Option<Spanned<toml::Value>>,
    /// The body contains this text.
    pub(crate) contains: Option<String>,
    /// The body does not contain this text.
    pub(crate) not_contains: Option<String>,
    /// The body matches this regular expression.
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub(crate) regex: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema), schemars(deny_unknown_fields))]
pub(crate) struct HeaderMatchDef {
    /// The header equals this value.
    pub(crate) equals: Option<String>,
    /// The header contains this text.
    pub(crate) contains: Option<String>,
    /// The header matches this regular expression.
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub(crate) regex: Option<Spanned<String>>,
    /// The header is present (true) or absent (false).
    pub(crate) present: Option<bool>,
}

/// `[deny_contract]`: what every app-layer refusal must carry, and what no refusal at any
/// layer may carry.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema), schemars(deny_unknown_fields))]
pub(crate) struct DenyContractDef {
    /// App-layer refusal statuses the shape rules apply to (default [401, 403]).
    #[cfg_attr(feature = "schema", schemars(with = "Option<Vec<u16>>"))]
    pub(crate) statuses: Option<Vec<Spanned<i64>>>,
    /// JSON members every app-layer refusal must carry.
    pub(crate) require: Option<Vec<RequireDef>>,
    /// The text that names the boundary: a member, a pattern, or both.
    pub(crate) message: Option<TextRuleDef>,
    /// The way to recover: a member (a link or a path), a pattern, or both.
    pub(crate) recovery: Option<TextRuleDef>,
    /// JSON pointer of the member that must echo the request id (the response's
    /// X-Request-Id, cf-ray … when it has one), e.g. "/request_id".
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub(crate) request_id: Option<Spanned<String>>,
    /// Regular expressions no refusal at any layer may match.
    #[cfg_attr(feature = "schema", schemars(with = "Option<Vec<String>>"))]
    pub(crate) forbid: Option<Vec<Spanned<String>>>,
    /// Built-in leak detectors to turn off: stack_trace, sql_error, template_error,
    /// internal_host, private_address, file_path, foreign_tenant, secret.
    #[cfg_attr(feature = "schema", schemars(with = "Option<Vec<String>>"))]
    pub(crate) off: Option<Vec<Spanned<String>>>,
    /// Identity vars holding a tenant identifier (default ["tenant"]).
    pub(crate) tenant_vars: Option<Vec<String>>,
}

/// A JSON member a refusal must carry.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema), schemars(deny_unknown_fields))]
pub(crate) struct RequireDef {
    /// JSON pointer, e.g. "/code".
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub(crate) pointer: Spanned<String>,
    /// JSON type: string, number, boolean, object or array.
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    #[serde(rename = "type")]
    pub(crate) json_type: Option<Spanned<String>>,
    /// A regular expression the member must match.
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub(crate) pattern: Option<Spanned<String>>,
}

/// A text a refusal must carry: the member at `pointer` (or the whole body) matching
/// `pattern` (or, without one, a non-empty string).
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema), schemars(deny_unknown_fields))]
pub(crate) struct TextRuleDef {
    /// JSON pointer of the member, e.g. "/message"; absent: the whole body.
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub(crate) pointer: Option<Spanned<String>>,
    /// A regular expression the text must match.
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub(crate) pattern: Option<Spanned<String>>,
}
