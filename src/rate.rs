//! Token buckets: the optional per-window message rate and the cap on audit
//! events, so a flood from one window can neither starve others nor flood
//! the host's log.

use std::collections::HashMap;
use std::time::Instant;

/// Most windows with their own bucket; past it, new windows share a refusal.
pub const MAX_RATE_WINDOWS: usize = 65_536;

/// A token bucket refilled continuously at `per_second`, holding at most `burst`.
#[derive(Debug, Clone, Copy)]
pub struct TokenBucket {
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket.
    pub fn full(burst: u32, now: Instant) -> Self {
        Self {
            tokens: f64::from(burst),
            last: now,
        }
    }

    /// Takes one token if there is one.
    pub fn take(&mut self, per_second: u32, burst: u32, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * f64::from(per_second)).min(f64::from(burst));
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// One bucket per window label.
#[derive(Debug, Default)]
pub struct WindowRates {
    buckets: HashMap<Box<str>, TokenBucket>,
}

impl WindowRates {
    /// Whether `window` may send one more message now.
    pub fn allow(&mut self, window: &str, per_second: u32, burst: u32, now: Instant) -> bool {
        if let Some(bucket) = self.buckets.get_mut(window) {
            return bucket.take(per_second, burst, now);
        }
        if self.buckets.len() >= MAX_RATE_WINDOWS {
            // Drop buckets that have refilled completely: they carry no state.
            self.buckets.retain(|_, b| {
                let idle = now.saturating_duration_since(b.last).as_secs_f64();
                b.tokens + idle * f64::from(per_second) < f64::from(burst)
            });
            if self.buckets.len() >= MAX_RATE_WINDOWS {
                return false;
            }
        }
        let mut bucket = TokenBucket::full(burst, now);
        let allowed = bucket.take(per_second, burst, now);
        self.buckets.insert(window.into(), bucket);
        allowed
    }

    /// Forgets a window's bucket (the window was closed).
    pub fn forget(&mut self, window: &str) {
        self.buckets.remove(window);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn burst_then_steady_rate() {
        let t0 = Instant::now();
        let mut rates = WindowRates::default();
        let allowed = (0..20).filter(|_| rates.allow("w", 10, 5, t0)).count();
        assert_eq!(allowed, 5);
        assert!(
            rates.allow("other", 10, 5, t0),
            "windows have their own buckets"
        );
        let t1 = t0 + Duration::from_millis(100);
        assert!(rates.allow("w", 10, 5, t1));
        assert!(!rates.allow("w", 10, 5, t1));
        let t2 = t1 + Duration::from_secs(60);
        assert_eq!((0..20).filter(|_| rates.allow("w", 10, 5, t2)).count(), 5);
    }
}
