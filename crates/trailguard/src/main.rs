//! The `trailguard` command line. Arguments are parsed by clap into raw structs
//! (`args`), validated into typed configs by each command, and every command returns
//! an [`ExitCode`] as documented in `--help`.

mod alerts_cmd;
mod args;
mod delivery;
mod demo;
mod deploy;
mod deploy_args;
mod detect;
mod detect_args;
mod export;
mod investigate;
mod investigate_args;
mod key_info;
mod pattern_cmd;
mod progress;
mod respond;
mod respond_args;
mod rules_cmd;
mod scan_args;
mod scan_cmd;
mod simulate;
mod sinks;
mod sources;
mod time_arg;
mod watch;

use std::process::ExitCode;

use clap::Parser;

use args::{Cli, Command, PatternCommand};

/// Exit codes, as documented in `docs/architecture.md`.
pub mod exit {
    /// Ran clean (alerts may have been raised, but none at or above `--fail-on`).
    pub const OK: u8 = 0;
    /// Alerts at or above `--fail-on` were raised (`scan`: something was found).
    pub const ALERTS: u8 = 1;
    /// `pattern test`: the event does not match the pattern.
    pub const NO_MATCH: u8 = 1;
    /// Bad usage, no input could be read, or an alert could not be delivered.
    pub const ERROR: u8 = 2;
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Detect(a) => detect::run(a),
        Command::Demo(a) => demo::run(a),
        Command::Rules(a) => rules_cmd::run(a),
        Command::Simulate(a) => simulate::run(a),
        Command::Pattern(PatternCommand::Test(a)) => pattern_cmd::run(a),
        Command::Watch(a) => watch::run(a),
        Command::Alerts(a) => alerts_cmd::run(a),
        Command::Investigate(a) => investigate::run(a),
        Command::KeyInfo(a) => key_info::run(a),
        Command::Scan(a) => scan_cmd::run(a),
        Command::Respond(a) => respond::run(a),
        Command::Deploy(a) => deploy::run(a),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(exit::ERROR)
        }
    }
}
