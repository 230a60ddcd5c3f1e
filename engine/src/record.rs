//! The record model every stage shares: a stage-1 candidate, a reject, the interned values
//! they refer to, and a stage-1 survivor as spooled for stage 2 (with its byte codec).

use crate::plan::catalog::InstanceId;
use crate::plan::{Strategy, TargetSetId};
use crate::reason::Reason;
use crate::spool::{Decoder, Encoder};

/// A record that passed stage 1: fixed size, strings replaced by dictionary ids, only the
/// secret and the gateway kept as text in the batch's arena.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// Position of the record in its batch (see [`CheckedBatch::first_seq`]).
    pub index: u32,
    /// Line the record starts on (0 when the format has none).
    pub line: u64,
    /// DeviceName.
    pub device_name: Name,
    /// ProductKey, as an id in [`SharedDictionaries::products`].
    pub product: u32,
    /// Destination, as an id in [`SharedDictionaries::destinations`].
    pub destination: u32,
    /// Source instance.
    pub source: InstanceId,
    /// Where the device is billed now, as an id in [`SharedDictionaries::billed`], or [`AT_SOURCE`].
    pub billed: u32,
    /// DeviceSecret, or its fingerprint (see [`Secrets`](crate::check::Secrets)).
    pub secret: Text,
    /// The secret is not the usual 32 letters and digits (a warning).
    pub unusual_secret: bool,
    /// `product_key/device_name` of its gateway, or empty.
    pub gateway: Text,
    /// Marked authorized or transferred: blocks its whole product.
    pub blocks_product: bool,
    /// When it blocks for a value that is neither yes nor no: that column and value as the
    /// reject detail names them (`authorized "maybe"`); else empty.
    pub odd_marking: Text,
}

/// A rejected record, positioned for the reject report. Holds no secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    /// Position in input order across all files.
    pub seq: u64,
    /// Index of the file in the plan.
    pub file: u32,
    /// 1-based record number in its file.
    pub record: u64,
    /// Line the record starts on (0 when the format has none).
    pub line: u64,
    /// ProductKey as read (empty when the record is structurally broken).
    pub product_key: String,
    /// DeviceName as read (empty when the record is structurally broken).
    pub device_name: String,
    /// The rule broken.
    pub reason: Reason,
    /// What exactly, without secrets.
    pub detail: String,
}

/// A slice of a batch's arena.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Text {
    start: u32,
    end: u32,
}

impl Text {
    /// The text in `arena`.
    pub fn get(self, arena: &str) -> &str {
        &arena[self.start as usize..self.end as usize]
    }

    /// What `arena` holds from `start` on.
    pub(crate) fn of(arena: &str, start: usize) -> Text {
        Text { start: start as u32, end: arena.len() as u32 }
    }
}

pub(crate) fn push(arena: &mut String, text: &str) -> Text {
    let start = arena.len();
    arena.push_str(text);
    Text::of(arena, start)
}

/// A device name stored inline (names are at most 32 ASCII characters), zero-padded, and
/// ordered as its bytes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Name([u8; 32]);

impl Name {
    /// Stores `name`, which must be at most 32 bytes.
    pub fn new(name: &str) -> Name {
        Name::from_bytes(name.as_bytes())
    }

    /// Stores the bytes of a name, at most 32.
    pub fn from_bytes(name: &[u8]) -> Name {
        let mut bytes = [0u8; 32];
        bytes[..name.len()].copy_from_slice(name);
        Name(bytes)
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        let len = self.0.iter().position(|&b| b == 0).unwrap_or(32);
        std::str::from_utf8(&self.0[..len]).unwrap_or_default()
    }

    /// The bytes as four big-endian words, which compare as the bytes do.
    fn words(&self) -> [u64; 4] {
        std::array::from_fn(|i| u64::from_be_bytes(self.0[8 * i..8 * i + 8].try_into().expect("8 bytes")))
    }
}

impl Ord for Name {
    /// Word by word: the order of the bytes in a few inlined compares, where comparing the
    /// arrays calls `memcmp` (sorting and merging compare names millions of times).
    fn cmp(&self, other: &Name) -> std::cmp::Ordering {
        self.words().cmp(&other.words())
    }
}

