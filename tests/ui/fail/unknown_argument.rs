use history::track_history;

#[track_history(evnt_type = "x")]
fn f() {}

fn main() {}
