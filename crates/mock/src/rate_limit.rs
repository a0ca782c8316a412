//! A token bucket per client address, bounded in memory.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// Refills `rate` tokens per second up to `capacity`; each request takes one.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    capacity: f64,
    rate: f64,
    max_clients: usize,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

impl RateLimiter {
    pub(crate) fn new(requests: u32, per: Duration, burst: u32, max_clients: usize) -> Self {
        Self {
            capacity: f64::from(burst.max(1)),
            rate: f64::from(requests) / per.as_secs_f64(),
            max_clients: max_clients.max(1),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a token for `client`, or says in how many whole seconds one will be there.
    pub(crate) fn acquire(&self, client: IpAddr, now: Instant) -> Result<(), u64> {
        // A poisoned lock only means another request panicked mid-update; the counts are
        // still usable for a mock.
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if buckets.len() >= self.max_clients && !buckets.contains_key(&client) {
            self.evict(&mut buckets, now);
        }
        let bucket = buckets.entry(client).or_insert(Bucket {
            tokens: self.capacity,
            updated: now,
        });
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.rate).min(self.capacity);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - bucket.tokens) / self.rate;
            // Retry-After is in whole seconds; rounding up keeps a polite client from
            // coming back a moment too early.
            Err((wait.ceil() as u64).max(1))
        }
    }

    /// Drops buckets that have refilled (their clients are idle); if every client is busy,
    /// starts over rather than grow without bound.
    fn evict(&self, buckets: &mut HashMap<IpAddr, Bucket>, now: Instant) {
        let (capacity, rate) = (self.capacity, self.rate);
        buckets.retain(|_, bucket| {
            let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
            bucket.tokens + elapsed * rate < capacity
        });
        if buckets.len() >= self.max_clients {
            buckets.clear();
        }
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.buckets.lock().unwrap().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn ip(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(203, 0, 113, last))
    }

    #[test]
    fn the_burst_passes_then_the_bucket_is_empty() {
        let limiter = RateLimiter::new(2, Duration::from_secs(1), 3, 10);
        let now = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.acquire(ip(1), now), Ok(()));
        }
        assert_eq!(limiter.acquire(ip(1), now), Err(1));
        // Other clients have their own bucket.
        assert_eq!(limiter.acquire(ip(2), now), Ok(()));
    }

    #[test]
    fn tokens_come_back_over_time() {
        let limiter = RateLimiter::new(1, Duration::from_secs(10), 1, 10);
        let now = Instant::now();
        assert_eq!(limiter.acquire(ip(1), now), Ok(()));
        assert_eq!(limiter.acquire(ip(1), now), Err(10));
        assert_eq!(limiter.acquire(ip(1), now + Duration::from_secs(4)), Err(6));
        assert_eq!(
            limiter.acquire(ip(1), now + Duration::from_secs(11)),
            Ok(())
        );
    }

    #[test]
    fn memory_stays_bounded() {
        let limiter = RateLimiter::new(1, Duration::from_secs(60), 5, 4);
        let now = Instant::now();
        for last in 0..50 {
            limiter.acquire(ip(last), now).unwrap();
            assert!(limiter.tracked() <= 4);
        }
    }
}
