//! `completions SHELL`: the completion script of bash, zsh, fish, elvish or PowerShell.

use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs};
use crate::error::CliError;
use crate::output::Out;

/// Writes the script to stdout.
pub(crate) fn run(args: &CompletionsArgs, out: &mut Out) -> Result<u64, CliError> {
    let mut cmd = Cli::command();
    clap_complete::generate(args.shell, &mut cmd, "historyctl", out.w());
    Ok(1)
}
