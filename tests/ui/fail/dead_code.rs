#![deny(dead_code)]

use history::track_history;

#[track_history(event_type = "unused")]
fn unused(n: u32) -> u32 {
    n
}

fn main() {}
