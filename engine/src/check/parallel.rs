//! Stage 1 across threads: one reader thread parses CSV or Parquet into recycled batches, worker threads
//! check them, and the calling thread puts the results back in input order.
//!
//! ```text
//! reader ──(RecordBatch, seq)──▶ workers ──(CheckedBatch, seq)──▶ collector (in order)
//!    ▲                              │
//!    └───────── empty RecordBatch ◀─┘
//! ```
//! Every queue is bounded, and record batches go back to the reader once their checked
//! records are handed on, so memory stays flat and nothing is allocated per record on the hot
//! path. Batches are bounded in records ([`BATCH_RECORDS`]) and in bytes (a share of the
//! records' memory allowance each); the reader starts no batch while the records out with
//! the workers and the collector take the whole allowance, and a batch's slots free their
//! buffers when they keep more than the batch's share.

use std::collections::BTreeMap;

use crossbeam_channel::{Receiver, Sender, bounded};
use devdist_formats::{Inventory, RecordBatch};

use crate::check::{Caches, CheckedBatch, Checker, Secrets};
use crate::dictionary::SharedDictionaries;
use crate::error::Error;
use crate::plan::Plan;

/// Records per batch: large enough to amortise channel costs, small enough to keep every
/// thread busy.
pub(crate) const BATCH_RECORDS: usize = 4096;

