//! `devdist generate` (docs/plan-folder.md §1.1): a synthetic inventory, instance catalog and plan of any size,
//! byte-identical for a seed.
//!
//! The inventory is CSV (`devices.csv`) or Parquet (`devices.parquet`). Records are streamed:
//! CSV lines are rendered straight into one reused output chunk, Parquet rows go through
//! [`TableWriter`] (bounded column chunks and row groups), so memory does not grow with
//! `devices`; only the product table (about one product per thousand devices) and a small ring
//! of recent records (for deliberate duplicates and gateways) are kept.
//!
//! Both formats hold the same records for the same options, drawn from the same random stream,
//! except the `malformed_record` ones: a Parquet table cannot hold a ragged row, broken quoting
//! or bytes that are not UTF-8, so there each of them becomes another stage-1 reject (missing
//! field, bad device name, unknown instance, region, owner or target) built from the very
//! record the CSV breaks. The bad-record count stays the same and every other reason code is
//! still reached; only `malformed_record` is absent.
//!
//! The layout is built so that the plan's rules give a predictable outcome:
//! - sources are the public `iotx-oxssharez200` and three Enterprise instances of the account;
//! - routes: `to-beijing` (specified_region, quota-limited when `bad_rate > 0`), `global-nearest`
//!   (nearest_access over three regions), `partner` (cross-account) and `default`
//!   (specified_region catch-all over the account's source instances);
//! - an Enterprise instance of the account that no route matches (`no_route` records use it),
//!   and one of another account (`not_owner`);
//! - with `bad_rate == 0` every record is accepted; otherwise a `bad_rate` share of the records
//!   is broken, cycling through every reason code, and about 1 % of the devices (at most
//!   `bad_rate` of them) overflow the quota of the Beijing instance.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use devdist_formats::{ColumnType, Format, TableWriter, Value};
use hmac::{Hmac, KeyInit, Mac};

use devdist_engine::{Error, Reason, StagedFiles};

/// Options of `devdist generate`.
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    /// Inventory records to write.
    pub devices: u64,
    /// Seed of the generator: the same options give byte-identical files.
    pub seed: u64,
    /// Share of records (0.0..=1.0) deliberately broken, spread over every reason code.
    pub bad_rate: f64,
    /// Share of records (0.0..=1.0) carrying `sign_*` columns (the CLI passes 1.0 by default).
    pub signed_rate: f64,
    /// The inventory's format: `devices.csv` or `devices.parquet` (all columns text, empty
    /// cells as empty strings). For the same options both hold the same records, except that
    /// the CSV's `malformed_record` records become other stage-1 rejects in Parquet (see the
    /// module documentation). JSON Lines is not an inventory format: an invocation error.
    pub format: Format,
    /// Replace existing files (else refuse them).
    pub replace: bool,
}

impl Default for GenerateOptions {
    /// 1,000 clean, unsigned CSV records of seed 1, replacing what is there.
    fn default() -> GenerateOptions {
        GenerateOptions { devices: 1000, seed: 1, bad_rate: 0.0, signed_rate: 0.0, format: Format::Csv, replace: true }
    }
}

/// What was written.
#[derive(Debug, Clone)]
pub struct Generated {
    /// `plan.toml`.
    pub plan: PathBuf,
    /// `devices.csv` or `devices.parquet`.
    pub inventory: PathBuf,
    /// `instances.csv`.
    pub instances: PathBuf,
    /// Data records in the inventory (= `devices`).
    pub records: u64,
    /// Bytes of the inventory.
    pub bytes: u64,
}

const ACCOUNT: &str = "1234567890123456";
const PARTNER_UID: &str = "2345678901234567";
const FOREIGN_UID: &str = "9876543210987654";

/// Sources of the account's devices: (instance, region, edition, cumulative weight in %).
const SOURCES: [(&str, &str, &str, u64); 4] = [
    ("iotx-oxssharez200", "cn-shanghai", "public", 50),
    ("iot-06z00sh01", "cn-shanghai", "standard", 70),
    ("iot-06z00sz01", "cn-shenzhen", "premium", 90),
    ("iot-06z00hz01", "cn-hangzhou", "exclusive", 100),
];
/// Enterprise target of `to-beijing`; the only instance with a finite quota (bad runs only).
const BEIJING: (&str, &str) = ("iot-06z00bj01", "cn-beijing");
/// Enterprise candidate of `global-nearest`, also a per-row target.
const EUROPE: (&str, &str) = ("iot-06z00eu01", "eu-central-1");
/// Candidates of `global-nearest`: three distinct regions.
const NEAREST: [&str; 3] = ["iotx-oxssharez300", "iotx-oxssharez500", EUROPE.0];
/// Target of the cross-account route, owned by [`PARTNER_UID`].
const PARTNER: (&str, &str) = ("iot-06z00pt01", "ap-southeast-1");
/// Target of the catch-all route.
const DEFAULT_TARGET: &str = "iotx-oxssharez600";
/// Per-row targets of valid records.
const ROW_TARGETS: [&str; 2] = ["iotx-oxssharez400", EUROPE.0];
/// Where "return to source" devices are now.
const ELSEWHERE: &str = "iotx-oxssharez700";
/// Enterprise instance of another account (`not_owner`).
const FOREIGN: (&str, &str) = ("iot-06z00ft01", "cn-shanghai");
/// Enterprise instance of the account that no route matches (`no_route`).
const ORPHAN: (&str, &str) = ("iot-06z00ar01", "cn-shenzhen");
const UNKNOWN_SOURCE: &str = "iot-06z00xx01";
const UNKNOWN_TARGET: &str = "iot-06z00zz01";

/// The inventory's columns, in file order: the cells of [`Row::cells`].
const COLUMNS: [&str; 21] = [
    "product_key",
    "device_name",
    "device_secret",
    "source_instance",
    "source_region",
    "current_instance",
    "current_uid",
    "target_instance",
    "target_uid",
    "authorized",
    "transferred",
    "gateway",
    "sign_client_id",
    "sign_method",
    "sign_timestamp",
    "sign_password",
    "status",
    "last_online",
    "shadow",
    "tags",
    "firmware",
];

const DEVICE_KINDS: [&[u8]; 4] = [b"meter", b"sensor", b"tracker", b"lock"];
const ALNUM: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const RING: usize = 64;
/// CSV output is written in chunks of this size.
const CHUNK: usize = 4 << 20;

/// The most records [`generate`] writes: about ten million products' worth (the
/// product table and the plan grow with the count).
pub const MAX_DEVICES: u64 = 10_000_000_000;

