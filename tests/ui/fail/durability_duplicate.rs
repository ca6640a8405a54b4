use history::track_history;

#[track_history(durability = sync, user_id = 1, durability = buffered)]
fn f() {}

fn main() {}
