//! Reporters: every output of a run (terminal lines, the JSON report, every other format)
//! is fed the same typed events, by `rolecall run` and by the libtest harness alike.
//!
//! A reporter writes as events arrive and keeps no more than its format needs: a run of
//! 100,000 cases must not hold every case's body in any reporter. Reporters write through
//! [`Redacted`](rolecall_scenario::Redacted) (call its `learn` with the secrets each event
//! carries), so no secret known to the run reaches their output in any form.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use rolecall_scenario::{Secrets, Suite};

use serde::Serialize;

use crate::results::{CaseResult, Outcome};

/// The run is about to send its first request.
#[derive(Debug, Clone, Copy)]
pub struct RunStarted<'a> {
    /// The whole suite: its shape (route files, routes, identities, cases).
    pub suite: &'a Suite,
    /// Indices into `suite.cases` of the cases this run sends or skips, in suite order.
    pub selected: &'a [usize],
    /// Every secret known when the run starts.
    pub secrets: &'a Arc<Secrets>,
}

/// One case was judged. Cases finish in arrival order, not suite order: `result.index`
/// says which case it is.
#[derive(Debug, Clone, Copy)]
pub struct CaseFinished<'a> {
    /// The suite the case belongs to.
    pub suite: &'a Suite,
    /// The case's result; its strings are already redacted.
    pub result: &'a CaseResult,
    /// Every secret known so far (minted JWTs and captured login tokens included).
    pub secrets: &'a Arc<Secrets>,
}

/// Every selected case was judged (or the run was cut short: `summary` says how many).
#[derive(Debug, Clone, Copy)]
pub struct RunFinished<'a> {
    /// The suite.
    pub suite: &'a Suite,
    /// Counts by outcome.
    pub summary: Summary,
    /// Where the requests went.
    pub base_url: &'a str,
    /// From the first request to the last result.
    pub elapsed: Duration,
    /// Every secret of the run.
    pub secrets: &'a Arc<Secrets>,
    /// Objects the run created and could not remove (fixture teardowns that failed),
    /// one redacted line each.
    pub teardown_failures: &'a [String],
}

/// An output of a run, fed its events in order: [`run_started`](Self::run_started) once,
/// [`case_finished`](Self::case_finished) once per selected case, then
/// [`run_finished`](Self::run_finished) once.
pub trait Reporter {
    /// The run is about to start.
    fn run_started(&mut self, event: &RunStarted<'_>) -> io::Result<()> {
        let _ = event;
        Ok(())
    }

    /// A case was judged.
    fn case_finished(&mut self, event: &CaseFinished<'_>) -> io::Result<()>;

    /// The run is over: write what is left and flush.
    fn run_finished(&mut self, event: &RunFinished<'_>) -> io::Result<()> {
        let _ = event;
        Ok(())
    }
}

/// Counts by outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Cases whose expectations held.
    pub pass: usize,
    /// Cases whose response differed.
    pub fail: usize,
    /// Cases not sent on purpose.
    pub skipped: usize,
    /// Cases without a response.
    pub error: usize,
}

impl Summary {
    /// Counts `results`.
    pub fn of(results: &[CaseResult]) -> Self {
        let mut s = Summary::default();
        for r in results {
            s.add(r.outcome);
        }
        s
    }

    /// Counts one more case that ended with `outcome`.
    pub fn add(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Pass => self.pass += 1,
            Outcome::Fail => self.fail += 1,
            Outcome::Skipped => self.skipped += 1,
            Outcome::Error => self.error += 1,
        }
    }

    /// Every case counted.
    pub fn total(&self) -> usize {
        self.pass + self.fail + self.skipped + self.error
    }
}
