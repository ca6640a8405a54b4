//! One module per subcommand; each `run` returns how many things it found (events listed,
//! exported, shown, …), which `--fail-if-empty` turns into exit code 3 when it is 0.

pub(crate) mod check;
pub(crate) mod completions;
pub(crate) mod diff;
pub(crate) mod events;
pub(crate) mod export;
pub(crate) mod list;
pub(crate) mod prune;
pub(crate) mod serve;
pub(crate) mod show;
pub(crate) mod stats;
pub(crate) mod tail;
