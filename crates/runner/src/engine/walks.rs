//! Journeys: each identity's walk through the steps, one step after the other.
//!
//! Every step case a selected case depends on (itself and the steps before it in the
//! same walk) has a cell, so a step is sent once however many cases wait for it: the
//! step's own case, and the next step's. A later step selected alone (`--exact`, a
//! filter, a nextest process) runs the steps before it first, unreported. A step that
//! is not sent, fails, or is refused ends its walk: the later steps are skipped with
//! the reason. Different walks share the run's concurrency like any other cases. Cells
//! are added as cases are given (the nextest agent gets one case at a time), so a walk
//! starts only when one of its steps is asked for.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use rolecall_scenario::{Decision, Suite};
use tokio::sync::{Notify, OnceCell};

use super::Retain;
use super::Shared;
use crate::objects::{self, Captured};
use crate::observed::Execution;
use crate::results::Outcome;

/// What became of one step of one walk.
#[derive(Debug, Clone)]
pub(super) struct Walked {
    /// The step's own execution: what its case reports.
    pub(super) execution: Execution,
    /// The captures the next step may use (by journey name), or why the walk ends here.
    next: Result<HashMap<String, Captured>, String>,
}

/// A step sent whose teardown is still due, with the values it may use.
#[derive(Debug)]
struct Undo {
    case: usize,
    values: HashMap<String, Captured>,
}

/// The run's walks.
#[derive(Debug, Default)]
pub(super) struct Walks {
    /// A cell per planned step case; planning adds to it.
    cells: Mutex<HashMap<usize, Arc<OnceCell<Walked>>>>,
    /// Steps sent with a teardown, in the order they were sent.
    undo: Mutex<Vec<Undo>>,
    /// Set once teardown began: a step sent after that is undone at once.
    stopping: AtomicBool,
    /// Steps with a teardown being sent: teardown waits for them, so that what one
    /// creates while the run is interrupted is undone too.
    in_flight: AtomicUsize,
    /// Told when a step with a teardown is done (undone at once if teardown began).
    settled: Notify,
}

/// A step with a teardown in flight, counted until it is dropped.
struct Sending<'a>(&'a Walks);

impl<'a> Sending<'a> {
    /// Counts a step in flight; `None` once teardown began (the step is then not sent).
    fn start(walks: &'a Walks) -> Option<Self> {
        walks.in_flight.fetch_add(1, Ordering::SeqCst);
        let sending = Sending(walks);
        (!walks.stopping.load(Ordering::SeqCst)).then_some(sending)
    }
}

impl Drop for Sending<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.0.settled.notify_waiters();
    }
}

impl Walks {
    /// Plans the step cases the cases at `indices` need (each selected step and the
    /// steps before it in its walk); whether one planned now has a teardown (the run
    /// must then watch for signals).
    pub(super) fn plan(&self, suite: &Suite, indices: &[usize]) -> bool {
        let Ok(mut cells) = self.cells.lock() else {
            return false;
        };
        let mut undoable = false;
        for &index in indices {
            let mut at = Some(index);
            while let Some(case) = at {
                let Some(step) = &suite.cases[case].journey else {
                    break;
                };
                if cells.contains_key(&case) {
                    break;
                }
                cells.insert(case, Arc::new(OnceCell::new()));
                undoable |= suite.journeys[step.journey].steps[step.step]
                    .teardown
                    .is_some();
                at = step.previous;
            }
        }
        undoable
    }

    /// Whether a teardown is still due.
    pub(super) fn pending(&self) -> bool {
        self.undo.lock().is_ok_and(|u| !u.is_empty())
    }
}

