//! Sorting a bucket: duplicates and blocked products, with the verdict stored ahead of each record.

use crate::dictionary::Dictionaries;
use crate::error::Error;
use crate::record::{Name, SpooledDevice};
use crate::spool::{Budget, Decoder, Encoder, Records, Scratch, Spool};

use super::{Rejected, bucket_hash};

/// Stage-2 verdicts stored in a run ahead of each record: a tag byte, and for a rejected
/// record what the reject names (1 byte for most records, at most 14).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Passed duplicates and blocked products (capacity is decided later).
    Alive,
    /// `count` copies with `what` differing; `first` is the first copy's input position.
    Conflict { first: u64, count: u32, what: u8 },
    /// A later identical copy of `first`.
    Copy { first: u64 },
    /// The product is blocked by the marker at `marker`.
    Blocked { marker: u64 },
}

pub(super) const CONFLICTS: [&str; 3] =
    ["different secrets and destinations", "different secrets", "different sources or destinations"];

impl Verdict {
    pub(super) fn encode(self, out: &mut Vec<u8>) {
        let mut e = Encoder(out);
        match self {
            Verdict::Alive => e.u8(0),
            Verdict::Conflict { first, count, what } => e.u8(1).u64(first).u32(count).u8(what),
            Verdict::Copy { first } => e.u8(2).u64(first),
            Verdict::Blocked { marker } => e.u8(3).u64(marker),
        };
    }

    /// The verdict at the start of a run record, and the spooled device after it.
    fn split(record: &[u8]) -> (Verdict, &[u8]) {
        let mut d = Decoder(record);
        let verdict = match d.u8() {
            0 => Verdict::Alive,
            1 => Verdict::Conflict { first: d.u64(), count: d.u32(), what: d.u8() },
            2 => Verdict::Copy { first: d.u64() },
            _ => Verdict::Blocked { marker: d.u64() },
        };
        (verdict, d.0)
    }

    pub(super) fn decode(record: &[u8]) -> (Verdict, SpooledDevice<'_>) {
        let (verdict, device) = Verdict::split(record);
        (verdict, SpooledDevice::decode(device))
    }
}

/// The spooled device of a run record: what follows its verdict.
pub(super) fn past_verdict(record: &[u8]) -> &[u8] {
    Verdict::split(record).1
}

