//! What a long command says while it runs, for the front end to show: notes (lines for
//! stderr) and progress bars. The library never prints; it hands lines to a [`Sink`], which
//! is silent unless the caller supplies one (the binary writes to stderr).
//!
//! A command's results (figures, summaries, listings) are not notes: [`crate::run`] returns
//! them in its [`crate::Outcome`].

use std::fmt;
use std::sync::Arc;

/// Where notes and progress go. Every method has a silent default.
pub trait Notes: Send + Sync {
    /// One line for stderr, while the command runs (a warning, a fallback taken, a target
    /// that failed, the simulator's address).
    fn note(&self, _line: &str) {}

    /// A progress bar of `len` steps drawn with `template` (indicatif's syntax), or `None`
    /// when nobody is watching (stderr is not a terminal, or the sink is silent).
    fn bar(&self, _template: &str, _len: u64) -> Option<Box<dyn Bar>> {
        None
    }
}

/// A progress bar a [`Notes`] sink drew.
pub trait Bar: Send + Sync {
    /// Advances by `n` steps.
    fn inc(&self, n: u64);
    /// Adds `n` steps to the length.
    fn inc_length(&self, n: u64);
    /// Prints one line above the bar, for stderr.
    fn note(&self, line: &str);
    /// Removes the bar.
    fn finish(&self);
}

/// The silent sink.
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Notes for Silent {}

/// A shared [`Notes`] sink, carried in options and jobs; silent by default.
#[derive(Clone)]
pub struct Sink(Arc<dyn Notes>);

impl Sink {
    /// Wraps a sink.
    pub fn new(notes: impl Notes + 'static) -> Sink {
        Sink(Arc::new(notes))
    }

    /// Says one line.
    pub fn note(&self, line: &str) {
        self.0.note(line);
    }

    /// A progress bar, when somebody watches.
    pub fn bar(&self, template: &str, len: u64) -> Option<Box<dyn Bar>> {
        self.0.bar(template, len)
    }

    /// Says one line above `bar` when there is one, else as a note.
    pub fn note_over(&self, bar: Option<&dyn Bar>, line: &str) {
        match bar {
            Some(bar) => bar.note(line),
            None => self.note(line),
        }
    }
}

impl Default for Sink {
    fn default() -> Sink {
        Sink::new(Silent)
    }
}

impl fmt::Debug for Sink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sink")
    }
}
