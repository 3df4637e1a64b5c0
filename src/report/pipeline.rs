//! How a report's targets move through the machine.
//!
//! Each target starts as one job on the draw pool (`--jobs` threads). There it is
//! fetched as far as the cache answers ([`crate::fetch::prepare`], no async runtime),
//! its figures computed, its graph and CSV drawn in memory and compared with the files
//! already on disk; the files that differ are written to temporaries beside them and
//! join the run's [`Batch`]. The finished row goes to the collector (the thread that
//! called [`run_targets`], which polls for rows every [`COLLECT_EVERY`]), and the thread
//! that finished a target starts the next. A full batch goes to the committer thread,
//! which syncs it with one `syncfs` and renames its files into place; the collector
//! commits the last one. Only a target that needs the server, or the provider's picture,
//! leaves for the async runtime, and comes back to the draw pool with its answers.
//!
//! Why:
//! - A cached target costs well under a millisecond of drawing, and every hand-off
//!   between threads (a wake-up, a context switch, often a spin first) costs some tens of
//!   microseconds. Fetching in an async task with a task per chunk, a oneshot to the draw
//!   pool and back, a semaphore and a blocking-pool task per write made about eight of
//!   them a target (measured: 7,000 futex and 8,000 sched_yield calls for 1,000 targets).
//!   Now a cached target never leaves its draw thread.
//! - Writing a file to the page cache does not wait on the disk; syncing it does (a
//!   disk cache flush, a few hundred microseconds here, milliseconds on real disks), so
//!   files are synced a batch at a time on a thread of their own ([`Batch`]).
//! - Every stage runs under [`Lanes::guard`]: a panic anywhere reaches the collector,
//!   which resumes it, so a bug fails the run instead of hanging it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use super::{draw, RowKind, RowStatus, SummaryRow};
use super::{fallback, fetch_options, target_provider, within, Ctx, Done, Gathered, Progress};
use crate::fetch::{FetchError, Fetched, Stage};
use crate::model::Traffic;
use crate::output::{Batch, OutputError, Staged};

/// What a stage hands the collector: a finished target, or the panic of a stage.
type Outcome = std::thread::Result<Done>;

/// A batch of staged files for the committer.
type Commit = Vec<Staged>;

/// How often the collector looks for finished targets.
const COLLECT_EVERY: std::time::Duration = std::time::Duration::from_millis(2);

