//! rolecall-runner: turns expanded scenario cases into real HTTP requests, judges the
//! responses and reports through libtest.
//!
//! Add rolecall to a crate's dev-dependencies and a three-line test:
//!
//! ```toml
//! [[test]]
//! name = "authz"
//! harness = false
//! ```
//!
//! ```no_run
//! // tests/authz.rs
//! fn main() -> std::process::ExitCode {
//!     rolecall_runner::harness("scenarios")
//! }
//! ```
//!
//! Every identity × route case becomes a trial named `file::route::identity`, so
//! `cargo test -- --list`, `--exact`, `--skip`, `--format json`, nextest and its
//! `--partition` work as usual. Only the selected cases are sent, all at once on one
//! tokio runtime with bounded concurrency (default 64) and one HTTP client (with its own
//! cookie store) per identity, so the test threads never serialise a slow target.
//!
//! Judging ([`judge`]) and layer attribution ([`classify`]) are pure functions of the
//! expectation and the observed response; [`run`] drives the same engine outside libtest
//! (`rolecall run`).
//!
//! Known limitations: snapshots are asserted only through the libtest harness; writes
//! (POST, PUT, PATCH, DELETE, and method overrides naming them) are never sent to a
//! target without `allow_mutations`.
#![forbid(unsafe_code)]

mod agent;
mod breaker;
mod classify;
mod config;
mod contract;
mod credentials;
mod drift;
mod engine;
mod errors;
mod exit;
mod harness;
mod inbox;
mod judge;
mod jws;
mod objects;
mod observed;
mod permission;
mod queue;
mod raw_http;
mod record;
mod report;
mod reporter;
mod reporters;
mod results;
mod run;
mod rundir;
mod snapshot;
mod target;
mod tls;
mod variant;

pub use classify::{
    Attribution, Evidence, FingerprintError, FingerprintErrorKind, Fingerprints, classify,
};
pub use config::{RunConfig, check_base_url};
pub use drift::{
    Comparison, Drift, DriftKind, REPORT_VERSION, Report, ReportReadError, ReportReadErrorKind,
    ReportedCase, ReportedObserved, Seen, Unmatched, compare, parse_report, read_report,
};
pub use errors::{RunnerError, RunnerErrorKind};
pub use exit::Exit;
pub use harness::{Trials, harness, run_trials, run_trials_reporting};
pub use judge::{Mismatch, MismatchKind, Verdict, judge};
pub use observed::{Observed, Truncated};
pub use reporter::{CaseFinished, Reporter, RunFinished, RunStarted, Summary};
pub use reporters::{
    Format, GithubReporter, HTML_EXCERPT, HtmlReporter, JsonReporter, JunitReporter,
    MARKDOWN_LIMIT, MarkdownReporter, ReportFile, ReportSpec, Reporters, SarifReporter,
    TerminalOptions, TerminalReporter, file_reporter, line,
};
pub use results::{CaseResult, Outcome};
pub use run::{Keep, RunEnd, RunOutput, json_report, run, run_reporting, write_json_report};
pub use target::check_mock;

/// Re-exported so a harness can parse libtest arguments itself.
pub use libtest_mimic::Arguments;
