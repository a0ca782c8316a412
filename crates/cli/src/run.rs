//! `rolecall run` and `rolecall test`: the runner outside cargo.

use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use rolecall_runner::{Keep, RunConfig, RunnerErrorKind, Summary};
use rolecall_scenario::{Redacted, Suite};

use crate::args::ReportFile;
use crate::diff::Baseline;
use crate::{EXIT_INVALID, check_mock, load_options, render_style};

/// Exit code when a case failed or errored.
const EXIT_FAILED: u8 = 1;

pub(crate) struct RunArgs {
    pub(crate) path: PathBuf,
    pub(crate) filter: Option<String>,
    pub(crate) target: Option<String>,
    pub(crate) base_url: Option<String>,
    pub(crate) allow_mutations: bool,
    pub(crate) concurrency: Option<usize>,
    pub(crate) report: Vec<PathBuf>,
    pub(crate) baseline: Option<PathBuf>,
}

fn load(path: &Path, target: Option<String>) -> Result<Arc<Suite>, ExitCode> {
    let suite = rolecall_scenario::load(path, &load_options(target)).map_err(|error| {
        eprint!("{}", error.render(render_style()));
        ExitCode::from(EXIT_INVALID)
    })?;
    check_mock(&suite)?;
    Ok(Arc::new(suite))
}

pub(crate) fn run(args: &RunArgs) -> ExitCode {
    // Before anything is read or sent: a report that cannot be written is invalid input.
    let reports: Vec<ReportFile> =
        match args.report.iter().map(|p| ReportFile::prepare(p)).collect() {
            Ok(r) => r,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(EXIT_INVALID);
            }
        };
    let baseline = match Baseline::prepare(args.baseline.as_deref()) {
        Ok(b) => b,
        Err(code) => return code,
    };
    let config = match config(args) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_INVALID);
        }
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
    let start = Instant::now();
    // A line per case, as it completes: flushed at once on a terminal, buffered when
    // piped (thousands of small writes would cost more than the requests). Everything
    // printed goes through the run's secrets, those learned while it runs included.
    let terminal = std::io::stdout().is_terminal();
    let mut out = Redacted::new(
        suite.secrets.clone(),
        std::io::BufWriter::new(std::io::stdout().lock()),
    );
    // Without a report, passing cases keep only what their line shows.
    let keep = if reports.is_empty() && baseline.is_none() {
        Keep::Lines
    } else {
        Keep::Reports
    };
    let output = rolecall_runner::run(
        suite.clone(),
        &config,
        &selected,
        keep,
        |suite, result, secrets| {
            out.learn(secrets);
            let _ = out.write_all(rolecall_runner::line(suite, result).as_bytes());
            if terminal {
                let _ = out.flush();
            }
        },
    );
    let _ = out.flush();
    let output = match output {
        Ok(o) => o,
        Err(e) => {
            drop(out);
            let mut err = Redacted::new(suite.secrets.clone(), std::io::stderr());
            let _ = writeln!(err, "error: {e}");
            return ExitCode::from(match e.kind() {
                RunnerErrorKind::Config => EXIT_INVALID,
                _ => EXIT_FAILED,
            });
        }
    };
    for report in reports {
        let path = report.path().to_owned();
        // Streamed case by case: a large run's report is never held in memory whole.
        let written = report.write(|out| {
            let mut out = Redacted::new(output.secrets.clone(), out);
            rolecall_runner::write_json_report(&suite, &output, &mut out)?;
            out.flush()
        });
        if let Err(e) = written {
            let mut err = Redacted::new(output.secrets.clone(), std::io::stderr());
            let _ = writeln!(err, "error: cannot write report {}: {e}", path.display());
            return ExitCode::from(EXIT_FAILED);
        }
    }
    let s = Summary::of(&output.results);
    out.learn(&output.secrets);
    // `rolecall run … | head` must not panic on a closed pipe.
    let _ = writeln!(
        out,
        "\n{} passed, {} failed, {} skipped, {} errors; {} of {} cases in {:.2}s (target `{}`, {})",
        s.pass,
        s.fail,
        s.skipped,
        s.error,
        output.results.len(),
        suite.cases.len(),
        start.elapsed().as_secs_f64(),
        suite.target.name,
        output.base_url,
    );
    let escalated = match baseline.map(|b| b.finish(&suite, &output, &mut out)) {
        Some(Err(())) => return ExitCode::from(EXIT_FAILED),
        Some(Ok(escalated)) => escalated,
        None => false,
    };
    let _ = out.flush();
    // Newly granted access fails the run even when every case passed: see `diff`.
    if s.fail + s.error > 0 || escalated {
        ExitCode::from(EXIT_FAILED)
    } else {
        ExitCode::SUCCESS
    }
}

/// The run's configuration: the flags, and the environment (`ROLECALL_CONCURRENCY`,
/// `ROLECALL_BASE_URL`, `ROLECALL_ALLOW_MUTATIONS`) for what they leave out, all checked
/// before anything is sent. The permission to write goes with the URL it was given for:
/// `--base-url` needs `--allow-mutations`, `ROLECALL_BASE_URL` takes either switch, and
/// neither switch applies to a target's own URL.
fn config(args: &RunArgs) -> Result<RunConfig, String> {
    let env = RunConfig::from_env().map_err(|e| e.to_string())?;
    let explicit = args.allow_mutations.then_some(true);
    let config = match &args.base_url {
        Some(url) => RunConfig {
            concurrency: args.concurrency.or(env.concurrency),
            base_url: Some(url.clone()),
            allow_mutations: explicit,
        },
        None => RunConfig {
            concurrency: args.concurrency.or(env.concurrency),
            allow_mutations: explicit.or(env.allow_mutations),
            base_url: env.base_url,
        },
    };
    if args.allow_mutations && config.base_url.is_none() {
        return Err("--allow-mutations applies only to a URL given with --base-url or ROLECALL_BASE_URL: a target's own `allow_mutations` decides for its URL".to_owned());
    }
    config.validate().map_err(|e| e.to_string())?;
    Ok(config)
}

pub(crate) fn test(path: &Path, target: Option<String>, libtest: &[String]) -> ExitCode {
    let config = match RunConfig::from_env() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_INVALID);
        }
    };
    let suite = match load(path, target) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let args = rolecall_runner::Arguments::from_iter(
        std::iter::once("rolecall".to_owned()).chain(libtest.iter().cloned()),
    );
    rolecall_runner::run_trials(suite, &config, &args).exit_code()
}
