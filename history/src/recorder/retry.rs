//! How the writer retries a store that refuses a batch with a transient error.

use std::time::Duration;

/// How transient store errors are retried.
#[derive(Clone, Copy, Debug)]
pub(super) struct Retry {
    pub max_retries: u32,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
}

impl Retry {
    /// The wait before retry number `attempt` (1-based): doubling from the initial wait.
    pub(super) fn backoff(&self, attempt: u32) -> Duration {
        self.initial_backoff
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
            .min(self.max_backoff)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_limit() {
        let r = Retry {
            max_retries: 8,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(50),
        };
        let waits: Vec<_> = (1..=5).map(|a| r.backoff(a).as_millis()).collect();
        assert_eq!(waits, vec![10, 20, 40, 50, 50]);
    }
}
