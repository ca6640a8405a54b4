use history::track_history;

// Not a function: said so.
#[track_history]
struct Vm;

// A function syn cannot read: syn's own error, not "not a function".
#[track_history]
fn broken() -> u8 {
    let x = ;
    x
}

fn main() {}
