use history::track_history;

#[track_history(result = hidden)]
fn f() {}

fn main() {}
