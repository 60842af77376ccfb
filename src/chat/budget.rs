//! What one socket may ask of the server: subscribes, backlog bytes, edits and typing, each a
//! token bucket. A request past its bucket is refused with a `rate_limited` error frame; a
//! client that keeps going after refusals is closed with 1008 (policy violation). A socket once
//! could pull ~100 MB of backlogs in a second with 300 `subscribe` frames, or store and fan out
//! thousands of edits. The defaults are far above what an honest client does (a member's page
//! subscribes to a few rooms; a reconnect is a new socket with a fresh budget);
//! `MUTUAL_RATE_LIMITS=off` lifts them with the other limits.

use std::time::Instant;

/// Tokens that refill at a steady rate up to a cap.
struct Bucket {
    tokens: f64,
    cap: f64,
    per_sec: f64,
    at: Instant,
}

impl Bucket {
    fn new(cap: f64, per_sec: f64) -> Bucket {
        Bucket {
            tokens: cap,
            cap,
            per_sec,
            at: Instant::now(),
        }
    }

    fn refill(&mut self) {
        let now = Instant::now();
        let secs = now.duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + secs * self.per_sec).min(self.cap);
        self.at = now;
    }

    /// Takes one token if there is one.
    fn take(&mut self) -> bool {
        self.refill();
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Whether anything is left (a cost known only afterwards may overdraw it).
    fn positive(&mut self) -> bool {
        self.refill();
        self.tokens > 0.0
    }

    fn spend(&mut self, amount: f64) {
        self.tokens -= amount;
    }

    /// Milliseconds until the next token.
    fn wait_ms(&self) -> u64 {
        let missing = (1.0 - self.tokens).max(0.0);
        (missing / self.per_sec * 1000.0).ceil() as u64
    }
}

/// What a socket asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ask {
    Subscribe,
    Edit,
    Typing,
    React,
    Seen,
}

/// The answer to a request over budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Refuse it: wait this long (ms) before asking again.
    Wait(u64),
    /// Refused too often: close the socket (1008).
    Close,
}

/// One socket's budget.
pub struct Budget {
    on: bool,
    subscribes: Bucket,
    /// Backlog bytes sent in `subscribed` answers.
    history: Bucket,
    edits: Bucket,
    typing: Bucket,
    reactions: Bucket,
    seen: Bucket,
    /// Refusals left before the socket is closed; they come back slowly.
    strikes: Bucket,
}

impl Budget {
    pub fn new(on: bool) -> Budget {
        Budget {
            on,
            // 30 at once (a page with every room open, twice), then one every two seconds.
            subscribes: Bucket::new(30.0, 0.5),
            // 4 MiB at once (several full `since` backlogs), then 128 KiB/s.
            history: Bucket::new(4.0 * 1024.0 * 1024.0, 128.0 * 1024.0),
            // 20 at once, then one every three seconds.
            edits: Bucket::new(20.0, 1.0 / 3.0),
            // Clients send typing at most every few seconds; keystrokes fit too.
            typing: Bucket::new(30.0, 2.0),
            // Reactions: a burst of taps, then one a second.
            reactions: Bucket::new(20.0, 1.0),
            // Read positions: clients tell at most once per new message seen.
            seen: Bucket::new(30.0, 2.0),
            // Ten refusals in a row, one back every 30 s.
            strikes: Bucket::new(10.0, 1.0 / 30.0),
        }
    }

    /// Whether the socket may do this now.
    pub fn ask(&mut self, what: Ask) -> Result<(), Refusal> {
        if !self.on {
            return Ok(());
        }
        let (granted, wait) = match what {
            Ask::Subscribe => {
                let history = self.history.positive();
                let granted = history && self.subscribes.take();
                let wait = if history {
                    self.subscribes.wait_ms()
                } else {
                    self.history.wait_ms()
                };
                (granted, wait)
            }
            Ask::Edit => (self.edits.take(), self.edits.wait_ms()),
            Ask::Typing => (self.typing.take(), self.typing.wait_ms()),
            Ask::React => (self.reactions.take(), self.reactions.wait_ms()),
            Ask::Seen => (self.seen.take(), self.seen.wait_ms()),
        };
        if granted {
            return Ok(());
        }
        metrics::counter!("mutual_ws_budget_refusals_total", "what" => format!("{what:?}"))
            .increment(1);
        if self.strikes.take() {
            Err(Refusal::Wait(wait.max(1)))
        } else {
            Err(Refusal::Close)
        }
    }

    /// A `subscribed` answer carried this many backlog bytes.
    pub fn sent_history(&mut self, bytes: usize) {
        if self.on {
            self.history.spend(bytes as f64);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_is_refused_then_closed() {
        let mut budget = Budget::new(true);
        let mut granted = 0;
        let mut refused = 0;
        let closed = loop {
            match budget.ask(Ask::Subscribe) {
                Ok(()) => granted += 1,
                Err(Refusal::Wait(ms)) => {
                    assert!(ms > 0);
                    refused += 1;
                }
                Err(Refusal::Close) => break true,
            }
            if granted + refused > 1000 {
                break false;
            }
        };
        assert!(closed);
        assert_eq!((granted, refused), (30, 10));
    }

    #[test]
    fn backlog_bytes_overdrawn_stop_subscribes() {
        let mut budget = Budget::new(true);
        assert!(budget.ask(Ask::Subscribe).is_ok());
        budget.sent_history(5 * 1024 * 1024);
        assert!(matches!(
            budget.ask(Ask::Subscribe),
            Err(Refusal::Wait(ms)) if ms > 1000
        ));
    }

    #[test]
    fn off_lifts_everything() {
        let mut budget = Budget::new(false);
        for _ in 0..1000 {
            assert!(budget.ask(Ask::Edit).is_ok());
        }
    }
}
