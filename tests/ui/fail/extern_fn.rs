use history::track_history;

#[track_history]
extern "C" fn f() -> u8 {
    1
}

fn main() {}
