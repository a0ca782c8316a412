//! Running selected cases outside libtest: the engine behind `rolecall run`.

use std::sync::Arc;
use std::sync::mpsc;

use rolecall_scenario::{Secrets, Suite};

use crate::engine::{Engine, RunConfig};
use crate::errors::RunnerError;
use crate::results::{CaseResult, Evaluator};

/// Everything a run produced.
#[derive(Debug, Clone)]
pub struct RunOutput {
    /// One result per selected case, in suite order.
    pub results: Vec<CaseResult>,
    /// Where the requests went.
    pub base_url: String,
    /// Every secret of the run, including minted JWTs and captured login tokens.
    pub secrets: Secrets,
}

/// Sends the cases at `selected` (indices into `suite.cases`) with bounded concurrency,
/// calling `on_result` as each one completes, and returns every result in suite order.
pub fn run(
    suite: Arc<Suite>,
    config: &RunConfig,
    selected: &[usize],
    mut on_result: impl FnMut(&Suite, &CaseResult),
) -> Result<RunOutput, RunnerError> {
    let engine = Engine::start(suite.clone(), config)?;
    let (tx, rx) = mpsc::channel();
    let sender = tx.clone();
    engine.execute_all(selected.to_vec(), move |index, execution| {
        let _ = sender.send((index, execution));
    });
    drop(tx);
    let evaluator = Evaluator {
        suite: &suite,
        fingerprints: engine.fingerprints(),
        base_url: engine.base_url(),
    };
    let mut results = Vec::with_capacity(selected.len());
    for (index, execution) in rx {
        let secrets = engine.secrets();
        let identity = suite.cases[index].identity;
        let result = evaluator.evaluate(
            index,
            execution,
            engine.identity_headers(identity),
            &secrets,
        );
        on_result(&suite, &result);
        results.push(result);
    }
    results.sort_by_key(|r| r.index);
    Ok(RunOutput {
        results,
        base_url: engine.base_url().to_owned(),
        secrets: Secrets::clone(&engine.secrets()),
    })
}
