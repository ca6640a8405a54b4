// Every supported shape compiles without a single warning.
#![deny(warnings)]

use history::{track_history, track_terraform, EventType, Recorder};

#[derive(Debug)]
pub struct Svc {
    history: Recorder,
}

pub struct NotDebug;

impl Svc {
    #[track_history(event_type = EventType::VmCreate, user_id = user, vm_id = spec.0, recorder = self.history)]
    pub fn create(&self, user: u64, spec: (u32, String), password: String) -> Result<u32, std::io::Error> {
        Ok(spec.0 + password.len() as u32)
    }

    #[track_history(event_type = EventType::VmStart, skip_all)]
    pub async fn start(&mut self, _opaque: NotDebug) {}

    #[track_history(event_type = "svc_consume", capture_self)]
    pub fn consume(self) -> Self {
        self
    }
}

#[track_history(
    event_type = "everything",
    operation = "custom::op",
    user_id = 1,
    vm_id = "vm-1",
    credential_id = cred,
    organization_id = Some(5u32),
    correlation_id = format!("req-{n}"),
    labels(region = "eu", "team" = n),
    skip(big),
    redact(dsn),
    result = skip,
    error_if = Option::is_none,
    backtrace
)]
pub fn everything(n: u32, cred: u64, big: Vec<u8>, dsn: &str) -> Option<u32> {
    Some(n + cred as u32 + big.len() as u32 + dsn.len() as u32)
}

#[track_history(event_type = "generic", ok_if = |v: &Vec<T>| !v.is_empty())]
pub fn generic<T, I: IntoIterator<Item = T>>(items: I) -> Vec<T>
where
    T: Clone,
{
    items.into_iter().collect()
}

#[track_history]
pub unsafe fn unsafe_default_type(p: *const u8) -> u8 {
    *p
}

#[track_terraform(command = "init", working_dir = "/tmp", variables = [("token", "x")])]
pub fn setup() -> Result<(), String> {
    Ok(())
}

#[track_terraform]
pub async fn apply_stack(vars: std::collections::HashMap<String, String>) -> Result<(), String> {
    let _ = vars;
    Ok(())
}

fn main() {
    let _ = everything(1, 2, vec![], "x");
    let _ = generic(vec![1, 2]);
    let _ = setup();
}
