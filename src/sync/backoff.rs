//! Retry delays: exponential backoff with full jitter, capped, with `Retry-After` as a floor.
//!
//! `delay = max(random × min(cap, base × 2^attempt), Retry-After)`, with `random` in `[0, 1)` supplied by the
//! host (`Math.random()`, or a fixed value in tests): full jitter spreads the retries of many devices after an
//! outage ([AWS, *Exponential Backoff And Jitter*](https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/)),
//! and a server's `Retry-After` (Dataverse's service protection limits send it with 429) is never undercut
//! ([Service protection API limits](https://learn.microsoft.com/power-apps/developer/data-platform/api-limits#retry-operations)).

use serde::{Deserialize, Serialize};

/// Backoff settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Backoff {
    /// The delay ceiling of the first retry (attempt 0), in milliseconds.
    pub base_ms: u64,
    /// The largest delay drawn, in milliseconds (a `Retry-After` may ask for more).
    pub cap_ms: u64,
}

impl Default for Backoff {
    /// 1 second, doubling, capped at 5 minutes (the shortest sync interval).
    fn default() -> Backoff {
        Backoff { base_ms: 1_000, cap_ms: 300_000 }
    }
}

impl Backoff {
    /// The ceiling of the delay of retry number `attempt` (0 for the first retry): `min(cap, base × 2^attempt)`.
    pub fn ceiling_ms(&self, attempt: u32) -> u64 {
        let factor = 1u64.checked_shl(attempt.min(63)).unwrap_or(u64::MAX);
        self.base_ms.saturating_mul(factor).min(self.cap_ms)
    }

    /// The delay before retry number `attempt`, given `random` in `[0, 1)` (values outside are clamped) and the
    /// server's `Retry-After` in seconds, if any.
    pub fn delay_ms(&self, attempt: u32, random: f64, retry_after_secs: Option<u64>) -> u64 {
        let r = if random.is_nan() { 0.0 } else { random.clamp(0.0, 1.0) };
        let drawn = (r * self.ceiling_ms(attempt) as f64) as u64;
        let floor = retry_after_secs.map_or(0, |s| s.saturating_mul(1000));
        drawn.min(self.cap_ms).max(floor)
    }
}