/// Writes `dir/devices.csv` (or `.parquet`), `dir/instances.csv` and `dir/plan.toml`,
/// creating `dir` if needed, refusing to replace existing files unless `options.replace`. The
/// files are written beside their final names and moved into place only when all three are
/// complete, so a failed or cancelled run ([`devdist_engine::cancel`]) leaves nothing partial.
pub fn generate(options: &GenerateOptions, dir: &Path) -> Result<Generated, Error> {
    let (format, replace) = (options.format, options.replace);
    for (name, rate) in [("bad rate", options.bad_rate), ("signed rate", options.signed_rate)] {
        if !(0.0..=1.0).contains(&rate) {
            return Err(Error::invocation(format!("the {name} must be between 0 and 1, not {rate}")));
        }
    }
    if format == Format::Jsonl {
        return Err(Error::invocation("a generated inventory is csv or parquet, not jsonl"));
    }
    if options.devices > MAX_DEVICES {
        return Err(Error::invocation(format!("--devices {}: at most {MAX_DEVICES} records", options.devices)));
    }
    let mut generator = Generator::new(options, format);
    let inventory_name = generator.inventory.clone();
    let names = [inventory_name.as_str(), "instances.csv", "plan.toml"];
    let staged = StagedFiles::create(dir, &names, replace)?;
    let (inventory, instances, plan) = (staged.path(names[0]), staged.path(names[1]), staged.path(names[2]));

    let write_err = |err| Error::output(&inventory, err);
    let mut sink = Sink::create(format, &inventory).map_err(write_err)?;
    for index in 0..options.devices {
        if index % 4096 == 0 {
            devdist_engine::checkpoint()?;
        }
        let emit = generator.record(index);
        sink.write(generator.emitted(emit), emit).map_err(write_err)?;
    }
    let bytes = sink.finish().map_err(write_err)?;

    fs::write(&instances, generator.catalog()).map_err(|err| Error::output(&instances, err))?;
    fs::write(&plan, generator.plan()).map_err(|err| Error::output(&plan, err))?;
    let generated = Generated {
        plan: staged.target(names[2]),
        inventory: staged.target(names[0]),
        instances: staged.target(names[1]),
        records: options.devices,
        bytes,
    };
    staged.commit(&names)?;
    Ok(generated)
}

/// Where the records go.
#[derive(Debug)]
enum Sink {
    /// CSV lines rendered into `chunk`, written out whenever it fills.
    Csv { file: File, chunk: Vec<u8>, bytes: u64 },
    /// Parquet: [`TableWriter`] buffers a bounded chunk of rows and one row group at most.
    Parquet { table: TableWriter, path: PathBuf },
}

impl Sink {
    /// Creates `path` and writes the header (CSV) or fixes the schema (Parquet, all text).
    fn create(format: Format, path: &Path) -> io::Result<Sink> {
        let file = File::create(path)?;
        if format == Format::Parquet {
            let types = [ColumnType::Str; COLUMNS.len()];
            let table = TableWriter::with_types(file, format, &COLUMNS, &types)?;
            return Ok(Sink::Parquet { table, path: path.to_path_buf() });
        }
        let mut chunk = Vec::with_capacity(CHUNK + (64 << 10));
        for (i, column) in COLUMNS.iter().enumerate() {
            if i > 0 {
                chunk.push(b',');
            }
            chunk.extend_from_slice(column.as_bytes());
        }
        chunk.push(b'\n');
        Ok(Sink::Csv { file, chunk, bytes: 0 })
    }

    /// Appends `row`, broken as [`Emit::Malformed`] asks (CSV only).
    fn write(&mut self, row: &Row, emit: Emit) -> io::Result<()> {
        match self {
            Sink::Csv { file, chunk, bytes } => {
                let start = chunk.len();
                row.render(chunk);
                if let Emit::Malformed(variant) = emit {
                    break_line(chunk, start, variant);
                }
                if chunk.len() >= CHUNK {
                    file.write_all(chunk)?;
                    *bytes += chunk.len() as u64;
                    chunk.clear();
                }
                Ok(())
            }
            Sink::Parquet { table, .. } => {
                let cells = row.cells();
                let mut values = [Value::Str(""); COLUMNS.len()];
                for (value, (cell, column)) in values.iter_mut().zip(cells.iter().zip(COLUMNS)) {
                    let text = std::str::from_utf8(cell).map_err(|_| {
                        io::Error::new(io::ErrorKind::InvalidData, format!("{column} is not UTF-8 (a generator bug)"))
                    })?;
                    *value = Value::Str(text);
                }
                table.write_row(&values)
            }
        }
    }

    /// Writes what is left; returns the file's size in bytes.
    fn finish(self) -> io::Result<u64> {
        match self {
            Sink::Csv { mut file, chunk, bytes } => {
                file.write_all(&chunk)?;
                Ok(bytes + chunk.len() as u64)
            }
            Sink::Parquet { table, path } => {
                table.finish()?;
                Ok(fs::metadata(&path)?.len())
            }
        }
    }
}

