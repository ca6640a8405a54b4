//! The command line: global options, subcommands and their flags (clap derive).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::filters::FilterArgs;

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  error (unreadable file, failed query, a problem `check` found and did not repair)
  2  usage error (unknown flag, bad value)
  3  nothing matched (only with --fail-if-empty)

Environment:
  HISTORY_DB  the history file when --db is not given (default ./history.db)
  NO_COLOR    never use colors";

/// Reads a history file: lists, follows, shows, charts, exports, prunes, compares and checks
/// the events recorded by the `history` library.
#[derive(Debug, Parser)]
#[command(name = "historyctl", version, about, max_term_width = 100)]
#[command(after_help = EXIT_CODES)]
pub(crate) struct Cli {
    /// The history file (read commands open it read-only and never change it).
    #[arg(
        long,
        global = true,
        env = "HISTORY_DB",
        default_value = "history.db",
        value_name = "PATH"
    )]
    pub(crate) db: PathBuf,
    /// Output format [default: table on a terminal, jsonl otherwise].
    #[arg(short, long, global = true, value_enum, value_name = "FORMAT")]
    pub(crate) output: Option<Format>,
    /// Exit with code 3 when nothing matched (no event listed, exported or found).
    #[arg(long, global = true)]
    pub(crate) fail_if_empty: bool,
    /// What to do.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// Aligned columns for people (local time on a terminal).
    Table,
    /// One JSON document.
    Json,
    /// One JSON object per line.
    Jsonl,
    /// Comma-separated values with a header row.
    Csv,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// List events, newest first, filtered.
    #[command(after_help = "Examples:
  historyctl list --status failed --since 24h
  historyctl list --type vm_create --user 7 --limit 20
  historyctl list --label region=eu-west-1 --min-duration 2s -o json
  historyctl list --after c1.5f1d2a3b4c5d6.0190...   # the next page
  historyctl list --all -o jsonl > everything.jsonl
  historyctl list --follow --status failed           # then follow new ones")]
    List(ListArgs),
    /// Show one event in full: parameters, result, error chain, run output, its trace.
    #[command(after_help = "Examples:
  historyctl show 0190a4c2-7d1e-7c3a-9f1e-2b4c6d8e0f12
  historyctl show 0190a4c2-7d1e-7c3a-9f1e-2b4c6d8e0f12 -o json")]
    Show(ShowArgs),
    /// Print events as they are committed, by any process (in-progress and final records).
    #[command(after_help = "Examples:
  historyctl tail
  historyctl tail --type terraform_apply --status failed
  historyctl tail --from-start -o jsonl | jq .status")]
    Tail(TailArgs),
    /// Counts, success rate and duration percentiles, overall and per group.
    #[command(after_help = "Examples:
  historyctl stats --since 7d
  historyctl stats --by day --since 30d --type terraform_apply
  historyctl stats --by status -o json")]
    Stats(StatsArgs),
    /// Write matching events as JSON Lines or CSV, to stdout or a file.
    #[command(after_help = "Examples:
  historyctl export --since 30d > last-month.jsonl
  historyctl export --format csv --out failed.csv --status failed")]
    Export(ExportArgs),
    /// Delete old events by a retention policy (a dry run unless --yes).
    #[command(after_help = "Examples:
  historyctl prune --older-than 90d                 # what would be deleted
  historyctl prune --older-than 90d --yes           # delete it
  historyctl prune --keep-last 20 --per vm --yes    # keep each VM's newest 20")]
    Prune(PruneArgs),
    /// Compare two events: parameters, result and other fields that differ.
    #[command(after_help = "Examples:
  historyctl diff 0190a4c2-... 0190a4c9-...
  historyctl diff --previous-success 0190a4c9-...   # against the last success before it")]
    Diff(DiffArgs),
    /// Check the file: integrity, schema version, rollups, orphaned in-progress events.
    #[command(after_help = "Examples:
  historyctl check
  historyctl check --repair --recover")]
    Check(CheckArgs),
    /// Serve the web page and the JSON API over the file (read-only) on a local address.
    #[command(after_help = "Examples:
  historyctl serve                          # http://127.0.0.1:8080/
  historyctl serve --addr 127.0.0.1:9000 --db /var/lib/app/history.db

The page lists events with filters and updates live, shows an event's detail and trace,
and charts statistics. It has no authentication: keep it on a loopback address, or put it
behind your own proxy and authentication.")]
    Serve(ServeArgs),
    /// Print a shell completion script.
    #[command(after_help = "Examples:
  historyctl completions bash > ~/.local/share/bash-completion/completions/historyctl
  historyctl completions zsh > ~/.zfunc/_historyctl
  historyctl completions fish > ~/.config/fish/completions/historyctl.fish")]
    Completions(CompletionsArgs),
}

