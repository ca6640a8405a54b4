//! The realistic function: shaped like a cloud API's `create_vm`, three arguments (an id, an
//! owned name, a four-field spec), a three-field struct on success, an error type of its own;
//! the user and VM ids taken from the arguments.

use std::hint::black_box;

use history::{track_history, EventType};

/// The request's spec: four fields, one of them the VM's id.
#[derive(Clone, Debug, serde::Serialize)]
pub struct VmSpec {
    pub id: u64,
    pub cpus: u32,
    pub memory_mb: u32,
    pub image: String,
}

/// What a successful call returns.
#[derive(Debug, serde::Serialize)]
pub struct VmInfo {
    pub id: u64,
    pub name: String,
    pub state: &'static str,
}

/// What a failed call returns.
#[derive(Debug)]
pub enum CloudError {
    QuotaExceeded { cpus: u32 },
}

impl std::fmt::Display for CloudError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CloudError::QuotaExceeded { cpus } => write!(f, "quota exceeded: {cpus} cpus"),
        }
    }
}

impl std::error::Error for CloudError {}

/// The function's signature, in every form.
pub type Realistic = fn(u64, String, VmSpec) -> Result<VmInfo, CloudError>;

#[inline(always)]
fn body(user_id: u64, name: String, spec: VmSpec) -> Result<VmInfo, CloudError> {
    if spec.cpus > 64 {
        return Err(CloudError::QuotaExceeded { cpus: spec.cpus });
    }
    Ok(VmInfo {
        id: spec.id ^ user_id.rotate_left(7),
        name,
        state: "provisioning",
    })
}

/// Not instrumented (the baseline).
#[inline(never)]
pub fn plain(user_id: u64, name: String, spec: VmSpec) -> Result<VmInfo, CloudError> {
    body(user_id, name, spec)
}

/// `#[tracing::instrument(ret, err)]`: every argument and the result as span fields.
#[inline(never)]
#[tracing::instrument(ret, err)]
pub fn traced(user_id: u64, name: String, spec: VmSpec) -> Result<VmInfo, CloudError> {
    body(user_id, name, spec)
}

/// Tracked: arguments and result captured, ids from the arguments.
#[inline(never)]
#[track_history(event_type = EventType::VmCreate, user_id = user_id, vm_id = spec.id)]
pub fn tracked(user_id: u64, name: String, spec: VmSpec) -> Result<VmInfo, CloudError> {
    body(user_id, name, spec)
}

/// Tracked capturing nothing (`skip_all, result = skip`): the machinery alone.
#[inline(never)]
#[track_history(
    event_type = EventType::VmCreate,
    user_id = user_id,
    vm_id = spec.id,
    skip_all,
    result = skip
)]
pub fn tracked_skip_all(user_id: u64, name: String, spec: VmSpec) -> Result<VmInfo, CloudError> {
    body(user_id, name, spec)
}

/// One call of `f` as a caller makes it: the owned arguments built for the call.
#[inline(always)]
pub fn call(f: Realistic, i: u64) {
    let spec = VmSpec {
        id: i,
        cpus: 4,
        memory_mb: 8192,
        image: String::from("ubuntu-24.04"),
    };
    let _ = black_box(f(i, black_box(String::from("my-vm")), black_box(spec)));
}

/// The calls of `f`, as the timing loop takes them.
pub fn calls(f: Realistic) -> impl Fn(u64) + Copy + Send + 'static {
    move |i| call(f, i)
}
