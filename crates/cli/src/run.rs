//! `rolecall run` and `rolecall test`: the runner outside cargo.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use rolecall_runner::{
    Exit, Keep, ReportSpec, Reporters, RunConfig, TerminalOptions, TerminalReporter,
};
use rolecall_scenario::{Redacted, Suite};

use crate::diff::Baseline;
use crate::{check_mock, load_options, render_style};

pub(crate) struct RunArgs {
    pub(crate) path: PathBuf,
    pub(crate) filter: Option<String>,
    pub(crate) target: Option<String>,
    pub(crate) base_url: Option<String>,
    pub(crate) allow_mutations: bool,
    pub(crate) concurrency: Option<usize>,
    pub(crate) report: Vec<ReportSpec>,
    pub(crate) verbose: bool,
    pub(crate) baseline: Option<PathBuf>,
    pub(crate) record: Option<PathBuf>,
}

fn load(path: &Path, target: Option<String>) -> Result<Arc<Suite>, ExitCode> {
    let suite = rolecall_scenario::load(path, &load_options(target)).map_err(|error| {
        eprint!("{}", error.render(render_style()));
        ExitCode::from(Exit::Invalid)
    })?;
    check_mock(&suite)?;
    Ok(Arc::new(suite))
}

/// The reports a command writes: its `--report` flags, or else `ROLECALL_REPORT`'s. Each
/// is prepared before anything is read or sent: one that cannot be written is invalid
/// input.
fn reports(flags: &[ReportSpec], config: &RunConfig) -> Result<Reporters, ExitCode> {
    let specs = match flags.is_empty() {
        true => &config.reports,
        false => flags,
    };
    Reporters::prepare(specs).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(Exit::Invalid)
    })
}

pub(crate) fn run(args: &RunArgs) -> ExitCode {
    let config = match config(args) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::Invalid.into();
        }
    };
    let mut reporters = match reports(&args.report, &config) {
        Ok(r) => r,
        Err(code) => return code,
    };
    // Before anything is read or sent, like the reports: a baseline that is not a report,
    // or that cannot be written, is invalid input.
    let baseline = match Baseline::prepare(args.baseline.as_deref(), &mut reporters) {
        Ok(b) => b,
        Err(code) => return code,
    };
    let suite = match load(&args.path, args.target.clone()) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let selected: Vec<usize> = suite
        .cases
        .iter()
        .enumerate()
        .filter(|(_, c)| args.filter.as_deref().is_none_or(|f| c.name.contains(f)))
        .map(|(i, _)| i)
        .collect();
    // Without a report, passing cases keep only what their line shows.
    let keep = match reporters.is_empty() {
        true => Keep::Lines,
        false => Keep::Reports,
    };
    // Lines are buffered (thousands of small writes would cost more than the requests)
    // and flushed as each is complete; the terminal reporter redacts them.
    let stdout = std::io::BufWriter::new(std::io::stdout());
    reporters.push(
        "the terminal",
        Box::new(TerminalReporter::new(
            stdout,
            TerminalOptions::detect(args.verbose),
        )),
    );
    let end =
        rolecall_runner::run_reporting(suite.clone(), &config, &selected, keep, &mut reporters);
    let end = match end {
        Ok(end) => end,
        Err(e) => {
            let mut err = Redacted::new(suite.secrets.clone(), std::io::stderr());
            let _ = writeln!(err, "error: {e}");
            return Exit::of_error(&e).into();
        }
    };
    let mut err = Redacted::new(end.secrets.clone(), std::io::stderr());
    let teardowns = end
        .teardown_failures
        .iter()
        .map(|f| format!("teardown failed: {f}"));
    for error in reporters
        .errors()
        .iter()
        .cloned()
        .chain(end.errors.iter().cloned())
        .chain(teardowns)
    {
        let _ = writeln!(err, "error: {error}");
    }
    // After the summary: the drift since the baseline. Newly granted access fails the run
    // even when every case passed: see `diff`.
    let escalated = match baseline {
        Some(baseline) => {
            let mut out = Redacted::new(end.secrets.clone(), std::io::stdout().lock());
            let escalated = baseline.finish(&end, &mut out);
            let _ = out.flush();
            escalated
        }
        None => false,
    };
    match escalated {
        true => Exit::Failed.into(),
        false => {
            let unfinished = !reporters.errors().is_empty()
                || !end.errors.is_empty()
                || !end.teardown_failures.is_empty();
            Exit::of_run(&end.summary, unfinished).into()
        }
    }
}

/// The run's configuration: the flags, and the environment (`ROLECALL_CONCURRENCY`,
/// `ROLECALL_BASE_URL`, `ROLECALL_ALLOW_MUTATIONS`, `ROLECALL_REPORT`) for what they
/// leave out, all checked before anything is sent. The permission to write goes with the
/// URL it was given for: `--base-url` needs `--allow-mutations`, `ROLECALL_BASE_URL`
/// takes either switch, and neither switch applies to a target's own URL.
fn config(args: &RunArgs) -> Result<RunConfig, String> {
    let env = RunConfig::from_env().map_err(|e| e.to_string())?;
    let explicit = args.allow_mutations.then_some(true);
    let config = match &args.base_url {
        Some(url) => RunConfig {
            concurrency: args.concurrency.or(env.concurrency),
            base_url: Some(url.clone()),
            allow_mutations: explicit,
            reports: env.reports,
            record: args.record.clone().or(env.record),
        },
        None => RunConfig {
            concurrency: args.concurrency.or(env.concurrency),
            allow_mutations: explicit.or(env.allow_mutations),
            base_url: env.base_url,
            reports: env.reports,
            record: args.record.clone().or(env.record),
        },
    };
    if args.allow_mutations && config.base_url.is_none() {
        return Err("--allow-mutations applies only to a URL given with --base-url or ROLECALL_BASE_URL: a target's own `allow_mutations` decides for its URL".to_owned());
    }
    config.validate().map_err(|e| e.to_string())?;
    Ok(config)
}

pub(crate) fn test(
    path: &Path,
    target: Option<String>,
    report: Vec<ReportSpec>,
    libtest: &[String],
) -> ExitCode {
    let config = match RunConfig::from_env() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::Invalid.into();
        }
    };
    let reporters = match reports(&report, &config) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let suite = match load(path, target) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let args = rolecall_runner::Arguments::from_iter(
        std::iter::once("rolecall".to_owned()).chain(libtest.iter().cloned()),
    );
    let trials = rolecall_runner::run_trials_reporting(suite.clone(), &config, &args, reporters);
    let mut err = Redacted::new(suite.secrets.clone(), std::io::stderr());
    for error in &trials.report_errors {
        let _ = writeln!(err, "error: {error}");
    }
    trials.exit_code()
}
