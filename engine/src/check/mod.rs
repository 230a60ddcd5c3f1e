//! Stage 1: every record checked on its own (docs/inputs.md §6.1), on any thread. A record either becomes
//! a [`Candidate`] (compact, secrets kept only in the batch's arena) or a [`Reject`].

pub(crate) mod parallel;
pub(crate) mod signature;

use std::fmt::Write as _;

use devdist_formats::{ByteRecord, Field, Layout, RecordBatch};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::dictionary::{Cache, SharedDictionaries};
use crate::names::{check_device_name, check_device_secret, check_product_key, is_safe_name, is_usual_device_secret};
use crate::plan::catalog::InstanceId;
use crate::plan::{Plan, Strategy, TargetSetId, TargetSets};
use crate::reason::Reason;
use crate::record::{AT_SOURCE, Billed, Candidate, Destination, Name, Reject, Text, push};
use signature::{Login, Mismatch};

/// One worker's caches of the [`SharedDictionaries`], and a scratch buffer for keys.
#[derive(Debug, Default)]
pub(crate) struct Caches {
    products: Cache,
    destinations: Cache,
    billed: Cache,
    key: String,
}

/// The outcome of stage 1 for one batch of records.
#[derive(Debug, Default)]
pub struct CheckedBatch {
    /// Index of the file in the plan.
    pub file: u32,
    /// Input sequence (0-based, across all files) of the batch's first record.
    pub first_seq: u64,
    /// 1-based record number of the batch's first record in its file.
    pub first_record: u64,
    /// Records read.
    pub records: u64,
    /// Backing store of every `Text` in `candidates`.
    pub arena: String,
    /// Records that passed, in input order.
    pub candidates: Vec<Candidate>,
    /// Records that failed, in input order.
    pub rejects: Vec<Reject>,
    /// Non-empty cells per runtime column of the file (in [`Layout::runtime_columns`] order).
    pub runtime_cells: Vec<u64>,
}

/// What stage 1 keeps of each device secret for the stages after it.
#[derive(Clone)]
pub enum Secrets {
    /// The secret itself, for the device manifests.
    Keep,
    /// With `--redact-secrets`: only a keyed fingerprint (HMAC-SHA256 under a key drawn for
    /// this run and never written), so the secret is never spooled, and duplicates still tell
    /// equal secrets from different ones. No output depends on the fingerprint's value.
    Fingerprint(Hmac<Sha256>),
}

impl Secrets {
    /// Fingerprints under a fresh random key (from the standard library's per-process
    /// random hash keys, which come from the operating system).
    pub fn fingerprint() -> Secrets {
        use std::hash::BuildHasher as _;
        let state = std::hash::RandomState::new();
        let mut key = [0u8; 32];
        for (at, part) in key.chunks_exact_mut(8).enumerate() {
            part.copy_from_slice(&state.hash_one(at).to_le_bytes());
        }
        Secrets::Fingerprint(Hmac::new_from_slice(&key).expect("HMAC takes a key of any length"))
    }

    /// What is kept of `secret`, appended to `arena`.
    fn keep(&self, secret: &str, arena: &mut String) -> Text {
        match self {
            Secrets::Keep => push(arena, secret),
            Secrets::Fingerprint(key) => {
                let start = arena.len();
                let tag = key.clone().chain_update(secret.as_bytes()).finalize().into_bytes();
                for byte in &tag[..16] {
                    let _ = write!(arena, "{byte:02x}");
                }
                Text::of(arena, start)
            }
        }
    }
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key stays out of debug output.
        f.write_str(match self {
            Secrets::Keep => "Keep",
            Secrets::Fingerprint(_) => "Fingerprint",
        })
    }
}

/// Checks the records of one file; built once per file, shared by the worker threads.
#[derive(Debug)]
pub(crate) struct Checker<'p> {
    plan: &'p Plan,
    layout: &'p Layout,
    dictionaries: &'p SharedDictionaries,
    secrets: &'p Secrets,
    file: u32,
}

/// The known fields of a record, as text (empty when the column is absent).
struct Fields<'r>([&'r str; Field::ALL.len()]);

impl<'r> Fields<'r> {
    fn get(&self, field: Field) -> &'r str {
        self.0[field.index()]
    }
}

type Check<T> = Result<T, (Reason, String)>;

