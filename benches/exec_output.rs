//! What the process-run core costs per output line: `seq 1 100000` read through
//! `ProcessCommand` (scrub, cut, keep head + tail, broadcast, with a secret to scrub and one
//! live subscriber) against the in-run baseline of reading the same child's stdout line by
//! line with plain tokio.

use std::process::Stdio;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use history_exec::ProcessCommand;
use tokio::io::{AsyncBufReadExt, BufReader};

const LINES: u64 = 100_000;

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut group = c.benchmark_group("exec_output");
    group.throughput(Throughput::Elements(LINES));
    group.sample_size(10);

    group.bench_function("baseline_tokio_lines", |b| {
        b.iter(|| {
            rt.block_on(async {
                let mut child = tokio::process::Command::new("seq")
                    .arg(LINES.to_string())
                    .stdout(Stdio::piped())
                    .spawn()
                    .expect("spawn seq");
                let stdout = child.stdout.take().expect("stdout");
                let mut lines = BufReader::new(stdout).lines();
                let mut n = 0u64;
                while let Some(line) = lines.next_line().await.expect("read") {
                    std::hint::black_box(&line);
                    n += 1;
                }
                child.wait().await.expect("wait");
                assert_eq!(n, LINES);
            })
        })
    });

    group.bench_function("process_command_run", |b| {
        b.iter(|| {
            rt.block_on(async {
                let running = ProcessCommand::new("seq")
                    .arg(LINES.to_string())
                    .secret("not-in-the-output")
                    .start()
                    .expect("start");
                let mut live = running.subscribe();
                let reader = tokio::spawn(async move {
                    let mut n = 0u64;
                    while live.next().await.is_some() {
                        n += 1;
                    }
                    n + live.missed()
                });
                let (outcome, ()) = running.wait().await.expect("wait");
                assert_eq!(outcome.output.total(), LINES);
                assert_eq!(reader.await.expect("reader"), LINES);
            })
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
