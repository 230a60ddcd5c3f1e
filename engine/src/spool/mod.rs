//! Spools: append-only logs of length-prefixed records that stay in memory up to a limit and
//! continue in a file of a scratch folder beyond it. They are the one mechanism that bounds
//! devdist's memory: whatever must outlive a batch — candidates, sorted runs, rejects — is
//! spooled, and read back in order.

mod budget;
mod codec;

pub use budget::Budget;
pub(crate) use budget::open_file_limit;
pub(crate) use codec::{Decoder, Encoder};

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::collections::binary_heap::PeekMut;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use crate::error::Error;

/// A folder for spool files (0700; spool files are 0600, as they may hold secrets). It lives
/// inside the output folder's staging area, so every way a run ends removes it.
#[derive(Debug)]
pub struct Scratch {
    dir: PathBuf,
    next: AtomicU64,
    shared: Arc<Shared>,
}

/// What the spools of one scratch folder share: a memory limit for all of them together.
#[derive(Debug)]
struct Shared {
    /// Bytes all spools may keep in memory together.
    limit: u64,
    /// A spool over the limit writes once it holds this many bytes (fewer, larger writes).
    min_write: usize,
    /// Bytes the spools hold in memory now (their buffers' capacity).
    in_memory: AtomicU64,
    /// Bytes written to files so far.
    spilled: AtomicU64,
    /// Spools that keep their file open between writes now.
    kept_open: AtomicUsize,
    /// The most spools that may keep their file open ([`Budget::kept_open`]); beyond this
    /// many, a spool opens its file for each write.
    max_kept_open: usize,
    /// The most spools merged at once ([`Budget::fan_in`]).
    fan_in: usize,
}

impl Shared {
    /// Takes one of the places for an open file, if one is free.
    fn keep_open(&self) -> bool {
        let kept = self.kept_open.fetch_add(1, Ordering::Relaxed) < self.max_kept_open;
        if !kept {
            self.kept_open.fetch_sub(1, Ordering::Relaxed);
        }
        kept
    }
}

impl Scratch {
    /// Creates the folder `dir` for spools that keep at most `budget.spool_memory` bytes in
    /// memory together (plus up to two `min_write` buffers each), write at least
    /// `budget.min_write` bytes at once, and keep at most `budget.kept_open` files open.
    pub fn create(dir: PathBuf, budget: &Budget) -> Result<Scratch, Error> {
        fs::DirBuilder::new().mode(0o700).create(&dir).map_err(|err| Error::output(&dir, err))?;
        let shared = Shared {
            limit: budget.spool_memory,
            min_write: budget.min_write,
            in_memory: AtomicU64::new(0),
            spilled: AtomicU64::new(0),
            kept_open: AtomicUsize::new(0),
            max_kept_open: budget.kept_open,
            fan_in: budget.fan_in,
        };
        Ok(Scratch { dir, next: AtomicU64::new(0), shared: Arc::new(shared) })
    }

    /// The most spools [`merge`] should read at once (one open file each): [`reduce`] merges
    /// more than this down to this many.
    pub(crate) fn fan_in(&self) -> usize {
        self.shared.fan_in
    }

    /// Bytes written to spool files so far.
    pub fn spilled(&self) -> u64 {
        self.shared.spilled.load(Ordering::Relaxed)
    }

    /// A new file named `name` for reading and writing (0600), and its path; it goes with the
    /// folder.
    pub fn file(&self, name: &str) -> Result<(File, PathBuf), Error> {
        let path = self.dir.join(name);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(|err| Error::output(&path, err))?;
        Ok((file, path))
    }

    /// A new, empty spool.
    pub fn spool(&self) -> Spool {
        let path = self.dir.join(format!("spool-{}", self.next.fetch_add(1, Ordering::Relaxed)));
        Spool { memory: Vec::new(), size: 0, on_disk: false, file: None, path, shared: Arc::clone(&self.shared) }
    }
}

/// An append-only log of records.
#[derive(Debug)]
pub struct Spool {
    memory: Vec<u8>,
    /// Bytes appended so far, length prefixes included, in memory and in its file.
    size: u64,
    /// Its file exists.
    on_disk: bool,
    /// Its file, when kept open between writes (see [`Budget::kept_open`]).
    file: Option<File>,
    path: PathBuf,
    shared: Arc<Shared>,
}

