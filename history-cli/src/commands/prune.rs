//! `prune`: a retention policy from flags. A dry run (read-only: the file is not touched)
//! unless `--yes`; deleting shows a spinner on a terminal.

use std::path::Path;
use std::time::Duration;

use history::retention::{Per, PurgeReport, Retention};
use history::HistoryStore;
use indicatif::ProgressBar;
use serde_json::json;

use crate::cli::{Format, PerArg, PruneArgs};
use crate::error::CliError;
use crate::output::Out;

/// Runs `prune`; returns how many events were (or would be) deleted.
pub(crate) fn run(db: &Path, args: &PruneArgs, out: &mut Out) -> Result<u64, CliError> {
    let mut filter = args.filter.to_filter();
    if let Some(age) = args.older_than {
        let cutoff = history::now()
            .checked_sub_signed(chrono::TimeDelta::from_std(age).unwrap_or(chrono::TimeDelta::MAX))
            .unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC);
        filter.until = Some(filter.until.map_or(cutoff, |u| u.min(cutoff)));
    }
    let mut policy = Retention::matching(filter);
    if let (Some(n), Some(per)) = (args.keep_last, args.per) {
        let per = match per {
            PerArg::Vm => Per::Vm,
            PerArg::User => Per::User,
        };
        policy = policy.keep_last(per, n);
    }
    let report = if args.yes {
        let store = crate::store::write(db)?;
        let spinner = out.progress.then(|| {
            let s = ProgressBar::new_spinner().with_message("deleting…");
            s.enable_steady_tick(Duration::from_millis(100));
            s
        });
        let report = store.purge(&policy);
        if let Some(s) = spinner {
            s.finish_and_clear();
        }
        report?
    } else {
        crate::store::read(db)?.purge(&policy.dry_run())?
    };
    write_report(out, &report)?;
    Ok(report.deleted)
}

fn write_report(out: &mut Out, r: &PurgeReport) -> Result<(), CliError> {
    let span = |t: Option<chrono::DateTime<chrono::Utc>>| t.map(|t| out.time(t));
    match out.format {
        Format::Table => {
            let verb = if r.dry_run { "would delete" } else { "deleted" };
            let mut line = format!("{verb} {} events", r.deleted);
            if let (Some(a), Some(b)) = (span(r.oldest), span(r.newest)) {
                line.push_str(&format!(" (started {a} to {b})"));
            }
            out.line(&line)?;
            if r.dry_run && r.deleted > 0 {
                out.line("nothing was deleted: run again with --yes to delete them")?;
            }
        }
        Format::Json | Format::Jsonl => {
            let rfc = |t: Option<chrono::DateTime<chrono::Utc>>| {
                t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
            };
            let v = json!({
                "dry_run": r.dry_run,
                "deleted": r.deleted,
                "oldest": rfc(r.oldest),
                "newest": rfc(r.newest),
            });
            out.line(&v.to_string())?;
        }
        Format::Csv => {
            out.line("dry_run,deleted,oldest,newest")?;
            let rfc = |t: Option<chrono::DateTime<chrono::Utc>>| {
                t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
                    .unwrap_or_default()
            };
            out.line(&format!(
                "{},{},{},{}",
                r.dry_run,
                r.deleted,
                rfc(r.oldest),
                rfc(r.newest)
            ))?;
        }
    }
    Ok(())
}
