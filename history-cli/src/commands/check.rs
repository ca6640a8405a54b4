//! `check`: integrity, schema version, rollups and orphaned in-progress events — read-only
//! unless `--repair` (rebuild the rollups) or `--recover` (mark orphans interrupted).

use std::path::Path;

use history_sqlite::Health;
use serde_json::json;

use crate::cli::{CheckArgs, Format};
use crate::error::CliError;
use crate::output::Out;

/// Runs `check`; fails with [`CliError::Unhealthy`] when a problem remains.
pub(crate) fn run(db: &Path, args: &CheckArgs, out: &mut Out) -> Result<u64, CliError> {
    let health = crate::store::read(db)?.check()?;
    let mut rebuilt = None;
    let mut recovered = None;
    if (args.repair && health.rollup_mismatches > 0) || (args.recover && health.orphaned > 0) {
        let store = crate::store::write(db)?;
        if args.repair && health.rollup_mismatches > 0 {
            rebuilt = Some(store.rebuild_rollups()?);
        }
        if args.recover && health.orphaned > 0 {
            recovered = Some(store.recover_interrupted()?);
        }
    }
    let after = if rebuilt.is_some() || recovered.is_some() {
        crate::store::read(db)?.check()?
    } else {
        health.clone()
    };
    report(out, &health, &after, rebuilt, recovered)?;
    out.flush()?;
    let mut problems = Vec::new();
    if !after.integrity_problems.is_empty() {
        problems.push("the file is damaged".to_owned());
    }
    if after.rollup_mismatches > 0 {
        problems.push("the rollups disagree with the events (run with --repair)".to_owned());
    }
    if after.orphaned > 0 {
        problems.push(format!(
            "{} in-progress events have no live writer (run with --recover)",
            after.orphaned
        ));
    }
    if problems.is_empty() {
        Ok(1)
    } else {
        Err(CliError::Unhealthy(format!(
            "check failed: {}",
            problems.join("; ")
        )))
    }
}

fn report(
    out: &mut Out,
    before: &Health,
    after: &Health,
    rebuilt: Option<u64>,
    recovered: Option<u64>,
) -> Result<(), CliError> {
    match out.format {
        Format::Table => {
            let ok = |good: bool| if good { "ok" } else { "PROBLEM" };
            let integrity = if after.integrity_problems.is_empty() {
                "ok".to_owned()
            } else {
                format!("PROBLEM: {}", after.integrity_problems.join("; "))
            };
            let mut lines = vec![
                ("integrity", integrity),
                ("schema", format!("version {}", after.schema_version)),
                ("events", after.events.to_string()),
                (
                    "rollups",
                    match rebuilt {
                        Some(n) => format!(
                            "rebuilt from {n} events ({} cells disagreed)",
                            before.rollup_mismatches
                        ),
                        None if after.rollup_mismatches > 0 => format!(
                            "PROBLEM: {} cells disagree with the events",
                            after.rollup_mismatches
                        ),
                        None => ok(true).to_owned(),
                    },
                ),
                (
                    "orphaned",
                    match recovered {
                        Some(n) => format!("{n} marked interrupted"),
                        None if after.orphaned > 0 => {
                            format!(
                                "PROBLEM: {} in-progress events with no live writer",
                                after.orphaned
                            )
                        }
                        None => "none".to_owned(),
                    },
                ),
            ];
            for (name, value) in lines.drain(..) {
                out.line(&format!("{name:<10}  {value}"))?;
            }
        }
        Format::Json | Format::Jsonl | Format::Csv => {
            let v = json!({
                "ok": after.is_ok(),
                "integrity_problems": after.integrity_problems,
                "schema_version": after.schema_version,
                "events": after.events,
                "rollup_mismatches": after.rollup_mismatches,
                "orphaned": after.orphaned,
                "rollups_rebuilt_from": rebuilt,
                "recovered": recovered,
            });
            if out.format == Format::Csv {
                out.line("ok,integrity_problems,schema_version,events,rollup_mismatches,orphaned")?;
                out.line(&format!(
                    "{},{},{},{},{},{}",
                    after.is_ok(),
                    after.integrity_problems.len(),
                    after.schema_version,
                    after.events,
                    after.rollup_mismatches,
                    after.orphaned
                ))?;
            } else if out.format == Format::Json {
                let text = serde_json::to_string_pretty(&v).map_err(std::io::Error::from)?;
                out.line(&text)?;
            } else {
                out.line(&v.to_string())?;
            }
        }
    }
    Ok(())
}
