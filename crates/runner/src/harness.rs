//! The libtest harness: one trial per case, so `cargo test` is the whole interface.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use libtest_mimic::{Arguments, Completion, Failed, Trial};
use rolecall_scenario::{Secrets, Suite};

use crate::config::RunConfig;
use crate::engine::{Engine, Finished, Retain};
use crate::exit::Exit;
use crate::inbox::Inbox;
use crate::judge::{Mismatch, MismatchKind, Verdict};
use crate::reporter::Summary;
use crate::reporter::{CaseFinished, Reporter as _, RunFinished, RunStarted};
use crate::reporters::Reporters;
use crate::results::{CaseResult, Outcome};
use crate::snapshot;

/// Runs the suite at `path` as a libtest harness: the `main` of a `harness = false` test.
///
/// A relative `path` is relative to the package being tested (`CARGO_MANIFEST_DIR`).
/// Environment: `ROLECALL_TARGET` selects a target, `ROLECALL_BASE_URL` overrides its
/// URL (writes are then skipped unless `ROLECALL_ALLOW_MUTATIONS=1`),
/// `ROLECALL_CONCURRENCY` sets the number of requests in flight, `ROLECALL_REPORT`
/// (`json=FILE`, comma-separated) writes reports as `rolecall run --report` does,
/// `ROLECALL_RECORD=DIR` records every refusal as `rolecall run --record` does. An
/// invalid value of any of these (a report in a missing or read-only directory included)
/// exits with code 2 before anything is sent.
///
/// ```no_run
/// // tests/authz.rs, with `[[test]] name = "authz" harness = false` in Cargo.toml
/// fn main() -> std::process::ExitCode {
///     rolecall_runner::harness("scenarios")
/// }
/// ```
pub fn harness(path: impl AsRef<Path>) -> ExitCode {
    let path = resolve(path.as_ref());
    if let Some(code) = crate::agent::serve_if_asked(&path) {
        return code;
    }
    let args = Arguments::from_args();
    // Under nextest, a process per case: the run's agent has the suite loaded.
    if let Some(code) = crate::agent::run_through_agent(&path, &args) {
        return code;
    }
    // Checked first: a mistyped variable must stop the run before anything is sent.
    let config = match RunConfig::from_env() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("error: {error}");
            return Exit::Invalid.into();
        }
    };
    let reporters = match Reporters::prepare(&config.reports) {
        Ok(reporters) => reporters,
        Err(error) => {
            eprintln!("error: {error}");
            return Exit::Invalid.into();
        }
    };
    // A recording directory that cannot be made is invalid input, like a report's.
    if let Some(dir) = &config.record
        && let Err(error) = std::fs::create_dir_all(dir)
    {
        eprintln!("error: cannot record into `{}`: {error}", dir.display());
        return Exit::Invalid.into();
    }
    let suite = match crate::target::load_suite(&path) {
        Ok(suite) => suite,
        Err(rendered) => {
            eprint!("{rendered}");
            return Exit::Invalid.into();
        }
    };
    let trials = run_trials_reporting(suite.clone(), &config, &args, reporters);
    let teardowns = trials
        .teardown_failures
        .iter()
        .map(|f| format!("teardown failed: {f}"));
    for error in trials.report_errors.iter().cloned().chain(teardowns) {
        eprintln!("error: {}", suite.secrets.redact(&error));
    }
    trials.exit_code()
}

fn resolve(path: &Path) -> PathBuf {
    if path.is_absolute() {
        return path.to_path_buf();
    }
    match std::env::var_os("CARGO_MANIFEST_DIR") {
        Some(dir) => PathBuf::from(dir).join(path),
        None => path.to_path_buf(),
    }
}

/// What a trial receives from the engine. Most cases pass and need nothing but that: a
/// slot per case stays two words instead of a whole result.
#[derive(Debug)]
enum Delivered {
    /// Passed, with nothing to snapshot.
    Passed,
    /// Anything else, to judge (if the worker could not) and report.
    Finished(Box<Finished>),
}

/// How a harness run ended: libtest's conclusion, and the reports that could not be
/// written.
#[derive(Debug)]
pub struct Trials {
    /// libtest's counts.
    pub conclusion: libtest_mimic::Conclusion,
    /// Why a report could not be written, one line each (already redacted).
    pub report_errors: Vec<String>,
    /// Objects the run created and could not remove, one line each (already redacted).
    pub teardown_failures: Vec<String>,
}

