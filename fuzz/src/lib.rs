//! Shared helpers for the devdist fuzz targets: a scratch folder per process and a panic hook
//! that lets the Parquet reader's own `catch_unwind` guard do its job.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, Once};

/// A scratch folder for this fuzzing process: on /dev/shm when there is one (fast), else the
/// system temp folder. Created once, emptied by the targets between runs; folders left by
/// processes that are gone are removed.
pub fn scratch(target: &str) -> PathBuf {
    let base = if Path::new("/dev/shm").is_dir() { PathBuf::from("/dev/shm") } else { std::env::temp_dir() };
    let prefix = format!("devdist-fuzz-{target}-");
    // Fork mode and `cmin` start many short-lived processes: remove the folders of dead ones.
    if let Ok(entries) = std::fs::read_dir(&base) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(pid) = name.strip_prefix(&prefix).and_then(|pid| pid.parse::<u32>().ok()) else { continue };
            if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    let dir = base.join(format!("{prefix}{}", std::process::id()));
    if !dir.is_dir() {
        std::fs::create_dir_all(&dir).expect("cannot create the scratch folder");
    }
    dir
}

/// Removes every entry of `dir` (the folder itself stays).
pub fn clear(dir: &Path) {
    for entry in std::fs::read_dir(dir).expect("cannot list the scratch folder") {
        let path = entry.expect("cannot list the scratch folder").path();
        if path.is_dir() && !path.is_symlink() {
            std::fs::remove_dir_all(&path).expect("cannot clear the scratch folder");
        } else {
            std::fs::remove_file(&path).expect("cannot clear the scratch folder");
        }
    }
}

/// Names in `dir`, sorted.
pub fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("cannot list the scratch folder")
        .map(|entry| entry.expect("cannot list the scratch folder").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// libfuzzer-sys's panic hook aborts on every panic, even one the code under test catches on
/// purpose: `devdist_formats` wraps the Parquet crate's reader in `catch_unwind` and turns its
/// panics into "corrupt Parquet file" errors, which is fine for a fuzzer. `only_uncaught_panics`
/// runs `body` with a hook that just remembers the panic message; a panic that escapes `body`
/// (nobody in devdist caught it) prints that message and aborts, so it is still a crash. Caught
/// panics are counted and, with `DEVDIST_FUZZ_SHOW_CAUGHT=1`, printed. With
/// `DEVDIST_FUZZ_STRICT_PANICS=1` every panic aborts (libfuzzer-sys's default).
///
/// `DEVDIST_FUZZ_KNOWN_PANICS` (comma-separated substrings, e.g. `dictionary_array.rs:1050`)
/// names panics already reported: an escaping panic whose message (which starts with its
/// `file:line`) contains one of them is counted and ignored, so a long run can look past a
/// known bug (the call then returns `None`). Unset, every escaping panic is a crash.
pub fn only_uncaught_panics<T>(body: impl FnOnce() -> T) -> Option<T> {
    static ONCE: Once = Once::new();
    let strict = std::env::var_os("DEVDIST_FUZZ_STRICT_PANICS").is_some_and(|v| v == "1");
    if strict {
        return Some(body());
    }
    ONCE.call_once(|| {
        let show = std::env::var_os("DEVDIST_FUZZ_SHOW_CAUGHT").is_some_and(|v| v == "1");
        std::panic::set_hook(Box::new(move |info| {
            let message = format!("{info}");
            if show {
                eprintln!("devdist-fuzz: panic (caught?): {message}");
            }
            CAUGHT.fetch_add(1, Ordering::Relaxed);
            *LAST_PANIC.lock().unwrap_or_else(|e| e.into_inner()) = Some(message);
        }));
    });
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)) {
        Ok(value) => Some(value),
        Err(payload) => {
            let message = LAST_PANIC.lock().unwrap_or_else(|e| e.into_inner()).take();
            let known = std::env::var("DEVDIST_FUZZ_KNOWN_PANICS").unwrap_or_default();
            let text = message.as_deref().unwrap_or("");
            if known.split(',').any(|k| !k.is_empty() && text.contains(k)) {
                KNOWN.fetch_add(1, Ordering::Relaxed);
                drop(payload);
                return None;
            }
            eprintln!("devdist-fuzz: uncaught panic: {}", message.as_deref().unwrap_or("(no message)"));
            std::process::abort();
        }
    }
}

static LAST_PANIC: Mutex<Option<String>> = Mutex::new(None);
static CAUGHT: AtomicU64 = AtomicU64::new(0);
static KNOWN: AtomicU64 = AtomicU64::new(0);

/// Known panics ignored so far (see [`only_uncaught_panics`]).
pub fn known_panics() -> u64 {
    KNOWN.load(Ordering::Relaxed)
}

/// Panics so far that devdist caught itself (see [`only_uncaught_panics`]).
pub fn caught_panics() -> u64 {
    CAUGHT.load(Ordering::Relaxed)
}
