//! Prometheus metrics of a running workload: a Prometheus exporter serves `/metrics` on a
//! local port while a few threads call tracked functions (VM creations that sometimes fail,
//! API requests of varying length) recorded into a SQLite file in a temporary directory.
//!
//! Run with `cargo run --example metrics`, then open the printed URL (or point Prometheus at
//! it). It runs for five minutes, or until Ctrl-C; `HISTORY_EXAMPLE_SECONDS=5` makes it end
//! sooner. `HISTORY_METRICS_ADDR=127.0.0.1:9464` chooses the address (by default that one if
//! it is free, else any free port).

use std::net::{SocketAddr, TcpListener};
use std::time::{Duration, Instant};

use history::{track_history, EventType, Recorder};
use history_sqlite::SqliteStore;
use metrics_exporter_prometheus::PrometheusBuilder;

#[derive(Debug, thiserror::Error)]
#[error("quota exceeded in {region}")]
struct QuotaExceeded {
    region: String,
}

#[track_history(event_type = EventType::VmCreate, vm_id = vm, recorder = recorder, skip(recorder))]
fn create_vm(recorder: &Recorder, vm: u64, region: &str) -> Result<String, QuotaExceeded> {
    std::thread::sleep(Duration::from_millis(1 + vm % 7));
    if vm.is_multiple_of(9) {
        return Err(QuotaExceeded {
            region: region.to_owned(),
        });
    }
    Ok(format!("i-{vm:08x}"))
}

#[track_history(event_type = EventType::ApiRequest, recorder = recorder, skip(recorder))]
fn serve(recorder: &Recorder, path: &str, n: u64) -> u16 {
    std::thread::sleep(Duration::from_micros(200 + (n * 37) % 3_000));
    if n.is_multiple_of(25) {
        503
    } else {
        200
    }
}

/// The address to listen on: `HISTORY_METRICS_ADDR`, else 127.0.0.1:9464 when free, else a
/// free port.
fn listen_addr() -> Result<SocketAddr, Box<dyn std::error::Error>> {
    if let Ok(addr) = std::env::var("HISTORY_METRICS_ADDR") {
        return Ok(addr.parse()?);
    }
    let preferred = SocketAddr::from(([127, 0, 0, 1], 9464));
    if TcpListener::bind(preferred).is_ok() {
        return Ok(preferred);
    }
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let seconds: u64 = match std::env::var("HISTORY_EXAMPLE_SECONDS") {
        Ok(s) => s.parse()?,
        Err(_) => 300,
    };
    // The exporter first: the recorder's writer takes its metric handles when it starts.
    let addr = listen_addr()?;
    PrometheusBuilder::new()
        .with_http_listener(addr)
        .install()?;
    println!("metrics: http://{addr}/metrics (for {seconds} s, or until Ctrl-C)");

    let dir = tempfile::tempdir()?;
    let recorder = Recorder::new(SqliteStore::open(dir.path().join("history.db"))?)?;
    let until = Instant::now() + Duration::from_secs(seconds);
    let workers: Vec<_> = (0..3u64)
        .map(|w| {
            let recorder = recorder.clone();
            std::thread::spawn(move || {
                let mut n = w;
                while Instant::now() < until {
                    if w == 0 {
                        let _ = create_vm(&recorder, n, "eu-west-1");
                    } else {
                        serve(&recorder, "/api/vms", n);
                    }
                    n += 3;
                }
            })
        })
        .collect();
    for w in workers {
        if w.join().is_err() {
            eprintln!("a worker panicked");
        }
    }
    recorder.shutdown()?;
    let stats = recorder.stats();
    println!(
        "recorded {} events, written {}, lost {}",
        stats.recorded, stats.written, stats.lost
    );
    Ok(())
}