impl Shared {
    /// What became of the step case `index`, walking the steps before it first.
    pub(super) fn walk(&self, index: usize) -> Pin<Box<dyn Future<Output = Walked> + Send + '_>> {
        Box::pin(async move {
            let cell = self
                .walks
                .get()
                .and_then(|w| w.cells.lock().ok()?.get(&index).cloned());
            match cell {
                Some(cell) => cell.get_or_init(|| self.take_step(index)).await.clone(),
                None => {
                    let reason = format!(
                        "step `{}` was not planned for this run",
                        self.suite.cases[index].name
                    );
                    Walked {
                        execution: Execution::Error(reason.clone()),
                        next: Err(reason),
                    }
                }
            }
        })
    }

    /// What the steps before the step case `index` captured, once they were walked
    /// (empty for a first step, or a case that is not a step).
    pub(super) fn walked_values(&self, index: usize) -> HashMap<String, Captured> {
        let previous = self.suite.cases[index]
            .journey
            .as_ref()
            .and_then(|at| at.previous);
        previous
            .and_then(|previous| {
                let cell = self.walks.get()?.cells.lock().ok()?.get(&previous)?.clone();
                cell.get()?.next.clone().ok()
            })
            .unwrap_or_default()
    }

    async fn take_step(&self, index: usize) -> Walked {
        let suite = &self.suite;
        let case = &suite.cases[index];
        let Some(at) = &case.journey else {
            unreachable!("only journey steps are walked");
        };
        let journey = &suite.journeys[at.journey];
        let step = &journey.steps[at.step];
        let mut values = HashMap::new();
        if let Some(previous) = at.previous {
            match self.walk(previous).await.next {
                Ok(before) => values = before,
                Err(reason) => {
                    return Walked {
                        execution: Execution::Skipped(reason.clone()),
                        next: Err(reason),
                    };
                }
            }
        }
        // A step whose undoing could not be sent is not sent either.
        let blocked = step
            .teardown
            .as_ref()
            .filter(|_| self.permission.skip_reason(suite, case).is_none())
            .and_then(|t| {
                self.permission
                    .teardown_skip_reason(suite, t, &t.path, case.identity)
            });
        // A step that may create something is counted until it is remembered for undoing
        // (or undone); once teardown began it is not sent.
        let sending = match (&step.teardown, self.walks.get()) {
            (Some(_), Some(walks)) => Some(Sending::start(walks)),
            _ => None,
        };
        let execution = match (blocked, &sending) {
            (Some(reason), _) => {
                Execution::Skipped(format!("step `{}` not sent: {reason}", step.name))
            }
            (None, Some(None)) => Execution::Skipped(format!(
                "step `{}` not sent: the run is stopping",
                step.name
            )),
            (None, _) => self.send_case(index, values.clone()).await,
        };
        let name = &step.name;
        let next = match &execution {
            Execution::Skipped(reason) => Err(format!("step `{name}` was not sent: {reason}")),
            Execution::Error(_) => Err(format!("step `{name}` failed")),
            Execution::Observed(observed) => {
                let passed = self
                    .evaluate(index, execution.clone(), Retain::Failures)
                    .outcome
                    == Outcome::Pass;
                let allowed = case.expect.decision == Decision::Allow;
                // A step that created something is undone whatever was judged; its
                // teardown may use what it captured.
                let created = (200..300).contains(&observed.status) && step.teardown.is_some();
                let (captured, missing) = if (passed && allowed) || created {
                    objects::capture(&step.captures, &observed.headers, &observed.body)
                } else {
                    (HashMap::new(), None)
                };
                let mut failure = missing.map(|m| format!("step `{name}`: {m}"));
                for capture in step.captures.iter().filter(|c| c.secret) {
                    if let Some(value) = captured.get(&capture.name)
                        && let Err(e) = self.remember_captured(value)
                    {
                        failure.get_or_insert_with(|| {
                            format!("step `{name}`: capture `{}` {e}", capture.name)
                        });
                    }
                }
                let mut own: HashMap<String, String> = values
                    .get(&journey.name)
                    .map(|c| c.as_ref().clone())
                    .unwrap_or_default();
                own.extend(captured);
                values.insert(journey.name.clone(), Arc::new(own));
                if created {
                    self.remember_undo(index, values.clone()).await;
                }
                match (passed, allowed, failure) {
                    (false, _, _) => Err(format!("step `{name}` failed")),
                    (true, false, _) => Err(format!("step `{name}` was refused")),
                    (true, true, Some(failure)) => Err(failure),
                    (true, true, None) => Ok(values),
                }
            }
        };
        Walked { execution, next }
    }

    async fn remember_undo(&self, case: usize, values: HashMap<String, Captured>) {
        let Some(walks) = self.walks.get() else {
            return;
        };
        let undo = Undo { case, values };
        if walks.stopping.load(Ordering::SeqCst) {
            let _ = self.undo_step(undo).await;
        } else if let Ok(mut list) = walks.undo.lock() {
            list.push(undo);
        }
    }

    /// Undoes every step sent with a teardown, the last sent first; the failures.
    pub(super) async fn undo_steps(&self) -> Vec<String> {
        let Some(walks) = self.walks.get() else {
            return Vec::new();
        };
        walks.stopping.store(true, Ordering::SeqCst);
        // What is being sent now is undone too: wait for it.
        loop {
            let settled = walks.settled.notified();
            if walks.in_flight.load(Ordering::SeqCst) == 0 {
                break;
            }
            settled.await;
        }
        let taken = walks
            .undo
            .lock()
            .map(|mut u| std::mem::take(&mut *u))
            .unwrap_or_default();
        let mut failures = Vec::new();
        for undo in taken.into_iter().rev() {
            if let Err(e) = self.undo_step(undo).await {
                failures.push(e);
            }
        }
        failures
    }

    async fn undo_step(&self, undo: Undo) -> Result<(), String> {
        let suite = &self.suite;
        let case = &suite.cases[undo.case];
        let Some(at) = &case.journey else {
            return Ok(());
        };
        let step = &suite.journeys[at.journey].steps[at.step];
        let (Some(teardown), Some(path)) = (&step.teardown, &at.teardown_path) else {
            return Ok(());
        };
        let what = format!(
            "step `{}` ({}:{}) as `{}`",
            case.name,
            teardown.location.path.display(),
            teardown.location.line,
            suite.identities[case.identity].name
        );
        self.send_teardown(&what, teardown, path, case.identity, &undo.values)
            .await
    }
}
