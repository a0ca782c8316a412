//! The report formats: each a [`Reporter`](crate::Reporter) writing one file (or, for
//! GitHub annotations, stdout) through [`Redacted`](rolecall_scenario::Redacted).

mod finding;
mod github;
mod junit;
mod markdown;
mod sarif;

pub use github::GithubReporter;
pub use junit::JunitReporter;
pub use markdown::{MARKDOWN_LIMIT, MarkdownReporter};
pub use sarif::SarifReporter;
