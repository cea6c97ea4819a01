//! Token buckets: a burst is allowed, a sustained flood is refused (or, for pushes, held back)
//! instead of starving everything else. Every rate the server keeps is here.

/// Serializable, for what a hub keeps across evictions (`hub::push`).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TokenBucket {
    tokens: f64,
    updated_ms: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub per_second: f64,
    pub burst: f64,
}

/// Enough for a person typing and a client syncing receipts; a bench sends well below it.
pub const SOCKET_RATE: Rate = Rate { per_second: 50.0, burst: 100.0 };

/// New sockets per user (each hub keeps one bucket). A burst covers every tab and device coming
/// back at once after a restart; past it, one a second. A socket the hub closes (one too many, a
/// session ended) lingers until its client answers the close, which a hostile one never does:
/// this bounds how fast an account can pile those up in its own hub.
pub const UPGRADE_RATE: Rate = Rate { per_second: 1.0, burst: 30.0 };

/// Log lines a hub writes for failed and slow events (each hub keeps one bucket). Under overload
/// every event is slow, and a line per event made the overload worse (a line costs a hub about as
/// much as the message it describes under wrangler dev); a misbehaving client can fail 50 events
/// a second. A burst shows what went wrong; past it, one line a second per hub.
pub const HUB_LOG_RATE: Rate = Rate { per_second: 1.0, burst: 20.0 };

/// Pushes to one device (each hub keeps one bucket per device of its user). Coalescing makes a
/// burst of messages one push per round already; this bounds what a busy conversation sends a
/// phone to a few at once, then one every 5 seconds, each standing for everything since the last.
pub const PUSH_RATE: Rate = Rate { per_second: 0.2, burst: 3.0 };

impl TokenBucket {
    pub fn full(rate: Rate, now_ms: f64) -> Self {
        Self { tokens: rate.burst, updated_ms: now_ms }
    }

    /// Whole seconds until a token is there (0 if one is), for a `Retry-After`.
    pub fn seconds_until_next(&self, rate: Rate, now_ms: f64) -> u32 {
        let elapsed = ((now_ms - self.updated_ms) / 1000.0).max(0.0);
        let tokens = (self.tokens + elapsed * rate.per_second).min(rate.burst);
        if tokens >= 1.0 {
            0
        } else {
            ((1.0 - tokens) / rate.per_second).ceil() as u32
        }
    }

    /// Milliseconds until a token is there (0 if one is).
    pub fn ms_until_next(&self, rate: Rate, now_ms: f64) -> f64 {
        let elapsed = ((now_ms - self.updated_ms) / 1000.0).max(0.0);
        let tokens = (self.tokens + elapsed * rate.per_second).min(rate.burst);
        (1.0 - tokens).max(0.0) / rate.per_second * 1000.0
    }

    /// Whether it has refilled to its burst: it then says no more than a new one would.
    pub fn is_full(&self, rate: Rate, now_ms: f64) -> bool {
        let elapsed = ((now_ms - self.updated_ms) / 1000.0).max(0.0);
        self.tokens + elapsed * rate.per_second >= rate.burst
    }

    /// Takes one token if there is one.
    pub fn try_take(&mut self, rate: Rate, now_ms: f64) -> bool {
        let elapsed = ((now_ms - self.updated_ms) / 1000.0).max(0.0);
        self.tokens = (self.tokens + elapsed * rate.per_second).min(rate.burst);
        self.updated_ms = now_ms;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: Rate = Rate { per_second: 10.0, burst: 5.0 };

    #[test]
    fn allows_a_burst_then_refuses() {
        let mut bucket = TokenBucket::full(RATE, 0.0);
        assert_eq!((0..5).filter(|_| bucket.try_take(RATE, 0.0)).count(), 5);
        assert!(!bucket.try_take(RATE, 0.0));
    }

    #[test]
    fn refills_at_the_rate_up_to_the_burst() {
        let mut bucket = TokenBucket::full(RATE, 0.0);
        while bucket.try_take(RATE, 0.0) {}
        assert!(bucket.try_take(RATE, 100.0), "one token after 100 ms at 10/s");
        assert!(!bucket.try_take(RATE, 100.0));
        assert_eq!((0..20).filter(|_| bucket.try_take(RATE, 60_000.0)).count(), 5, "never more than the burst");
    }

    #[test]
    fn says_how_long_until_the_next_token() {
        let mut bucket = TokenBucket::full(RATE, 0.0);
        assert_eq!(bucket.seconds_until_next(RATE, 0.0), 0);
        while bucket.try_take(RATE, 0.0) {}
        assert_eq!(bucket.seconds_until_next(RATE, 0.0), 1, "a tenth of a second, rounded up");
        assert_eq!(bucket.seconds_until_next(RATE, 100.0), 0);
        let slow = Rate { per_second: 0.25, burst: 1.0 };
        let mut bucket = TokenBucket::full(slow, 0.0);
        assert!(bucket.try_take(slow, 0.0));
        assert_eq!(bucket.seconds_until_next(slow, 1000.0), 3);
    }

    #[test]
    fn says_how_many_milliseconds_until_the_next_token() {
        let mut bucket = TokenBucket::full(RATE, 0.0);
        assert_eq!(bucket.ms_until_next(RATE, 0.0), 0.0);
        while bucket.try_take(RATE, 0.0) {}
        assert!((bucket.ms_until_next(RATE, 0.0) - 100.0).abs() < 1e-6);
        assert!((bucket.ms_until_next(RATE, 40.0) - 60.0).abs() < 1e-6);
        assert!(bucket.ms_until_next(RATE, 100.0) < 1e-6);
        assert_eq!(bucket.ms_until_next(RATE, 250.0), 0.0);
    }

    #[test]
    fn a_clock_going_backwards_adds_nothing() {
        let mut bucket = TokenBucket::full(RATE, 1000.0);
        while bucket.try_take(RATE, 1000.0) {}
        assert!(!bucket.try_take(RATE, 0.0));
    }
}