/// Fetches, draws and writes the `selected` targets, saying on stderr which failed or
/// fell back to the provider's picture.
pub(super) fn run_targets(
    ctx: &Arc<Ctx>,
    selected: &[usize],
    progress: &Progress,
) -> Result<Gathered, super::ReportError> {
    let jobs = ctx.job.jobs.max(1);
    // Targets in flight: `--jobs` drawing, and twice as many more fetching, so the draw
    // threads never wait for a fetch; and one more a request `--concurrency` allows, so
    // the requests never wait for targets that are drawing. Memory stays a few targets'.
    let in_flight = jobs * 3 + ctx.job.fetch.concurrency;
    // Workers for every core `--jobs` can use: the runtime only waits on the network
    // (and parses answers), so it idles in an offline report.
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores.min(jobs).max(2))
        .enable_all()
        .build()
        .map_err(super::ReportError::Runtime)?;
    let (done_tx, done_rx) = mpsc::channel::<Outcome>();
    let batch = Arc::new(Batch::new(&ctx.job.out_dir));
    let failed_commit = Arc::new(Mutex::new(None::<OutputError>));
    let (commit_tx, commit_rx) = mpsc::channel::<Commit>();
    let committer = {
        let (batch, failed) = (batch.clone(), failed_commit.clone());
        std::thread::Builder::new()
            .name("commit".into())
            .spawn(move || {
                for files in commit_rx {
                    let mut failed = failed.lock().expect("lock");
                    // After a failure nothing more is put in place: the batch is dropped
                    // and its temporaries removed.
                    if failed.is_none() {
                        if let Err(e) = batch.commit(files) {
                            *failed = Some(e);
                        }
                    }
                }
            })
            .map_err(super::ReportError::Runtime)?
    };
    let lanes = Arc::new(Lanes {
        ctx: ctx.clone(),
        runtime: runtime.handle().clone(),
        batch: batch.clone(),
        committer: commit_tx,
        done: done_tx,
        selected: selected.to_vec(),
        next: AtomicUsize::new(0),
    });
    let mut gathered = Gathered {
        rows: vec![None; ctx.config.targets.len()],
        kept: Default::default(),
        written: Vec::new(),
    };
    // The first targets; then each finished target starts the next where it finished.
    for _ in 0..in_flight.min(selected.len()) {
        lanes.start_next();
    }
    let mut left = selected.len();
    while left > 0 {
        // Polled, not waited on: a stage that finishes a target then only queues it and
        // wakes no thread. Waiting cost a wake-up a target: 2,950 context switches in a
        // re-run of 1,000 cached targets, against 375 polled, and 4% of its CPU.
        let outcome = match done_rx.try_recv() {
            Ok(outcome) => outcome,
            Err(mpsc::TryRecvError::Empty) => {
                std::thread::sleep(COLLECT_EVERY);
                continue;
            }
            Err(mpsc::TryRecvError::Disconnected) => unreachable!("the lanes hold a sender"),
        };
        let done = match outcome {
            Ok(done) => done,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        left -= 1;
        gather(ctx, &mut gathered, done, progress);
    }
    drop(lanes);
    let _ = committer.join();
    if let Some(e) = failed_commit.lock().expect("lock").take() {
        return Err(e.into());
    }
    batch.commit(batch.rest())?;
    Ok(gathered)
}

/// Keeps a finished target's row, files and (for a pool member) traffic, and says why it
/// failed or fell back.
fn gather(ctx: &Ctx, gathered: &mut Gathered, done: Done, progress: &Progress) {
    let name = &ctx.config.targets[done.index].name;
    if let Some(why) = &done.note {
        progress.note(format!(
            "target '{name}': using the provider's graph: {why}"
        ));
    }
    if let (Some(e), RowStatus::Failed) = (&done.row.error, done.row.status) {
        progress.note(format!("target '{name}' failed: {e}"));
    }
    if let Some(t) = done.traffic {
        gathered.kept.insert(done.index, t);
    }
    gathered.written.extend(done.written);
    gathered.rows[done.index] = Some(done.row);
    progress.inc();
}

/// The ways between the stages of a target.
struct Lanes {
    ctx: Arc<Ctx>,
    /// For fetches that need the server and for the provider's pictures.
    runtime: tokio::runtime::Handle,
    /// The files written so far, waiting for their sync and rename.
    batch: Arc<Batch>,
    /// Where a full batch goes.
    committer: mpsc::Sender<Commit>,
    done: mpsc::Sender<Outcome>,
    /// The targets to run, and the index in it of the next to start.
    selected: Vec<usize>,
    next: AtomicUsize,
}

