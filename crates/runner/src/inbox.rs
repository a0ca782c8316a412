//! Handing results from the engine's workers to the thread that reports them.
//!
//! A channel wakes its receiver for every message: 2,000 cases against a fast local
//! target cost 2,000 thread wake-ups, more CPU than judging them. The inbox wakes its
//! reader once per [`BATCH`] arrivals, when the last one arrives, and when the workers
//! are gone; a reader that is waiting also looks again every [`POLL`], so a slow target
//! delays what is printed by at most that much.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// Arrivals between two wake-ups of the reader.
const BATCH: usize = 64;
/// The longest a waiting reader sleeps without looking.
const POLL: Duration = Duration::from_millis(20);

/// Results filled by any thread and taken by readers, either by slot or as they arrive.
#[derive(Debug)]
pub(crate) struct Inbox<T> {
    state: Mutex<State<T>>,
    arrived: Condvar,
}

#[derive(Debug)]
struct State<T> {
    items: Items<T>,
    /// Items still to arrive.
    pending: usize,
    /// Arrivals since the reader was last woken.
    unannounced: usize,
    /// Every producer is gone: what has not arrived never will.
    closed: bool,
}

/// Where arrivals wait for their reader.
#[derive(Debug)]
enum Items<T> {
    /// By slot, for [`Inbox::take`].
    Slots(Vec<Option<T>>),
    /// In arrival order, for [`Inbox::drain`]: nothing is allocated for slots.
    Arrivals(Vec<T>),
}

impl<T> Inbox<T> {
    /// An inbox read slot by slot with [`Inbox::take`]: `slots` slots, `expected` of
    /// which will be filled.
    pub(crate) fn by_slot(slots: usize, expected: usize) -> Arc<Self> {
        Self::with(
            Items::Slots(std::iter::repeat_with(|| None).take(slots).collect()),
            expected,
        )
    }

    /// An inbox read in arrival order with [`Inbox::drain`], for `expected` items.
    pub(crate) fn in_arrival_order(expected: usize) -> Arc<Self> {
        Self::with(Items::Arrivals(Vec::new()), expected)
    }

    fn with(items: Items<T>, expected: usize) -> Arc<Self> {
        Arc::new(Inbox {
            state: Mutex::new(State {
                items,
                pending: expected,
                unannounced: 0,
                closed: expected == 0,
            }),
            arrived: Condvar::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // A panicking producer leaves consistent state: every update is a single step.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A handle for producers; when the last one is dropped the inbox is closed.
    pub(crate) fn producer(self: &Arc<Self>) -> Producer<T> {
        Producer(Arc::clone(self))
    }

    /// Waits for the item in `slot` and takes it; `None` when it will never arrive (or
    /// the inbox is not read by slot).
    pub(crate) fn take(&self, slot: usize) -> Option<T> {
        let mut state = self.lock();
        loop {
            let Items::Slots(slots) = &mut state.items else {
                return None;
            };
            if let Some(item) = slots.get_mut(slot)?.take() {
                return Some(item);
            }
            if state.closed {
                return None;
            }
            state = self.wait(state);
        }
    }

    /// Waits until something has arrived and takes all of it, in arrival order; empty
    /// once everything has been taken or will never arrive (or the inbox is read by
    /// slot).
    pub(crate) fn drain(&self) -> Vec<T> {
        let mut state = self.lock();
        loop {
            let Items::Arrivals(arrivals) = &mut state.items else {
                return Vec::new();
            };
            if !arrivals.is_empty() {
                return std::mem::take(arrivals);
            }
            if state.closed {
                return Vec::new();
            }
            state = self.wait(state);
        }
    }

    fn wait<'a>(&self, state: MutexGuard<'a, State<T>>) -> MutexGuard<'a, State<T>> {
        match self.arrived.wait_timeout(state, POLL) {
            Ok((state, _)) => state,
            Err(e) => e.into_inner().0,
        }
    }
}

/// The producing side of an [`Inbox`]; dropping the last clone closes it, so readers
/// never wait for a worker that has stopped (or panicked).
#[derive(Debug)]
pub(crate) struct Producer<T>(Arc<Inbox<T>>);

impl<T> Producer<T> {
    /// Files `item` in `slot` (ignored when the inbox is read in arrival order).
    pub(crate) fn put(&self, slot: usize, item: T) {
        let mut state = self.0.lock();
        match &mut state.items {
            Items::Slots(slots) => match slots.get_mut(slot) {
                Some(place) => *place = Some(item),
                None => return,
            },
            Items::Arrivals(arrivals) => arrivals.push(item),
        }
        state.pending = state.pending.saturating_sub(1);
        state.unannounced += 1;
        if state.pending == 0 {
            state.closed = true;
        }
        if state.unannounced >= BATCH || state.closed {
            state.unannounced = 0;
            drop(state);
            self.0.arrived.notify_all();
        }
    }
}

impl<T> Drop for Producer<T> {
    fn drop(&mut self) {
        self.0.lock().closed = true;
        self.0.arrived.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn take_waits_for_its_slot_across_threads() {
        let inbox = Inbox::by_slot(200, 200);
        let producer = inbox.producer();
        let handle = std::thread::spawn(move || {
            for slot in (0..200).rev() {
                producer.put(slot, slot * 2);
            }
        });
        for slot in 0..200 {
            assert_eq!(inbox.take(slot), Some(slot * 2));
        }
        handle.join().unwrap();
        assert_eq!(inbox.take(0), None, "an item is taken once");
    }

    #[test]
    fn drain_returns_arrival_order_then_nothing() {
        let inbox = Inbox::in_arrival_order(3);
        let producer = inbox.producer();
        producer.put(4, "d");
        producer.put(0, "a");
        producer.put(2, "c");
        assert_eq!(inbox.drain(), vec!["d", "a", "c"]);
        assert!(inbox.drain().is_empty(), "all expected items arrived");
        assert_eq!(
            inbox.take(4),
            None,
            "an inbox drained in order has no slots"
        );
    }

    #[test]
    fn a_dropped_producer_releases_waiting_readers() {
        let inbox: Arc<Inbox<u8>> = Inbox::by_slot(3, 3);
        let producer = inbox.producer();
        let handle = std::thread::spawn(move || {
            producer.put(1, 7);
            // Dropped with slots 0 and 2 unfilled, as when a worker panics.
        });
        assert_eq!(inbox.take(0), None);
        handle.join().unwrap();
        assert_eq!(inbox.take(1), Some(7));
        assert_eq!(inbox.take(2), None);

        let inbox: Arc<Inbox<u8>> = Inbox::in_arrival_order(3);
        let producer = inbox.producer();
        let handle = std::thread::spawn(move || producer.put(0, 7));
        handle.join().unwrap();
        assert_eq!(inbox.drain(), vec![7]);
        assert_eq!(inbox.drain(), Vec::<u8>::new(), "the producer is gone");
    }
}
