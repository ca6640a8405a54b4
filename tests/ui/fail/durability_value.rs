use history::{track_history, track_terraform};

#[track_history(durability = fast)]
fn unknown_word() {}

#[track_history(durability = "sync")]
fn quoted() {}

#[track_history(durability, user_id = 1)]
fn missing_value() {}

#[track_terraform(command = "apply", durability = Sync)]
fn wrong_case() {}

fn main() {}
