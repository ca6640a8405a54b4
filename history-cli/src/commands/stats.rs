//! `stats`: counts, success rate and duration percentiles, overall and per group (type,
//! status, user, VM, operation, day, hour), with a bar chart of the counts on a terminal.

use std::path::Path;

use history::stats::StatsQuery;
use history::stats::{Bucket, GroupBy, GroupKey, Summary};
use history::{EventStatus, HistoryStore};
use history_sqlite::SqliteStore;
use serde_json::{json, Value};

use crate::cli::{By, Format, StatsArgs};
use crate::error::CliError;
use crate::output::{self, bar, dim, Out, Table};

/// The width of the chart column, in cells.
const CHART_WIDTH: usize = 30;

/// Runs `stats`; returns how many events were counted.
pub(crate) fn run(db: &Path, args: &StatsArgs, out: &mut Out) -> Result<u64, CliError> {
    let store = crate::store::read(db)?;
    let filter = args.filter.to_filter();
    let overall = store.stats(&StatsQuery::new(filter.clone()).group_by_opt(args.by))?;
    let groups: Vec<(String, Summary)> = match args.by {
        None => Vec::new(),
        Some(By::Status) => by_status(&store, &filter, &overall.summary)?,
        Some(_) => overall
            .groups
            .iter()
            .map(|(k, s)| (key_text(k), s.clone()))
            .collect(),
    };
    let total = overall.summary.total;
    match out.format {
        Format::Table => table(out, &overall.summary, &groups, args.by)?,
        Format::Json => {
            let doc = json!({
                "summary": summary_json(&overall.summary),
                "groups": groups
                    .iter()
                    .map(|(k, s)| group_json(k, s))
                    .collect::<Vec<_>>(),
            });
            let text = serde_json::to_string_pretty(&doc).map_err(std::io::Error::from)?;
            out.line(&text)?;
        }
        Format::Jsonl => {
            if groups.is_empty() {
                out.line(&summary_json(&overall.summary).to_string())?;
            }
            for (k, s) in &groups {
                out.line(&group_json(k, s).to_string())?;
            }
        }
        Format::Csv => csv(out, &overall.summary, &groups)?,
    }
    Ok(total)
}

trait GroupByOpt {
    fn group_by_opt(self, by: Option<By>) -> Self;
}

impl GroupByOpt for StatsQuery {
    fn group_by_opt(self, by: Option<By>) -> StatsQuery {
        let key = match by {
            None | Some(By::Status) => return self,
            Some(By::Type) => GroupBy::EventType,
            Some(By::User) => GroupBy::User,
            Some(By::Vm) => GroupBy::Vm,
            Some(By::Operation) => GroupBy::Operation,
            Some(By::Day) => GroupBy::Time(Bucket::Day),
            Some(By::Hour) => GroupBy::Time(Bucket::Hour),
        };
        self.group_by(key)
    }
}

/// One summary per status present (the library groups by the other keys).
fn by_status(
    store: &SqliteStore,
    filter: &history::Filter,
    overall: &Summary,
) -> Result<Vec<(String, Summary)>, CliError> {
    let mut groups = Vec::new();
    for status in overall.by_status.keys() {
        let mut f = filter.clone();
        f.statuses = vec![*status];
        let s = store.stats(&StatsQuery::new(f))?;
        groups.push((status.to_string(), s.summary));
    }
    Ok(groups)
}

fn key_text(key: &GroupKey) -> String {
    match key {
        GroupKey::EventType(t) => t.to_string(),
        GroupKey::User(u) | GroupKey::Vm(u) => u
            .as_ref()
            .map_or_else(|| "(none)".to_owned(), ToString::to_string),
        GroupKey::Operation(o) => o.clone(),
        GroupKey::Time(t) => t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        other => format!("{other:?}"),
    }
}

fn rate(s: &Summary) -> String {
    s.success_rate
        .map(|r| format!("{:.1} %", r * 100.0))
        .unwrap_or_else(|| "-".into())
}

