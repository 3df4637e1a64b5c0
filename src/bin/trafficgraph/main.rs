//! The `trafficgraph` binary: parse arguments, run the library, print what it returns, map
//! errors to exit codes.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use clap::Parser;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use trafficgraph::notes::{Bar, Notes};
use trafficgraph::Sink;

mod flags;

fn main() -> ExitCode {
    keep_freed_memory();
    let cli = flags::Cli::parse();
    if let Some(bytes) = flags::generated(&cli) {
        let mut out = std::io::stdout().lock();
        return match out.write_all(&bytes).and_then(|()| out.flush()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("trafficgraph: error: cannot write to stdout: {e}");
                ExitCode::from(1)
            }
        };
    }
    let command = match cli.into_command() {
        Ok(c) => c,
        Err(msg) => {
            eprintln!("trafficgraph: error: {msg}");
            return ExitCode::from(2);
        }
    };
    match trafficgraph::run_with(command, &Sink::new(Stderr)) {
        Ok(outcome) => match print(&outcome.stdout) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("trafficgraph: error: {e}");
                ExitCode::from(1)
            }
        },
        Err(e) => {
            // What the command had to say before it failed (e.g. the failing cache entries).
            let _ = print(e.stdout());
            eprintln!("trafficgraph: error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

/// Prints the command's output, one line an entry.
fn print(lines: &[String]) -> Result<(), trafficgraph::output::OutputError> {
    let mut out = std::io::stdout().lock();
    lines
        .iter()
        .try_for_each(|line| writeln!(out, "{line}"))
        .and_then(|()| out.flush())
        .map_err(|source| trafficgraph::output::OutputError {
            path: "-".into(),
            source,
        })
}

/// Notes on stderr; a progress bar when stderr is a terminal.
struct Stderr;

impl Notes for Stderr {
    fn note(&self, line: &str) {
        eprintln!("{line}");
    }

    fn bar(&self, template: &str, len: u64) -> Option<Box<dyn Bar>> {
        if !std::io::stderr().is_terminal() {
            return None;
        }
        let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
        bar.set_style(ProgressStyle::with_template(template).expect("valid template"));
        Some(Box::new(StderrBar(bar)))
    }
}

struct StderrBar(ProgressBar);

impl Bar for StderrBar {
    fn inc(&self, n: u64) {
        self.0.inc(n);
    }

    fn inc_length(&self, n: u64) {
        self.0.inc_length(n);
    }

    fn note(&self, line: &str) {
        self.0.suspend(|| eprintln!("{line}"));
    }

    fn finish(&self) {
        self.0.finish_and_clear();
    }
}

/// Rendering many graphs in one process (`bench`, `report`, `--threads`) frees and
/// allocates the same sizes over and over. With its default thresholds glibc answers by
/// handing the freed top of the heap (and every block over 128 KiB) back to the system
/// and faulting it in again on every graph: tens of page faults a graph, and the threads
/// of `--threads 2` queueing on the process's memory map lock. Freed memory below these
/// sizes is kept for the next graph instead.
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; it is called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 64 << 20);
    }
}