/// The smallest byte bound of a batch, however small the allowance.
const MIN_BATCH_BYTES: usize = 64 << 10;

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
/// `dictionaries`, and hands the checked batches to `each` in input order, with `secrets` of
/// each device secret.
///
/// `memory` bounds the records read and not yet handed on (their bytes by
/// [`devdist_formats::record_size`]): the reader waits while they take that much. On top come
/// one batch being filled and, because a batch holds at least one record, a record larger
/// than a batch's share; the recycled batches keep about `memory` more allocated, and the
/// checked batches waiting for `each` copy part of their records (secrets, gateway names,
/// the names and product keys of rejects).
#[allow(clippy::too_many_arguments)]
pub fn check_all(
    plan: &Plan,
    inventories: Vec<Inventory>,
    dictionaries: &SharedDictionaries,
    secrets: &Secrets,
    threads: usize,
    memory: usize,
    progress: &dyn Progress,
    each: &mut dyn FnMut(CheckedBatch) -> Result<(), Error>,
) -> Result<(), Error> {
    let threads = threads.max(1);
    let in_flight = threads * 4;
    let batch_bytes = (memory / in_flight).max(MIN_BATCH_BYTES);
    let layouts: Vec<_> = inventories.iter().map(|inventory| inventory.layout().clone()).collect();
    let checkers: Vec<Checker> = layouts
        .iter()
        .enumerate()
        .map(|(file, layout)| Checker::new(plan, layout, dictionaries, secrets, file as u32))
        .collect();

    let (free_tx, free_rx) = bounded::<RecordBatch>(in_flight);
    let (work_tx, work_rx) = bounded::<Work>(in_flight);
    let (done_tx, done_rx) = bounded::<(u64, CheckedBatch, RecordBatch)>(in_flight);
    for _ in 0..in_flight {
        free_tx.send(RecordBatch::with_max_bytes(batch_bytes)).expect("queue has room");
    }

    std::thread::scope(|scope| {
        let reader = scope.spawn(move || read(inventories, free_rx, work_tx, memory.max(batch_bytes)));
        for _ in 0..threads {
            let (work_rx, done_tx) = (work_rx.clone(), done_tx.clone());
            let checkers = &checkers;
            scope.spawn(move || {
                let mut caches = Caches::default();
                for mut work in work_rx {
                    let mut checked = CheckedBatch::default();
                    checkers[work.file as usize].check_batch(&work.batch, work.first_seq, &mut caches, &mut checked);
                    work.batch.release(batch_bytes);
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

/// Fills batches from every inventory in turn and sends them to the workers, starting none
/// while the records sent and not yet back take `memory` bytes or more.
fn read(
    inventories: Vec<Inventory>,
    free: Receiver<RecordBatch>,
    work: Sender<Work>,
    memory: usize,
) -> Result<(), Error> {
    let mut order = 0;
    let mut seq = 0;
    // Batches back from the collector (their records no longer counted), and the bytes of
    // the records out.
    let mut spare: Vec<RecordBatch> = Vec::new();
    let mut out = 0;
    for (file, mut inventory) in inventories.into_iter().enumerate() {
        loop {
            while spare.is_empty() || out >= memory {
                let Ok(batch) = free.recv() else { return Ok(()) };
                out -= batch.payload;
                spare.push(batch);
            }
            let mut batch = spare.pop().expect("a batch is back");
            crate::cancel::checkpoint()?;
            if !inventory.fill(&mut batch, BATCH_RECORDS)? {
                spare.push(batch);
                break;
            }
            let records = batch.len as u64;
            out += batch.payload;
            if work.send(Work { order, file: file as u32, first_seq: seq, batch }).is_err() {
                return Ok(());
            }
            order += 1;
            seq += records;
        }
    }
    Ok(())
}

/// Puts checked batches back in input order, hands them to `each`, and then returns their
/// record batches to the reader. On a failure it returns at once: dropping its ends of the queues
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
        waiting.insert(order, (checked, batch));
        while let Some((checked, batch)) = waiting.remove(&next) {
            next += 1;
            each(checked)?;
            // Only now are its records off the reader's account. The reader may have
            // finished; a closed free queue is fine.
            let _ = free.send(batch);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::time::Duration;

    /// A CSV inventory of `records` records with a `field`-byte runtime column each.
    fn big_records(dir: &std::path::Path, records: usize, field: usize) -> Inventory {
        let path = dir.join("devices.csv");
        let mut text = b"product_key,device_name,device_secret,source_instance,note\n".to_vec();
        for record in 0..records {
            text.extend_from_slice(format!("a1BwAGVeu01,meter-{record:04},s3cret,iotx-oxssharez200,").as_bytes());
            text.resize(text.len() + field, b'x');
            text.push(b'\n');
        }
        std::fs::write(&path, text).unwrap();
        Inventory::open(&path).unwrap()
    }

    #[test]
    fn the_reader_starts_no_batch_while_the_records_out_take_the_allowance() {
        let dir = tempfile::tempdir().unwrap();
        let inventory = big_records(dir.path(), 12, 1 << 20);
        let (free_tx, free_rx) = bounded::<RecordBatch>(8);
        let (work_tx, work_rx) = bounded::<Work>(8);
        for _ in 0..8 {
            free_tx.send(RecordBatch::with_max_bytes(MIN_BATCH_BYTES)).unwrap();
        }
        std::thread::scope(|scope| {
            let reader = scope.spawn(move || read(vec![inventory], free_rx, work_tx, 3 << 20));
            let next = || work_rx.recv_timeout(Duration::from_secs(5)).expect("a batch comes");
            // A batch holds one 1 MiB record (past its 64 KiB bound): three reach the allowance.
            let out: Vec<Work> = (0..3).map(|_| next()).collect();
            assert!(out.iter().all(|work| work.batch.len == 1));
            assert!(work_rx.recv_timeout(Duration::from_millis(300)).is_err(), "a fourth batch while 3 MiB are out");
            // Each batch back lets one more out.
            let mut seen = 3;
            for work in out {
                free_tx.send(work.batch).unwrap();
                let more = next();
                assert_eq!(more.first_seq, seen);
                seen += 1;
                free_tx.send(more.batch).unwrap();
            }
            while let Ok(work) = work_rx.recv_timeout(Duration::from_secs(5)) {
                seen += work.batch.len as u64;
                let _ = free_tx.send(work.batch);
            }
            reader.join().unwrap().unwrap();
            assert_eq!(seen, 12);
        });
    }

    #[test]
    fn many_files_do_not_use_up_the_batches() {
        // One batch per file used to be dropped at the file's end: with more files than
        // batches in flight, the reader waited for a batch that never came.
        let dir = tempfile::tempdir().unwrap();
        let inventories: Vec<Inventory> = (0..5)
            .map(|file| {
                let folder = dir.path().join(file.to_string());
                std::fs::create_dir(&folder).unwrap();
                big_records(&folder, 1, 10)
            })
            .collect();
        let (free_tx, free_rx) = bounded::<RecordBatch>(2);
        let (work_tx, work_rx) = bounded::<Work>(2);
        for _ in 0..2 {
            free_tx.send(RecordBatch::default()).unwrap();
        }
        std::thread::scope(|scope| {
            let reader = scope.spawn(move || read(inventories, free_rx, work_tx, usize::MAX));
            let mut files = Vec::new();
            while let Ok(work) = work_rx.recv_timeout(Duration::from_secs(5)) {
                files.push(work.file);
                let _ = free_tx.send(work.batch);
            }
            drop(free_tx); // a reader still waiting for a batch gives up
            reader.join().unwrap().unwrap();
            assert_eq!(files, [0, 1, 2, 3, 4]);
        });
    }
}
