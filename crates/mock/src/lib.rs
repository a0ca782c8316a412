//! A mock edge that reproduces CDN, WAF and web-server refusals offline.
//!
//! When production shows a 403 from the CDN or the WAF, the first question is which
//! control plane said no. `rolecall-mock` puts the same rules, answering with the same
//! vendor-style pages, in front of either a policy-driven mock app or a team's real app, so
//! the refusal can be reproduced, tested and snapshot-reviewed on a laptop or in CI.
//!
//! A request passes the configured **layers** in order; the first that refuses answers in
//! the words of its **persona** (the vendor it imitates); a request that passes every layer
//! reaches the **origin**.
//!
//! # Example
//!
//! ```
//! use std::path::Path;
//! use rolecall_mock::{MockConfig, MockServer};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let config = MockConfig::from_str(
//!     r#"
//!     [edge]
//!     cdn = "cloudflare"
//!     server = "nginx"
//!
//!     [[layer]]
//!     path_deny = { prefixes = ["/admin"] }
//!
//!     [origin.app]
//!     [[origin.app.token]]
//!     bearer = "viewer-token"
//!     roles = ["viewer"]
//!
//!     [[origin.app.route]]
//!     request = "GET /v1/projects"
//!     roles = ["viewer"]
//!     "#,
//!     Path::new("mock.toml"),
//! )?;
//! let server = MockServer::start(config, "127.0.0.1:0".parse()?).await?;
//! println!("mock edge on {}", server.url()); // send requests here
//! server.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! `GET /admin/` then gets nginx's own 403 page (wrapped in Cloudflare's `Server` and
//! `cf-ray` headers, as a CDN in front of nginx would), `GET /v1/projects` without a token
//! gets the app's 401 with `WWW-Authenticate`, and with `Authorization: Bearer
//! viewer-token` a 200.
//!
//! # `mock.toml`
//!
//! Every layer kind and origin option, as in `mock.example.toml` beside this crate's
//! manifest (the tests load that file):
//!
//! ```toml
#![doc = include_str!("../mock.example.toml")]
//! ```
//!
//! The origin is either `[origin.app]` as above or a real upstream:
//!
//! ```toml
//! [origin.proxy]
//! upstream = "http://127.0.0.1:8080"   # plain HTTP; a base path is kept
//! timeout = "30s"                      # then 504
//! ```
//!
//! More options: a layer's `persona` overrides the `[edge]` default; `geo` takes `allow`
//! and `block_unknown`; `user_agent` takes `block_empty`; `hotlink` takes `allow_empty`
//! (default true); `path_deny` takes `case_insensitive`; `method` takes `allow`;
//! `rate_limit` takes `status` and `max_clients`; `fault` takes `abort = "reset" | "close"`
//! or `status` after an optional `delay`; a JWT takes `roles_claim` (default `roles`, else
//! `role`), `scopes_claim` (`scope`, else `scp`) and `tenant_claim` (`tenant`); a route
//! takes `status`; `[origin.app.csrf]` takes `require_origin`; `[edge]` takes
//! `server_name`, `nginx_server` and `apache_server` to change page signatures.
//! `${env:NAME}` works in secrets, tokens and passwords.
//!
//! Layers are one-key tables, so `[[layer]]` is followed by the kind either inline
//! (`ip = { … }`) or as a sub-table (`[layer.waf]`). Every layer takes `name` (shown in the
//! refusal log) and `persona`; all but `path_deny` and `directory_listing` take `paths`, a
//! list of globs limiting where the layer applies. Paths are matched after the
//! normalisation nginx and Apache apply (percent-decoding, `//` merged, `.` and `..`
//! resolved), so `/admin/`, `//admin`, `/./admin` and `/%61dmin` are all `/admin`.
//!
//! With the `schema` feature, [`json_schema`] describes the format for editors.
//!
//! A configuration with problems is refused whole, with every problem at once, each at its
//! line and column and rendered rustc-style exactly like a suite's ([`MockConfigError`]):
//! unknown keys and layer kinds with the closest known name, wrong types that hide neither
//! each other nor an unknown key, and bad values (CIDR blocks, regexes, globs, statuses,
//! durations, countries, personas, header names) at the value. `rolecall check` validates
//! the mock configuration a target names.
//!
//! # Personas
//!
//! | persona | layer | refusal |
//! |---|---|---|
//! | `cloudflare` | cdn | 403 (429 for rate limits) with `Server: cloudflare`, `cf-ray: <16 hex>-<colo>` and the 1006/1009/1010/1011/1015/1020 pages, or "Sorry, you have been blocked" for WAF rules |
//! | `cloudfront` | cdn | 403 with `Server: CloudFront`, `X-Cache: Error from cloudfront`, `Via`, `x-amz-cf-pop`, `x-amz-cf-id`, "403 ERROR / The request could not be satisfied." |
//! | `aws_waf` | waf | CloudFront's block page, optionally `x-amzn-waf-action: block` |
//! | `akamai` | cdn | 403 "Access Denied" with `Server: AkamaiGHost` and `Reference #18.…` (entity-encoded, as Akamai sends it) |
//! | `nginx` | server | nginx 1.22.1's own pages, byte for byte |
//! | `apache` | server | Apache 2.4's own pages, byte for byte with Debian's stock `ServerSignature On`: `Server at <host> Port <port>` |
//! | `modsecurity` | waf | the host server's page: Apache's unless `[edge] server = "nginx"` |
//! | `haproxy` | server | HAProxy 2.6's own pages, byte for byte ("Request forbidden by administrative rules."), no `Server` |
//! | `varnish` | server | Varnish 7.1's built-in synthetic page ("Guru Meditation", `XID`), `Server: Varnish`, `X-Varnish` |
//! | `envoy` | server | `RBAC: access denied` (`local_rate_limited` for rate limits), `server: envoy` |
//! | `kong` | server | Kong 3's JSON `{"message", "request_id"}` with `Server: kong/3.6.1` and `X-Kong-Response-Latency` |
//! | `aws_api_gateway` | server | `{"message":"Forbidden"}` with `x-amzn-ErrorType: ForbiddenException` (`TooManyRequestsException` for rate limits) |
//! | `caddy` | server | no body, `Server: Caddy` |
//!
//! A default ModSecurity block is byte-identical to the web server's own 403, exactly as in
//! production. A waf layer's `mark = { header = "X-Blocked-By", value = "ModSecurity" }`
//! adds the header a marked deny action sends, which tells the two apart.
//!
//! A refusal by a layer behind the CDN still passes through it: an nginx 403 behind
//! `cdn = "cloudflare"` carries `Server: cloudflare` and a `cf-ray`, as in production.
//! Every refusal has a request id the vendor's way; nginx and Apache send none unless
//! `request_id_header` is set, but [`Refusal::request_id`] always has one.
//!
//! # The mock app
//!
//! Routes (`METHOD /path/{param}`) need roles (any of), scopes (all of) and a tenant
//! parameter that must equal the principal's tenant. Credentials, first present wins:
//! `Authorization: Bearer` (static token, login session or JWT checked for signature,
//! algorithm, `exp`, `nbf`, `iss`, `aud`; `alg: none` never passes), `Authorization: Basic`,
//! the API key header, the session cookie. Missing credentials answer 401 with
//! `WWW-Authenticate: Bearer realm="…"`; bad ones 401 with `error="invalid_token"` and an
//! `error_description`. Refusals are JSON `{"code", "message", "request_id"}` with
//! `X-Request-Id`: `insufficient_role`, `insufficient_scope`, `tenant_mismatch`,
//! `csrf_origin_mismatch` (403), `not_found` (404, also for concealed refusals, which look
//! exactly like a missing route; with `tenant_param`, only another tenant's resources are
//! concealed), `method_not_allowed` (405). Allowed requests get
//! `{"route", "params", "sub", "tenant", "request_id"}` with 200, or 201 for POST.
//!
//! # Proxy mode
//!
//! `[origin.proxy] upstream = "http://127.0.0.1:8080"` forwards what passes the layers,
//! streaming bodies both ways, dropping hop-by-hop headers, appending the peer to
//! `X-Forwarded-For` and setting `X-Forwarded-Proto: http`. The client's `Host` is kept.
//! An unreachable upstream answers 502, a slow one 504, in the server persona's words.
//!
//! # wiremock
//!
//! With the `wiremock` feature, [`DenyResponder`] answers a `wiremock` mock with a vendor
//! refusal, for teams that already mock their dependencies with wiremock:
//!
//! ```
//! # #[cfg(feature = "wiremock")]
//! # async fn demo() {
//! use rolecall_mock::{DenyReason, DenyResponder, Persona};
//! use wiremock::matchers::path;
//! use wiremock::{Mock, MockServer};
//!
//! let server = MockServer::start().await;
//! Mock::given(path("/admin"))
//!     .respond_with(DenyResponder::new(Persona::Cloudflare, DenyReason::WafRule))
//!     .mount(&server)
//!     .await;
//! # }
//! ```
//!
//! # Limitations
//!
//! - HTTP/1.1 only, plain TCP; TLS and HTTP/2 are left to a real CDN.
//! - The WAF presets catch textbook payloads; they are a stand-in for a rule set, not an
//!   evasion-proof one. Only the first `body_limit` bytes of a body are inspected, and
//!   trailers of inspected bodies are dropped.
//! - CDN pages are modelled on the vendors' public pages and carry their recognisable
//!   strings and headers, but are not byte-identical; nginx and Apache pages are.
//! - nginx's MSIE padding and Apache's `ErrorDocument` are not imitated.
#![forbid(unsafe_code)]

mod answer;
mod app;
mod auth;
mod body;
mod client_ip;
mod config;
mod edge;
mod errors;
mod file;
mod path;
mod persona;
mod problems;
#[cfg(test)]
mod proptests;
mod proxy;
mod rate_limit;
mod read;
mod replay;
mod request_id;
mod resource;
#[cfg(feature = "schema")]
mod schema;
mod server;
mod store;
mod waf;
#[cfg(feature = "wiremock")]
mod wiremock;

pub use config::MockConfig;
pub use errors::{MockConfigError, MockServerError, MockServerErrorKind};
pub use persona::{DenyReason, Persona};
#[cfg(feature = "schema")]
pub use schema::json_schema;
pub use server::{MockServer, Refusal, serve};
#[cfg(feature = "wiremock")]
pub use wiremock::DenyResponder;
