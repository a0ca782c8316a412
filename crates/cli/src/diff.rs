//! `rolecall diff` and `rolecall run --baseline`: drift between two JSON reports.
//!
//! Exit status: `diff` exits 0 without drift, 1 with drift, 2 when either file is not a
//! report it can read. `run --baseline` exits 1 on newly granted access (a possible
//! escalation) even when every case passed; other drift is printed and leaves the exit
//! status to the cases.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use std::sync::{Arc, Mutex};

use rolecall_runner::{
    Exit, Format, JsonReporter, Report, ReportSpec, Reporters, RunEnd, compare, parse_report,
    read_report,
};
use rolecall_scenario::{Redacted, Secrets};

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
            return ExitCode::from(Exit::Invalid);
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
    /// The file exists: the run's JSON report is kept in memory and compared with it.
    Compare {
        path: PathBuf,
        report: Report,
        run: SharedBuffer,
    },
    /// The file does not exist yet: the run's report is written there, like a `--report`.
    Write(PathBuf),
}

/// The run's JSON report as a [`JsonReporter`] writes it, for the comparison.
#[derive(Clone, Default)]
pub(crate) struct SharedBuffer(Arc<Mutex<Vec<u8>>>);

impl Write for SharedBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Baseline {
    /// Reads the baseline, or checks that it can be written, before anything is sent,
    /// and adds the reporter that writes the run's report for it to `reporters`. A
    /// baseline that is not a readable report is invalid input (the error is printed).
    pub(crate) fn prepare(
        path: Option<&Path>,
        reporters: &mut Reporters,
    ) -> Result<Option<Baseline>, ExitCode> {
        let Some(path) = path else { return Ok(None) };
        let baseline = if path.exists() {
            read_report(path)
                .map(|report| {
                    let run = SharedBuffer::default();
                    reporters.push(
                        "the baseline comparison",
                        Box::new(JsonReporter::new(run.clone())),
                    );
                    Baseline::Compare {
                        path: path.to_owned(),
                        report,
                        run,
                    }
                })
                .map_err(|e| format!("baseline: {e}"))
        } else {
            let spec = ReportSpec {
                format: Format::Json,
                path: path.to_owned(),
            };
            Reporters::prepare(&[spec]).map(|baseline| {
                reporters.extend(baseline);
                Baseline::Write(path.to_owned())
            })
        };
        baseline.map(Some).map_err(|e| {
            let mut err = Redacted::new(Secrets::default(), std::io::stderr());
            let _ = writeln!(err, "error: {e}");
            ExitCode::from(Exit::Invalid)
        })
    }

    /// After the run: prints the drift since the baseline to `out`, or that the baseline
    /// was written. Returns whether access was newly granted.
    pub(crate) fn finish<W: Write>(self, end: &RunEnd, out: &mut Redacted<W>) -> bool {
        match self {
            Baseline::Compare { path, report, run } => {
                // The run's report as written, so the comparison sees exactly what a
                // later `rolecall diff` of the two files would.
                let json = std::mem::take(&mut *run.0.lock().unwrap_or_else(|e| e.into_inner()));
                let run = match parse_report(Path::new("this run"), &json) {
                    Ok(run) => run,
                    // Only when the reporter failed, which the run reports as an error.
                    Err(_) => return false,
                };
                let comparison = compare(&report, &run);
                let _ = write!(
                    out,
                    "\nbaseline `{}`: {}",
                    path.display(),
                    comparison.render()
                );
                comparison.has_escalation()
            }
            // Not written when its reporter failed: the run prints why and exits 1.
            Baseline::Write(path) if !path.exists() => false,
            Baseline::Write(path) => {
                let s = end.summary;
                let _ = writeln!(
                    out,
                    "\nbaseline `{}` written ({} cases): the next run with `--baseline` compares with it",
                    path.display(),
                    s.pass + s.fail + s.skipped + s.error
                );
                false
            }
        }
    }
}