impl PartialOrd for Name {
    fn partial_cmp(&self, other: &Name) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// Where a device goes: strategy, target instances and account. Dictionaries: equal ids mean
/// equal destinations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// How the target is chosen.
    pub strategy: Strategy,
    /// The target instances.
    pub targets: TargetSetId,
    /// The destination account.
    pub uid: Box<str>,
}

/// Where a device that has been distributed before is billed now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Billed {
    /// `current_uid`, or the plan's account when empty.
    pub uid: Box<str>,
    /// `current_instance`.
    pub instance: Box<str>,
}

/// Id of a device that is still at its source (not in the [`Billed`] dictionary).
pub(crate) const AT_SOURCE: u32 = u32::MAX;

/// The devices that may share a job: one product of one home instance, now in one place
/// (`billed`: see `location.rs`), to one destination. Ordered by field, in id
/// order (outputs order by value: see `jobs::cut`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JobGroup {
    /// ProductKey id.
    pub product: u32,
    /// The product's home instance (the devices' `source_instance`).
    pub source: InstanceId,
    /// Where the devices are now and who is billed there: a billed id, or `AT_SOURCE`.
    pub billed: u32,
    /// Destination id.
    pub destination: u32,
}

/// A stage-1 survivor as spooled: ids for the shared values, text for the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpooledDevice<'a> {
    /// Position in input order across all files.
    pub seq: u64,
    /// Line the record starts on (0 when the format has none).
    pub line: u64,
    /// ProductKey id.
    pub product: u32,
    /// Destination id.
    pub destination: u32,
    /// Where the device is billed now, or [`AT_SOURCE`](crate::check::AT_SOURCE).
    pub billed: u32,
    /// Source instance.
    pub source: InstanceId,
    /// Marked authorized or transferred.
    pub blocks_product: bool,
    /// The secret is unusual (see [`Candidate::unusual_secret`]).
    pub unusual_secret: bool,
    /// DeviceName.
    pub device_name: &'a str,
    /// DeviceSecret, or with `--redact-secrets` its fingerprint: equal when the secrets are,
    /// and (but for a 2⁻¹²⁸ chance) only then.
    pub secret: &'a str,
    /// `product_key/device_name` of its gateway, or empty.
    pub gateway: &'a str,
}

impl<'a> SpooledDevice<'a> {
    /// The job group the device belongs to.
    pub(crate) fn group(&self) -> JobGroup {
        JobGroup { product: self.product, source: self.source, billed: self.billed, destination: self.destination }
    }

    /// The same device with other text.
    pub(crate) fn with_text<'b>(&self, device_name: &'b str, secret: &'b str, gateway: &'b str) -> SpooledDevice<'b> {
        let SpooledDevice { seq, line, product, destination, billed, source, blocks_product, unusual_secret, .. } =
            *self;
        SpooledDevice {
            seq,
            line,
            product,
            destination,
            billed,
            source,
            blocks_product,
            unusual_secret,
            device_name,
            secret,
            gateway,
        }
    }

    /// Product id, flags and name first, then the input position: the sort key is read
    /// without decoding the rest. Numbers are varints (ids are small; "at its source",
    /// u32::MAX, is stored as 0).
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        Encoder(out)
            .u32(self.product)
            .u8(u8::from(self.blocks_product) | u8::from(self.unusual_secret) << 1)
            .str(self.device_name)
            .varint(self.seq)
            .varint(u64::from(self.destination))
            .varint(u64::from(self.billed.wrapping_add(1)))
            .varint(u64::from(self.source))
            .varint(self.line)
            .str(self.secret)
            .str(self.gateway);
    }

    /// The sort key of a spooled device: (product id, device name, input position), read
    /// without decoding the rest.
    pub(crate) fn key(bytes: &[u8]) -> (u32, Name, u64) {
        let mut d = Decoder(bytes);
        let (product, _flags, name) = (d.u32(), d.u8(), d.bytes());
        (product, Name::from_bytes(name), d.varint())
    }

    /// The product id of a spooled device, read without decoding the rest.
    pub(crate) fn product(bytes: &[u8]) -> u32 {
        Decoder(bytes).u32()
    }

    pub(crate) fn decode(bytes: &'a [u8]) -> SpooledDevice<'a> {
        let mut d = Decoder(bytes);
        let (product, flags, device_name, seq) = (d.u32(), d.u8(), d.str(), d.varint());
        let (destination, billed, source, line) =
            (d.varint32(), d.varint32().wrapping_sub(1), d.varint32(), d.varint());
        SpooledDevice {
            seq,
            line,
            product,
            destination,
            billed,
            source,
            blocks_product: flags & 1 != 0,
            unusual_secret: flags & 2 != 0,
            device_name,
            secret: d.str(),
            gateway: d.str(),
        }
    }
}

