//! The `trafficgraph` binary: parse arguments, run the library, map errors to exit codes.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = trafficgraph::cli::Cli::parse();
    let command = match cli.into_command() {
        Ok(c) => c,
        Err(msg) => {
            eprintln!("trafficgraph: error: {msg}");
            return ExitCode::from(2);
        }
    };
    match trafficgraph::run(command) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("trafficgraph: error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
