//! The file behind the CSV reader.

use std::fs::File;
use std::io::Read;

use super::UTF8_BOM;
use super::quoting::tally;

/// The file behind the CSV reader: one reusable buffer that keeps every byte of the record being
/// read (so its bytes as written can be checked), and that refuses to hand out more than the
/// record limit.
pub(super) struct Source {
    pub(super) file: File,
    /// `buf[..filled]` holds the file from offset `base`; `buf[..served]` went to the reader;
    /// `buf[keep..]` is kept (the record being read starts at `keep`).
    pub(super) buf: Vec<u8>,
    pub(super) base: u64,
    pub(super) filled: usize,
    pub(super) served: usize,
    pub(super) keep: usize,
    /// The file has no more bytes.
    pub(super) eof: bool,
    /// Bytes asked of the file per read.
    pub(super) chunk: usize,
    /// The longest record kept, in bytes.
    pub(super) limit: usize,
    /// The reader asked for more than `limit` bytes of one record and was told the file ended.
    pub(super) capped: bool,
    /// Hand out one `\n` before anything else (see `Source::prime`).
    pub(super) prime: bool,
    /// Whether the last byte taken (or dropped as blank) is a CR, so that an LF after it ends
    /// no line.
    pub(super) prev_cr: bool,
    /// Line ends of the blank lines dropped since the reader last took them (see
    /// `Source::drop_blank_lines`).
    pub(super) blank_line_ends: u64,
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Source").field("consumed", &self.consumed()).field("eof", &self.eof).finish_non_exhaustive()
    }
}

impl Read for Source {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        if std::mem::take(&mut self.prime) {
            out[0] = b'\n';
            return Ok(1);
        }
        self.drop_blank_lines();
        let cap = self.keep + self.limit + 1;
        if self.served >= cap {
            self.capped = true;
            return Ok(0);
        }
        if self.served == self.filled && !self.eof {
            self.refill()?;
        }
        let cap = self.keep + self.limit + 1;
        let n = (self.filled - self.served).min(out.len()).min(cap - self.served);
        out[..n].copy_from_slice(&self.buf[self.served..self.served + n]);
        self.served += n;
        Ok(n)
    }
}

impl Source {
    pub(super) fn new(file: File, chunk: usize, limit: usize) -> Source {
        let chunk = chunk.max(1);
        Source {
            file,
            buf: vec![0; chunk],
            base: 0,
            filled: 0,
            served: 0,
            keep: 0,
            eof: false,
            chunk,
            limit,
            capped: false,
            prime: false,
            prev_cr: false,
            blank_line_ends: 0,
        }
    }

    /// Stops keeping the blank lines served since the last record: csv_core skips them, so
    /// they are no part of the record being read and count neither toward its limit nor in
    /// memory (a file may hold any number of them). Their line ends go to `blank_line_ends`.
    /// `buf[keep]` starts a record, or is blank only when it was served after this last ran:
    /// each byte is looked at once.
    fn drop_blank_lines(&mut self) {
        let served = &self.buf[self.keep..self.served];
        let blank = served.iter().position(|&b| b != b'\n' && b != b'\r').unwrap_or(served.len());
        if blank > 0 {
            self.blank_line_ends += tally(&served[..blank], &mut self.prev_cr).line_ends;
            self.keep += blank;
        }
    }

    /// Drops a UTF-8 BOM at the start of the file.
    pub(super) fn skip_bom(&mut self) -> std::io::Result<()> {
        while self.filled < UTF8_BOM.len() && !self.eof {
            self.refill()?;
        }
        if self.buf[..self.filled].starts_with(UTF8_BOM) {
            self.keep = UTF8_BOM.len();
            self.served = UTF8_BOM.len();
        }
        Ok(())
    }

    /// Prepares for a new CSV reader. csv_core drops a BOM at the start of its first input, but
    /// only the file's very first bytes may be a BOM (`Source::skip_bom`): the reader is handed
    /// a blank line of its own first, which it skips. Returns the file offset minus the reader's
    /// byte position (modulo 2^64: the extra byte may make it "negative").
    pub(super) fn prime(&mut self) -> u64 {
        self.prime = true;
        self.consumed().wrapping_sub(1)
    }

    /// File offset up to which records were taken.
    pub(super) fn consumed(&self) -> u64 {
        self.base + self.keep as u64
    }

    /// Where in `buf` the bytes from the last record's end (or the blank lines after it that
    /// are still kept) to file offset `end` (the end of the record just read) are; they are no
    /// longer kept afterwards.
    pub(super) fn take(&mut self, end: u64) -> std::ops::Range<usize> {
        let start = self.keep;
        self.keep = (end - self.base) as usize;
        start..self.keep
    }

    /// Drops `buf[..keep]`, grows the buffer when little room is left, and reads once more.
    pub(super) fn refill(&mut self) -> std::io::Result<()> {
        if self.keep > 0 {
            self.buf.copy_within(self.keep..self.filled, 0);
            self.base += self.keep as u64;
            self.filled -= self.keep;
            self.served -= self.keep;
            self.keep = 0;
        }
        if self.buf.len() - self.filled < self.chunk.div_ceil(4) {
            let size = (self.buf.len() * 2).max(self.filled + self.chunk).min(self.limit + 1 + self.chunk);
            self.buf.resize(size, 0);
        }
        let room = (self.buf.len() - self.filled).min(self.chunk);
        loop {
            match self.file.read(&mut self.buf[self.filled..self.filled + room]) {
                Ok(0) => self.eof = true,
                Ok(n) => self.filled += n,
                Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(err),
            }
            return Ok(());
        }
    }

    /// Skips the record starting at `keep` (at a non-blank byte) to its end as csv_core sees it,
    /// keeping none of it. Returns the line ends it held (and sets `prev_cr`).
    pub(super) fn skip_record(&mut self) -> std::io::Result<u64> {
        let mut parser = csv_core::Reader::new();
        let _ = parser.read_record(b"\n", &mut [0], &mut [0]); // no BOM handling here
        let (mut out, mut ends) = ([0u8; 4096], [0usize; 64]);
        let (mut line_ends, mut prev_cr) = (0, false);
        let mut pos = self.keep;
        loop {
            let input = if pos < self.filled || self.eof { &self.buf[pos..self.filled] } else { &[][..] };
            let stalled = input.is_empty() && !self.eof;
            if !stalled {
                let (result, nin, _, _) = parser.read_record(input, &mut out, &mut ends);
                pos += nin;
                match result {
                    csv_core::ReadRecordResult::Record | csv_core::ReadRecordResult::End => break,
                    csv_core::ReadRecordResult::OutputFull | csv_core::ReadRecordResult::OutputEndsFull => continue,
                    csv_core::ReadRecordResult::InputEmpty if self.eof => continue,
                    csv_core::ReadRecordResult::InputEmpty => {}
                }
            }
            line_ends += tally(&self.buf[self.keep..pos], &mut prev_cr).line_ends;
            self.keep = pos;
            self.served = self.served.max(pos);
            self.refill()?;
            pos = self.keep;
        }
        line_ends += tally(&self.buf[self.keep..pos], &mut prev_cr).line_ends;
        self.keep = pos;
        self.served = pos;
        self.prev_cr = prev_cr;
        Ok(line_ends)
    }
}