impl<'p> Checker<'p> {
    /// A checker for file number `file` of `plan`, whose header is `layout`, keeping
    /// `secrets` of each device secret.
    pub(crate) fn new(
        plan: &'p Plan,
        layout: &'p Layout,
        dictionaries: &'p SharedDictionaries,
        secrets: &'p Secrets,
        file: u32,
    ) -> Checker<'p> {
        Checker { plan, layout, dictionaries, secrets, file }
    }

    /// Checks every record of `batch`, whose first record has input sequence `first_seq`.
    pub(crate) fn check_batch(&self, batch: &RecordBatch, first_seq: u64, caches: &mut Caches, out: &mut CheckedBatch) {
        out.file = self.file;
        out.first_seq = first_seq;
        out.first_record = batch.first_record;
        out.records = batch.len as u64;
        out.arena.clear();
        out.candidates.clear();
        out.candidates.reserve_exact(batch.len);
        out.rejects.clear();
        out.runtime_cells.clear();
        out.runtime_cells.resize(self.layout.runtime_columns().len(), 0);
        for (i, record) in batch.records().iter().enumerate() {
            let seq = first_seq + i as u64;
            let number = batch.first_record + i as u64;
            let line = batch.lines[i];
            let verdict = match batch.problems.get(i).copied().flatten() {
                Some(problem) => Err((Reason::MalformedRecord, problem.to_string())),
                None => self.check(record, out),
            };
            match verdict {
                Ok(checked) => {
                    let candidate = self.admit(checked, (i as u32, line), caches, &mut out.arena);
                    out.candidates.push(candidate);
                }
                Err((reason, detail)) => {
                    // A broken record's fields are whatever a lenient reading made of it: none
                    // is quoted back.
                    let structural =
                        record.len() != self.layout.width() || batch.problems.get(i).is_some_and(Option::is_some);
                    let cell = |field: Field| match (structural, self.layout.column(field)) {
                        (false, Some(column)) => String::from_utf8_lossy(&record[column]).into_owned(),
                        _ => String::new(),
                    };
                    out.rejects.push(Reject {
                        seq,
                        file: self.file,
                        record: number,
                        line,
                        product_key: cell(Field::ProductKey),
                        device_name: cell(Field::DeviceName),
                        reason,
                        detail,
                    });
                }
            }
        }
    }

    fn check<'r>(&self, record: &'r ByteRecord, out: &mut CheckedBatch) -> Check<Checked<'r>>
    where
        'p: 'r,
    {
        let fields = self.fields(record)?;
        for (count, &column) in out.runtime_cells.iter_mut().zip(self.layout.runtime_columns()) {
            *count += u64::from(!record[column].is_empty());
        }
        for field in [Field::ProductKey, Field::DeviceName, Field::DeviceSecret, Field::SourceInstance] {
            if fields.get(field).is_empty() {
                return Err((Reason::MissingField, format!("{} is empty", field.name())));
            }
        }
        let product_key = fields.get(Field::ProductKey);
        let device_name = fields.get(Field::DeviceName);
        let secret = fields.get(Field::DeviceSecret);
        check_product_key(product_key).map_err(|p| (Reason::InvalidProductKey, p))?;
        check_device_name(device_name).map_err(|p| (Reason::InvalidDeviceName, p))?;
        check_device_secret(secret).map_err(|p| (Reason::InvalidDeviceSecret, p))?;
        self.check_signature(&fields, product_key, device_name, secret)?;

        let catalog = &self.plan.catalog;
        let source_name = fields.get(Field::SourceInstance);
        let source = catalog.find(source_name).ok_or_else(|| {
            (Reason::UnknownSourceInstance, format!("source_instance {source_name:?} is not in the instance catalog"))
        })?;
        let row_target = fields.get(Field::TargetInstance);
        let row_target = match row_target {
            "" => None,
            name => Some(catalog.find(name).ok_or_else(|| {
                (Reason::UnknownTargetInstance, format!("target_instance {name:?} is not in the instance catalog"))
            })?),
        };
        let instance = catalog.get(source);
        let region = fields.get(Field::SourceRegion);
        if !region.is_empty() && region != instance.region {
            let detail = format!("source_region {region:?}, but {source_name} is in {}", instance.region);
            return Err((Reason::RegionMismatch, detail));
        }
        if let Some(owner) = instance.owner_uid.as_deref().filter(|owner| *owner != self.plan.account) {
            let detail = format!("{source_name} belongs to account {owner}, not {}", self.plan.account);
            return Err((Reason::NotOwner, detail));
        }

        let row_uid = fields.get(Field::TargetUid);
        let (strategy, targets, route_uid) = match row_target {
            Some(target) => (Strategy::SpecifiedRegion, TargetSets::single(target), self.plan.account.as_str()),
            None => {
                let route = self.plan.routes.find(product_key, source, &instance.region);
                let route =
                    route.ok_or_else(|| (Reason::NoRoute, "no per-row target and no route matches".to_string()))?;
                (route.strategy, route.targets, route.target_uid.as_str())
            }
        };
        let target_uid = if row_uid.is_empty() { route_uid } else { row_uid };
        self.check_target(source, strategy, targets, target_uid)?;

        let now = match fields.get(Field::CurrentInstance) {
            "" => source_name,
            current => current,
        };
        if strategy == Strategy::SpecifiedRegion {
            let target = &catalog.get(self.plan.target_sets.get(targets)[0]).id;
            if target == now {
                return Err((Reason::AlreadyAtTarget, format!("the device is already at {target}")));
            }
        }
        // Only the plans redrive and return derive say, in this column, why a device is left
        // out; in any other plan the column is the user's and decides nothing.
        let left_out = fields.get(Field::PlatformCode);
        if !left_out.is_empty() {
            if self.plan.redrive_of.is_some() {
                return Err((Reason::RefusedByPlatform, format!("the platform refused it for good: {left_out}")));
            }
            if self.plan.return_of.is_some() {
                return Err((Reason::NotReturned, left_out.to_string()));
            }
        }
        let marks = [Field::Authorized, Field::Transferred].map(|field| (field, marking(fields.get(field))));
        let blocks_product = marks.iter().any(|&(_, mark)| mark != Marking::No);
        // A plain yes says why the product is blocked; an odd value only when there is none.
        let odd_marking = match marks.iter().any(|&(_, mark)| mark == Marking::Yes) {
            true => None,
            false => {
                marks.iter().find(|&&(_, mark)| mark == Marking::Odd).map(|&(field, _)| (field, fields.get(field)))
            }
        };
        Ok(Checked {
            product_key,
            device_name,
            secret,
            current_instance: fields.get(Field::CurrentInstance),
            current_uid: fields.get(Field::CurrentUid),
            gateway: fields.get(Field::Gateway),
            target_uid,
            source,
            strategy,
            targets,
            blocks_product,
            odd_marking,
        })
    }

    /// Structure and encoding: the record has the header's width and is UTF-8.
    fn fields<'r>(&self, record: &'r ByteRecord) -> Check<Fields<'r>> {
        if record.len() != self.layout.width() {
            let detail = format!("expected {} fields as in the header, found {}", self.layout.width(), record.len());
            return Err((Reason::MalformedRecord, detail));
        }
        // Every cell must be UTF-8 on its own: the record's bytes are validated once, then each
        // cell must start and end on a character boundary (a character split across two cells
        // is UTF-8 in neither). The fields are then slices of that one validated text.
        let cells = || (0..record.len()).filter_map(|i| record.range(i));
        let text = std::str::from_utf8(record.as_slice())
            .ok()
            .filter(|text| cells().all(|cell| text.is_char_boundary(cell.start) && text.is_char_boundary(cell.end)));
        let Some(text) = text else {
            let column = record.iter().position(|cell| std::str::from_utf8(cell).is_err()).unwrap_or(0);
            let name = &self.layout.columns()[column];
            return Err((Reason::MalformedRecord, format!("column {name:?} is not UTF-8")));
        };
        let mut fields = [""; Field::ALL.len()];
        for field in Field::ALL {
            if let Some(cell) = self.layout.column(field).and_then(|column| record.range(column)) {
                fields[field.index()] = text.get(cell).unwrap_or_default();
            }
        }
        Ok(Fields(fields))
    }

    fn check_signature(&self, fields: &Fields, product_key: &str, device_name: &str, secret: &str) -> Check<()> {
        let password = fields.get(Field::SignPassword);
        if password.is_empty() {
            return Ok(());
        }
        let login = Login {
            method: fields.get(Field::SignMethod),
            client_id: fields.get(Field::SignClientId),
            timestamp: fields.get(Field::SignTimestamp),
            password,
        };
        signature::verify(&login, product_key, device_name, secret).map_err(|mismatch| {
            let detail = match mismatch {
                Mismatch::UnknownMethod => {
                    format!("sign_method {:?} is not hmacmd5, hmacsha1 or hmacsha256", login.method)
                }
                Mismatch::Password => format!("sign_password is not the {} of this certificate", login.method.trim()),
            };
            (Reason::SignatureMismatch, detail)
        })
    }

    fn check_target(&self, source: InstanceId, strategy: Strategy, targets: TargetSetId, uid: &str) -> Check<()> {
        let catalog = &self.plan.catalog;
        let invalid = |detail: String| Err((Reason::InvalidTarget, detail));
        if !is_safe_name(uid) {
            return invalid(format!("target_uid {uid:?} is not a safe name"));
        }
        let targets = self.plan.target_sets.get(targets);
        for &target in targets {
            let id = &catalog.get(target).id;
            if !is_safe_name(id) {
                return invalid(format!("target instance {id:?} is not a safe name"));
            }
        }
        if uid != self.plan.account {
            if strategy == Strategy::NearestAccess {
                return invalid(format!(
                    "cross-account distribution to {uid} must use specified_region, not nearest_access"
                ));
            }
            if targets.contains(&source) {
                return invalid(format!(
                    "cross-account distribution to {uid} cannot stay inside {}",
                    catalog.get(source).id
                ));
            }
        }
        for &target in targets {
            let instance = catalog.get(target);
            if let Some(owner) = instance.owner_uid.as_deref().filter(|owner| *owner != uid) {
                return invalid(format!("{} belongs to account {owner}, not target_uid {uid}", instance.id));
            }
        }
        Ok(())
    }
}

