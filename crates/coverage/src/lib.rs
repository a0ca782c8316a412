//! rolecall-coverage: which routes of an API lack expectations, and drafts for them.
//!
//! Reads API descriptions (Swagger 2.0, OpenAPI 3.0 and 3.1, JSON or YAML, with relative
//! `$ref`s across files) and HAR captures, matches their operations and requests against a
//! loaded [`Suite`](rolecall_scenario::Suite), reconciles each operation's declared
//! security with the suite's expectations, and drafts route files (`rolecall new`).
//!
//! ```
//! # let dir = std::env::temp_dir().join(format!("rolecall-coverage-doc-{}", std::process::id()));
//! # std::fs::create_dir_all(&dir).unwrap();
//! std::fs::write(dir.join("rolecall.toml"), r#"
//! [targets.local]
//! base_url = "http://127.0.0.1:8080"
//! [identities.anonymous]
//! [identities.admin]
//! bearer = "an-admin-token"
//! "#).unwrap();
//! std::fs::write(dir.join("pets.toml"), r#"
//! [[route]]
//! request = "GET /v1/pets/7"
//! public = true
//! "#).unwrap();
//! std::fs::write(dir.join("openapi.yaml"), r#"
//! openapi: 3.1.0
//! info: { title: Pets, version: "1" }
//! servers: [{ url: "https://pets.example/v1" }]
//! components:
//!   securitySchemes: { token: { type: http, scheme: bearer } }
//! security: [{ token: [] }]
//! paths:
//!   /pets/{petId}: { get: { responses: { "200": { description: ok } } } }
//!   /pets: { post: { responses: { "201": { description: ok } } } }
//! "#).unwrap();
//! let suite = rolecall_scenario::load(&dir, &rolecall_scenario::LoadOptions::new()).unwrap();
//! let description = rolecall_coverage::read_description(&dir.join("openapi.yaml")).unwrap();
//! let coverage = rolecall_coverage::compute(rolecall_coverage::Inputs {
//!     suite: &suite,
//!     description: Some(&description),
//!     captures: &[],
//! });
//! assert_eq!(coverage.summary.operations_exercised, 1);
//! assert_eq!(coverage.summary.percent, 50.0);
//! // The description requires a token; the suite lets `anonymous` in.
//! assert_eq!(coverage.findings[0].kind, rolecall_coverage::FindingKind::AnonymousAllowed);
//! # std::fs::remove_dir_all(&dir).unwrap();
//! ```
//!
//! Architecture invariant: no HTTP and no async runtime; it reads files and computes.
//! Known limitations: remote `$ref`s are refused, not fetched; a suite `{var}` matches only
//! a description parameter, never a literal segment.
#![forbid(unsafe_code)]

mod coverage;
mod document;
mod errors;
mod har;
mod identify;
mod openapi;
pub mod render;
mod scaffold;
mod template;

pub use coverage::{
    CapturedRequest, Coverage, DescriptionInfo, Finding, FindingKind, Inputs, OperationCoverage,
    RouteRef, Summary, compute,
};
pub use errors::{InputError, InputErrors, Place};
pub use har::{Capture, Har, read_har};
pub use openapi::{Description, Operation, Requirement, Security, Spec, read_description};
pub use scaffold::{Draft, from_description, from_har, from_request_line};