impl<'a> SpooledDevice<'a> {
    /// The device of a run record (past its stage-2 verdict).
    pub fn from_run(record: &'a [u8]) -> SpooledDevice<'a> {
        SpooledDevice::decode(past_verdict(record))
    }
}

/// Splits `bucket` into parts that each fit the budget's sort share, by further digits of
/// the bucket hash (`divisor` is how many parts the hash has been cut into so far), so that
/// copies of a device stay together; every record goes to exactly one part, and the parts
/// keep the bucket's order. The number of buckets comes from an estimate and is capped, so
/// a bucket can outgrow its share. A part that will not split further (copies of one
/// device, or the hash used up) is sorted whole.
pub(super) fn split(bucket: Spool, divisor: u64, budget: &Budget, scratch: &Scratch) -> Result<Vec<Spool>, Error> {
    let size = bucket.size();
    if size <= budget.sort_share {
        return Ok(vec![bucket]);
    }
    let count = size.div_ceil(budget.sort_share).saturating_add(1).min(budget.fan_in as u64);
    let mut parts: Vec<Spool> = (0..count).map(|_| scratch.spool()).collect();
    let mut reader = bucket.reader(budget.read_buffer)?;
    while reader.advance()? {
        let record = reader.current();
        let (product, name, _) = SpooledDevice::key(record);
        let part = bucket_hash(product, name.as_str().as_bytes()) / divisor % count;
        parts[part as usize].push(record)?;
    }
    drop(reader);
    drop(bucket);
    parts.retain(|part| part.size() > 0);
    if parts.len() == 1 {
        return Ok(parts);
    }
    let divisor = divisor.saturating_mul(count);
    let mut fitting = Vec::new();
    for part in parts {
        fitting.extend(split(part, divisor, budget, scratch)?);
    }
    Ok(fitting)
}

/// Sorts one bucket by (product key, device name, input order) and decides duplicates and
/// blocked products; rejected records are marked in `rejected`.
pub(super) fn sort_bucket(
    bucket: Spool,
    interned: &Dictionaries,
    blocked: &[Option<u64>],
    rejected: &Rejected,
    mut run: Spool,
) -> Result<Spool, Error> {
    let bytes = bucket.into_bytes()?;
    let mut keyed: Vec<(u32, Name, u64, &[u8])> = Records { bytes: &bytes }
        .map(|record| {
            let (product, name, seq) = SpooledDevice::key(record);
            (interned.product_rank(product), name, seq, record)
        })
        .collect();
    keyed.sort_unstable_by_key(|&(rank, name, seq, _)| (rank, name, seq));

    let mut verdicts = vec![Verdict::Alive; keyed.len()];
    let mut start = 0;
    for group in keyed.chunk_by(|a, b| (a.0, a.1) == (b.0, b.1)) {
        let verdicts = &mut verdicts[start..start + group.len()];
        start += group.len();
        if let [(_, _, first, head), rest @ ..] = group {
            if rest.is_empty() {
                continue;
            }
            let head = SpooledDevice::decode(head);
            let others = || rest.iter().map(|(_, _, _, record)| SpooledDevice::decode(record));
            // With --redact-secrets these are the secrets' keyed fingerprints (check::Secrets).
            let secrets_differ = others().any(|other| other.secret != head.secret);
            let destinations_differ =
                others().any(|other| (other.destination, other.source) != (head.destination, head.source));
            if secrets_differ || destinations_differ {
                let what = match (secrets_differ, destinations_differ) {
                    (true, true) => 0,
                    (true, false) => 1,
                    _ => 2,
                };
                verdicts.fill(Verdict::Conflict { first: *first, count: group.len() as u32, what });
            } else {
                verdicts[1..].fill(Verdict::Copy { first: *first });
            }
        }
    }
    for (&(_, _, seq, record), verdict) in keyed.iter().zip(&mut verdicts) {
        if *verdict == Verdict::Alive
            && let Some(Some(marker)) = blocked.get(SpooledDevice::product(record) as usize)
        {
            *verdict = Verdict::Blocked { marker: *marker };
        }
        if *verdict != Verdict::Alive {
            rejected.insert(seq);
        }
        run.push_with(|out| {
            verdict.encode(out);
            out.extend_from_slice(record);
        })?;
    }
    Ok(run)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The longest verdict, in bytes.
    const VERDICT_BYTES: usize = 14;

    fn device(product: u32, name: &str, seq: u64) -> Vec<u8> {
        let device = SpooledDevice {
            seq,
            line: seq + 2,
            product,
            destination: 0,
            billed: 0,
            source: 0,
            blocks_product: false,
            unusual_secret: false,
            device_name: name,
            secret: "0123456789abcdef0123456789abcdef",
            gateway: "",
        };
        let mut bytes = Vec::new();
        device.encode(&mut bytes);
        bytes
    }

    /// Every record of `spool`, in order.
    fn records(spool: &Spool) -> Vec<Vec<u8>> {
        let mut reader = spool.reader(4096).unwrap();
        let mut records = Vec::new();
        while reader.advance().unwrap() {
            records.push(reader.current().to_vec());
        }
        records
    }

    /// A scratch folder for a 1 MiB budget on one thread: a 128 KiB sort share, spools that
    /// continue on disk past 512 KiB.
    fn small_budget() -> (tempfile::TempDir, Budget, Scratch) {
        let dir = tempfile::tempdir().unwrap();
        let budget = Budget::new(1 << 20, 1 << 20, 1, 1024);
        let scratch = Scratch::create(dir.path().join("scratch"), &budget).unwrap();
        (dir, budget, scratch)
    }

    #[test]
    fn a_bucket_over_its_sort_share_splits_into_parts_that_fit_and_keep_copies_together() {
        let (_dir, budget, scratch) = small_budget();
        let mut bucket = scratch.spool();
        let mut all = Vec::new();
        // 20 000 devices of 7 products (~1.6 MB), every tenth with a second copy later on.
        for seq in 0..22_000u64 {
            let n = if seq >= 20_000 { (seq - 20_000) * 10 } else { seq };
            let record = device((n % 7) as u32, &format!("dev-{n:06}"), seq);
            bucket.push(&record).unwrap();
            all.push(record);
        }
        assert!(bucket.size() > 10 * budget.sort_share);

        let parts = split(bucket, 3, &budget, &scratch).unwrap();
        assert!(parts.len() > 10);
        let mut part_of = std::collections::HashMap::new();
        let mut seen = Vec::new();
        for (index, part) in parts.iter().enumerate() {
            assert!(part.size() <= budget.sort_share, "part {index}: {} bytes", part.size());
            let records = records(part);
            let seqs: Vec<u64> = records.iter().map(|r| SpooledDevice::key(r).2).collect();
            assert!(seqs.is_sorted(), "part {index} keeps the bucket's order");
            for record in records {
                let (product, name, _) = SpooledDevice::key(&record);
                let first = *part_of.entry((product, name)).or_insert(index);
                assert_eq!(first, index, "both copies of {} are in one part", name.as_str());
                seen.push(record);
            }
        }
        seen.sort();
        all.sort();
        assert!(seen == all, "every record is in exactly one part");
    }

    #[test]
    fn copies_of_one_device_cannot_be_split_and_stay_whole() {
        let (_dir, budget, scratch) = small_budget();
        let mut bucket = scratch.spool();
        for seq in 0..5_000 {
            bucket.push(&device(1, "the-same-device", seq)).unwrap();
        }
        let size = bucket.size();
        assert!(size > budget.sort_share);
        let parts = split(bucket, 3, &budget, &scratch).unwrap();
        assert_eq!(parts.len(), 1);
        assert_eq!((parts[0].size(), records(&parts[0]).len()), (size, 5_000));
    }

    #[test]
    fn every_verdict_round_trips_and_the_device_follows_it() {
        let device = SpooledDevice {
            seq: 5,
            line: 6,
            product: 1,
            destination: 2,
            billed: 3,
            source: 4,
            blocks_product: false,
            unusual_secret: true,
            device_name: "dev-0005",
            secret: "secret",
            gateway: "",
        };
        let verdicts = [
            Verdict::Alive,
            Verdict::Conflict { first: u64::MAX, count: u32::MAX, what: 2 },
            Verdict::Copy { first: 1 << 50 },
            Verdict::Blocked { marker: 77 },
        ];
        for verdict in verdicts {
            let mut bytes = Vec::new();
            verdict.encode(&mut bytes);
            assert!(bytes.len() <= VERDICT_BYTES, "{verdict:?}");
            let at = bytes.len();
            device.encode(&mut bytes);
            assert_eq!(past_verdict(&bytes), &bytes[at..], "{verdict:?}");
            assert_eq!(Verdict::decode(&bytes), (verdict, device));
            assert_eq!(SpooledDevice::from_run(&bytes), device);
        }
    }
}
