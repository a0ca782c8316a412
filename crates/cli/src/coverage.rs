//! `rolecall coverage`: which operations of an API description (and which captured
//! requests) no route exercises, and where the declared security disagrees with the suite.
//!
//! Exit status: 0, or 1 when a gate fails (`--fail-under`, `--fail-on-mismatch`), 2 for
//! invalid input (the suite, a description, a capture, a report path), before anything
//! is written. A report that cannot be written exits 1, as it does for `rolecall run`.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::str::FromStr;

use rolecall_coverage::{
    Coverage, Har, InputError, Inputs, compute, read_description, read_har, render,
};
use rolecall_runner::Exit;
use rolecall_scenario::{Redacted, Secrets, Suite};

use crate::{load_options, render_style};

/// A coverage report format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CoverageFormat {
    Json,
    Markdown,
    Html,
}

/// `--report FORMAT=FILE` of `rolecall coverage`.
#[derive(Debug, Clone)]
pub(crate) struct CoverageReport {
    format: CoverageFormat,
    path: PathBuf,
}

impl FromStr for CoverageReport {
    type Err = String;

    fn from_str(spec: &str) -> Result<Self, String> {
        let (format, path) = spec
            .split_once('=')
            .ok_or_else(|| format!("`{spec}`: expected FORMAT=FILE, e.g. `json=coverage.json`"))?;
        let format = match format {
            "json" => CoverageFormat::Json,
            "markdown" | "md" => CoverageFormat::Markdown,
            "html" => CoverageFormat::Html,
            other => {
                return Err(format!(
                    "unknown coverage report format `{other}`; expected json, markdown or html"
                ));
            }
        };
        if path.is_empty() {
            return Err(format!("`{spec}`: the file name is missing"));
        }
        Ok(CoverageReport {
            format,
            path: PathBuf::from(path),
        })
    }
}

/// `--fail-under PERCENT`: 0 to 100.
pub(crate) fn percent(text: &str) -> Result<f64, String> {
    match text.trim_end_matches('%').parse::<f64>() {
        Ok(p) if (0.0..=100.0).contains(&p) => Ok(p),
        _ => Err(format!("`{text}` is not a percentage from 0 to 100")),
    }
}

/// What `rolecall coverage` was asked.
pub(crate) struct CoverageArgs {
    pub(crate) path: PathBuf,
    pub(crate) target: Option<String>,
    pub(crate) openapi: Option<PathBuf>,
    pub(crate) har: Vec<PathBuf>,
    pub(crate) report: Vec<CoverageReport>,
    pub(crate) fail_under: Option<f64>,
    pub(crate) fail_on_mismatch: bool,
}

/// Prints `errors` (input problems), each on its own line, through `secrets`.
pub(crate) fn print_errors(secrets: &Secrets, errors: &[String]) -> ExitCode {
    let mut err = Redacted::new(secrets.clone(), std::io::stderr());
    for e in errors {
        let _ = writeln!(err, "error: {e}");
    }
    ExitCode::from(Exit::Invalid)
}

/// Loads the suite, printing its problems.
pub(crate) fn load_suite(path: &Path, target: Option<String>) -> Result<Suite, ExitCode> {
    rolecall_scenario::load(path, &load_options(target)).map_err(|error| {
        eprint!("{}", error.render(render_style()));
        ExitCode::from(Exit::Invalid)
    })
}

/// Reads the description and captures, every problem of every file collected.
pub(crate) fn read_inputs(
    openapi: Option<&Path>,
    har: &[PathBuf],
) -> Result<(Option<rolecall_coverage::Description>, Vec<Har>), Vec<InputError>> {
    let mut errors = Vec::new();
    let description = openapi.and_then(|p| read_description(p).map_err(|e| errors.extend(e)).ok());
    let captures: Vec<Har> = har
        .iter()
        .filter_map(|p| read_har(p).map_err(|e| errors.extend(e)).ok())
        .collect();
    if errors.is_empty() {
        Ok((description, captures))
    } else {
        Err(errors)
    }
}

pub(crate) fn coverage(args: &CoverageArgs) -> ExitCode {
    // Report paths first: a directory that does not exist is found before any work.
    let bad: Vec<String> = args
        .report
        .iter()
        .filter(|r| !parent(&r.path).is_dir())
        .map(|r| {
            format!(
                "report `{}`: its directory does not exist",
                r.path.display()
            )
        })
        .collect();
    if !bad.is_empty() {
        return print_errors(&Secrets::default(), &bad);
    }
    let suite = match load_suite(&args.path, args.target.clone()) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let (description, captures) = match read_inputs(args.openapi.as_deref(), &args.har) {
        Ok(inputs) => inputs,
        Err(errors) => {
            let errors: Vec<String> = errors.iter().map(ToString::to_string).collect();
            return print_errors(&suite.secrets, &errors);
        }
    };
    let coverage = compute(Inputs {
        suite: &suite,
        description: description.as_ref(),
        captures: &captures,
    });
    let mut out = Redacted::new(suite.secrets.clone(), std::io::stdout().lock());
    let _ = out.write_all(render::terminal(&coverage).as_bytes());
    let mut failures = Vec::new();
    for report in &args.report {
        if let Err(e) = write_report(report, &coverage, &suite.secrets) {
            failures.push(format!("report `{}`: {e}", report.path.display()));
        }
    }
    let mut code = ExitCode::SUCCESS;
    if let Some(min) = args.fail_under
        && coverage.summary.percent < min
    {
        let _ = writeln!(
            out,
            "gate: coverage {:.1}% is under --fail-under {min}",
            coverage.summary.percent
        );
        code = ExitCode::from(Exit::Failed);
    }
    if args.fail_on_mismatch && !coverage.findings.is_empty() {
        let _ = writeln!(
            out,
            "gate: {} security mismatch{} (--fail-on-mismatch)",
            coverage.findings.len(),
            if coverage.findings.len() == 1 {
                ""
            } else {
                "es"
            }
        );
        code = ExitCode::from(Exit::Failed);
    }
    let _ = out.flush();
    drop(out);
    if !failures.is_empty() {
        // As for `rolecall run`: a report that could not be written fails the command.
        print_errors(&suite.secrets, &failures);
        return ExitCode::from(Exit::Failed);
    }
    code
}

fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

fn write_report(
    report: &CoverageReport,
    coverage: &Coverage,
    secrets: &Secrets,
) -> std::io::Result<()> {
    write_file(&report.path, secrets, |out| match report.format {
        CoverageFormat::Json => out.write_json(coverage),
        CoverageFormat::Markdown => out.write_all(render::markdown(coverage).as_bytes()),
        CoverageFormat::Html => out.write_all(render::html(coverage).as_bytes()),
    })
}

/// Writes a file through [`Redacted`]: into a temporary file beside it, renamed into
/// place only once complete.
pub(crate) fn write_file(
    path: &Path,
    secrets: &Secrets,
    write: impl FnOnce(&mut Redacted<&mut tempfile::NamedTempFile>) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let mut file = tempfile::NamedTempFile::new_in(parent(path))?;
    let mut out = Redacted::new(secrets.clone(), &mut file);
    write(&mut out)?;
    out.flush()?;
    out.into_inner()?;
    file.persist(path).map_err(|e| e.error)?;
    Ok(())
}
