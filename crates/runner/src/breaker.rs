//! The circuit breaker: when the target is down or hung, the remaining cases fail at once
//! instead of each waiting for its own connection error or timeout.
//!
//! Two signs open it. A target that [`UNREACHABLE`] connections in a row failed to reach
//! (refused, or not accepted within the connect timeout) is down.
//! A target is hung when a request waited its whole timeout and not a single response
//! (any status; headers are enough) came from the target's origin meanwhile: that holds
//! whatever the mix of routes and identities in flight, and a route that hangs only
//! for some cases is still judged per case, because the other cases' answers arrive
//! during its wait. Once hung, requests in flight are cancelled, so a hung target costs
//! about one timeout per run. A route that drops its connections answers quickly, so
//! neither sign counts it.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::watch;

/// After this many connections failed in a row, the target is down.
const UNREACHABLE: usize = 3;

/// What the workers of a run share to notice a target that is down or hung.
pub(crate) struct Breaker {
    /// The per-request timeout, for the reason.
    timeout: Duration,
    /// Connections that failed in a row.
    unreachable: AtomicUsize,
    /// Responses from the target's origin so far: a request that times out with this
    /// unchanged since it was sent saw the target answer nothing for a whole timeout.
    answers: AtomicUsize,
    /// Whether the target was found hung; a cheap read for every case.
    hung: AtomicBool,
    /// Wakes requests in flight when the target is found hung.
    cancel: watch::Sender<bool>,
    /// Kept so that a request's own receiver is never the last one: dropping the last
    /// receiver would wake the sender's waiters, a lock per request.
    _keep: watch::Receiver<bool>,
}

/// A request's view of the breaker, taken when it is sent.
pub(crate) struct Watch {
    answers: usize,
    cancel: watch::Receiver<bool>,
}

impl Watch {
    /// Resolves when the target is found hung, for a request to stop waiting.
    pub(crate) async fn cancelled(&mut self) {
        // An error means the breaker is gone, with the run: nothing to wait for then.
        if self.cancel.wait_for(|hung| *hung).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

impl Breaker {
    pub(crate) fn new(timeout: Duration) -> Self {
        let (cancel, keep) = watch::channel(false);
        Breaker {
            timeout,
            unreachable: AtomicUsize::new(0),
            answers: AtomicUsize::new(0),
            hung: AtomicBool::new(false),
            cancel,
            _keep: keep,
        }
    }

    /// Why no further request is sent, once the breaker is open.
    pub(crate) fn open(&self) -> Option<String> {
        if self.hung.load(Ordering::Relaxed) {
            return Some(format!(
                "not sent: {}, so the remaining cases fail at once",
                self.hung_reason()
            ));
        }
        (self.unreachable.load(Ordering::Relaxed) >= UNREACHABLE).then(|| {
            format!(
                "not sent: {UNREACHABLE} connections to the target failed in a row, so the remaining cases fail at once"
            )
        })
    }

    /// What a request about to be sent to the target's origin watches.
    pub(crate) fn watch(&self) -> Watch {
        Watch {
            answers: self.answers.load(Ordering::Relaxed),
            cancel: self.cancel.subscribe(),
        }
    }

    /// Why a request in flight was cancelled.
    pub(crate) fn cancelled(&self) -> String {
        format!("cancelled: {}", self.hung_reason())
    }

    fn hung_reason(&self) -> String {
        format!(
            "the target answered nothing for a whole timeout ({}) while requests were in flight, so the run stopped waiting for it",
            shown(self.timeout)
        )
    }

    /// Records a response from the target's origin (its status and headers).
    pub(crate) fn answered(&self) {
        self.answers.fetch_add(1, Ordering::Relaxed);
        if self.unreachable.load(Ordering::Relaxed) != 0 {
            self.unreachable.store(0, Ordering::Relaxed);
        }
    }

    /// Records a request to the target's origin that got no response. A connection
    /// that timed out counts as unreachable, not hung: its timeout is shorter.
    pub(crate) fn failed(&self, error: &reqwest::Error, watch: &Watch) {
        if error.is_connect() {
            self.unreachable.fetch_add(1, Ordering::Relaxed);
        } else if error.is_timeout()
            && self.answers.load(Ordering::Relaxed) == watch.answers
            && !self.hung.swap(true, Ordering::Relaxed)
        {
            self.cancel.send_replace(true);
        }
    }
}

/// A timeout as users write it: `2s`, `300ms`.
pub(crate) fn shown(timeout: Duration) -> String {
    if timeout.subsec_millis() == 0 && !timeout.is_zero() {
        format!("{}s", timeout.as_secs())
    } else {
        format!("{}ms", timeout.as_millis())
    }
}