/// `list`.
#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// Which events.
    #[command(flatten)]
    pub(crate) filter: FilterArgs,
    /// At most this many events (one page).
    #[arg(long, short = 'n', default_value_t = 50, value_name = "N",
          value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub(crate) limit: u64,
    /// Continue after this cursor (printed after a page that has more).
    #[arg(long, value_name = "CURSOR", conflicts_with = "all")]
    pub(crate) after: Option<history::Cursor>,
    /// Every matching event, streamed page by page (no limit).
    #[arg(long)]
    pub(crate) all: bool,
    /// Oldest first instead of newest first.
    #[arg(long)]
    pub(crate) oldest_first: bool,
    /// After the page, keep printing events as they are committed (like `tail`).
    #[arg(long, short = 'f', conflicts_with_all = ["all", "after", "oldest_first"])]
    pub(crate) follow: bool,
    /// Also show the external (W3C) trace and span ids in the table (JSON, JSON Lines and
    /// CSV always carry them).
    #[arg(long)]
    pub(crate) external_ids: bool,
}

/// `show`.
#[derive(Debug, Args)]
pub(crate) struct ShowArgs {
    /// The event's id.
    #[arg(value_name = "ID")]
    pub(crate) id: history::EventId,
}

/// `tail`.
#[derive(Debug, Args)]
pub(crate) struct TailArgs {
    /// Which events.
    #[command(flatten)]
    pub(crate) filter: FilterArgs,
    /// Start with every change in the file instead of only new ones.
    #[arg(long)]
    pub(crate) from_start: bool,
    /// How often to look for new changes.
    #[arg(long, default_value = "200ms", value_parser = humantime::parse_duration, value_name = "DURATION")]
    pub(crate) poll: std::time::Duration,
}

/// What statistics are grouped by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum By {
    /// Event type.
    Type,
    /// Status.
    Status,
    /// User.
    User,
    /// VM.
    Vm,
    /// Operation.
    Operation,
    /// Day (UTC).
    Day,
    /// Hour (UTC).
    Hour,
}

/// `stats`.
#[derive(Debug, Args)]
pub(crate) struct StatsArgs {
    /// Which events.
    #[command(flatten)]
    pub(crate) filter: FilterArgs,
    /// Also split the figures by this key.
    #[arg(long, value_enum, value_name = "KEY")]
    pub(crate) by: Option<By>,
}

/// Export formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum ExportFormat {
    /// One JSON object per line.
    Jsonl,
    /// CSV with a header row.
    Csv,
}

/// `export`.
#[derive(Debug, Args)]
pub(crate) struct ExportArgs {
    /// Which events.
    #[command(flatten)]
    pub(crate) filter: FilterArgs,
    /// The file format [default: csv for a --out ending in .csv, else jsonl].
    #[arg(long, value_enum)]
    pub(crate) format: Option<ExportFormat>,
    /// Write to this file (created private, mode 0600; must not exist) instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub(crate) out: Option<PathBuf>,
    /// Oldest first instead of newest first.
    #[arg(long)]
    pub(crate) oldest_first: bool,
}

/// Whose newest events `--keep-last` keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum PerArg {
    /// Each VM.
    Vm,
    /// Each user.
    User,
}

/// `prune`.
#[derive(Debug, Args)]
pub(crate) struct PruneArgs {
    /// Which events may go (combine with --older-than / --keep-last).
    #[command(flatten)]
    pub(crate) filter: FilterArgs,
    /// Events that started longer ago than this (e.g. 90d).
    #[arg(long, value_parser = humantime::parse_duration, value_name = "AGE")]
    pub(crate) older_than: Option<std::time::Duration>,
    /// Keep the newest N events of each VM or user (see --per); only older ones may go.
    #[arg(long, value_name = "N", requires = "per")]
    pub(crate) keep_last: Option<u64>,
    /// Whose newest events --keep-last keeps.
    #[arg(long, value_enum, requires = "keep_last")]
    pub(crate) per: Option<PerArg>,
    /// Delete them (without it, only report what would be deleted).
    #[arg(long)]
    pub(crate) yes: bool,
}

/// `diff`.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("pair").required(true).args(["ids", "previous_success"]))]
pub(crate) struct DiffArgs {
    /// The older event and the newer one.
    #[arg(value_name = "ID", num_args = 2)]
    pub(crate) ids: Vec<history::EventId>,
    /// Compare this event with the last successful event of the same type and operation
    /// that started before it.
    #[arg(long, value_name = "ID")]
    pub(crate) previous_success: Option<history::EventId>,
}

/// `check`.
#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// Rebuild the statistics rollups when they disagree with the events (writes).
    #[arg(long)]
    pub(crate) repair: bool,
    /// Mark in-progress events whose writer is gone as interrupted (writes).
    #[arg(long)]
    pub(crate) recover: bool,
}

/// `serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// The address to listen on (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "HOST:PORT")]
    pub(crate) addr: std::net::SocketAddr,
    /// How often the live feed looks for new events, in milliseconds.
    #[arg(long, default_value_t = 500, value_name = "MS")]
    pub(crate) poll_interval_ms: u64,
}

/// `completions`.
#[derive(Debug, Args)]
pub(crate) struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub(crate) shell: clap_complete::Shell,
}
