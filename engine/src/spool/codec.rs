//! The byte codec of spooled records: fixed-width little-endian numbers, variable-length
//! numbers (LEB128) and text prefixed with its length as one.

/// Appends numbers and length-prefixed text to a record.
#[derive(Debug)]
pub(crate) struct Encoder<'a>(pub &'a mut Vec<u8>);

impl Encoder<'_> {
    /// A byte.
    pub(crate) fn u8(&mut self, n: u8) -> &mut Self {
        self.0.push(n);
        self
    }
    /// A 32-bit number.
    pub(crate) fn u32(&mut self, n: u32) -> &mut Self {
        self.0.extend_from_slice(&n.to_le_bytes());
        self
    }
    /// A 64-bit number.
    pub(crate) fn u64(&mut self, n: u64) -> &mut Self {
        self.0.extend_from_slice(&n.to_le_bytes());
        self
    }
    /// A number in 7-bit groups, lowest first, the last without the high bit (LEB128): one
    /// byte below 128, two below 16384. For what is usually small: lengths, line numbers.
    pub(crate) fn varint(&mut self, mut n: u64) -> &mut Self {
        while n >= 0x80 {
            self.0.push(n as u8 | 0x80);
            n >>= 7;
        }
        self.0.push(n as u8);
        self
    }
    /// Text, its length first (a varint).
    pub(crate) fn str(&mut self, text: &str) -> &mut Self {
        self.varint(text.len() as u64);
        self.0.extend_from_slice(text.as_bytes());
        self
    }
}

/// Reads what an [`Encoder`] wrote, in the same order. Spools are written and read by the
/// same run, so a short or malformed record is a bug, and panics.
#[derive(Debug)]
pub(crate) struct Decoder<'a>(pub &'a [u8]);

impl<'a> Decoder<'a> {
    fn take<const N: usize>(&mut self) -> [u8; N] {
        let (head, rest) = self.0.split_first_chunk::<N>().expect("a spooled record is complete");
        self.0 = rest;
        *head
    }
    /// A byte.
    pub(crate) fn u8(&mut self) -> u8 {
        self.take::<1>()[0]
    }
    /// A 32-bit number.
    pub(crate) fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.take())
    }
    /// A 64-bit number.
    pub(crate) fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.take())
    }
    /// A varint.
    pub(crate) fn varint(&mut self) -> u64 {
        let (mut n, mut shift) = (0u64, 0);
        loop {
            let byte = self.u8();
            n |= u64::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                return n;
            }
            shift += 7;
        }
    }
    /// A varint that an `Encoder` wrote from a u32.
    pub(crate) fn varint32(&mut self) -> u32 {
        u32::try_from(self.varint()).expect("a spooled u32 fits")
    }
    /// Text, as bytes.
    pub(crate) fn bytes(&mut self) -> &'a [u8] {
        let len = self.varint() as usize;
        let (text, rest) = self.0.split_at(len);
        self.0 = rest;
        text
    }
    /// Text.
    pub(crate) fn str(&mut self) -> &'a str {
        std::str::from_utf8(self.bytes()).expect("spooled text was a str")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_and_small_ones_take_one_byte() {
        let numbers = [0, 1, 127, 128, 16_383, 16_384, u64::from(u32::MAX), u64::MAX - 1, u64::MAX];
        let mut bytes = Vec::new();
        for &n in &numbers {
            Encoder(&mut bytes).varint(n);
        }
        Encoder(&mut bytes).str("é!");
        assert_eq!(bytes[..4], [0, 1, 127, 0x80]);
        let mut d = Decoder(&bytes);
        assert_eq!(numbers.map(|_| d.varint()), numbers);
        assert_eq!((d.str(), d.0.len()), ("é!", 0));
    }
}
