//! `rolecall diff` and `rolecall run --baseline`: drift between two JSON reports.
//!
//! Exit status: `diff` exits 0 without drift, 1 with drift, 2 when either file is not a
//! report it can read. `run --baseline` exits 1 on newly granted access (a possible
//! escalation) even when every case passed; other drift is printed and leaves the exit
//! status to the cases.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use rolecall_runner::{Report, RunOutput, compare, parse_report, read_report};
use rolecall_scenario::{Redacted, Secrets, Suite};

use crate::EXIT_INVALID;
use crate::args::ReportFile;

/// Exit code of `rolecall diff` when a case drifted.
const EXIT_DRIFT: u8 = 1;

/// `rolecall diff OLD NEW`. A report is already redacted, so no secret is known here; the
/// output still goes through [`Redacted`], like every output.
pub(crate) fn diff(old: &Path, new: &Path) -> ExitCode {
    let (old, new) = match (read_report(old), read_report(new)) {
        (Ok(old), Ok(new)) => (old, new),
        (old, new) => {
            let mut err = Redacted::new(Secrets::default(), std::io::stderr());
            for e in [old.err(), new.err()].into_iter().flatten() {
                let _ = writeln!(err, "error: {e}");
            }
            return ExitCode::from(EXIT_INVALID);
        }
    };
    let comparison = compare(&old, &new);
    let mut out = Redacted::new(Secrets::default(), std::io::stdout().lock());
    let _ = out.write_all(comparison.render().as_bytes());
    let _ = out.flush();
    if comparison.has_drift() {
        ExitCode::from(EXIT_DRIFT)
    } else {
        ExitCode::SUCCESS
    }
}

/// `--baseline FILE`: the report a run is compared with, or the file its report becomes.
pub(crate) enum Baseline {
    /// The file exists: the run is compared with it.
    Compare { path: PathBuf, report: Report },
    /// The file does not exist yet: the run's report is written there.
    Write(ReportFile),
}

impl Baseline {
    /// Reads the baseline, or checks that it can be written, before anything is sent: a
    /// baseline that is not a readable report is invalid input (the error is printed).
    pub(crate) fn prepare(path: Option<&Path>) -> Result<Option<Baseline>, ExitCode> {
        let Some(path) = path else { return Ok(None) };
        let baseline = if path.exists() {
            read_report(path)
                .map(|report| Baseline::Compare {
                    path: path.to_owned(),
                    report,
                })
                .map_err(|e| format!("baseline: {e}"))
        } else {
            ReportFile::prepare(path).map(Baseline::Write)
        };
        baseline.map(Some).map_err(|e| {
            let mut err = Redacted::new(Secrets::default(), std::io::stderr());
            let _ = writeln!(err, "error: {e}");
            ExitCode::from(EXIT_INVALID)
        })
    }

    /// After the run: prints the drift since the baseline to `out`, or writes the
    /// baseline. Returns whether access was newly granted; `Err` when the baseline could
    /// not be written (the error is printed).
    pub(crate) fn finish<W: Write>(
        self,
        suite: &Suite,
        output: &RunOutput,
        out: &mut Redacted<W>,
    ) -> Result<bool, ()> {
        match self {
            Baseline::Compare { path, report } => {
                // The run's report as written, so the comparison sees exactly what a
                // later `rolecall diff` of the two files would.
                let json = rolecall_runner::json_report(suite, output);
                let run = parse_report(Path::new("this run"), json.as_bytes())
                    .expect("rolecall reads the reports it writes");
                let comparison = compare(&report, &run);
                let _ = write!(
                    out,
                    "\nbaseline `{}`: {}",
                    path.display(),
                    comparison.render()
                );
                Ok(comparison.has_escalation())
            }
            Baseline::Write(file) => {
                let path = file.path().to_owned();
                let written = file.write(|file| {
                    let mut file = Redacted::new(output.secrets.clone(), file);
                    rolecall_runner::write_json_report(suite, output, &mut file)?;
                    file.flush()
                });
                match written {
                    Ok(()) => {
                        let _ = writeln!(
                            out,
                            "\nbaseline `{}` written ({} cases): the next run with `--baseline` compares with it",
                            path.display(),
                            output.results.len()
                        );
                        Ok(false)
                    }
                    Err(e) => {
                        let _ = out.flush();
                        let mut err = Redacted::new(output.secrets.clone(), std::io::stderr());
                        let _ =
                            writeln!(err, "error: cannot write baseline {}: {e}", path.display());
                        Err(())
                    }
                }
            }
        }
    }
}
