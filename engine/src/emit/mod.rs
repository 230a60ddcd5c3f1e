//! The outputs of accepted devices, written from one stream: the calling thread merges the
//! sorted runs ([`Settled::for_each_accepted`]) and hands chunks of devices, each with its job,
//! to four writers on their own threads — device manifests, billing reassignments, job
//! requests and the list of warned devices — which each take the chunks in stream order.
//! (Warnings are counted apart, in `warnings.rs`: a count needs no order.)
//!
//! ```text
//!                                     ┌─▶ manifests      grants/<uid>/<instance>/devices.<fmt>
//! merge of runs ──(chunks, in order)──┼─▶ reassignments  billing/reassignments.<fmt>
//!                                     ├─▶ requests       jobs/requests.jsonl
//!                                     └─▶ warned devices warnings.csv
//! ```
//!
//! Manifests are written a window of destinations at a time ([`Slots::windows`]), so that any
//! number of destinations fits the open-file limit: the first window along with the other
//! writers, each further one in a pass of its own.

pub(crate) mod billing;
pub(crate) mod grants;
pub(crate) mod requests;
pub(crate) mod warnings;

use rustc_hash::FxHashMap as HashMap;
use std::sync::Arc;

use crossbeam_channel::{Sender, bounded};
use devdist_formats::Format;

use crate::emit::billing::Reassignments;
use crate::emit::grants::{Manifests, Slots};
use crate::emit::requests::Requests;
use crate::emit::warnings::WarnedDevices;
use crate::error::Error;
use crate::jobs::Jobs;
use crate::output::OutputDir;
use crate::plan::Plan;
use crate::record::{JobGroup, SpooledDevice};
use crate::settle::Settled;
use crate::spool::Scratch;

/// Devices per chunk.
const CHUNK: usize = 4096;
/// Chunks in flight per writer.
const IN_FLIGHT: usize = 4;

/// Accepted devices, each with the index of its job. Their text is kept in one `String`, so
/// the writers slice it and need not check it is UTF-8 again, as decoding a run record would.
#[derive(Debug, Default)]
struct Chunk {
    /// Name, secret and gateway of every device, one after another.
    text: String,
    /// Each device with its text left empty, where its gateway ends in `text`, and its job.
    devices: Vec<(SpooledDevice<'static>, [usize; 3], usize)>,
}

impl Chunk {
    fn push(&mut self, device: &SpooledDevice, job: usize) {
        let mut ends = [0; 3];
        for (end, text) in ends.iter_mut().zip([device.device_name, device.secret, device.gateway]) {
            self.text.push_str(text);
            *end = self.text.len();
        }
        self.devices.push((device.with_text("", "", ""), ends, job));
    }

    fn devices(&self) -> impl Iterator<Item = (SpooledDevice<'_>, usize)> {
        let mut start = 0;
        self.devices.iter().map(move |(device, [name, secret, gateway], job)| {
            let device =
                device.with_text(&self.text[start..*name], &self.text[*name..*secret], &self.text[*secret..*gateway]);
            start = *gateway;
            (device, *job)
        })
    }
}

/// What every writer is handed with each accepted device.
pub(crate) struct Context<'a> {
    /// The output folder being filled.
    pub out: &'a OutputDir,
    pub plan: &'a Plan,
    pub settled: &'a Settled,
    pub jobs: &'a Jobs,
}

/// An output written from the stream of accepted devices, on a thread of its own: a new
/// output is one `impl` and one [`spawn`].
pub(crate) trait Writer: Send {
    /// Writes `device`, the next accepted device in (product key, device name) order, which
    /// goes in job number `job`.
    fn add(&mut self, at: &Context<'_>, device: &SpooledDevice, job: usize) -> Result<(), Error>;
}

/// A writer's thread: the writer back once the stream has ended, ready to finish.
type Written<'scope, W> = std::thread::ScopedJoinHandle<'scope, Result<W, Error>>;

/// Starts `writer` on its own thread, taking the chunks sent to the channel it adds to
/// `senders`, in stream order.
fn spawn<'scope, 'env, W: Writer + 'scope>(
    scope: &'scope std::thread::Scope<'scope, 'env>,
    at: &'scope Context<'scope>,
    mut writer: W,
    senders: &mut Vec<Sender<Arc<Chunk>>>,
) -> Written<'scope, W> {
    let (tx, chunks) = bounded::<Arc<Chunk>>(IN_FLIGHT);
    senders.push(tx);
    scope.spawn(move || {
        for chunk in chunks {
            for (device, job) in chunk.devices() {
                writer.add(at, &device, job)?;
            }
        }
        Ok(writer)
    })
}