/// A record that passed, borrowing from the record until it is copied into the arena.
struct Checked<'r> {
    product_key: &'r str,
    device_name: &'r str,
    secret: &'r str,
    current_instance: &'r str,
    current_uid: &'r str,
    gateway: &'r str,
    target_uid: &'r str,
    source: InstanceId,
    strategy: Strategy,
    targets: TargetSetId,
    blocks_product: bool,
    /// The authorized/transferred cell that blocks without a yes: its column and value.
    odd_marking: Option<(Field, &'r str)>,
}

/// What an `authorized` or `transferred` cell says (docs/inputs.md §3.4), in any case, trimmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Marking {
    /// Empty, `false`, `0`, `no`, `n`, `f`.
    No,
    /// `true`, `1`, `yes`, `y`, `t`.
    Yes,
    /// Anything else: it blocks too, to be safe, and the reject names it.
    Odd,
}

fn marking(cell: &str) -> Marking {
    let word = cell.trim();
    let any = |words: [&str; 5]| words.iter().any(|w| word.eq_ignore_ascii_case(w));
    if word.is_empty() || any(["false", "0", "no", "n", "f"]) {
        Marking::No
    } else if any(["true", "1", "yes", "y", "t"]) {
        Marking::Yes
    } else {
        Marking::Odd
    }
}

