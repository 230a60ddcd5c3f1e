//! The byte codec of spooled records: fixed-width little-endian numbers and length-prefixed text.

/// Appends fixed-width numbers and length-prefixed text to a record.
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
    /// Text, length first.
    pub(crate) fn str(&mut self, text: &str) -> &mut Self {
        self.u32(text.len() as u32);
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
    /// Text, as bytes.
    pub(crate) fn bytes(&mut self) -> &'a [u8] {
        let len = self.u32() as usize;
        let (text, rest) = self.0.split_at(len);
        self.0 = rest;
        text
    }
    /// Text.
    pub(crate) fn str(&mut self) -> &'a str {
        std::str::from_utf8(self.bytes()).expect("spooled text was a str")
    }
}
