//! `historyctl`: the command-line tool of the `history` crates. It reads a history file
//! (read-only for every read command), and prunes, repairs and recovers it when asked.
//!
//! Modules: [`cli`] (the command line), [`filters`] (filter flags and their values),
//! [`output`] (formats, terminal detection, tables), [`shown`] (redaction of everything
//! printed), [`store`] (opening the file), [`error`] (errors and exit codes), and one module
//! per subcommand under [`commands`].

mod cli;
mod commands;
mod error;
mod filters;
mod output;
mod shown;
mod store;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::error::CliError;
use crate::output::Out;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let fail_if_empty = cli.fail_if_empty;
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let (code, line) = e.report(fail_if_empty);
            if let Some(line) = line {
                eprintln!("historyctl: {line}");
            }
            code
        }
    }
}

fn run(cli: Cli) -> Result<(), CliError> {
    let mut out = Out::new(cli.output);
    let matched = match &cli.command {
        Command::List(args) => commands::list::run(&cli.db, args, &mut out)?,
        Command::Show(args) => commands::show::run(&cli.db, args, &mut out)?,
        Command::Tail(args) => commands::tail::run(&cli.db, args, &mut out)?,
        Command::Stats(args) => commands::stats::run(&cli.db, args, &mut out)?,
        Command::Export(args) => commands::export::run(&cli.db, args, &mut out)?,
        Command::Prune(args) => commands::prune::run(&cli.db, args, &mut out)?,
        Command::Diff(args) => commands::diff::run(&cli.db, args, &mut out)?,
        Command::Check(args) => commands::check::run(&cli.db, args, &mut out)?,
        Command::Serve(args) => commands::serve::run(&cli.db, args, &mut out)?,
        Command::Completions(args) => commands::completions::run(args, &mut out)?,
    };
    out.flush()?;
    if cli.fail_if_empty && matched == 0 {
        return Err(CliError::NothingMatched);
    }
    Ok(())
}
