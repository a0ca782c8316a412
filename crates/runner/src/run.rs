//! Running selected cases outside libtest: the engine behind `rolecall run`.

use std::sync::Arc;

use rolecall_scenario::{Secrets, Suite};

use crate::config::RunConfig;
use crate::engine::{Engine, Retain};
use crate::errors::RunnerError;
use crate::inbox::Inbox;
use crate::results::{CaseResult, Outcome};

/// Everything a run produced.
#[derive(Debug, Clone)]
pub struct RunOutput {
    /// One result per selected case, in suite order.
    pub results: Vec<CaseResult>,
    /// Where the requests went.
    pub base_url: String,
    /// Every secret of the run, including minted JWTs and captured login tokens.
    pub secrets: Arc<Secrets>,
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
    mut on_result: impl FnMut(&Suite, &CaseResult, &Arc<Secrets>),
) -> Result<RunOutput, RunnerError> {
    let engine = Engine::start(suite.clone(), config)?;
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
    let mut results = Vec::with_capacity(selected.len());
    loop {
        let batch = inbox.drain();
        if batch.is_empty() {
            break;
        }
        for finished in batch {
            let result = engine.judged(finished, retain);
            on_result(&suite, &result, &engine.secrets());
            results.push(result);
        }
    }
    results.sort_unstable_by_key(|result| result.index);
    Ok(RunOutput {
        results,
        base_url: engine.base_url().to_owned(),
        secrets: engine.secrets(),
    })
}

/// The line `rolecall run` prints for a case; failures and errors add their explanation,
/// indented. Print it through [`Redacted`](rolecall_scenario::Redacted).
pub fn line(suite: &Suite, result: &CaseResult) -> String {
    let case = &suite.cases[result.index];
    let label = match result.outcome {
        Outcome::Pass => "PASS ",
        Outcome::Fail => "FAIL ",
        Outcome::Skipped => "SKIP ",
        Outcome::Error => "ERROR",
    };
    let observed = match (&result.observed, &result.attribution) {
        (Some(o), Some(a)) => format!(
            " {} (expected {}) {}/{}",
            o.status, case.expect.status, a.layer, a.vendor
        ),
        _ => String::new(),
    };
    let mut out = format!("{label} {}{observed}\n", case.name);
    if result.outcome != Outcome::Pass
        && let Some(message) = &result.message
    {
        for l in message.lines() {
            out.push_str("      ");
            out.push_str(l);
            out.push('\n');
        }
    }
    out
}
