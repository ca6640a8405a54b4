use history::track_history;

#[track_history]
const fn f() -> u8 {
    1
}

fn main() {}
