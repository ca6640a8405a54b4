use history::track_history;

#[track_history(event_type = "Backup Run")]
fn f() {}

fn main() {}