impl Lanes {
    /// Runs a stage; its panic goes to the collector.
    fn guard(&self, stage: impl FnOnce()) {
        if let Err(panic) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(stage)) {
            let _ = self.done.send(Err(panic));
        }
    }

    /// Runs `stage` on the draw pool.
    fn on_draw_pool(self: &Arc<Self>, stage: impl FnOnce(&Arc<Lanes>) + Send + 'static) {
        let lanes = self.clone();
        self.ctx
            .draw_pool
            .spawn(move || lanes.guard(|| stage(&lanes)));
    }

    /// Runs `stage` on the async runtime.
    fn on_runtime(self: &Arc<Self>, stage: impl std::future::Future<Output = ()> + Send + 'static) {
        let task = self.runtime.spawn(stage);
        let done = self.done.clone();
        self.runtime.spawn(async move {
            if let Err(e) = task.await {
                if e.is_panic() {
                    let _ = done.send(Err(e.into_panic()));
                }
            }
        });
    }

    /// Starts target `index` on the draw pool: what the cache answers is read there, and
    /// the rest asked for on the runtime.
    fn start(self: &Arc<Self>, index: usize) {
        self.on_draw_pool(move |lanes| {
            let ctx = &lanes.ctx;
            let t = &ctx.config.targets[index];
            let stage = match target_provider(ctx, t) {
                Ok(Some(provider)) => crate::fetch::prepare(&fetch_options(ctx, t, provider))
                    .map_err(|e| e.to_string()),
                Ok(None) => Err("no base_url, only a fallback".to_string()),
                Err(e) => Err(e.to_string()),
            };
            match stage {
                Ok(Stage::Done(fetched)) => lanes.draw(index, fetched),
                Ok(Stage::Requests(pending)) => {
                    let lanes2 = lanes.clone();
                    lanes.on_runtime(async move {
                        let fetched = pending.finish().await;
                        lanes2.fetched(index, fetched);
                    });
                }
                Err(why) => lanes.fetch_failed(index, why),
            }
        });
    }

    /// Takes a fetch that needed the server back to the draw pool.
    fn fetched(self: &Arc<Self>, index: usize, fetched: Result<Fetched, FetchError>) {
        match fetched {
            Ok(fetched) => self.on_draw_pool(move |lanes| lanes.draw(index, fetched)),
            Err(e) => self.fetch_failed(index, e.to_string()),
        }
    }

    /// Computes the figures, draws and writes the files (on a draw thread).
    fn draw(self: &Arc<Self>, index: usize, fetched: Fetched) {
        let ctx = &self.ctx;
        let t = &ctx.config.targets[index];
        let traffic = within(fetched.traffic, ctx.plan.window);
        let mut drawn = draw(ctx, &t.name, RowKind::Target, &ctx.stems[index], &traffic);
        let keep = ctx.pool_members.contains(&index) && drawn.row.error.is_none();
        let traffic: Option<Traffic> = keep.then_some(traffic);
        drawn.keep_unchanged(&ctx.present);
        let (row, written, full) = drawn.stage(&self.batch);
        if let Some(files) = full {
            self.committer
                .send(files)
                .expect("the committer outlives the targets");
        }
        let traffic = traffic.filter(|_| row.error.is_none());
        self.finish(Done {
            index,
            row,
            traffic,
            written,
            note: None,
        });
    }

    /// A target whose raw data could not be had: its provider's picture when it has a
    /// fallback, else a failed row.
    fn fetch_failed(self: &Arc<Self>, index: usize, why: String) {
        let t = &self.ctx.config.targets[index];
        if t.fallback.is_none() {
            self.finish(Done {
                index,
                row: SummaryRow::failed(&t.name, RowKind::Target, why),
                traffic: None,
                written: Vec::new(),
                note: None,
            });
            return;
        }
        let lanes = self.clone();
        self.on_runtime(async move {
            let ctx = &lanes.ctx;
            let t = &ctx.config.targets[index];
            let fb = t.fallback.as_ref().expect("checked above");
            let stem = &ctx.stems[index];
            let (row, written) =
                fallback::write(&ctx.job.out_dir, stem, t, fb, &ctx.plan_view(), &why).await;
            let note = (row.status == RowStatus::Ok).then_some(why);
            lanes.finish(Done {
                index,
                row,
                traffic: None,
                written,
                note,
            });
        });
    }

    /// Starts the next target, if one is left.
    fn start_next(self: &Arc<Self>) {
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        if let Some(&index) = self.selected.get(i) {
            self.start(index);
        }
    }

    /// Hands a finished target to the collector and starts the next in its place.
    fn finish(self: &Arc<Self>, done: Done) {
        let _ = self.done.send(Ok(done));
        self.start_next();
    }
}