/// How an odd marking is named in the detail of every record it blocks: its column and its
/// value quoted and escaped, cut at 40 characters (the detail is repeated for the whole product).
fn odd_marking(field: Field, value: &str) -> String {
    match value.char_indices().nth(40) {
        Some((cut, _)) => format!("{} {:?}...", field.name(), &value[..cut]),
        None => format!("{} {value:?}", field.name()),
    }
}

impl Checker<'_> {
    /// Turns a passing record into a compact candidate, looking its strings up in the
    /// dictionaries.
    fn admit(&self, checked: Checked, (index, line): (u32, u64), caches: &mut Caches, arena: &mut String) -> Candidate {
        let dictionaries = self.dictionaries;
        let product = caches.products.id(&dictionaries.products, checked.product_key, || checked.product_key.into());
        // The keys are built by hand: `write!` here was 2 % of a worker's time.
        caches.key.clear();
        push_decimal(&mut caches.key, checked.strategy.code().into());
        caches.key.push('|');
        push_decimal(&mut caches.key, checked.targets);
        caches.key.extend(["|", checked.target_uid]);
        let destination = caches.destinations.id(&dictionaries.destinations, &caches.key, || Destination {
            strategy: checked.strategy,
            targets: checked.targets,
            uid: checked.target_uid.into(),
        });
        let billed = match checked.current_instance {
            "" => AT_SOURCE,
            instance => {
                let uid = if checked.current_uid.is_empty() { self.plan.account.as_str() } else { checked.current_uid };
                caches.key.clear();
                caches.key.extend([instance, "|", uid]);
                caches
                    .billed
                    .id(&dictionaries.billed, &caches.key, || Billed { uid: uid.into(), instance: instance.into() })
            }
        };
        Candidate {
            index,
            line,
            device_name: Name::new(checked.device_name),
            product,
            destination,
            source: checked.source,
            billed,
            secret: self.secrets.keep(checked.secret, arena),
            unusual_secret: !is_usual_device_secret(checked.secret),
            gateway: push(arena, checked.gateway),
            blocks_product: checked.blocks_product,
            odd_marking: match checked.odd_marking {
                Some((field, value)) => push(arena, &odd_marking(field, value)),
                None => Text::default(),
            },
        }
    }
}

/// Appends the decimal digits of `n`.
fn push_decimal(text: &mut String, n: u32) {
    if n >= 10 {
        push_decimal(text, n / 10);
    }
    text.push(char::from(b'0' + (n % 10) as u8));
}

#[cfg(test)]
mod tests {
    #[test]
    fn push_decimal_writes_what_display_writes() {
        for n in [0, 7, 10, 99, 1_000_003, u32::MAX] {
            let mut text = String::from("|");
            super::push_decimal(&mut text, n);
            assert_eq!(text, format!("|{n}"));
        }
    }
}