impl Spool {
    /// Appends one record; writes what the spool holds to its file when the spools together
    /// hold more than their limit.
    pub fn push(&mut self, record: &[u8]) -> Result<(), Error> {
        self.push_with(|memory| memory.extend_from_slice(record))
    }

    /// Appends the record `encode` appends to the buffer it is given (and must not touch
    /// otherwise), with no copy in between; as [`Spool::push`] otherwise.
    pub(crate) fn push_with(&mut self, encode: impl FnOnce(&mut Vec<u8>)) -> Result<(), Error> {
        let before = self.memory.capacity();
        let at = self.memory.len();
        self.memory.extend_from_slice(&[0; 4]);
        encode(&mut self.memory);
        let len = (self.memory.len() - at - 4) as u32;
        self.memory[at..at + 4].copy_from_slice(&len.to_le_bytes());
        self.size += self.memory.len() as u64 - at as u64;
        let grown = (self.memory.capacity() - before) as u64;
        let in_memory = match grown {
            0 => self.shared.in_memory.load(Ordering::Relaxed),
            _ => self.shared.in_memory.fetch_add(grown, Ordering::Relaxed) + grown,
        };
        if in_memory > self.shared.limit && self.memory.len() >= self.shared.min_write { self.spill() } else { Ok(()) }
    }

    fn spill(&mut self) -> Result<(), Error> {
        crate::cancel::checkpoint()?;
        let fail = |err| Error::output(&self.path, err);
        let (mut file, kept) = match self.file.take() {
            Some(file) => (file, true),
            // Created by the first spill; later ones append to what this spool wrote itself.
            None => {
                let mut options = OpenOptions::new();
                options.append(true).create_new(!self.on_disk).mode(0o600);
                (options.open(&self.path).map_err(fail)?, false)
            }
        };
        self.on_disk = true;
        file.write_all(&self.memory).map_err(fail)?;
        if kept || self.shared.keep_open() {
            self.file = Some(file);
        }
        self.shared.spilled.fetch_add(self.memory.len() as u64, Ordering::Relaxed);
        let before = self.memory.capacity();
        self.memory.clear();
        self.memory.shrink_to(self.shared.min_write);
        self.release(before - self.memory.capacity());
        Ok(())
    }

    fn release(&self, bytes: usize) {
        self.shared.in_memory.fetch_sub(bytes as u64, Ordering::Relaxed);
    }

    /// Bytes of all its records, length prefixes included, wherever they are.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Every record, in one buffer of length-prefixed records (see [`Records`]); the spool's
    /// file is removed.
    pub fn into_bytes(mut self) -> Result<Vec<u8>, Error> {
        let memory = std::mem::take(&mut self.memory);
        self.release(memory.capacity());
        if !self.on_disk {
            return Ok(memory);
        }
        let mut bytes = Vec::new();
        let mut reader = File::open(&self.path).map_err(|err| Error::output(&self.path, err))?;
        reader.read_to_end(&mut bytes).map_err(|err| Error::output(&self.path, err))?;
        bytes.extend_from_slice(&memory);
        Ok(bytes)
    }

