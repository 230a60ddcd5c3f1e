//! The final file: the products' runs merged in product key order (each run is sorted by
//! device name), written inside the journal folder, fsync'd, then renamed into place beside
//! with export.json; the journal folder is removed last.

use std::collections::HashMap;
use std::fs;
use std::io::Read;
use std::path::Path;

use devdist_formats::{ColumnType, Format, TableWriter, Value, shown};
use rustix::fs::RenameFlags;
use sha2::Digest;

use crate::info::{Calls, ExportInfo, Flagged, ProductSummary};
use crate::journal::{self, Journal, Record, info_of};
use crate::sweep::{self, GATEWAY_COLUMN, Product};
use crate::{Error, Exported, Options};

/// The instance IDs' alphabet: letters, digits, `-` and `_`, 1 to 64 of them.
fn valid_instance(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Checks the arguments and the output path before anything is called: the instance IDs and
/// product keys, the format (from the extension), and that `out` may be written: not a link,
/// not a folder, not an existing file unless `--force` and export.json beside it says
/// `devdist export` wrote it.
pub fn check_out(options: &Options) -> Result<Format, Error> {
    if options.instances.is_empty() {
        return Err(Error::Invocation("give at least one --instance".into()));
    }
    for id in &options.instances {
        if !valid_instance(id) {
            return Err(Error::Invocation(format!(
                "--instance {} is not an instance ID (letters, digits, - and _, 1 to 64 of them)",
                shown(id)
            )));
        }
    }
    for key in &options.products {
        if let Err(problem) = devdist_engine::check_product_key(key) {
            return Err(Error::Invocation(format!("--product {}: {problem}", shown(key))));
        }
    }
    let out = &options.out;
    let format = match out.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
        Some("csv") => Format::Csv,
        Some("parquet") => Format::Parquet,
        _ => return Err(Error::Invocation(format!("--out {} must end in .csv or .parquet", shown(out)))),
    };
    // An export stopped while it placed its files: they are its own, and it finishes.
    if let Some(sha) = journal::finished(out)
        && fs::symlink_metadata(out).is_ok_and(|m| m.is_file())
        && sha256_of(out).is_ok_and(|s| s == sha)
    {
        return Ok(format);
    }
    let info = info_of(out);
    match fs::symlink_metadata(&info) {
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => return Err(Error::output(&info, err)),
        Ok(meta) if !meta.is_file() => return Err(Error::output(&info, "is in the way: not a file devdist wrote")),
        Ok(_) if !options.force => {
            return Err(Error::output(&info, "exists: --force replaces the files an earlier `devdist export` wrote"));
        }
        Ok(_) if fs::read(&info).ok().and_then(|t| serde_json::from_slice::<ExportInfo>(&t).ok()).is_none() => {
            return Err(Error::output(&info, "exists and is not an export.json: devdist does not replace it"));
        }
        Ok(_) => {}
    }
    match fs::symlink_metadata(out) {
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(format),
        Err(err) => Err(Error::output(out, err)),
        Ok(meta) if meta.file_type().is_symlink() => {
            Err(Error::output(out, "is a symbolic link: devdist writes no file through a link"))
        }
        Ok(meta) if meta.is_dir() => Err(Error::output(out, "is a folder: --out names the file to write")),
        Ok(_) if !options.force => Err(Error::output(out, "exists: --force replaces a file `devdist export` wrote")),
        Ok(meta) if !meta.is_file() => Err(Error::output(out, "is not a regular file: devdist does not replace it")),
        Ok(_) => match written_by_export(out) {
            true => Ok(format),
            false => Err(Error::output(
                out,
                format!(
                    "exists and {} beside it does not vouch for it (its SHA-256): devdist replaces only a file it \
                     wrote",
                    shown(info_of(out).file_name().unwrap_or_default())
                ),
            )),
        },
    }
}

/// Whether export.json beside `out` names `out`'s SHA-256.
fn written_by_export(out: &Path) -> bool {
    let Ok(text) = fs::read(info_of(out)) else { return false };
    let Ok(info) = serde_json::from_slice::<ExportInfo>(&text) else { return false };
    sha256_of(out).is_ok_and(|sha| sha == info.sha256)
}