/// Breaks the CSV line that starts at `line[start]` as malformed variant `variant` asks: a
/// field too few, a field too many, or (variant 2, bytes that are not UTF-8) left whole.
fn break_line(line: &mut Vec<u8>, start: usize, variant: u64) {
    match variant % 4 {
        0 => {
            // A field too few.
            let cut = line[start..].iter().rposition(|&b| b == b',').map_or(start, |at| start + at);
            line.truncate(cut);
            line.push(b'\n');
        }
        1 => {
            line.pop();
            line.extend_from_slice(b",extra\n");
        }
        3 => {
            // Cut after the fifth field.
            let cut = line[start..]
                .iter()
                .enumerate()
                .filter(|(_, b)| **b == b',')
                .nth(4)
                .map_or(start, |(at, _)| start + at);
            line.truncate(cut);
            line.push(b'\n');
        }
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------------
// Randomness: xoshiro256** seeded through splitmix64.

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[derive(Debug, Clone)]
struct Rng {
    s: [u64; 4],
}

impl Rng {
    fn new(seed: u64) -> Rng {
        let mut state = seed;
        Rng { s: [(); 4].map(|()| splitmix64(&mut state)) }
    }

    fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in `0..n` (`n > 0`).
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// True with probability `p`.
    fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && ((self.next_u64() >> 11) as f64) * (1.0 / (1u64 << 53) as f64) < p
    }

    /// `n` characters of `A-Z a-z 0-9`.
    fn alnum(&mut self, buf: &mut Vec<u8>, n: usize) {
        let mut left = n;
        while left > 0 {
            let mut x = self.next_u64();
            for _ in 0..left.min(10) {
                buf.push(ALNUM[(x % 62) as usize]);
                x /= 62;
            }
            left -= left.min(10);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Number formatting without allocation.

fn push_padded(buf: &mut Vec<u8>, n: u64, width: usize) {
    let mut digits = 1;
    let mut rest = n / 10;
    while rest > 0 {
        digits += 1;
        rest /= 10;
    }
    buf.extend(std::iter::repeat_n(b'0', width.saturating_sub(digits)));
    devdist_formats::push_int(buf, n);
}

/// `YYYY-MM-DDTHH:MM:SSZ` for seconds since the Unix epoch.
fn push_datetime(buf: &mut Vec<u8>, seconds: u64) {
    let (days, secs) = ((seconds / 86_400) as i64, seconds % 86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    push_padded(buf, year as u64, 4);
    buf.push(b'-');
    push_padded(buf, month as u64, 2);
    buf.push(b'-');
    push_padded(buf, day as u64, 2);
    buf.push(b'T');
    push_padded(buf, secs / 3600, 2);
    buf.push(b':');
    push_padded(buf, secs / 60 % 60, 2);
    buf.push(b':');
    push_padded(buf, secs % 60, 2);
    buf.push(b'Z');
}

// ---------------------------------------------------------------------------------------------
// Signatures (docs/inputs.md §5.3), straight into a reused buffer.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    Sha256,
    Sha1,
    Md5,
}

impl Method {
    fn name(self) -> &'static str {
        match self {
            Method::Sha256 => "hmacsha256",
            Method::Sha1 => "hmacsha1",
            Method::Md5 => "hmacmd5",
        }
    }
}

fn mac_hex<M: Mac + KeyInit>(secret: &[u8], parts: [&[u8]; 4], upper: bool, out: &mut Vec<u8>) {
    let digits: &[u8; 16] = if upper { b"0123456789ABCDEF" } else { b"0123456789abcdef" };
    for byte in devdist_engine::login_mac::<M>(parts, secret).finalize().into_bytes() {
        out.push(digits[usize::from(byte >> 4)]);
        out.push(digits[usize::from(byte & 15)]);
    }
}

// ---------------------------------------------------------------------------------------------
// Records.

/// Where a valid record goes, as the duplicate and topology rules compare it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Dest {
    Beijing,
    Nearest,
    Partner,
    #[default]
    Default,
    Row(u8),
    Return(u8),
}

/// Which route a normal product takes (by its index).
fn route_of(product: usize) -> Dest {
    match product % 10 {
        0 | 1 => Dest::Beijing,
        2 | 3 => Dest::Nearest,
        4 => Dest::Partner,
        _ => Dest::Default,
    }
}

/// One inventory record, as logical values: [`Row::render`] quotes what CSV needs quoted
/// (`shadow` and some `tags`), Parquet takes the values as they are.
#[derive(Debug, Clone, Default)]
struct Row {
    product_key: Vec<u8>,
    device_name: Vec<u8>,
    secret: Vec<u8>,
    source: usize,
    source_instance: &'static str,
    source_region: &'static str,
    current_instance: &'static str,
    current_uid: &'static str,
    target_instance: &'static str,
    target_uid: &'static str,
    authorized: &'static str,
    transferred: &'static str,
    gateway: Vec<u8>,
    sign_client_id: Vec<u8>,
    sign_method: &'static str,
    method: Option<Method>,
    upper_hex: bool,
    sign_timestamp: Vec<u8>,
    sign_password: Vec<u8>,
    status: &'static str,
    last_online: Vec<u8>,
    shadow: Vec<u8>,
    tags: Vec<u8>,
    firmware: Vec<u8>,
    dest: Dest,
}

impl Row {
    /// The cells, one per [`COLUMNS`] entry.
    fn cells(&self) -> [&[u8]; COLUMNS.len()] {
        [
            &self.product_key,
            &self.device_name,
            &self.secret,
            self.source_instance.as_bytes(),
            self.source_region.as_bytes(),
            self.current_instance.as_bytes(),
            self.current_uid.as_bytes(),
            self.target_instance.as_bytes(),
            self.target_uid.as_bytes(),
            self.authorized.as_bytes(),
            self.transferred.as_bytes(),
            &self.gateway,
            &self.sign_client_id,
            self.sign_method.as_bytes(),
            &self.sign_timestamp,
            &self.sign_password,
            self.status.as_bytes(),
            &self.last_online,
            &self.shadow,
            &self.tags,
            &self.firmware,
        ]
    }

    /// Appends the record as a CSV line to `line`, quoting the cells that need it. A cell that
    /// is not UTF-8 (only a malformed record has one) is written as it is.
    fn render(&self, line: &mut Vec<u8>) {
        for (i, cell) in self.cells().iter().enumerate() {
            if i > 0 {
                line.push(b',');
            }
            match std::str::from_utf8(cell) {
                Ok(text) => devdist_formats::push_csv_field(line, text),
                Err(_) => line.extend_from_slice(cell),
            }
        }
        line.push(b'\n');
    }

    /// Recomputes `sign_password` for the current certificate (no-op when unsigned).
    fn resign(&mut self) {
        self.sign_password.clear();
        let Some(method) = self.method else { return };
        let parts = [&self.sign_client_id[..], &self.device_name, &self.product_key, &self.sign_timestamp];
        match method {
            Method::Sha256 => {
                mac_hex::<Hmac<sha2::Sha256>>(&self.secret, parts, self.upper_hex, &mut self.sign_password)
            }
            Method::Sha1 => mac_hex::<Hmac<sha1::Sha1>>(&self.secret, parts, self.upper_hex, &mut self.sign_password),
            Method::Md5 => mac_hex::<Hmac<md5::Md5>>(&self.secret, parts, self.upper_hex, &mut self.sign_password),
        }
    }

    /// Whether this (valid) record reaches the quota check of the Beijing instance.
    fn to_beijing(&self) -> bool {
        self.dest == Dest::Beijing
    }
}

/// The reasons the generator builds bad records for, in rule order: every reason but those
/// only a re-drive gives. Bad records take them in turn.
const CYCLE: [Reason; producible_count()] = {
    let mut cycle = [Reason::MalformedRecord; producible_count()];
    let (mut from, mut to) = (0, 0);
    while from < Reason::ALL.len() {
        if !Reason::ALL[from].redrive_only() {
            cycle[to] = Reason::ALL[from];
            to += 1;
        }
        from += 1;
    }
    cycle
};

const fn producible_count() -> usize {
    let (mut count, mut at) = (0, 0);
    while at < Reason::ALL.len() {
        count += !Reason::ALL[at].redrive_only() as usize;
        at += 1;
    }
    count
}

/// Stage-1 rejects that stand in for `malformed_record` in Parquet. Each is spoiled from the
/// record the CSV would break (a default draw) without drawing anything more, so the random
/// stream, and every later record, stays the same as in the CSV.
const MALFORMED_STANDINS: [Reason; 7] = [
    Reason::MissingField,
    Reason::InvalidDeviceName,
    Reason::UnknownSourceInstance,
    Reason::UnknownTargetInstance,
    Reason::RegionMismatch,
    Reason::NotOwner,
    Reason::InvalidTarget,
];

/// What [`Generator::record`] made; [`Generator::emitted`] gives the row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Emit {
    /// The current row.
    Row,
    /// The current row, to be broken as a CSV line as malformed variant `.0` says.
    Malformed(u64),
    /// An identical copy of ring entry `.0`.
    Copy(usize),
}

/// A recent valid record, kept for duplicates and gateways.
#[derive(Debug, Clone, Default)]
struct Saved {
    row: Row,
    /// Already copied by a duplicate (or not a plain valid record).
    used: bool,
}

/// How a valid record is drawn.
#[derive(Debug, Clone, Copy, Default)]
struct Draw {
    /// Force a product of this route.
    route: Option<Dest>,
    /// No per-row target, no current instance, no gateway, no unusual names.
    plain: bool,
}

#[derive(Debug)]
struct Generator {
    rng: Rng,
    devices: u64,
    seed: u64,
    bad_rate: f64,
    signed_rate: f64,
    /// Whether records may be broken as CSV lines (`malformed_record`); false for Parquet.
    csv: bool,
    /// The inventory's file name, for the plan.
    inventory: String,
    products: Vec<[u8; 11]>,
    blocked: [[u8; 11]; 3],
    blocked_marked: [bool; 3],
    short: [[u8; 10]; 2],
    row: Row,
    ring: Vec<Saved>,
    ring_next: usize,
    bad_count: u64,
    variant: [u64; Reason::ALL.len()],
    /// Records that reach the Beijing quota check, in a run of the plan.
    beijing: u64,
    /// Records per source instance.
    per_source: [u64; SOURCES.len()],
}

fn key<const N: usize>(seed: u64, salt: u64, prefix: &[u8; 2]) -> [u8; N] {
    let mut rng = Rng::new(seed ^ salt.wrapping_mul(0xD1B5_4A32_D192_ED03));
    let mut buf = Vec::with_capacity(N);
    buf.extend_from_slice(prefix);
    rng.alnum(&mut buf, N - 2);
    buf.try_into().expect("N characters")
}

impl Generator {
    fn new(options: &GenerateOptions, format: Format) -> Generator {
        // About 1,000 products per million devices; a multiple of 10 so every route has some.
        let count = options.devices.div_ceil(1000).max(20).div_ceil(10) * 10;
        let seed = splitmix64(&mut options.seed.clone());
        let products = (0..count).map(|p| key::<11>(seed, p + 1, b"a1")).collect();
        Generator {
            rng: Rng::new(options.seed),
            devices: options.devices,
            seed: options.seed,
            bad_rate: options.bad_rate,
            signed_rate: options.signed_rate,
            csv: format == Format::Csv,
            inventory: format!("devices.{}", format.extension()),
            products,
            blocked: [0, 1, 2].map(|i| key::<11>(seed, u64::MAX - i, b"k1")),
            blocked_marked: [false; 3],
            short: [0, 1].map(|i| key::<10>(seed, u64::MAX - 10 - i, b"a2")),
            row: Row::default(),
            ring: Vec::with_capacity(RING),
            ring_next: 0,
            bad_count: 0,
            variant: [0; Reason::ALL.len()],
            beijing: 0,
            per_source: [0; SOURCES.len()],
        }
    }

    /// Draws record number `index` (0-based).
    fn record(&mut self, index: u64) -> Emit {
        if self.rng.chance(self.bad_rate) {
            let kind = CYCLE[(self.bad_count % CYCLE.len() as u64) as usize];
            self.bad_count += 1;
            return self.bad(index, kind);
        }
        self.valid(index, Draw::default());
        if self.row.to_beijing() {
            self.beijing += 1;
        }
        if index.is_multiple_of(16) {
            self.save();
        }
        Emit::Row
    }

    /// The row that `emit` (from the last [`Generator::record`]) stands for.
    fn emitted(&self, emit: Emit) -> &Row {
        match emit {
            Emit::Row | Emit::Malformed(_) => &self.row,
            Emit::Copy(at) => &self.ring[at].row,
        }
    }

    fn save(&mut self) {
        if self.ring.len() < RING {
            self.ring.push(Saved::default());
        }
        let slot = &mut self.ring[self.ring_next];
        self.ring_next = (self.ring_next + 1) % RING;
        slot.row.clone_from(&self.row);
        slot.used = false;
    }

    /// A ring entry not yet copied that satisfies `ok`, searched from a random start.
    fn pick(&mut self, ok: impl Fn(&Saved) -> bool) -> Option<usize> {
        if self.ring.is_empty() {
            return None;
        }
        let start = self.rng.below(self.ring.len() as u64) as usize;
        (0..self.ring.len())
            .map(|k| (start + k) % self.ring.len())
            .find(|&at| !self.ring[at].used && ok(&self.ring[at]))
    }

    fn next_variant(&mut self, kind: Reason) -> u64 {
        let slot = &mut self.variant[kind as usize];
        *slot += 1;
        *slot - 1
    }

    /// Fills `self.row` with a valid record for device number `index`.
    fn valid(&mut self, index: u64, draw: Draw) {
        let rng = &mut self.rng;
        let row = &mut self.row;
        let count = self.products.len() as u64;
        let product = match draw.route {
            None => rng.below(count) as usize,
            Some(route) => {
                let base = rng.below(count / 10) as usize * 10;
                base + match route {
                    Dest::Beijing => rng.below(2) as usize,
                    Dest::Nearest => 2 + rng.below(2) as usize,
                    Dest::Partner => 4,
                    _ => 5 + rng.below(5) as usize,
                }
            }
        };
        row.dest = route_of(product);
        row.product_key.clear();
        if !draw.plain && rng.below(1000) == 0 {
            // A valid but unusual 10-character key (unusual_product_key); routed by default.
            row.product_key.extend_from_slice(&self.short[rng.below(2) as usize]);
            row.dest = Dest::Default;
        } else {
            row.product_key.extend_from_slice(&self.products[product]);
        }
        row.device_name.clear();
        row.device_name.extend_from_slice(DEVICE_KINDS[product % DEVICE_KINDS.len()]);
        row.device_name.push(b'-');
        push_padded(&mut row.device_name, index, 8);
        row.secret.clear();
        let unusual_secret = !draw.plain && rng.below(1000) == 0;
        rng.alnum(&mut row.secret, if unusual_secret { 20 } else { 32 });

        let weight = rng.below(100);
        let source = SOURCES.iter().position(|s| weight < s.3).unwrap_or(0);
        self.per_source[source] += 1;
        row.source = source;
        row.source_instance = SOURCES[source].0;
        row.source_region = if rng.below(100) < 92 { SOURCES[source].1 } else { "" };
        row.current_instance = "";
        row.current_uid = "";
        row.target_instance = "";
        row.target_uid = "";
        let roll = if draw.plain { 1000 } else { rng.below(1000) };
        if roll < 20 {
            row.target_instance = ROW_TARGETS[0];
            row.dest = Dest::Row(0);
        } else if roll < 35 {
            row.target_instance = ROW_TARGETS[1];
            row.dest = Dest::Row(1);
        } else if roll < 40 {
            // Return to source: distributed elsewhere now, sent back home.
            row.current_instance = ELSEWHERE;
            row.current_uid = if roll < 38 { ACCOUNT } else { "" };
            row.target_instance = row.source_instance;
            row.dest = Dest::Return(source as u8);
        }
        row.authorized = "false";
        row.transferred = if rng.below(4) == 0 { "" } else { "false" };

        row.gateway.clear();
        let gateway = if draw.plain { 1000 } else { rng.below(1000) };
        if gateway < 22 {
            // Mostly a gateway going the same way; a few split the topology.
            let dest = row.dest;
            let split = gateway < 2;
            let found = self.pick(|saved| {
                saved.row.dest != Dest::Beijing
                    && (saved.row.dest != dest) == split
                    && saved.row.product_key.len() == 11
            });
            if let Some(at) = found {
                let gateway = &self.ring[at].row;
                let row = &mut self.row;
                row.gateway.extend_from_slice(&gateway.product_key);
                row.gateway.push(b'/');
                row.gateway.extend_from_slice(&gateway.device_name);
            }
        }

        let signed = self.rng.chance(self.signed_rate);
        self.sign(signed);
        self.runtime();
    }

    /// Fills the `sign_*` columns (empty unless `signed`).
    fn sign(&mut self, signed: bool) {
        let rng = &mut self.rng;
        let row = &mut self.row;
        row.sign_client_id.clear();
        row.sign_timestamp.clear();
        row.sign_method = "";
        row.method = None;
        if signed {
            row.sign_client_id.extend_from_slice(&row.product_key);
            row.sign_client_id.push(b'.');
            row.sign_client_id.extend_from_slice(&row.device_name);
            let method = match rng.below(100) {
                0..80 => Method::Sha256,
                80..92 => Method::Sha1,
                _ => Method::Md5,
            };
            row.method = Some(method);
            row.sign_method = method.name();
            if rng.below(10) != 0 {
                devdist_formats::push_int(&mut row.sign_timestamp, 1_700_000_000_000 + rng.below(60_000_000_000));
            }
            row.upper_hex = rng.below(10) == 0;
        }
        row.resign();
    }

    /// Runtime columns: read by devdist, never written anywhere.
    fn runtime(&mut self) {
        let rng = &mut self.rng;
        let row = &mut self.row;
        let state = rng.below(100);
        row.status = match state {
            0..70 => "online",
            70..95 => "offline",
            _ => "unactive",
        };
        row.last_online.clear();
        if state < 95 {
            push_datetime(&mut row.last_online, 1_704_067_200 + rng.below(500 * 86_400));
        }
        row.shadow.clear();
        if state < 95 && rng.below(4) != 0 {
            let shadow = &mut row.shadow;
            let temperature = rng.below(550);
            shadow.extend_from_slice(b"{\"state\":{\"reported\":{\"temperature\":");
            if temperature < 100 {
                shadow.push(b'-');
            }
            let tenths = temperature.abs_diff(100);
            devdist_formats::push_int(shadow, tenths / 10);
            shadow.push(b'.');
            devdist_formats::push_int(shadow, tenths % 10);
            shadow.extend_from_slice(b",\"humidity\":");
            devdist_formats::push_int(shadow, 20 + rng.below(70));
            shadow.extend_from_slice(b",\"mode\":\"");
            shadow.extend_from_slice(if rng.below(3) == 0 { b"eco" } else { b"auto" });
            shadow.extend_from_slice(b"\"}},\"version\":");
            devdist_formats::push_int(shadow, 1 + rng.below(5000));
            shadow.push(b'}');
        }
        row.tags.clear();
        match rng.below(4) {
            0 => {}
            1 => {
                row.tags.extend_from_slice(b"env=prod,site=");
                row.tags.extend_from_slice(&SOURCES[row.source].1.as_bytes()[3..]);
                row.tags.push(b'-');
                push_padded(&mut row.tags, rng.below(100), 2);
            }
            _ => {
                row.tags.extend_from_slice(b"env:prod;line:");
                devdist_formats::push_int(&mut row.tags, 1 + rng.below(12));
            }
        }
        row.firmware.clear();
        row.firmware.extend_from_slice(b"v1.");
        devdist_formats::push_int(&mut row.firmware, rng.below(10));
        row.firmware.push(b'.');
        devdist_formats::push_int(&mut row.firmware, rng.below(30));
    }

    /// Draws a record built to be rejected with the reason `kind`.
    fn bad(&mut self, index: u64, kind: Reason) -> Emit {
        let variant = self.next_variant(kind);
        match kind {
            Reason::DuplicateConflict | Reason::DuplicateRecord => {
                let Some(at) = self.pick(|_| true) else {
                    // Nothing to copy yet: another stage-1 reject instead.
                    return self.bad(index, Reason::MissingField);
                };
                let saved = &mut self.ring[at];
                saved.used = true;
                if kind == Reason::DuplicateRecord {
                    // An identical later copy: only the copy is rejected.
                    return Emit::Copy(at);
                }
                // The same device with another secret: both copies are rejected.
                if saved.row.to_beijing() {
                    self.beijing -= 1;
                }
                self.row.clone_from(&saved.row);
                self.row.secret.clear();
                self.rng.alnum(&mut self.row.secret, 32);
                self.row.resign();
                return Emit::Row;
            }
            Reason::ProductBlocked | Reason::TargetCapacityExceeded | Reason::NoRoute | Reason::AlreadyAtTarget => {
                let route = if kind == Reason::TargetCapacityExceeded { Dest::Beijing } else { Dest::Default };
                self.valid(index, Draw { route: Some(route), plain: true });
            }
            _ => self.valid(index, Draw::default()),
        }
        if kind == Reason::MalformedRecord {
            if self.csv {
                if variant % 4 == 2 {
                    self.row.tags.clear();
                    self.row.tags.extend_from_slice(b"site:sh\xff\xfe-01");
                }
                return Emit::Malformed(variant);
            }
            let standins = MALFORMED_STANDINS.len() as u64;
            self.spoil(MALFORMED_STANDINS[(variant % standins) as usize], variant / standins);
        } else {
            self.spoil(kind, variant);
        }
        Emit::Row
    }

    /// Breaks the drawn valid record so that it gets the stage-1 or stage-2 reason `kind`.
    fn spoil(&mut self, kind: Reason, variant: u64) {
        let rng = &mut self.rng;
        let row = &mut self.row;
        match kind {
            Reason::MissingField => match variant % 4 {
                0 => row.product_key.clear(),
                1 => row.device_name.clear(),
                2 => row.secret.clear(),
                _ => row.source_instance = "",
            },
            Reason::InvalidProductKey => match variant % 3 {
                0 => row.product_key[4] = b'-',
                1 => rng.alnum(&mut row.product_key, 10),
                _ => row.product_key[0] = b'_',
            },
            Reason::InvalidDeviceName => match variant % 4 {
                0 => row.device_name.truncate(3),
                1 => row.device_name.insert(1, b'/'),
                2 => row.device_name.resize(33, b'0'),
                _ => {
                    row.device_name.splice(1..2, "é".bytes());
                }
            },
            Reason::InvalidDeviceSecret => match variant % 3 {
                0 => row.secret[7] = b'$',
                1 => rng.alnum(&mut row.secret, 33),
                _ => row.secret[0] = b'/',
            },
            Reason::SignatureMismatch => {
                if row.method.is_none() {
                    self.sign(true);
                }
                let rng = &mut self.rng;
                let row = &mut self.row;
                match variant % 4 {
                    0 => {
                        // Signed with another secret.
                        let secret = std::mem::take(&mut row.secret);
                        rng.alnum(&mut row.secret, 32);
                        row.resign();
                        row.secret = secret;
                    }
                    1 => row.sign_method = "hmacsha512",
                    2 => {
                        let at = rng.below(row.sign_password.len() as u64) as usize;
                        row.sign_password[at] = if row.sign_password[at] == b'0' { b'1' } else { b'0' };
                    }
                    _ => {
                        row.sign_timestamp.clear();
                        devdist_formats::push_int(&mut row.sign_timestamp, 1_600_000_000_000 + rng.below(1_000_000));
                    }
                }
            }
            Reason::UnknownSourceInstance => row.source_instance = UNKNOWN_SOURCE,
            Reason::UnknownTargetInstance => {
                row.target_instance = UNKNOWN_TARGET;
                row.current_instance = "";
                row.current_uid = "";
            }
            Reason::RegionMismatch => {
                row.source_region = if variant.is_multiple_of(2) { "us-west-1" } else { "cn-beijing" }
            }
            Reason::NotOwner => {
                row.source_instance = FOREIGN.0;
                row.source_region = if variant.is_multiple_of(2) { FOREIGN.1 } else { "" };
            }
            Reason::NoRoute => {
                // An instance of the account that no route lists, with a product that only the
                // catch-all would take.
                row.source_instance = ORPHAN.0;
                row.source_region = if variant.is_multiple_of(2) { ORPHAN.1 } else { "" };
            }
            Reason::InvalidTarget => match variant % 3 {
                0 => row.target_uid = "../x",
                1 => {
                    // The partner's instance, but for the plan's own account.
                    row.target_instance = PARTNER.0;
                    row.target_uid = "";
                    row.current_instance = "";
                }
                _ => {
                    // Another account, but an instance of the plan's account.
                    row.target_instance = BEIJING.0;
                    row.target_uid = PARTNER_UID;
                    row.current_instance = "";
                }
            },
            Reason::AlreadyAtTarget => row.target_instance = row.source_instance,
            Reason::ProductBlocked => {
                // Dedicated products: one record of each is marked, every record is blocked.
                let which = (variant % 3) as usize;
                row.product_key.clear();
                row.product_key.extend_from_slice(&self.blocked[which]);
                if !self.blocked_marked[which] {
                    self.blocked_marked[which] = true;
                    match which {
                        1 => row.transferred = "TRUE",
                        _ => row.authorized = "true",
                    }
                }
                if row.method.is_some() {
                    row.sign_client_id.clear();
                    row.sign_client_id.extend_from_slice(&row.product_key);
                    row.sign_client_id.push(b'.');
                    row.sign_client_id.extend_from_slice(&row.device_name);
                    row.resign();
                }
            }
            Reason::TargetCapacityExceeded => self.beijing += 1,
            Reason::MalformedRecord | Reason::DuplicateConflict | Reason::DuplicateRecord => {
                unreachable!("drawn whole by `bad`")
            }
            // Only `devdist redrive` gives it, from a run's results: not in CYCLE.
            Reason::RefusedByPlatform | Reason::NotReturned => unreachable!("no inventory record gets {kind:?}"),
        }
    }

    /// How many records the Beijing quota leaves out: about 1 % of the devices (at most
    /// `bad_rate` of them), never fewer than the capacity records of the bad cycle.
    fn overflow(&self) -> u64 {
        let slots = self.variant[Reason::TargetCapacityExceeded as usize];
        let share = (self.devices as f64 * self.bad_rate.min(0.01)).round() as u64;
        share.max(slots).min(self.beijing)
    }

    /// `instances.csv`.
    fn catalog(&self) -> String {
        let mut out = devdist_formats::CATALOG_COLUMNS.join(",") + "\n";
        let mut row = |id: &str, region: &str, edition: &str, owner: &str, quota: Option<u64>, in_use: u64| {
            let quota = quota.map(|q| q.to_string()).unwrap_or_default();
            out.push_str(&format!("{id},{region},{edition},{owner},{quota},{in_use}\n"));
        };
        for (i, (id, region, edition, _)) in SOURCES.iter().enumerate().skip(1) {
            row(id, region, edition, ACCOUNT, None, self.per_source[i]);
        }
        let in_use = 1000 + self.devices / 50;
        let quota = (self.bad_rate > 0.0).then(|| in_use + self.beijing - self.overflow());
        row(BEIJING.0, BEIJING.1, "premium", ACCOUNT, quota, in_use);
        row(EUROPE.0, EUROPE.1, "standard", ACCOUNT, None, 250);
        row(PARTNER.0, PARTNER.1, "standard", PARTNER_UID, None, 4000);
        row(FOREIGN.0, FOREIGN.1, "standard", FOREIGN_UID, None, 1200);
        row(ORPHAN.0, ORPHAN.1, "standard", ACCOUNT, None, 300);
        out
    }

    /// `plan.toml`.
    fn plan(&self) -> String {
        let list = |items: &mut dyn Iterator<Item = &str>| {
            let items: Vec<String> = items.map(|item| format!("  \"{item}\",\n")).collect();
            format!("[\n{}]", items.concat())
        };
        let keys = |route: Dest| {
            let mut keys = self
                .products
                .iter()
                .enumerate()
                .filter(|(p, _)| route_of(*p) == route)
                .map(|(_, key)| std::str::from_utf8(key).expect("ASCII"));
            list(&mut keys)
        };
        let sources = list(&mut SOURCES.iter().map(|s| s.0));
        let regions = {
            let mut regions: Vec<&str> = SOURCES.iter().map(|s| s.1).collect();
            regions.dedup();
            list(&mut regions.into_iter())
        };
        let targets = |targets: &[&str]| {
            let quoted: Vec<String> = targets.iter().map(|t| format!("\"{t}\"")).collect();
            format!("[{}]", quoted.join(", "))
        };
        format!(
            "# devdist generate: {devices} devices, seed {seed}, bad rate {bad}, signed rate {signed}.\n\
             account = \"{ACCOUNT}\"\n\n\
             [inputs]\n\
             inventory = [\"{inventory}\"]\n\
             instances = \"instances.csv\"\n\n\
             [limits]\n\
             devices_per_job = 10000\n\
             jobs_per_wave = 10\n\n\
             [[routes]]\n\
             name = \"to-beijing\"\n\
             strategy = \"specified_region\"\n\
             targets = {beijing}\n\
             [routes.match]\n\
             product_key = {beijing_keys}\n\
             source_instance = {sources}\n\n\
             [[routes]]\n\
             name = \"global-nearest\"\n\
             strategy = \"nearest_access\"\n\
             targets = {nearest}\n\
             [routes.match]\n\
             product_key = {nearest_keys}\n\
             source_region = {regions}\n\n\
             [[routes]]\n\
             name = \"partner\"\n\
             strategy = \"specified_region\"\n\
             targets = {partner}\n\
             target_uid = \"{PARTNER_UID}\"\n\
             [routes.match]\n\
             product_key = {partner_keys}\n\n\
             [[routes]]\n\
             name = \"default\"\n\
             strategy = \"specified_region\"\n\
             targets = {default}\n\
             [routes.match]\n\
             source_instance = {sources}\n",
            devices = self.devices,
            seed = self.seed,
            inventory = self.inventory,
            bad = self.bad_rate,
            signed = self.signed_rate,
            beijing = targets(&[BEIJING.0]),
            beijing_keys = keys(Dest::Beijing),
            nearest = targets(&NEAREST),
            nearest_keys = keys(Dest::Nearest),
            partner = targets(&[PARTNER.0]),
            partner_keys = keys(Dest::Partner),
            default = targets(&[DEFAULT_TARGET]),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(devices: u64, seed: u64, bad_rate: f64) -> GenerateOptions {
        GenerateOptions { devices, seed, bad_rate, signed_rate: 1.0, ..GenerateOptions::default() }
    }

    fn files(generated: &Generated) -> [Vec<u8>; 3] {
        [&generated.plan, &generated.inventory, &generated.instances].map(|path| fs::read(path).unwrap())
    }

    #[test]
    fn same_seed_same_bytes_other_seed_other_bytes() {
        for format in [Format::Csv, Format::Parquet] {
            let dir = tempfile::tempdir().unwrap();
            let a = generate(&GenerateOptions { format, ..options(5000, 7, 0.05) }, &dir.path().join("a")).unwrap();
            let b = generate(&GenerateOptions { format, ..options(5000, 7, 0.05) }, &dir.path().join("b")).unwrap();
            let c = generate(&GenerateOptions { format, ..options(5000, 8, 0.05) }, &dir.path().join("c")).unwrap();
            assert_eq!(a.inventory.file_name().unwrap().to_str(), Some(&*format!("devices.{format}")));
            assert_eq!(files(&a), files(&b), "{format}");
            assert_ne!(files(&a)[1], files(&c)[1], "{format}");
            assert_ne!(files(&a)[0], files(&c)[0], "{format}");
            assert_eq!(a.bytes, fs::metadata(&a.inventory).unwrap().len(), "{format}");
        }
    }

    #[test]
    fn jsonl_is_not_an_inventory_format() {
        let dir = tempfile::tempdir().unwrap();
        let err = generate(&GenerateOptions { format: Format::Jsonl, ..options(10, 1, 0.0) }, dir.path()).unwrap_err();
        assert_eq!(err.exit_code(), 2, "{err}");
        assert!(fs::read_dir(dir.path()).unwrap().next().is_none(), "nothing is written");
    }

    /// Every record of `path`, as the engine reads it, and the layout.
    fn records(path: &Path) -> (devdist_formats::Layout, Vec<devdist_formats::ByteRecord>) {
        let mut inventory = devdist_formats::Inventory::open(path).unwrap();
        let mut batch = devdist_formats::RecordBatch::default();
        let mut records = Vec::new();
        while inventory.fill(&mut batch, 4096).unwrap() {
            records.extend(batch.records().iter().cloned());
        }
        (inventory.layout().clone(), records)
    }

    #[test]
    fn parquet_holds_the_csv_records() {
        let dir = tempfile::tempdir().unwrap();
        let csv =
            generate(&GenerateOptions { format: Format::Csv, ..options(20_000, 7, 0.0) }, &dir.path().join("csv"))
                .unwrap();
        let parquet = generate(
            &GenerateOptions { format: Format::Parquet, ..options(20_000, 7, 0.0) },
            &dir.path().join("parquet"),
        )
        .unwrap();
        assert_eq!(parquet.records, 20_000);
        assert_eq!(devdist_formats::parquet_row_count(&parquet.inventory).unwrap(), 20_000);
        assert_eq!(files(&csv)[2], files(&parquet)[2], "the same catalog");
        let plan = String::from_utf8(files(&parquet)[0].clone()).unwrap();
        assert_eq!(plan, String::from_utf8(files(&csv)[0].clone()).unwrap().replace("devices.csv", "devices.parquet"));

        let (csv_layout, csv_records) = records(&csv.inventory);
        let (layout, records) = records(&parquet.inventory);
        assert_eq!(layout.columns(), csv_layout.columns());
        assert_eq!(layout.runtime_columns(), csv_layout.runtime_columns());
        assert_eq!(layout.columns().len(), COLUMNS.len());
        assert_eq!(records.len(), csv_records.len());
        let runtime = layout.runtime_columns();
        for (at, (got, want)) in records.iter().zip(&csv_records).enumerate() {
            assert_eq!(got.len(), want.len(), "record {}", at + 1);
            for (column, (got, want)) in got.iter().zip(want).enumerate() {
                if runtime.contains(&column) {
                    // Runtime cells read only as empty or not.
                    assert_eq!(got.is_empty(), want.is_empty(), "record {}, {}", at + 1, COLUMNS[column]);
                } else {
                    assert_eq!(got, want, "record {}, {}", at + 1, COLUMNS[column]);
                }
            }
        }
    }

    #[test]
    fn record_count_and_width() {
        let dir = tempfile::tempdir().unwrap();
        let generated = generate(&options(3000, 1, 0.0), dir.path()).unwrap();
        assert_eq!(generated.records, 3000);
        let mut reader = csv::ReaderBuilder::new().flexible(true).from_path(&generated.inventory).unwrap();
        let width = reader.headers().unwrap().len();
        assert_eq!(width, 21);
        let mut names = std::collections::HashSet::new();
        let mut count = 0;
        for record in reader.records() {
            let record = record.unwrap();
            assert_eq!(record.len(), width, "{record:?}");
            assert!(names.insert(format!("{}/{}", &record[0], &record[1])), "{record:?}");
            count += 1;
        }
        assert_eq!(count, 3000);
    }

    #[test]
    fn bad_records_keep_the_count() {
        let dir = tempfile::tempdir().unwrap();
        let generated = generate(&options(2000, 3, 0.5), dir.path()).unwrap();
        let text = fs::read(&generated.inventory).unwrap();
        let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(&text[..]);
        assert_eq!(reader.byte_records().count(), 2000);
    }

    #[test]
    fn signatures_verify() {
        let mut generator = Generator::new(&options(10, 1, 0.0), Format::Csv);
        for index in 0..200 {
            generator.valid(index, Draw::default());
            let row = &generator.row;
            let text = |bytes: &[u8]| String::from_utf8(bytes.to_vec()).unwrap();
            let (pk, dn, secret) = (text(&row.product_key), text(&row.device_name), text(&row.secret));
            let expected = devdist_engine::sign(
                row.sign_method,
                &text(&row.sign_client_id),
                &dn,
                &pk,
                &text(&row.sign_timestamp),
                &secret,
            )
            .unwrap();
            assert_eq!(text(&row.sign_password).to_lowercase(), expected);
        }
    }

    fn run(generated: &Generated, out: &Path) -> devdist_engine::Report {
        let options = devdist_engine::Options { threads: 2, ..devdist_engine::Options::default() };
        devdist_engine::run(&generated.plan, out, &options, &devdist_engine::NoProgress).unwrap().report
    }

    #[test]
    fn clean_run_has_no_rejects() {
        let dir = tempfile::tempdir().unwrap();
        let generated = generate(&options(20_000, 11, 0.0), &dir.path().join("in")).unwrap();
        let report = run(&generated, &dir.path().join("out"));
        assert_eq!(report.counts.read, 20_000);
        assert_eq!(report.counts.rejected, 0, "{:?}", report.counts.rejected_by_code);
        for warning in ["console_only", "topology_split", "unusual_product_key", "unusual_device_secret"] {
            assert!(report.warnings[warning] > 0, "{warning}: {:?}", report.warnings);
        }
    }

    /// rejects.csv without the columns that name the file or its lines.
    fn rejects(out: &Path, file: &str) -> Vec<[String; 5]> {
        devdist_testkit::rejects(out).iter().map(|row| row.unplaced(file)).collect()
    }

    #[test]
    fn bad_parquet_run_swaps_malformed_records_for_other_rejects() {
        let dir = tempfile::tempdir().unwrap();
        let devices = 20_000;
        let csv =
            generate(&GenerateOptions { format: Format::Csv, ..options(devices, 5, 0.1) }, &dir.path().join("csv"))
                .unwrap();
        let parquet = generate(
            &GenerateOptions { format: Format::Parquet, ..options(devices, 5, 0.1) },
            &dir.path().join("parquet"),
        )
        .unwrap();
        let csv_report = run(&csv, &dir.path().join("csv-out"));
        let report = run(&parquet, &dir.path().join("parquet-out"));
        assert_eq!(report.counts.read, devices);
        let by_code = &report.counts.rejected_by_code;
        for reason in devdist_engine::Reason::ALL.into_iter().filter(|r| !r.redrive_only()) {
            let count = by_code.get(reason.code()).copied().unwrap_or(0);
            match reason {
                devdist_engine::Reason::MalformedRecord => assert_eq!(count, 0, "{by_code:?}"),
                _ => assert!(count > 0, "{}: {by_code:?}", reason.code()),
            }
        }
        assert!(csv_report.counts.rejected_by_code["malformed_record"] > 0);
        // The same bad-record count; the same accepted devices.
        assert_eq!(report.counts.rejected, csv_report.counts.rejected);
        assert_eq!(report.counts.accepted, csv_report.counts.accepted);

        // Record by record, the same rejects, except that each CSV malformed_record is a
        // stand-in reject in Parquet.
        let standins: Vec<&str> = MALFORMED_STANDINS.iter().map(|reason| reason.code()).collect();
        let want = rejects(&dir.path().join("csv-out"), "devices.csv");
        let got = rejects(&dir.path().join("parquet-out"), "devices.parquet");
        assert_eq!(got.len(), want.len());
        for (got, want) in got.iter().zip(&want) {
            if want[3] == "malformed_record" {
                assert_eq!(got[0], want[0]);
                assert!(standins.contains(&got[3].as_str()), "{got:?}");
            } else {
                assert_eq!(got, want);
            }
        }
    }

    #[test]
    fn bad_run_hits_every_reason() {
        let dir = tempfile::tempdir().unwrap();
        let devices = 40_000;
        let generated = generate(&options(devices, 5, 0.05), &dir.path().join("in")).unwrap();
        let report = run(&generated, &dir.path().join("out"));
        assert_eq!(report.counts.read, devices);
        for reason in devdist_engine::Reason::ALL.into_iter().filter(|r| !r.redrive_only()) {
            let count = report.counts.rejected_by_code.get(reason.code()).copied().unwrap_or(0);
            assert!(count > 0, "{}: {:?}", reason.code(), report.counts.rejected_by_code);
        }
        let capacity = report.counts.rejected_by_code["target_capacity_exceeded"];
        assert_eq!(capacity, devices / 100, "{:?}", report.counts.rejected_by_code);
        let rejected = report.counts.rejected as f64 / devices as f64;
        assert!((0.05..0.08).contains(&rejected), "{rejected}");
    }

    #[test]
    fn dates_and_numbers() {
        let mut buf = Vec::new();
        push_datetime(&mut buf, 1_709_210_096);
        assert_eq!(buf, b"2024-02-29T12:34:56Z");
        buf.clear();
        push_padded(&mut buf, 42, 8);
        devdist_formats::push_int(&mut buf, 0);
        assert_eq!(buf, b"000000420");
    }
}
