use history::track_terraform;

#[track_terraform(command = "upgrade")]
fn run() {}

#[track_terraform]
fn provision() {}

fn main() {}