/// Waits for a writer's thread to end.
fn join<W>(writer: Written<'_, W>) -> Result<W, Error> {
    writer.join().expect("an output writer does not panic")
}

/// How to write.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Outputs {
    /// Format of manifests and reassignments.
    pub format: Format,
    /// Leave the secret out of device manifests.
    pub redact_secrets: bool,
}

/// Writes the manifests, reassignments, job requests and warned devices of every accepted
/// device, and lists them in `out`.
pub(crate) fn write_accepted(
    out: &mut OutputDir,
    plan: &Plan,
    settled: &Settled,
    jobs: &Jobs,
    slots: &Slots,
    scratch: &Scratch,
    outputs: Outputs,
) -> Result<(), Error> {
    let interned = &settled.interned;
    let mut windows = slots.windows();
    let first = windows.next().expect("there is always one window");
    let manifests = Manifests::create(out, plan, slots, first, outputs.format, outputs.redact_secrets)?;
    let reassignments = Reassignments::create(out, outputs.format)?;
    let requests = Requests::create(out, scratch)?;
    let warned = WarnedDevices::create(out)?;
    let at = Context { out: &*out, plan, settled, jobs };
    let finished = std::thread::scope(|scope| {
        let mut senders = Vec::new();
        let manifests = spawn(scope, &at, manifests, &mut senders);
        let reassignments = spawn(scope, &at, reassignments, &mut senders);
        let requests = spawn(scope, &at, requests, &mut senders);
        let warned = spawn(scope, &at, warned, &mut senders);
        let streamed = stream(settled, jobs, &senders);
        drop(senders);
        (streamed, join(manifests), join(reassignments), join(requests), join(warned))
    });
    let (streamed, manifests, reassignments, requests, warned) = finished;
    // A writer's own failure explains a stopped stream best: it comes first.
    let (manifests, reassignments, requests, warned) = (manifests?, reassignments?, requests?, warned?);
    streamed?;
    manifests.finish(out)?;
    reassignments.finish(out, plan, interned)?;
    requests.finish(out, jobs)?;
    warned.finish(out)?;
    for window in windows {
        let mut manifests = Manifests::create(out, plan, slots, window, outputs.format, outputs.redact_secrets)?;
        let mut job_of = JobOf::default();
        let at = Context { out: &*out, plan, settled, jobs };
        settled.for_each_accepted(|device| manifests.add(&at, device, job_of.next(jobs, device)))?;
        manifests.finish(out)?;
    }
    Ok(())
}

/// The job of each accepted device, as they stream past in (product key, device name) order.
#[derive(Debug, Default)]
struct JobOf {
    /// Devices of each job group seen so far.
    seen: HashMap<JobGroup, u64>,
}

impl JobOf {
    /// The index of `device`'s job, the device being the next one in stream order.
    fn next(&mut self, jobs: &Jobs, device: &SpooledDevice) -> usize {
        let group = device.group();
        let nth = self.seen.entry(group).or_default();
        let job = jobs.job_of(group, *nth);
        *nth += 1;
        job
    }
}

/// Merges the runs and sends every accepted device, with its job, to each writer.
fn stream(settled: &Settled, jobs: &Jobs, writers: &[Sender<Arc<Chunk>>]) -> Result<(), Error> {
    let stopped = || Error::Accounting("an output writer stopped early".to_string());
    let send = |chunk: Chunk| -> Result<(), Error> {
        let chunk = Arc::new(chunk);
        writers.iter().try_for_each(|writer| writer.send(Arc::clone(&chunk)).map_err(|_| stopped()))
    };
    let mut job_of = JobOf::default();
    let mut chunk = Chunk::default();
    settled.for_each_accepted(|device| {
        chunk.push(device, job_of.next(jobs, device));
        if chunk.devices.len() == CHUNK {
            send(std::mem::take(&mut chunk))?;
        }
        Ok(())
    })?;
    if !chunk.devices.is_empty() {
        send(chunk)?;
    }
    Ok(())
}
