use history::track_history;

#[track_history(user_id = 1, vm_id = 2, user_id = 3)]
fn f() {}

fn main() {}