impl Trials {
    /// libtest's exit code (101 when a trial failed, as every test binary's); otherwise
    /// 1 when a report could not be written or an object could not be removed, else 0.
    pub fn exit_code(&self) -> ExitCode {
        if self.conclusion.has_failed() {
            self.conclusion.exit_code()
        } else if !self.report_errors.is_empty() || !self.teardown_failures.is_empty() {
            Exit::Failed.into()
        } else {
            Exit::Passed.into()
        }
    }
}

/// Builds one trial per case, sends every selected case at once (bounded by the
/// engine's concurrency, not by the test threads), then lets libtest report.
///
/// Trials only collect results the engine has already judged, so unless
/// `--test-threads` says otherwise they run on one thread: more threads would add a
/// thread hand-off per case and send nothing sooner.
pub fn run_trials(
    suite: Arc<Suite>,
    config: &RunConfig,
    args: &Arguments,
) -> libtest_mimic::Conclusion {
    run_trials_reporting(suite, config, args, Reporters::new()).conclusion
}

/// [`run_trials`], feeding `reporters` each case as its trial collects it, so `cargo
/// test` writes the same reports as `rolecall run`. Trials run in suite order on one
/// thread (unless `--test-threads` says otherwise; reporters put cases in suite order
/// themselves). A case that passed but whose deny-body snapshot differs from the
/// reviewed one, or has none, fails with a [`Snapshot`](crate::MismatchKind::Snapshot)
/// mismatch, in its trial and in every report alike.
pub fn run_trials_reporting(
    suite: Arc<Suite>,
    config: &RunConfig,
    args: &Arguments,
    reporters: Reporters,
) -> Trials {
    // libtest prints these names (`--list`, every result line): they go through the
    // suite's secrets like any other output, and filters match what is printed.
    let names: Vec<String> = suite
        .cases
        .iter()
        .map(|c| suite.secrets.redact(&c.name))
        .collect();
    let selected: Vec<usize> = if args.list {
        Vec::new()
    } else {
        names
            .iter()
            .enumerate()
            .filter(|(_, name)| {
                let trial = Trial::test(name.as_str(), || Ok(()));
                !args.is_filtered_out(&trial) && !args.is_ignored(&trial)
            })
            .map(|(i, _)| i)
            .collect()
    };
    let mut reporters = reporters;
    let engine = if selected.is_empty() {
        Ok(None)
    } else {
        Engine::start(suite.clone(), config).and_then(|engine| {
            if let Some(recorder) = engine.recorder(config)? {
                reporters.push("the recording", Box::new(recorder));
            }
            Ok(Some(Arc::new(engine)))
        })
    };
    let inbox = Inbox::by_slot(suite.cases.len(), selected.len());
    let mut scheduled = vec![false; suite.cases.len()];
    // Reports show what passing cases observed: only without them may a passing case
    // reach its trial as nothing but its outcome.
    let reporting = !reporters.is_empty();
    let retain = match reporting {
        true => Retain::Reports,
        false => Retain::Failures,
    };
    let reporters = Arc::new(Mutex::new(Reported {
        reporters,
        summary: Summary::default(),
    }));
    let start = Instant::now();
    if let Ok(Some(engine)) = &engine {
        for &index in &selected {
            scheduled[index] = true;
        }
        if reporting {
            // `Reporters` keeps its reporters' errors; it never returns one.
            let _ = lock(&reporters).reporters.run_started(&RunStarted {
                suite: &suite,
                selected: &selected,
                secrets: &engine.secrets(),
            });
        }
        let producer = inbox.producer();
        engine.execute_all(selected, retain, move |finished| {
            let index = finished.index();
            let delivered = match &finished {
                Finished::Judged(result)
                    if !reporting
                        && result.outcome == Outcome::Pass
                        && result.observed.is_none() =>
                {
                    Delivered::Passed
                }
                _ => Delivered::Finished(Box::new(finished)),
            };
            producer.put(index, delivered);
        });
        engine.prepare();
    }
    let start_error = engine
        .as_ref()
        .err()
        .map(|e| suite.secrets.redact(&e.to_string()));
    let engine = engine.ok().flatten();
    let trials = names
        .into_iter()
        .enumerate()
        .map(|(index, name)| {
            let suite = suite.clone();
            let engine = engine.clone();
            let inbox = inbox.clone();
            let start_error = start_error.clone();
            let reporters = reporters.clone();
            let scheduled = scheduled[index];
            let snapshot_name = suite.cases[index].expect.snapshot.then(|| name.clone());
            Trial::ignorable_test(name, move || {
                if let Some(error) = start_error {
                    return Err(Failed::from(format!("target not started: {error}")));
                }
                let (Some(engine), true) = (engine, scheduled) else {
                    return Err(Failed::from("case was not scheduled"));
                };
                let finished = match inbox.take(index) {
                    None => return Err(Failed::from("the run was interrupted")),
                    Some(Delivered::Passed) => return Ok(Completion::Completed),
                    Some(Delivered::Finished(finished)) => *finished,
                };
                let mut result = engine.judged(finished, retain);
                if let Some(name) = &snapshot_name {
                    check_snapshot(&suite, &engine.secrets(), name, &mut result);
                }
                if reporting {
                    let mut reported = lock(&reporters);
                    reported.summary.add(result.outcome);
                    let _ = reported.reporters.case_finished(&CaseFinished {
                        suite: &suite,
                        result: &result,
                        secrets: &engine.secrets(),
                    });
                }
                match result.outcome {
                    Outcome::Pass => Ok(Completion::Completed),
                    Outcome::Skipped => Ok(Completion::ignored_with(
                        engine.secrets().redact(&result.message.unwrap_or_default()),
                    )),
                    Outcome::Fail | Outcome::Error => Err(Failed::from(
                        engine.secrets().redact(&result.message.unwrap_or_default()),
                    )),
                }
            })
        })
        .collect();
    let mut args = args.clone();
    args.test_threads.get_or_insert(1);
    let conclusion = libtest_mimic::run(&args, trials);
    // Every trial is done: the objects the cases used are removed before reporting.
    let teardown_failures = engine.as_ref().map(|e| e.tear_down()).unwrap_or_default();
    let mut reported = lock(&reporters);
    if let Some(engine) = &engine
        && reporting
    {
        let summary = reported.summary;
        let secrets = engine.secrets();
        let _ = reported.reporters.run_finished(&RunFinished {
            suite: &suite,
            summary,
            base_url: engine.base_url(),
            elapsed: start.elapsed(),
            secrets: &secrets,
            teardown_failures: &teardown_failures,
        });
    }
    let report_errors = reported
        .reporters
        .errors()
        .iter()
        .map(|e| suite.secrets.redact(e))
        .collect();
    drop(reported);
    drop(engine);
    Trials {
        conclusion,
        report_errors,
        teardown_failures,
    }
}

