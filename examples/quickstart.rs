//! The cloud-VM scenario from the user's side: a `VmService` whose operations are annotated
//! with `#[track_history]`, recording into `./history.db` (embedded SQLite). One call fails
//! with a quota error that has a source error. Afterwards the recorded events of this run are
//! printed as a table, and the first one as JSON.
//!
//! Run with `cargo run --example quickstart` (pass another path as the first argument to
//! record elsewhere). With `HISTORY_POSTGRES_URL` set (`postgres://user@host/db`), it records
//! into that PostgreSQL database instead (schema `history`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use history::{track_history, Event, EventType, Query, Recorder};
use history_postgres::PostgresStore;
use history_sqlite::SqliteStore;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
struct VmSpec {
    id: u64,
    name: String,
    provider: String,
    instance_type: String,
    region: String,
}

#[derive(Debug, Clone, Serialize)]
struct Vm {
    instance_id: String,
    public_ip: String,
    private_ip: String,
}

/// The provider's own error, kept as the source of ours.
#[derive(Debug, thiserror::Error)]
#[error("provider refused: {used} of {limit} {instance_type} instances in use")]
struct QuotaExceeded {
    used: usize,
    limit: usize,
    instance_type: String,
}

#[derive(Debug, thiserror::Error)]
enum CloudError {
    #[error("cannot create VM {name:?} in {region}")]
    Quota {
        name: String,
        region: String,
        #[source]
        source: QuotaExceeded,
    },
    #[error("no VM with id {0}")]
    NotFound(u64),
}

/// A pretend cloud: enough state to make the operations real functions.
struct VmService {
    quota: usize,
    next_instance: AtomicU64,
    vms: Mutex<HashMap<u64, (Vm, bool)>>,
}

impl VmService {
    fn new(quota: usize) -> Self {
        VmService {
            quota,
            next_instance: AtomicU64::new(0x1234_5678_90ab_cdef),
            vms: Mutex::new(HashMap::new()),
        }
    }

    /// `admin_password` is redacted automatically: its name looks secret.
    #[track_history(event_type = EventType::VmCreate, user_id = user_id, vm_id = spec.id)]
    fn create_vm(
        &self,
        user_id: u64,
        spec: VmSpec,
        admin_password: String,
    ) -> Result<Vm, CloudError> {
        let mut vms = self.vms.lock().expect("lock");
        if vms.len() >= self.quota {
            return Err(CloudError::Quota {
                name: spec.name,
                region: spec.region,
                source: QuotaExceeded {
                    used: vms.len(),
                    limit: self.quota,
                    instance_type: spec.instance_type,
                },
            });
        }
        drop(admin_password); // would be handed to cloud-init
        let n = self.next_instance.fetch_add(1, Ordering::Relaxed);
        let vm = Vm {
            instance_id: format!("i-{n:x}"),
            public_ip: format!("1.2.3.{}", 4 + vms.len()),
            private_ip: format!("10.0.0.{}", 1 + vms.len()),
        };
        vms.insert(spec.id, (vm.clone(), false));
        Ok(vm)
    }

    #[track_history(event_type = EventType::VmStart, user_id = user_id, vm_id = vm_id)]
    async fn start_vm(&self, user_id: u64, vm_id: u64) -> Result<(), CloudError> {
        tokio::time::sleep(std::time::Duration::from_millis(15)).await; // boot
        self.set_running(vm_id, true)
    }

    #[track_history(event_type = EventType::VmStop, user_id = user_id, vm_id = vm_id)]
    async fn stop_vm(&self, user_id: u64, vm_id: u64) -> Result<(), CloudError> {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        self.set_running(vm_id, false)
    }

    #[track_history(event_type = EventType::VmDelete, user_id = user_id, vm_id = vm_id)]
    fn delete_vm(&self, user_id: u64, vm_id: u64) -> Result<(), CloudError> {
        self.vms
            .lock()
            .expect("lock")
            .remove(&vm_id)
            .map(|_| ())
            .ok_or(CloudError::NotFound(vm_id))
    }

    fn set_running(&self, vm_id: u64, running: bool) -> Result<(), CloudError> {
        let mut vms = self.vms.lock().expect("lock");
        let vm = vms.get_mut(&vm_id).ok_or(CloudError::NotFound(vm_id))?;
        vm.1 = running;
        Ok(())
    }
}

fn spec(id: u64, name: &str, instance_type: &str) -> VmSpec {
    VmSpec {
        id,
        name: name.into(),
        provider: "aws".into(),
        instance_type: instance_type.into(),
        region: "us-east-1".into(),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (recorder, path) = match std::env::var("HISTORY_POSTGRES_URL") {
        Ok(url) => {
            let store = PostgresStore::open(&url)?;
            let shown = history::redact::scrub_url_credentials(&url).into_owned();
            (Recorder::new(store)?, shown)
        }
        Err(_) => {
            let path = std::env::args()
                .nth(1)
                .unwrap_or_else(|| "history.db".into());
            (Recorder::new(SqliteStore::open(&path)?)?, path)
        }
    };
    let guard = history::init(recorder.clone())?;
    let run_started = history::now();

    let cloud = VmService::new(2);
    let password = String::from("hunter2");
    cloud.create_vm(1, spec(2, "my-vm", "t2.micro"), password.clone())?;
    cloud.create_vm(1, spec(3, "db-vm", "m5.large"), password.clone())?;
    cloud.start_vm(1, 2).await?;
    cloud.start_vm(7, 3).await?;
    // The third VM goes over the quota of 2: recorded as failed, with the source chain.
    if let Err(refused) = cloud.create_vm(7, spec(4, "big-vm", "m5.4xlarge"), password) {
        println!("create_vm(big-vm) returned: {refused}\n");
    }
    cloud.stop_vm(1, 2).await?;
    cloud.delete_vm(1, 2)?;
    let _ = cloud.delete_vm(1, 99); // not found: recorded as failed

    recorder.flush()?;
    let page = recorder
        .store()
        .query(&Query::new().since(run_started).oldest_first())?;
    print_table(&page.items);
    println!(
        "\n{} events recorded by this run into {path} ({} in all).\n",
        page.items.len(),
        recorder.store().count(&Query::new())?
    );
    if let Some(first) = page.items.first() {
        println!(
            "The first event as JSON:\n{}",
            serde_json::to_string_pretty(first)?
        );
    }
    drop(guard); // flushes and stops the writer
    Ok(())
}

fn print_table(events: &[Event]) {
    println!(
        "{:<36}  {:<10}  {:<8}  {:>4}  {:>4}  {:>9}  error",
        "id", "type", "status", "user", "vm", "duration"
    );
    let show =
        |id: &Option<history::SubjectId>| id.as_ref().map(|i| i.to_string()).unwrap_or_default();
    for e in events {
        let duration = e
            .duration
            .map(|d| format!("{:.1} ms", d.as_secs_f64() * 1e3))
            .unwrap_or_default();
        let error = e.error.as_ref().map(|x| x.chain()).unwrap_or_default();
        println!(
            "{:<36}  {:<10}  {:<8}  {:>4}  {:>4}  {:>9}  {}",
            e.id.to_string(),
            e.event_type.as_str(),
            e.status.as_str(),
            show(&e.user_id),
            show(&e.vm_id),
            duration,
            error
        );
    }
}