    /// Reads the records back in order, with a read buffer of `buffer` bytes.
    pub fn reader(&self, buffer: usize) -> Result<SpoolReader<'_>, Error> {
        let file = if self.on_disk {
            let file = File::open(&self.path).map_err(|err| Error::output(&self.path, err))?;
            Some(BufReader::with_capacity(buffer, file))
        } else {
            None
        };
        Ok(SpoolReader { file, memory: &self.memory, at: 0, start: None, path: &self.path, record: Vec::new() })
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        self.release(self.memory.capacity());
        if self.file.take().is_some() {
            self.shared.kept_open.fetch_sub(1, Ordering::Relaxed);
        }
        if std::mem::take(&mut self.on_disk) {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Reads a spool's records in order: first those in its file, then those still in memory.
#[derive(Debug)]
pub struct SpoolReader<'a> {
    file: Option<BufReader<File>>,
    memory: &'a [u8],
    /// Where the unread records in `memory` start.
    at: usize,
    /// The current record: in `record` when read from the file, else `memory[start..at]`.
    start: Option<usize>,
    path: &'a Path,
    record: Vec<u8>,
}

impl SpoolReader<'_> {
    /// Moves to the next record; false at the end.
    pub fn advance(&mut self) -> Result<bool, Error> {
        if let Some(file) = &mut self.file {
            let mut len = [0u8; 4];
            match file.read_exact(&mut len) {
                Ok(()) => {
                    self.record.resize(u32::from_le_bytes(len) as usize, 0);
                    file.read_exact(&mut self.record).map_err(|err| Error::output(self.path, err))?;
                    self.start = None;
                    return Ok(true);
                }
                Err(err) if err.kind() == io::ErrorKind::UnexpectedEof => self.file = None,
                Err(err) => return Err(Error::output(self.path, err)),
            }
        }
        let Some(len) = self.memory.get(self.at..self.at + 4) else {
            self.start = None;
            return Ok(false);
        };
        let len = u32::from_le_bytes(len.try_into().expect("four bytes")) as usize;
        self.start = Some(self.at + 4);
        self.at += 4 + len;
        Ok(true)
    }

    /// The record [`SpoolReader::advance`] moved to.
    pub fn current(&self) -> &[u8] {
        match self.start {
            Some(start) => &self.memory[start..self.at],
            None => &self.record,
        }
    }
}

/// Iterates the length-prefixed records of a buffer.
#[derive(Debug, Clone)]
pub(crate) struct Records<'a> {
    /// What is left.
    pub bytes: &'a [u8],
}

impl<'a> Iterator for Records<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let (len, rest) = self.bytes.split_first_chunk::<4>()?;
        let (record, rest) = rest.split_at(u32::from_le_bytes(*len) as usize);
        self.bytes = rest;
        Some(record)
    }
}

/// Merges `spools`, whose records are each sorted by `key`, a group of [`Scratch::fan_in`] at a
/// time into new spools of `scratch`, until at most that many are left; a group's spool takes
/// its place, so [`merge`] of the result gives the same order as of `spools`.
pub(crate) fn reduce<K: Ord>(
    mut spools: Vec<Spool>,
    key: impl Fn(&[u8]) -> K,
    scratch: &Scratch,
    buffer: usize,
) -> Result<Vec<Spool>, Error> {
    let fan_in = scratch.fan_in();
    while spools.len() > fan_in {
        let mut fewer = Vec::with_capacity(spools.len().div_ceil(fan_in));
        let mut left = spools.into_iter();
        loop {
            let group: Vec<Spool> = left.by_ref().take(fan_in).collect();
            if group.is_empty() {
                break;
            }
            let mut merged = scratch.spool();
            let readers = group.iter().map(|spool| spool.reader(buffer)).collect::<Result<Vec<_>, _>>()?;
            merge(readers, &key, |record| merged.push(record))?;
            fewer.push(merged);
        }
        spools = fewer;
    }
    Ok(spools)
}

/// Merges spools whose records are each sorted by `key`, calling `each` on every record in
/// key order (ties go to the earlier spool).
pub(crate) fn merge<K: Ord>(
    mut readers: Vec<SpoolReader>,
    key: impl Fn(&[u8]) -> K,
    mut each: impl FnMut(&[u8]) -> Result<(), Error>,
) -> Result<(), Error> {
    let mut heap = BinaryHeap::with_capacity(readers.len());
    for (at, reader) in readers.iter_mut().enumerate() {
        if reader.advance()? {
            heap.push(Reverse((key(reader.current()), at)));
        }
    }
    // The reader with the least key is replaced in place: one sift down per record, where a
    // pop and a push would take two.
    while let Some(mut least) = heap.peek_mut() {
        let at = least.0.1;
        let reader = &mut readers[at];
        each(reader.current())?;
        if reader.advance()? {
            *least = Reverse((key(reader.current()), at));
        } else {
            PeekMut::pop(least);
        }
    }
    Ok(())
}