/// Compares the deny-body snapshot of `result`, a case that passed, with the reviewed
/// one; a difference or a missing snapshot makes it fail with a typed
/// [`Snapshot`](MismatchKind::Snapshot) mismatch located where the case's expectation is
/// declared.
fn check_snapshot(suite: &Suite, secrets: &Secrets, name: &str, result: &mut CaseResult) {
    let Some(check) = snapshot::Check::of(suite, secrets, name, result) else {
        return;
    };
    let Some((observed, message)) = check.run() else {
        return;
    };
    let case = &suite.cases[result.index];
    let at = case
        .expect
        .explicit_at
        .as_ref()
        .unwrap_or(&suite.route(case).location);
    let mismatch = Mismatch {
        kind: MismatchKind::Snapshot,
        expected: format!("the reviewed snapshot `{}`", snapshot::name(name)),
        observed: observed.to_owned(),
        location: at.clone(),
        message: message.clone(),
    };
    result.outcome = Outcome::Fail;
    result.message = Some(message);
    match &mut result.verdict {
        Some(verdict) => verdict.mismatches.push(mismatch),
        None => {
            result.verdict = Some(Verdict {
                mismatches: vec![mismatch],
                escalation: false,
            })
        }
    }
}

/// The reporters of a harness run and what they were fed, shared by the trials.
struct Reported {
    reporters: Reporters,
    summary: Summary,
}

fn lock(reported: &Mutex<Reported>) -> MutexGuard<'_, Reported> {
    // A trial that panics (a snapshot that differs) does so after reporting its case.
    reported.lock().unwrap_or_else(|e| e.into_inner())
}
