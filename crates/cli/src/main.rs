//! `rolecall`: authorization regression tests for HTTP services.
//!
//! Exit codes: 0 success, 1 a case failed (or drifted: `diff`, `run --baseline`), 2
//! invalid input (scenario files, arguments, reports).
#![forbid(unsafe_code)]

use std::io::{IsTerminal, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use rolecall_runner::{Exit, ReportSpec};
use rolecall_scenario::{LoadOptions, Redacted, RenderStyle, Suite};

mod args;
mod coverage;
mod diff;
mod mock;
mod new;
mod run;

#[derive(Debug, Parser)]
#[command(
    name = "rolecall",
    version,
    about = "Authorization regression tests: every identity x route is a test"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Send every case of a suite and judge it: a post-deploy check outside cargo.
    Run {
        /// The suite directory (holding rolecall.toml) or the rolecall.toml file.
        #[arg(default_value = "scenarios")]
        path: PathBuf,
        /// Only cases whose name contains this.
        filter: Option<String>,
        /// Run against this target instead of `defaults.target`.
        #[arg(long)]
        target: Option<String>,
        /// Send to this base URL instead of the target's (default: `ROLECALL_BASE_URL`).
        /// Writes are then skipped unless `--allow-mutations` is given: a URL typed here
        /// never inherits the target's permission to write.
        #[arg(long, value_parser = args::BaseUrl)]
        base_url: Option<String>,
        /// Send writes (POST, PUT, PATCH, DELETE, method overrides) to the URL given with
        /// `--base-url` or `ROLECALL_BASE_URL`.
        #[arg(long)]
        allow_mutations: bool,
        /// Requests in flight at once, 1 to 4096 (default: the suite's, 64).
        #[arg(long, value_parser = args::concurrency(), allow_negative_numbers = true)]
        concurrency: Option<usize>,
        /// Write a report: `json=FILE`; repeatable. The file's directory must exist and
        /// be writable; the file is replaced only once the report is complete. Replaces
        /// `ROLECALL_REPORT`.
        #[arg(long, value_name = "FORMAT=FILE", value_parser = args::report)]
        report: Vec<ReportSpec>,
        /// Print passing cases too.
        #[arg(short, long)]
        verbose: bool,
        /// Compare the run with this JSON report and print the drift after the summary;
        /// when the file does not exist, write the run's JSON report there. Newly granted
        /// access (a possible escalation) makes the run exit 1 even when every case passed.
        #[arg(long, value_name = "FILE")]
        baseline: Option<PathBuf>,
        /// Record every refusal observed (status, headers, body, verdict; secrets and
        /// volatile values scrubbed) under this directory, for a mock's `replay = "DIR"`
        /// layer. Replaces `ROLECALL_RECORD`.
        #[arg(long, value_name = "DIR")]
        record: Option<PathBuf>,
    },
    /// Compare two JSON reports (`--report json=FILE`): exit 0 without drift, 1 with drift
    /// (newly granted access listed first), 2 when either is not a readable report.
    Diff {
        /// The earlier report.
        old: PathBuf,
        /// The later report.
        new: PathBuf,
    },
    /// Run a suite through the libtest harness, exactly as `cargo test` would; arguments
    /// after `--` go to libtest (`--list`, `--exact`, `--format json` …).
    Test {
        /// The suite directory (holding rolecall.toml) or the rolecall.toml file.
        #[arg(default_value = "scenarios")]
        path: PathBuf,
        /// Run against this target instead of `defaults.target`.
        #[arg(long)]
        target: Option<String>,
        /// Write a report, as `rolecall run` does: `json=FILE`; repeatable. Replaces
        /// `ROLECALL_REPORT`.
        #[arg(long, value_name = "FORMAT=FILE", value_parser = args::report)]
        report: Vec<ReportSpec>,
        /// libtest arguments.
        #[arg(last = true)]
        libtest: Vec<String>,
    },
    /// The mock edge: CDN, WAF and web-server layers in front of a mock app or an upstream.
    Mock {
        #[command(subcommand)]
        command: MockCommand,
    },
    /// Which operations of an API description (Swagger 2.0, OpenAPI 3.0/3.1) or requests of
    /// a HAR capture no route exercises, and where their declared security disagrees with
    /// the suite. Sends nothing. Exits 1 when a gate fails, 2 for invalid input.
    Coverage {
        /// The suite directory (holding rolecall.toml) or the rolecall.toml file.
        #[arg(default_value = "scenarios")]
        path: PathBuf,
        /// Load the suite for this target instead of `defaults.target`.
        #[arg(long)]
        target: Option<String>,
        /// The API description, JSON or YAML; relative `$ref`s within its directory are followed.
        #[arg(long, value_name = "FILE", required_unless_present = "har")]
        openapi: Option<PathBuf>,
        /// A HAR capture; repeatable.
        #[arg(long, value_name = "FILE")]
        har: Vec<PathBuf>,
        /// Write a report: `json=FILE`, `markdown=FILE` or `html=FILE`; repeatable.
        #[arg(long, value_name = "FORMAT=FILE")]
        report: Vec<coverage::CoverageReport>,
        /// Exit 1 when less than this percentage of operations (and captured requests
        /// outside the description) is exercised.
        #[arg(long, value_name = "PERCENT", value_parser = coverage::percent)]
        fail_under: Option<f64>,
        /// Exit 1 when the declared security disagrees with the suite's expectations.
        #[arg(long)]
        fail_on_mismatch: bool,
    },
    /// Draft route files, deny by default, from an API description (one file per tag or
    /// first path segment), a HAR capture (one route per distinct request), or one request
    /// line. Never replaces a file without `--force`.
    New {
        /// One route: a request line such as "DELETE /v1/projects/{id}".
        #[arg(required_unless_present_any = ["openapi", "har"], conflicts_with_all = ["openapi", "har"])]
        request: Option<String>,
        /// Draft every operation of this API description.
        #[arg(long, value_name = "FILE", conflicts_with = "har")]
        openapi: Option<PathBuf>,
        /// Draft every distinct request of this HAR capture; repeatable.
        #[arg(long, value_name = "FILE")]
        har: Vec<PathBuf>,
        /// Who may use the route given on the command line; repeatable.
        #[arg(long, value_name = "IDENTITY", requires = "request")]
        allow: Vec<String>,
        /// The suite whose identities and variables the drafts use.
        #[arg(long, default_value = "scenarios")]
        suite: PathBuf,
        /// Load the suite for this target instead of `defaults.target`.
        #[arg(long)]
        target: Option<String>,
        /// Write the files here instead of the suite's directory.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Replace files that exist.
        #[arg(long)]
        force: bool,
    },
    /// Validate a suite without sending anything; print a summary or every problem.
    Check {
        /// The suite directory (holding rolecall.toml) or the rolecall.toml file.
        #[arg(default_value = "scenarios")]
        path: PathBuf,
        /// Validate against this target instead of `defaults.target`.
        #[arg(long)]
        target: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum MockCommand {
    /// Serve the mock edge until Ctrl-C, logging one line per refusal.
    Serve {
        /// The mock configuration (mock.toml).
        #[arg(long)]
        config: PathBuf,
        /// Address to listen on; port 0 picks a free port.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
    },
}

/// mimalloc, which gives freed memory back at once: see the `rolecall-alloc` crate and
/// ARCHITECTURE.md, "Performance".
#[global_allocator]
static ALLOCATOR: rolecall_alloc::MiMalloc = rolecall_alloc::MiMalloc;

fn main() -> ExitCode {
    rolecall_alloc::release_freed_memory_at_once();
    let cli = Cli::parse();
    match cli.command {
        Command::Check { path, target } => check(&path, target),
        Command::Run {
            path,
            filter,
            target,
            base_url,
            allow_mutations,
            concurrency,
            report,
            verbose,
            baseline,
            record,
        } => run::run(&run::RunArgs {
            path,
            filter,
            target,
            base_url,
            allow_mutations,
            concurrency,
            report,
            verbose,
            baseline,
            record,
        }),
        Command::Diff { old, new } => diff::diff(&old, &new),
        Command::Coverage {
            path,
            target,
            openapi,
            har,
            report,
            fail_under,
            fail_on_mismatch,
        } => coverage::coverage(&coverage::CoverageArgs {
            path,
            target,
            openapi,
            har,
            report,
            fail_under,
            fail_on_mismatch,
        }),
        Command::New {
            request,
            openapi,
            har,
            allow,
            suite,
            target,
            out,
            force,
        } => new::new(&new::NewArgs {
            request,
            openapi,
            har,
            allow,
            suite,
            target,
            out,
            force,
        }),
        Command::Test {
            path,
            target,
            report,
            libtest,
        } => run::test(&path, target, report, &libtest),
        Command::Mock {
            command: MockCommand::Serve { config, listen },
        } => mock::serve(&config, listen),
    }
}

pub(crate) fn render_style() -> RenderStyle {
    if std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none() {
        RenderStyle::Color
    } else {
        RenderStyle::Plain
    }
}

pub(crate) fn load_options(target: Option<String>) -> LoadOptions {
    match target {
        Some(t) => LoadOptions::new().target(t),
        None => LoadOptions::new(),
    }
}

/// Validates the mock configuration the selected target names, as strictly as the suite:
/// a broken one is invalid input, reported (every problem, located) before anything is sent.
pub(crate) fn check_mock(suite: &Suite) -> Result<(), ExitCode> {
    rolecall_runner::check_mock(suite, render_style()).map_err(|rendered| {
        eprint!("{rendered}");
        ExitCode::from(Exit::Invalid)
    })
}

fn check(path: &std::path::Path, target: Option<String>) -> ExitCode {
    match rolecall_scenario::load(path, &load_options(target)) {
        Ok(suite) => {
            if let Err(code) = check_mock(&suite) {
                return code;
            }
            let mut out = Redacted::new(suite.secrets.clone(), std::io::stdout());
            let _ = writeln!(
                out,
                "ok: {} route file{}, {} routes, {} identities, {} cases (target `{}`)",
                suite.route_file_count(),
                if suite.route_file_count() == 1 {
                    ""
                } else {
                    "s"
                },
                suite.routes.len(),
                suite.identities.len(),
                suite.cases.len(),
                suite.target.name,
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprint!("{}", error.render(render_style()));
            ExitCode::from(Exit::Invalid)
        }
    }
}