pub(crate) fn encode_reject(reject: &Reject, out: &mut Vec<u8>) {
    // Reason::ALL lists the reasons in declaration order: the discriminant is the index.
    let reason = reject.reason as u8;
    Encoder(out)
        .u64(reject.seq)
        .u32(reject.file)
        .u64(reject.record)
        .u64(reject.line)
        .u8(reason)
        .str(&reject.product_key)
        .str(&reject.device_name)
        .str(&reject.detail);
}

/// Decodes a spooled reject.
pub(crate) fn decode_reject(bytes: &[u8]) -> Reject {
    let mut d = Decoder(bytes);
    let (seq, file, record, line) = (d.u64(), d.u32(), d.u64(), d.u64());
    let reason = Reason::ALL[d.u8() as usize];
    Reject {
        seq,
        file,
        record,
        line,
        product_key: d.str().to_string(),
        device_name: d.str().to_string(),
        reason,
        detail: d.str().to_string(),
    }
}

/// Input order of a spooled reject.
pub(crate) fn reject_seq(bytes: &[u8]) -> u64 {
    Decoder(bytes).u64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spooled_device_round_trips_and_its_key_reads_the_encoded_fields() {
        let device = SpooledDevice {
            seq: 0x0102_0304_0506_0708,
            line: u64::MAX - 1,
            product: 7,
            destination: u32::MAX - 3,
            billed: AT_SOURCE,
            source: 0x00AB_CDEF,
            blocks_product: true,
            unusual_secret: false,
            device_name: "dev-0001",
            secret: "s3cret",
            gateway: "a1Product/gw",
        };
        let variants = [(false, false, AT_SOURCE), (true, false, 0), (false, true, AT_SOURCE - 1), (true, true, 5)];
        for (blocks_product, unusual_secret, billed) in variants {
            let device = SpooledDevice { blocks_product, unusual_secret, billed, ..device };
            let mut bytes = Vec::new();
            device.encode(&mut bytes);
            assert_eq!(SpooledDevice::decode(&bytes), device);
            assert_eq!(SpooledDevice::key(&bytes), (device.product, Name::from_bytes(b"dev-0001"), device.seq));
        }
    }

    #[test]
    fn names_order_as_their_bytes() {
        let (long, longest) = ("x".repeat(31), "x".repeat(32));
        // Prefixes, zero padding, case, digits and punctuation, and names of 8, 9, 31 and 32
        // bytes (word boundaries of the comparison).
        let words = "a a1 a1P sensor-00000003 sensor-00000010 sensor-0000001 Sensor zz a1Product@gw:01 \
                     xxxxxxxy xxxxxxxx xxxxxxxxx 0 9:.@_-";
        let mut texts: Vec<&str> = words.split_whitespace().chain(["", &long, &longest]).collect();
        let mut names: Vec<Name> = texts.iter().map(|text| Name::new(text)).collect();
        texts.sort_unstable();
        names.sort_unstable();
        assert_eq!(names.iter().map(Name::as_str).collect::<Vec<_>>(), texts);
    }

    #[test]
    fn a_reject_round_trips_with_every_reason() {
        for reason in Reason::ALL {
            let reject = Reject {
                seq: 41,
                file: 3,
                record: 1 << 40,
                line: 99,
                product_key: "a1Product".to_string(),
                device_name: "dev é".to_string(),
                reason,
                detail: String::new(),
            };
            let mut bytes = Vec::new();
            encode_reject(&reject, &mut bytes);
            assert_eq!(decode_reject(&bytes), reject);
            assert_eq!(reject_seq(&bytes), 41);
        }
    }
}
