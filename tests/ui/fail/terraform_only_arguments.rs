use history::track_history;

#[track_history(command = "apply")]
fn f() {}

fn main() {}
