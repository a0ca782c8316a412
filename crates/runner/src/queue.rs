//! The order in which workers take cases: spread evenly over the identities.
//!
//! Every identity has its own client, and so its own connection pool, which opens a
//! connection whenever a request finds no idle one. Taken in suite order, the cases of
//! 10 identities at concurrency 64 had as many requests of one identity in flight as
//! the order in which workers finished happened to give, and a run opened 100-120
//! connections. Workers
//! therefore take their next case from the identity with the fewest requests in flight,
//! and among those the case that comes first in the suite: each identity has at most its
//! share of the requests in flight (7 of 64 for 10 identities), and at concurrency 1
//! cases go out in suite order, as they did before. A connection goes back to its pool only once the
//! runtime has polled it after its response, so a run still opens more connections than
//! that (85-105); yielding to the runtime before each request brought it to 70,
//! but cost glibc's allocator more than the connections saved (tasks moved between
//! threads more often). Each identity's cases keep their order.

use std::sync::{Mutex, MutexGuard};

/// The cases still to send, by identity.
#[derive(Debug)]
pub(crate) struct Queue {
    lanes: Mutex<Vec<Lane>>,
}

#[derive(Debug)]
struct Lane {
    /// Case indices, in suite order.
    cases: Vec<usize>,
    /// The next one to hand out.
    next: usize,
    /// Handed out and not yet finished.
    in_flight: usize,
}

/// A case handed to a worker; given back to [`Queue::next`] when it is finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ticket {
    /// The index of the case in the suite.
    pub(crate) case: usize,
    lane: usize,
}

impl Queue {
    /// A queue of `cases`, grouped by `identity_of(case)` in order of first appearance.
    pub(crate) fn new(cases: Vec<usize>, identity_of: impl Fn(usize) -> usize) -> Self {
        let mut lanes: Vec<(usize, Lane)> = Vec::new();
        for case in cases {
            let identity = identity_of(case);
            let lane = match lanes.iter().position(|(id, _)| *id == identity) {
                Some(lane) => lane,
                None => {
                    lanes.push((
                        identity,
                        Lane {
                            cases: Vec::new(),
                            next: 0,
                            in_flight: 0,
                        },
                    ));
                    lanes.len() - 1
                }
            };
            lanes[lane].1.cases.push(case);
        }
        Queue {
            lanes: Mutex::new(lanes.into_iter().map(|(_, lane)| lane).collect()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Lane>> {
        // Every update below is complete before anything can panic.
        self.lanes.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Finishes `done`, if any, and hands out the next case: `None` when none is left.
    pub(crate) fn next(&self, done: Option<Ticket>) -> Option<Ticket> {
        let mut lanes = self.lock();
        if let Some(done) = done {
            lanes[done.lane].in_flight -= 1;
        }
        let (lane, chosen) = lanes
            .iter_mut()
            .enumerate()
            .filter(|(_, lane)| lane.next < lane.cases.len())
            // Fewest in flight first, then the case that comes first in the suite: one
            // worker sends in suite order, whatever the filter left of each identity.
            .min_by_key(|(_, lane)| (lane.in_flight, lane.cases[lane.next]))?;
        let case = chosen.cases[chosen.next];
        chosen.next += 1;
        chosen.in_flight += 1;
        Some(Ticket { case, lane })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cases one worker takes, in order, finishing each before the next.
    fn one_worker(queue: &Queue) -> Vec<usize> {
        let mut taken = Vec::new();
        let mut last = None;
        while let Some(ticket) = queue.next(last) {
            taken.push(ticket.case);
            last = Some(ticket);
        }
        taken
    }

    /// `identities` identities × `routes` routes, in suite order (route by route).
    fn suite_order(routes: usize, identities: usize) -> Queue {
        Queue::new((0..routes * identities).collect(), |case| case % identities)
    }

    #[test]
    fn in_flight_per_identity_stays_at_its_share_of_the_concurrency() {
        let (routes, identities, concurrency) = (200, 10, 64);
        let queue = suite_order(routes, identities);
        // Workers finish in an order unrelated to the one they started in: a simple
        // deterministic shuffle (every 7th of those in flight).
        let mut in_flight: Vec<Ticket> = (0..concurrency)
            .map(|_| queue.next(None).expect("enough cases"))
            .collect();
        let mut sent = in_flight.len();
        let mut most = vec![0usize; identities];
        let mut position = 0;
        while !in_flight.is_empty() {
            for (identity, most) in most.iter_mut().enumerate() {
                let now = in_flight
                    .iter()
                    .filter(|t| t.case % identities == identity)
                    .count();
                *most = (*most).max(now);
            }
            position = (position + 7) % in_flight.len();
            let done = in_flight.swap_remove(position);
            if let Some(next) = queue.next(Some(done)) {
                in_flight.push(next);
                sent += 1;
            }
        }
        assert_eq!(sent, routes * identities);
        // 64 over 10 identities: at most 7 each, so the pools hold 64-70 connections.
        assert!(most.iter().all(|&m| m <= 7), "{most:?}");
        assert!(most.iter().sum::<usize>() <= 70, "{most:?}");
    }

    #[test]
    fn every_case_once_and_each_identity_in_order() {
        let queue = Queue::new(vec![5, 1, 4, 2, 3, 0, 6], |case| case % 3);
        let taken = one_worker(&queue);
        let mut sorted = taken.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..7).collect::<Vec<_>>());
        for identity in 0..3 {
            let order: Vec<_> = taken.iter().filter(|&&c| c % 3 == identity).collect();
            let expected: Vec<_> = [5, 1, 4, 2, 3, 0, 6]
                .iter()
                .filter(|&&c| c % 3 == identity)
                .collect();
            assert_eq!(order, expected);
        }
    }

    #[test]
    fn one_worker_sends_in_suite_order_even_when_identities_have_unequal_shares() {
        // A filter can leave identities with different numbers of cases.
        let queue = Queue::new(vec![0, 1, 2, 5, 6], |case| usize::from(case != 0));
        let taken = one_worker(&queue);
        assert_eq!(taken, vec![0, 1, 2, 5, 6]);
    }

    #[test]
    fn one_worker_alternates_identities_in_suite_order() {
        // With nothing in flight every lane ties on the first key, so a single worker
        // takes the case that comes first in the suite.
        let queue = suite_order(2, 3);
        let taken = one_worker(&queue);
        assert_eq!(taken, vec![0, 1, 2, 3, 4, 5]);
    }

    #[test]
    fn an_empty_queue_hands_out_nothing() {
        assert_eq!(Queue::new(Vec::new(), |c| c).next(None), None);
    }
}
