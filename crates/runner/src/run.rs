//! Running selected cases outside libtest: the engine behind `rolecall run`.

use std::sync::Arc;
use std::time::Instant;

use rolecall_scenario::{Secrets, Suite};

use crate::config::RunConfig;
use crate::engine::{Engine, Retain};
use crate::errors::RunnerError;
use crate::inbox::Inbox;
use crate::reporter::{CaseFinished, Reporter, RunFinished, RunStarted, Summary};
use crate::reporters::{JsonReporter, Reporters};
use crate::results::CaseResult;

/// Everything a run produced.
#[derive(Debug, Clone)]
pub struct RunOutput {
    /// One result per selected case, in suite order.
    pub results: Vec<CaseResult>,
    /// Where the requests went.
    pub base_url: String,
    /// Every secret of the run, including minted JWTs and captured login tokens.
    pub secrets: Arc<Secrets>,
    /// Objects the run created and could not remove, one redacted line each.
    pub teardown_failures: Vec<String>,
}

/// How a run fed to reporters ended.
#[derive(Debug, Clone)]
pub struct RunEnd {
    /// Counts by outcome.
    pub summary: Summary,
    /// Where the requests went.
    pub base_url: String,
    /// Every secret of the run, including minted JWTs and captured login tokens.
    pub secrets: Arc<Secrets>,
    /// Objects the run created and could not remove, one redacted line each: the run
    /// failed even when every case passed.
    pub teardown_failures: Vec<String>,
    /// Why the recording (`RunConfig::record`) stopped, if it did: one line each, already
    /// redacted. The run goes on without it, and should exit 1.
    pub errors: Vec<String>,
}

/// What the results of passing cases keep. Failures, errors, skips and cases that
/// snapshot keep everything either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// What reports show: everything but the response headers and body.
    Reports,
    /// What a line per case shows: the status, layer and vendor. The rest (evidence,
    /// request id, verdict) is dropped as each case finishes, so a run that writes no
    /// report does not hold it for every case.
    Lines,
}

/// Sends the cases at `selected` (indices into `suite.cases`, in suite order) with
/// bounded concurrency and feeds `reporter` the run's events as they happen: every
/// output of `rolecall run` is a reporter. Passing cases keep what `keep` says; no
/// result is held once its event is delivered.
pub fn run_reporting(
    suite: Arc<Suite>,
    config: &RunConfig,
    selected: &[usize],
    keep: Keep,
    reporter: &mut dyn Reporter,
) -> Result<RunEnd, RunnerError> {
    drive(suite, config, selected, keep, reporter, drop)
}

/// Sends the cases at `selected` (indices into `suite.cases`) with bounded concurrency,
/// calling `on_result` as each one completes, and returns every result in suite order,
/// passing ones with what `keep` says.
///
/// `on_result` also receives every secret known so far (minted JWTs and captured login
/// tokens included), for the [`Redacted`](rolecall_scenario::Redacted) writer its output
/// goes through.
pub fn run(
    suite: Arc<Suite>,
    config: &RunConfig,
    selected: &[usize],
    keep: Keep,
    on_result: impl FnMut(&Suite, &CaseResult, &Arc<Secrets>),
) -> Result<RunOutput, RunnerError> {
    struct Each<F>(F);
    impl<F: FnMut(&Suite, &CaseResult, &Arc<Secrets>)> Reporter for Each<F> {
        fn case_finished(&mut self, event: &CaseFinished<'_>) -> std::io::Result<()> {
            (self.0)(event.suite, event.result, event.secrets);
            Ok(())
        }
    }
    let mut results = Vec::with_capacity(selected.len());
    let end = drive(
        suite,
        config,
        selected,
        keep,
        &mut Each(on_result),
        |result| results.push(result),
    )?;
    results.sort_unstable_by_key(|result| result.index);
    Ok(RunOutput {
        results,
        base_url: end.base_url,
        secrets: end.secrets,
        teardown_failures: end.teardown_failures,
    })
}

