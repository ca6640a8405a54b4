use history::track_history;

const NAME: &str = "backup";

#[track_history(event_type = NAME)]
fn f() {}

fn main() {}
