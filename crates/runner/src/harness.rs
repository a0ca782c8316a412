//! The libtest harness: one trial per case, so `cargo test` is the whole interface.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use libtest_mimic::{Arguments, Completion, Failed, Trial};
use rolecall_scenario::{LoadOptions, RenderStyle, Suite};

use crate::config::RunConfig;
use crate::engine::{Engine, Finished, Retain};
use crate::inbox::Inbox;
use crate::results::Outcome;
use crate::snapshot;

/// Runs the suite at `path` as a libtest harness: the `main` of a `harness = false` test.
///
/// A relative `path` is relative to the package being tested (`CARGO_MANIFEST_DIR`).
/// Environment: `ROLECALL_TARGET` selects a target, `ROLECALL_BASE_URL` overrides its
/// URL (writes are then skipped unless `ROLECALL_ALLOW_MUTATIONS=1`),
/// `ROLECALL_CONCURRENCY` sets the number of requests in flight. An invalid value of any
/// of these exits with code 2 before anything is sent.
///
/// ```no_run
/// // tests/authz.rs, with `[[test]] name = "authz" harness = false` in Cargo.toml
/// fn main() -> std::process::ExitCode {
///     rolecall_runner::harness("scenarios")
/// }
/// ```
pub fn harness(path: impl AsRef<Path>) -> ExitCode {
    let args = Arguments::from_args();
    // Checked first: a mistyped variable must stop the run before anything is sent.
    let config = match RunConfig::from_env() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    let path = resolve(path.as_ref());
    let mut options = LoadOptions::new();
    if let Ok(target) = std::env::var("ROLECALL_TARGET") {
        options = options.target(target);
    }
    let suite = match rolecall_scenario::load(&path, &options) {
        Ok(suite) => Arc::new(suite),
        Err(error) => {
            eprint!("{}", error.render(RenderStyle::Plain));
            return ExitCode::from(2);
        }
    };
    // A broken mock configuration is a broken suite: every problem, before any trial.
    if let Err(rendered) = crate::target::check_mock(&suite, RenderStyle::Plain) {
        eprint!("{rendered}");
        return ExitCode::from(2);
    }
    run_trials(suite, &config, &args).exit_code()
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
    let engine = if selected.is_empty() {
        Ok(None)
    } else {
        Engine::start(suite.clone(), config).map(|e| Some(Arc::new(e)))
    };
    let inbox = Inbox::by_slot(suite.cases.len(), selected.len());
    let mut scheduled = vec![false; suite.cases.len()];
    if let Ok(Some(engine)) = &engine {
        for &index in &selected {
            scheduled[index] = true;
        }
        let producer = inbox.producer();
        engine.execute_all(selected, Retain::Failures, move |finished| {
            let index = finished.index();
            let delivered = match &finished {
                Finished::Judged(result)
                    if result.outcome == Outcome::Pass && result.observed.is_none() =>
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
                let result = engine.judged(finished, Retain::Failures);
                let case = &suite.cases[index];
                match result.outcome {
                    Outcome::Pass => {
                        if let (Some(name), Some(observed), Some(attribution)) =
                            (&snapshot_name, &result.observed, &result.attribution)
                        {
                            let secrets = engine.secrets();
                            let route = suite.route(case);
                            // `cargo insta review` shows where the expectation lives.
                            let at = case.expect.explicit_at.as_ref().unwrap_or(&route.location);
                            let description = format!(
                                "{} {} as {}, expected at {at}",
                                route.method,
                                case.path,
                                suite.identity(case).name
                            );
                            let content = secrets.redact(&snapshot::render(observed, attribution));
                            snapshot::assert(
                                &route.location.path,
                                name,
                                &secrets.redact(&description),
                                &content,
                            );
                        }
                        Ok(Completion::Completed)
                    }
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
    drop(engine);
    conclusion
}