fn drive(
    suite: Arc<Suite>,
    config: &RunConfig,
    selected: &[usize],
    keep: Keep,
    reporter: &mut dyn Reporter,
    mut then: impl FnMut(CaseResult),
) -> Result<RunEnd, RunnerError> {
    let engine = Engine::start(suite.clone(), config)?;
    // Beside the caller's reporter, so that a recording that fails is reported as the
    // reports that fail are, and the run goes on.
    let mut recording = Reporters::new();
    if let Some(recorder) = engine.recorder(config)? {
        recording.push("the recording", Box::new(recorder));
    }
    let mut both = Both(reporter, &mut recording);
    let reporter: &mut dyn Reporter = &mut both;
    let start = Instant::now();
    // Reporters report their own write errors (see `Reporters`); one that returns an
    // error here has nowhere better to say so, and the run goes on.
    let _ = reporter.run_started(&RunStarted {
        suite: &suite,
        selected,
        secrets: &engine.secrets(),
    });
    let inbox = Inbox::in_arrival_order(selected.len());
    let producer = inbox.producer();
    let retain = match keep {
        Keep::Reports => Retain::Reports,
        Keep::Lines => Retain::Lines,
    };
    engine.execute_all(selected.to_vec(), retain, move |finished| {
        producer.put(finished.index(), finished);
    });
    engine.prepare();
    let mut summary = Summary::default();
    loop {
        let batch = inbox.drain();
        if batch.is_empty() {
            break;
        }
        for finished in batch {
            let result = engine.judged(finished, retain);
            summary.add(result.outcome);
            let _ = reporter.case_finished(&CaseFinished {
                suite: &suite,
                result: &result,
                secrets: &engine.secrets(),
            });
            then(result);
        }
    }
    // Every case is done: the objects they used are removed before the run ends.
    let teardown_failures = engine.tear_down();
    let secrets = engine.secrets();
    let _ = reporter.run_finished(&RunFinished {
        suite: &suite,
        summary,
        base_url: engine.base_url(),
        elapsed: start.elapsed(),
        secrets: &secrets,
        teardown_failures: &teardown_failures,
    });
    let errors = recording
        .errors()
        .iter()
        .map(|error| secrets.redact(error))
        .collect();
    Ok(RunEnd {
        summary,
        base_url: engine.base_url().to_owned(),
        secrets,
        teardown_failures,
        errors,
    })
}

/// Two reporters fed the same events, in turn.
struct Both<'a>(&'a mut dyn Reporter, &'a mut Reporters);

impl Reporter for Both<'_> {
    fn run_started(&mut self, event: &RunStarted<'_>) -> std::io::Result<()> {
        let first = self.0.run_started(event);
        self.1.run_started(event)?;
        first
    }

    fn case_finished(&mut self, event: &CaseFinished<'_>) -> std::io::Result<()> {
        let first = self.0.case_finished(event);
        self.1.case_finished(event)?;
        first
    }

    fn run_finished(&mut self, event: &RunFinished<'_>) -> std::io::Result<()> {
        let first = self.0.run_finished(event);
        self.1.run_finished(event)?;
        first
    }
}

/// Renders the JSON report of a run. Every secret known to the run (including minted
/// and captured tokens), in every form, is redacted.
pub fn json_report(suite: &Suite, run: &RunOutput) -> String {
    let mut json = Vec::new();
    write_json_report(suite, run, &mut json).expect("writing to a Vec does not fail");
    String::from_utf8(json).expect("serde_json writes UTF-8")
}

/// Writes the JSON report of a finished run to `out`: what [`json_report`] returns,
/// through the same [`JsonReporter`] `rolecall run` feeds as cases finish. Every string
/// (keys included) is redacted before it is escaped, with the run's secrets: no field
/// can carry one, and the report's structure stays valid whatever a secret looks like.
pub fn write_json_report<W: std::io::Write>(
    suite: &Suite,
    run: &RunOutput,
    out: W,
) -> std::io::Result<()> {
    let selected: Vec<usize> = run.results.iter().map(|r| r.index).collect();
    let secrets: &Arc<Secrets> = &run.secrets;
    let mut reporter = JsonReporter::new(out);
    reporter.run_started(&RunStarted {
        suite,
        selected: &selected,
        secrets,
    })?;
    for result in &run.results {
        reporter.case_finished(&CaseFinished {
            suite,
            result,
            secrets,
        })?;
    }
    reporter.run_finished(&RunFinished {
        suite,
        summary: Summary::of(&run.results),
        base_url: &run.base_url,
        elapsed: std::time::Duration::ZERO,
        secrets,
        teardown_failures: &run.teardown_failures,
    })
}