fn sha256_of(path: &Path) -> std::io::Result<String> {
    let mut file = fs::File::open(path)?;
    let mut hasher = sha2::Sha256::new();
    let mut buffer = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::with_capacity(64), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

const INFO_INSIDE: &str = "export.json";

/// Writes the file and export.json inside the journal folder (unless a run before this one
/// did), renames both into place and removes the folder.
pub fn finish(
    client: &devdist_platform::Client,
    options: &Options,
    journal: &mut Journal,
    products: &[Product],
    format: Format,
    seconds: f64,
) -> Result<Exported, Error> {
    let inside = journal.path(&format!("out.{}", format.extension()));
    let info_inside = journal.path(INFO_INSIDE);
    let finished = journal.records.iter().find_map(|r| match r {
        Record::Finished { sha256 } => Some(sha256.clone()),
        _ => None,
    });
    let info = match finished {
        Some(_) => read_info(&info_inside).or_else(|_| read_info(&info_of(&options.out)))?,
        None => {
            let info = write_file(client, options, journal, products, format, &inside, seconds)?;
            journal::write_lines(&info_inside, [&info])?;
            journal.append(Record::Finished { sha256: info.sha256.clone() })?;
            info
        }
    };
    let out = &options.out;
    let placed = fs::symlink_metadata(out).is_ok_and(|m| m.is_file()) && sha256_of(out).is_ok_and(|s| s == info.sha256);
    if !placed {
        let flags = if options.force { RenameFlags::empty() } else { RenameFlags::NOREPLACE };
        devdist_engine::rename(&inside, out, flags).map_err(|e| Error::output(out, e))?;
    }
    let info_path = info_of(out);
    if info_inside.exists() {
        fs::rename(&info_inside, &info_path).map_err(|e| Error::output(&info_path, e))?;
    }
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        let _ = fs::File::open(parent).and_then(|dir| dir.sync_all());
    }
    fs::remove_dir_all(&journal.dir).map_err(|e| Error::output(&journal.dir, e))?;
    Ok(Exported { info, out: out.clone(), info_path })
}

fn read_info(path: &Path) -> Result<ExportInfo, Error> {
    let text = fs::read(path).map_err(|e| Error::output(path, e))?;
    let line = text.split(|b| *b == b'\n').next().unwrap_or_default();
    serde_json::from_slice(line).map_err(|e| Error::output(path, e))
}

fn write_file(
    client: &devdist_platform::Client,
    options: &Options,
    journal: &Journal,
    products: &[Product],
    format: Format,
    inside: &Path,
    seconds: f64,
) -> Result<ExportInfo, Error> {
    let done: HashMap<usize, &journal::ProductDone> = journal
        .records
        .iter()
        .filter_map(|r| match r {
            Record::Done { product, done } => Some((*product, done)),
            _ => None,
        })
        .collect();
    // Every sub-device's gateway, from every gateway product's topology: memory grows with
    // the sub-devices (about 100 bytes each).
    let mut gateways: HashMap<(String, String), String> = HashMap::new();
    for index in done.keys() {
        let edges: Vec<(String, String, String)> = journal::read_lines(&journal.path(&sweep::topo_name(*index)))?;
        for (product_key, device_name, gateway) in edges {
            gateways.entry((product_key, device_name)).or_insert(gateway);
        }
    }
    let _ = fs::remove_file(inside);
    let file = devdist_formats::create_new(inside, true).map_err(|e| Error::output(inside, e))?;
    let columns = sweep::columns();
    let types = vec![ColumnType::Str; columns.len()];
    let mut writer = TableWriter::with_types(file, format, &columns, &types).map_err(|e| Error::output(inside, e))?;
    let mut info = ExportInfo {
        file: options.out.file_name().unwrap_or_default().to_string_lossy().into_owned(),
        format: format.to_string(),
        endpoint: client.endpoint().to_string(),
        instances: options.instances.clone(),
        only_products: options.products.clone(),
        seconds,
        ..ExportInfo::default()
    };
    for (index, product) in products.iter().enumerate() {
        if let Some(reason) = &product.flagged {
            info.flagged.push(Flagged {
                product_key: product.key.clone(),
                auth_type: product.auth_type.clone(),
                reason: reason.clone(),
            });
            continue;
        }
        let Some(what) = done.get(&index) else {
            return Err(Error::output(&journal.dir, format!("product {} was never swept", shown(&product.key))));
        };
        let run = journal.path(&sweep::run_name(index));
        journal::for_each_line(&run, |mut row: Vec<String>| {
            if row.len() != columns.len() {
                return Err(Error::output(&run, format!("a row of {} cells, not {}", row.len(), columns.len())));
            }
            if let Some(gateway) = gateways.get(&(row[0].clone(), row[1].clone())) {
                row[GATEWAY_COLUMN] = devdist_engine::safe_cell(gateway).into_owned();
            }
            let cells: Vec<Value> = row.iter().map(|c| Value::Str(c)).collect();
            writer.write_row(&cells).map_err(|e| Error::output(inside, e))
        })?;
        info.products.push(ProductSummary {
            product_key: product.key.clone(),
            instances: product.instances.clone(),
            gateway: product.gateway,
            device_count: product.device_count,
            devices: what.rows,
            sweeps: what.sweeps,
            consistent: what.consistent,
            changes: what.changes.clone(),
        });
        info.unread.extend(what.problems.iter().cloned());
    }
    let written = writer.finish().map_err(|e| Error::output(inside, e))?;
    fs::File::open(inside).and_then(|f| f.sync_all()).map_err(|e| Error::output(inside, e))?;
    info.sha256 = written.sha256;
    info.rows = written.rows;
    for (action, calls) in client.stats().apis {
        let calls = Calls { calls: calls.calls, retries: calls.retries, throttled: calls.throttled };
        info.calls.insert(action.name().to_string(), calls);
    }
    Ok(info)
}
