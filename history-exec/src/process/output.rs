//! Output lines: what is kept of them ([`KeptOutput`]) and how a running execution is watched
//! live ([`Subscription`]).

use std::collections::VecDeque;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

/// Which stream a line came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StreamKind {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// One line of a process's output (without its line ending, secrets scrubbed).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputLine {
    /// Its position among all lines of the run, from 0, in the order they were read. A gap
    /// in the numbers of the lines a reader sees is lines left out.
    pub seq: u64,
    /// Where it came from.
    pub stream: StreamKind,
    /// The text.
    pub text: String,
}

/// What is kept of a run's output: the first lines, the last lines, and how many were left
/// out between them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeptOutput {
    /// The first lines, in order.
    pub head: Vec<OutputLine>,
    /// The last lines, in order (none of them also in `head`).
    pub tail: Vec<OutputLine>,
    /// How many lines were left out between `head` and `tail`.
    pub omitted: u64,
}

impl KeptOutput {
    /// Every kept line, in order.
    pub fn lines(&self) -> impl Iterator<Item = &OutputLine> {
        self.head.iter().chain(self.tail.iter())
    }

    /// How many lines the run printed in all.
    pub fn total(&self) -> u64 {
        (self.head.len() + self.tail.len()) as u64 + self.omitted
    }

    /// The kept lines as text, one per line, with a marker where lines were left out.
    pub fn text(&self) -> String {
        let mut s = String::new();
        for line in &self.head {
            s.push_str(&line.text);
            s.push('\n');
        }
        if self.omitted > 0 {
            s.push_str(&format!("… [{} lines left out]\n", self.omitted));
        }
        for line in &self.tail {
            s.push_str(&line.text);
            s.push('\n');
        }
        s
    }

    /// The last kept line from `stream` that is not blank, if any.
    pub fn last_line_of(&self, stream: StreamKind) -> Option<&str> {
        self.head
            .iter()
            .chain(self.tail.iter())
            .rev()
            .find(|l| l.stream == stream && !l.text.trim().is_empty())
            .map(|l| l.text.as_str())
    }
}

/// The lines of one running execution, shared by its driver and its subscribers.
///
/// Keeping a line and broadcasting it happen under one lock, and so do snapshotting the kept
/// lines and subscribing: a subscriber sees each line exactly once, with no gap between the
/// kept lines it starts from and the live ones that follow.
pub(crate) struct LineBuffer {
    state: Mutex<State>,
}

struct State {
    keep_head: usize,
    keep_tail: usize,
    head: Vec<OutputLine>,
    tail: VecDeque<OutputLine>,
    omitted: u64,
    next_seq: u64,
    live: Option<broadcast::Sender<OutputLine>>,
}

impl LineBuffer {
    pub(crate) fn new(keep_head: usize, keep_tail: usize, live_capacity: usize) -> LineBuffer {
        let (tx, _) = broadcast::channel(live_capacity.max(1));
        LineBuffer {
            state: Mutex::new(State {
                keep_head,
                keep_tail,
                head: Vec::new(),
                tail: VecDeque::new(),
                omitted: 0,
                next_seq: 0,
                live: Some(tx),
            }),
        }
    }

    /// Keeps `text` (if it falls in the head or tail) and sends it to live subscribers.
    pub(crate) fn push(&self, stream: StreamKind, text: String) {
        let mut s = self.state.lock();
        let line = OutputLine {
            seq: s.next_seq,
            stream,
            text,
        };
        s.next_seq += 1;
        if let Some(tx) = &s.live {
            // An error only means there is no subscriber right now.
            let _ = tx.send(line.clone());
        }
        if s.head.len() < s.keep_head {
            s.head.push(line);
        } else {
            s.tail.push_back(line);
            if s.tail.len() > s.keep_tail {
                s.tail.pop_front();
                s.omitted += 1;
            }
        }
    }

    /// Ends the live stream: subscribers get the rest of what was sent, then the end.
    pub(crate) fn close(&self) {
        self.state.lock().live = None;
    }

    pub(crate) fn snapshot(&self) -> KeptOutput {
        let s = self.state.lock();
        KeptOutput {
            head: s.head.clone(),
            tail: s.tail.iter().cloned().collect(),
            omitted: s.omitted,
        }
    }

    pub(crate) fn subscribe(&self) -> Subscription {
        let s = self.state.lock();
        Subscription {
            backlog: s.head.iter().chain(s.tail.iter()).cloned().collect(),
            live: s.live.as_ref().map(|tx| tx.subscribe()),
            last_seq: None,
            missed: 0,
        }
    }
}

/// A live view of a run's output: first the lines kept so far, then each new line as it is
/// read, until the run ends.
///
/// A subscriber that falls too far behind (more than the live buffer holds) skips the lines
/// it missed and counts them in [`Subscription::missed`]; `seq` numbers show where.
#[derive(Debug)]
pub struct Subscription {
    backlog: VecDeque<OutputLine>,
    live: Option<broadcast::Receiver<OutputLine>>,
    last_seq: Option<u64>,
    missed: u64,
}

impl Subscription {
    /// The next line, or `None` once the run has ended and every line was given.
    pub async fn next(&mut self) -> Option<OutputLine> {
        if let Some(line) = self.backlog.pop_front() {
            self.last_seq = Some(line.seq);
            return Some(line);
        }
        let rx = self.live.as_mut()?;
        loop {
            match rx.recv().await {
                Ok(line) => {
                    if self.last_seq.is_some_and(|s| line.seq <= s) {
                        continue;
                    }
                    self.last_seq = Some(line.seq);
                    return Some(line);
                }
                Err(broadcast::error::RecvError::Lagged(n)) => self.missed += n,
                Err(broadcast::error::RecvError::Closed) => {
                    self.live = None;
                    return None;
                }
            }
        }
    }

    /// How many live lines this subscriber skipped because it fell behind.
    pub fn missed(&self) -> u64 {
        self.missed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(k: &KeptOutput) -> Vec<String> {
        k.lines().map(|l| l.text.clone()).collect()
    }

    #[test]
    fn keeps_head_and_tail_and_counts_the_rest() {
        let b = LineBuffer::new(2, 3, 16);
        for i in 0..10 {
            b.push(StreamKind::Stdout, i.to_string());
        }
        let k = b.snapshot();
        assert_eq!(texts(&k), ["0", "1", "7", "8", "9"]);
        assert_eq!(k.omitted, 5);
        assert_eq!(k.total(), 10);
        assert!(k.text().contains("… [5 lines left out]"));
    }

    #[test]
    fn zero_tail_keeps_only_head() {
        let b = LineBuffer::new(1, 0, 4);
        for i in 0..3 {
            b.push(StreamKind::Stderr, i.to_string());
        }
        let k = b.snapshot();
        assert_eq!(texts(&k), ["0"]);
        assert_eq!(k.omitted, 2);
    }

    #[tokio::test]
    async fn late_subscriber_gets_backlog_then_live_lines_once() {
        let b = LineBuffer::new(100, 100, 16);
        b.push(StreamKind::Stdout, "a".into());
        let mut sub = b.subscribe();
        b.push(StreamKind::Stdout, "b".into());
        b.close();
        let mut seen = Vec::new();
        while let Some(l) = sub.next().await {
            seen.push(l.text);
        }
        assert_eq!(seen, ["a", "b"]);
        // After the end, a new subscriber gets the kept lines and the end.
        let mut after = b.subscribe();
        assert_eq!(after.next().await.map(|l| l.seq), Some(0));
        assert_eq!(after.next().await.map(|l| l.seq), Some(1));
        assert!(after.next().await.is_none());
    }
}
