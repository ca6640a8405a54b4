use history::track_history;

#[track_history(event_type = 42)]
fn f() {}

fn main() {}
