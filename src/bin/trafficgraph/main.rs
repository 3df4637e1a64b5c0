//! The `trafficgraph` binary: parse arguments, run the library, map errors to exit codes.

use std::process::ExitCode;

use clap::Parser;

mod flags;

fn main() -> ExitCode {
    keep_freed_memory();
    let cli = flags::Cli::parse();
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