fn table(
    out: &mut Out,
    summary: &Summary,
    groups: &[(String, Summary)],
    by: Option<By>,
) -> Result<(), CliError> {
    let statuses: Vec<String> = summary
        .by_status
        .iter()
        .map(|(s, n)| format!("{} {n}", out.status(*s)))
        .collect();
    let mut lines = vec![
        ("events", summary.total.to_string()),
        ("success rate", rate(summary)),
    ];
    if !statuses.is_empty() {
        lines.push(("by status", statuses.join(", ")));
    }
    if let Some(d) = &summary.duration {
        lines.push((
            "duration",
            format!(
                "avg {} · p50 {} · p95 {} · p99 {} · max {}",
                output::duration(d.avg),
                output::duration(d.p50),
                output::duration(d.p95),
                output::duration(d.p99),
                output::duration(d.max),
            ),
        ));
    }
    for (name, value) in lines {
        out.line(&format!("{name:<12}  {value}"))?;
    }
    if groups.is_empty() {
        return Ok(());
    }
    out.line("")?;
    let key = match by {
        Some(By::Type) => "type",
        Some(By::Status) => "status",
        Some(By::User) => "user",
        Some(By::Vm) => "vm",
        Some(By::Operation) => "operation",
        Some(By::Day) => "day",
        Some(By::Hour) => "hour",
        None => "group",
    };
    let mut columns = vec![key, ">events", ">success", ">avg", ">p50", ">p95", ">p99"];
    if out.terminal {
        columns.push("");
    }
    let mut t = Table::new(&columns);
    let max = groups.iter().map(|(_, s)| s.total).max().unwrap_or(0) as f64;
    for (k, s) in groups {
        let d = |f: fn(&history::stats::DurationStats) -> std::time::Duration| {
            s.duration
                .as_ref()
                .map(|d| output::duration(f(d)))
                .unwrap_or_default()
        };
        let mut row = vec![
            output::cut(k, 40),
            s.total.to_string(),
            rate(s),
            d(|d| d.avg),
            d(|d| d.p50),
            d(|d| d.p95),
            d(|d| d.p99),
        ];
        if out.terminal {
            row.push(out.paint(dim(), &bar(s.total as f64, max, CHART_WIDTH)));
        }
        t.row(row);
    }
    t.write(out)
}

fn secs(d: std::time::Duration) -> Value {
    json!(output::seconds(d))
}

fn summary_json(s: &Summary) -> Value {
    let by_status: serde_json::Map<String, Value> = s
        .by_status
        .iter()
        .map(|(k, n)| (k.to_string(), json!(n)))
        .collect();
    let mut v = json!({
        "events": s.total,
        "by_status": by_status,
        "success_rate": s.success_rate,
    });
    if let (Some(d), Value::Object(m)) = (&s.duration, &mut v) {
        m.insert(
            "duration".into(),
            json!({
                "count": d.count, "avg": secs(d.avg), "min": secs(d.min), "max": secs(d.max),
                "p50": secs(d.p50), "p95": secs(d.p95), "p99": secs(d.p99),
            }),
        );
    }
    v
}

fn group_json(key: &str, s: &Summary) -> Value {
    let mut v = summary_json(s);
    if let Value::Object(m) = &mut v {
        m.insert("group".into(), json!(key));
    }
    v
}

fn csv(out: &mut Out, summary: &Summary, groups: &[(String, Summary)]) -> Result<(), CliError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["group", "events"];
    header.extend(EventStatus::ALL.iter().map(EventStatus::as_str));
    header.extend(["success_rate", "avg", "min", "max", "p50", "p95", "p99"]);
    w.write_record(&header).map_err(std::io::Error::other)?;
    let rows = std::iter::once(("", summary)).chain(groups.iter().map(|(k, s)| (k.as_str(), s)));
    for (key, s) in rows {
        let mut rec = vec![key.to_owned(), s.total.to_string()];
        rec.extend(
            EventStatus::ALL
                .iter()
                .map(|st| s.by_status.get(st).copied().unwrap_or(0).to_string()),
        );
        rec.push(s.success_rate.map(|r| r.to_string()).unwrap_or_default());
        match &s.duration {
            Some(d) => rec.extend(
                [d.avg, d.min, d.max, d.p50, d.p95, d.p99]
                    .iter()
                    .map(|x| format!("{:.6}", x.as_secs_f64())),
            ),
            None => rec.extend(std::iter::repeat_n(String::new(), 6)),
        }
        w.write_record(&rec).map_err(std::io::Error::other)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    use std::io::Write;
    out.w().write_all(&bytes)?;
    Ok(())
}
