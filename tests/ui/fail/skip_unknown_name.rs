use history::track_history;

#[track_history(skip(pasword))]
fn login(user: &str, password: &str) -> bool {
    user.len() > password.len()
}

fn main() {}
