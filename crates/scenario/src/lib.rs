//! rolecall-scenario: the scenario file model.
//!
//! A suite is a directory with a `rolecall.toml` (defaults, targets, identities, groups)
//! and route files beside it. [`load`] reads every file, validates everything, and expands
//! each route into one [`Case`] per identity, so that least privilege is checked by
//! default: an identity not listed in `allow` must be refused.
//!
//! ```
//! # let dir = std::env::temp_dir().join(format!("rolecall-doc-{}", std::process::id()));
//! # std::fs::create_dir_all(&dir).unwrap();
//! std::fs::write(dir.join("rolecall.toml"), r#"
//! [targets.local]
//! base_url = "http://127.0.0.1:8080"
//!
//! [identities.anonymous]
//! [identities.admin]
//! bearer = "${env:ADMIN_TOKEN}"
//! "#).unwrap();
//! std::fs::write(dir.join("projects.toml"), r#"
//! [[route]]
//! request = "DELETE /v1/projects/123"
//! allow = ["admin"]
//! "#).unwrap();
//!
//! let options = rolecall_scenario::LoadOptions::new()
//!     .env(|name| (name == "ADMIN_TOKEN").then(|| "s3cr3t-token".to_owned()));
//! let suite = rolecall_scenario::load(&dir, &options).unwrap();
//! let names: Vec<_> = suite.cases.iter().map(|c| c.name.as_str()).collect();
//! assert_eq!(names, [
//!     "projects::delete_v1_projects_123::anonymous",
//!     "projects::delete_v1_projects_123::admin",
//! ]);
//! // anonymous has no credentials: 401; admin is allowed: 2xx.
//! assert_eq!(suite.cases[0].expect.status.to_string(), "401");
//! assert_eq!(suite.cases[1].expect.status.to_string(), "2xx");
//! // Values from the environment are secrets.
//! assert_eq!(suite.secrets.redact("token s3cr3t-token"), "token ***");
//! # std::fs::remove_dir_all(&dir).unwrap();
//! ```
//!
//! Architecture invariant: this crate reads files and nothing else. It has no HTTP client
//! and no async runtime; the runner consumes what it produces.
#![forbid(unsafe_code)]

mod contract;
mod diagnostic;
mod layer;
mod load;
mod model;
mod mutation;
#[cfg(test)]
mod proptests;
mod raw;
mod recording;
mod resolve;
#[cfg(feature = "schema")]
mod schema;
mod secrets;

pub use contract::{
    Contract, Contracts, DEFAULT_CONTRACT_STATUSES, DEFAULT_TENANT_VARS, Detector, DetectorMatch,
    Forbidden, JsonType, RequestIdRule, Requirement, TextRule, detectors,
};
pub use diagnostic::{Diagnostic, LoadError, Location, RenderStyle, SourceFile, did_you_mean};
pub use layer::{Layer, ParseLayerError};
pub use load::{LoadOptions, RECORDINGS_MARKER, SUITE_FILE, fields_of, variants_of};
pub use model::fixtures::{Capture, CaptureSource, Fixture, Instance, fill_refs, fixture_refs};
pub use model::journeys::{Journey, JourneyStep, Step};
pub use model::variants::{
    Bypass, BypassFamily, CLIENT_IP_ADDRESSES, CLIENT_IP_HEADERS, OVERRIDE_CARRIERS, PathSpelling,
    REWRITE_PROBE, Variant, VariantKind,
};
pub use model::{
    Body, BodyMatch, Case, Credentials, Decision, Endpoint, Expectation, HeaderMatch, HeaderRule,
    Identity, Jwt, JwtDefect, JwtKey, Login, MAX_CONCURRENCY, Method, Route, SetAt, Settings,
    StatusMatch, Suite, Target,
};
pub use mutation::{
    Carrier, METHOD_OVERRIDE_FIELD, METHOD_OVERRIDE_HEADERS, Mutation, headers_mutation,
    query_mutation,
};
pub use recording::credential_digest;
pub use resolve::{derive_route_name, load};
#[cfg(feature = "schema")]
pub use schema::{routes_schema, suite_schema};
pub use secrets::{CleanStrings, MIN_SECRET_LEN, Redacted, Secret, Secrets, is_credential_header};
