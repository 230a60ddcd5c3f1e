//! Cancellation: a flag any thread may set, and the checkpoint every stage polls. A leaf
//! module, so that stages can poll it without depending on the output folder.

use crate::error::Error;

static CANCELLED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Asks every run in this process to stop at its next checkpoint (each batch read, each file
/// written); the run then removes its staging folder and fails with [`Error::Interrupted`].
/// Safe to call from a signal-handling thread.
pub fn cancel() {
    CANCELLED.store(true, std::sync::atomic::Ordering::SeqCst);
}

/// Fails with [`Error::Interrupted`] once [`cancel`] was called.
pub fn checkpoint() -> Result<(), Error> {
    if CANCELLED.load(std::sync::atomic::Ordering::Relaxed) { Err(Error::Interrupted) } else { Ok(()) }
}
