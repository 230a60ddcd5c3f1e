//! Stage 1 across threads: one reader thread parses CSV or Parquet into recycled batches, worker threads
//! check them, and the calling thread puts the results back in input order.
//!
//! ```text
//! reader ──(RecordBatch, seq)──▶ workers ──(CheckedBatch, seq)──▶ collector (in order)
//!    ▲                              │
//!    └───────── empty RecordBatch ◀─┘
//! ```
//! Every queue is bounded, and record batches go back to the reader once checked, so memory
//! stays flat and nothing is allocated per record on the hot path.

use std::collections::BTreeMap;

use crossbeam_channel::{Receiver, Sender, bounded};
use devdist_formats::{Inventory, RecordBatch};

use crate::check::{Caches, CheckedBatch, Checker};
use crate::dictionary::Dictionaries;
use crate::error::Error;
use crate::plan::Plan;

/// Records per batch: large enough to amortise channel costs, small enough to keep every
/// thread busy.
pub const BATCH_RECORDS: usize = 4096;

/// Told of progress once per batch.
pub trait Progress: Sync {
    /// `records` more records and `bytes` more input bytes are done.
    fn advance(&self, records: u64, bytes: u64);
}

/// A [`Progress`] that ignores everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn advance(&self, _records: u64, _bytes: u64) {}
}

/// Opens every inventory of the plan, reporting every unreadable file or bad header at once.
pub fn open_inputs(plan: &Plan) -> Result<Vec<Inventory>, Error> {
    let mut opened = Vec::new();
    let mut errors = Vec::new();
    for input in &plan.inputs {
        match devdist_formats::require_regular_file(&input.path).and_then(|()| Inventory::open(&input.path)) {
            Ok(inventory) => opened.push(inventory),
            Err(err) => errors.push(err),
        }
    }
    if errors.is_empty() { Ok(opened) } else { Err(Error::Input(errors)) }
}

struct Work {
    order: u64,
    file: u32,
    first_seq: u64,
    batch: RecordBatch,
}

/// Reads and checks every record of `inventories` with `threads` workers, filling
/// `dictionaries`, and hands the checked batches to `each` in input order.
pub fn check_all(
    plan: &Plan,
    inventories: Vec<Inventory>,
    dictionaries: &Dictionaries,
    threads: usize,
    progress: &dyn Progress,
    each: &mut dyn FnMut(CheckedBatch) -> Result<(), Error>,
) -> Result<(), Error> {
    let threads = threads.max(1);
    let in_flight = threads * 4;
    let layouts: Vec<_> = inventories.iter().map(|inventory| inventory.layout().clone()).collect();
    let checkers: Vec<Checker> = layouts
        .iter()
        .enumerate()
        .map(|(file, layout)| Checker::new(plan, layout, dictionaries, file as u32))
        .collect();

    let (free_tx, free_rx) = bounded::<RecordBatch>(in_flight);
    let (work_tx, work_rx) = bounded::<Work>(in_flight);
    let (done_tx, done_rx) = bounded::<(u64, CheckedBatch, RecordBatch)>(in_flight);
    for _ in 0..in_flight {
        free_tx.send(RecordBatch::default()).expect("queue has room");
    }

    std::thread::scope(|scope| {
        let reader = scope.spawn(move || read(inventories, free_rx, work_tx));
        for _ in 0..threads {
            let (work_rx, done_tx) = (work_rx.clone(), done_tx.clone());
            let checkers = &checkers;
            scope.spawn(move || {
                let mut caches = Caches::default();
                for work in work_rx {
                    let mut checked = CheckedBatch::default();
                    checkers[work.file as usize].check_batch(&work.batch, work.first_seq, &mut caches, &mut checked);
                    if done_tx.send((work.order, checked, work.batch)).is_err() {
                        return;
                    }
                }
            });
        }
        drop((work_rx, done_tx));
        let collected = collect(done_rx, free_tx, progress, each);
        let read_result = reader.join().expect("the reader thread does not panic");
        // A failed read explains a short collection best; then a failed hand-over.
        read_result.and(collected)
    })
}

fn read(inventories: Vec<Inventory>, free: Receiver<RecordBatch>, work: Sender<Work>) -> Result<(), Error> {
    let mut order = 0;
    let mut seq = 0;
    for (file, mut inventory) in inventories.into_iter().enumerate() {
        loop {
            let Ok(mut batch) = free.recv() else { return Ok(()) };
            crate::cancel::checkpoint()?;
            if !inventory.fill(&mut batch, BATCH_RECORDS)? {
                break;
            }
            let records = batch.len as u64;
            if work.send(Work { order, file: file as u32, first_seq: seq, batch }).is_err() {
                return Ok(());
            }
            order += 1;
            seq += records;
        }
    }
    Ok(())
}

/// Puts checked batches back in input order, hands them to `each`, and returns record
/// batches to the reader. On a failure it returns at once: dropping its ends of the queues
/// stops the workers and the reader.
fn collect(
    done: Receiver<(u64, CheckedBatch, RecordBatch)>,
    free: Sender<RecordBatch>,
    progress: &dyn Progress,
    each: &mut dyn FnMut(CheckedBatch) -> Result<(), Error>,
) -> Result<(), Error> {
    let mut next = 0;
    let mut waiting = BTreeMap::new();
    for (order, checked, batch) in done {
        progress.advance(checked.records, batch.bytes);
        // The reader may have finished; a closed free queue is fine.
        let _ = free.send(batch);
        waiting.insert(order, checked);
        while let Some(checked) = waiting.remove(&next) {
            next += 1;
            each(checked)?;
        }
    }
    Ok(())
}
