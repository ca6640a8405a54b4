// A tracked fn nobody calls is dead code exactly like a plain one: `#[expect(dead_code)]` is
// fulfilled (an unfulfilled expectation would be a warning, denied here).
#![deny(warnings)]

use history::{track_history, track_terraform};

#[expect(dead_code)]
#[track_history(event_type = "unused")]
fn unused(n: u32) -> u32 {
    n
}

#[expect(dead_code)]
#[track_history(event_type = "unused_async")]
async fn unused_async() {}

#[expect(dead_code)]
#[track_terraform]
fn unused_plan() -> Result<(), std::io::Error> {
    Ok(())
}

fn main() {}
