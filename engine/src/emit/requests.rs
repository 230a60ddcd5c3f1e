//! Job requests (docs/plan-folder.md §8.3): each job's device names collected as accepted devices stream past,
//! and one line of jobs/requests.jsonl written per job, in execution order.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::PathBuf;

use devdist_folder::RequestLine;
use devdist_formats::{HashingWriter, Written};
use devdist_platform::CreateDeviceDistributeJob;
use rustc_hash::FxHashMap as HashMap;

use crate::dictionary::Dictionaries;
use crate::emit::{Context, Writer};
use crate::error::Error;
use crate::jobs::{Job, Jobs};
use crate::output::{Access, OutputDir};
use crate::plan::Plan;
use crate::record::{Name, SpooledDevice};
use crate::spool::Scratch;

/// Where the job requests go (docs/plan-folder.md §8.3): one JSON line per job, in execution order.
pub(crate) const REQUESTS: &str = "jobs/requests.jsonl";

/// Writes [`REQUESTS`] as accepted devices stream past in (product key, device name) order.
/// A job is complete once its last device has passed; when a product has several job groups
/// they complete out of execution order, so a line that completes early is parked in a
/// scratch file until the lines before it are written. Memory holds only the names of jobs
/// not yet complete and 12 bytes per parked line.
#[derive(Debug)]
pub(crate) struct Requests {
    /// Names so far of each job not yet complete, by job index (inline: no allocation per
    /// device).
    open: HashMap<usize, Vec<Name>>,
    out: HashingWriter<BufWriter<File>>,
    /// The next job to write, by index.
    next: usize,
    /// Lines completed before their turn: job index to (offset, length) in `parked`.
    early: HashMap<usize, (u64, u32)>,
    parked: BufWriter<File>,
    parked_path: PathBuf,
    parked_len: u64,
    line: Vec<u8>,
}

impl Requests {
    /// Starts [`REQUESTS`] in `out`, parking early lines in `scratch`.
    pub(crate) fn create(out: &OutputDir, scratch: &Scratch) -> Result<Requests, Error> {
        let file = out.create_file(REQUESTS, Access::Normal)?;
        let (parked, parked_path) = scratch.file("requests")?;
        Ok(Requests {
            open: HashMap::default(),
            out: HashingWriter::new(BufWriter::with_capacity(1 << 18, file)),
            next: 0,
            early: HashMap::default(),
            parked: BufWriter::with_capacity(1 << 16, parked),
            parked_path,
            parked_len: 0,
            line: Vec::new(),
        })
    }

    /// Finishes the file and lists it in `out`; every job must have been written.
    pub(crate) fn finish(self, out: &mut OutputDir, jobs: &Jobs) -> Result<(), Error> {
        if self.next != jobs.jobs.len() || !self.open.is_empty() {
            return Err(Error::Accounting(format!(
                "{REQUESTS}: {} of {} job requests complete",
                self.next,
                jobs.jobs.len()
            )));
        }
        let path = out.staging().join(REQUESTS);
        let (mut file, sha256) = self.out.finish();
        file.flush().map_err(|err| Error::output(&path, err))?;
        out.add(REQUESTS, Written { rows: jobs.jobs.len() as u64, sha256 });
        Ok(())
    }
}

impl Writer for Requests {
    /// Notes the next device of job number `index`; writes the job's line, and every parked
    /// line that follows it, once this was its last device.
    fn add(&mut self, at: &Context<'_>, device: &SpooledDevice, job: usize) -> Result<(), Error> {
        let (out, plan, interned, jobs) = (at.out, at.plan, &at.settled.interned, at.jobs);
        let (index, device_name) = (job, device.device_name);
        let job = &jobs.jobs[index];
        let names = self.open.entry(index).or_default();
        names.push(Name::new(device_name));
        if names.len() as u64 != job.devices {
            return Ok(());
        }
        let names = self.open.remove(&index).expect("present");
        self.line.clear();
        let line = RequestLine {
            job_id: job.id(),
            wave: job.wave as u64,
            api: job.api(),
            request: job.request(plan, interned, &names),
        };
        serde_json::to_writer(&mut self.line, &line).expect("a job request serialises");
        self.line.push(b'\n');
        let requests = out.staging().join(REQUESTS);
        if index != self.next {
            self.parked.write_all(&self.line).map_err(|err| Error::output(&self.parked_path, err))?;
            self.early.insert(index, (self.parked_len, self.line.len() as u32));
            self.parked_len += self.line.len() as u64;
            return Ok(());
        }
        self.out.write_all(&self.line).map_err(|err| Error::output(&requests, err))?;
        self.next += 1;
        while let Some((offset, len)) = self.early.remove(&self.next) {
            self.parked.flush().map_err(|err| Error::output(&self.parked_path, err))?;
            self.line.resize(len as usize, 0);
            self.parked
                .get_ref()
                .read_exact_at(&mut self.line, offset)
                .map_err(|err| Error::output(&self.parked_path, err))?;
            self.out.write_all(&self.line).map_err(|err| Error::output(&requests, err))?;
            self.next += 1;
        }
        Ok(())
    }
}

impl Job {
    /// The API request for this job, whose devices are `names`, borrowing every text.
    pub fn request<'a>(
        &self,
        plan: &'a Plan,
        interned: &'a Dictionaries,
        names: &'a [Name],
    ) -> CreateDeviceDistributeJob<&'a str> {
        let destination = self.destination(interned);
        CreateDeviceDistributeJob {
            product_key: interned.product_key(self.group.product),
            device_names: names.iter().map(Name::as_str).collect(),
            source_instance_id: self.from(plan, interned).instance,
            strategy: destination.strategy.code(),
            target_uid: &destination.uid,
            target_instance_ids: plan
                .target_sets
                .get(destination.targets)
                .iter()
                .map(|&t| plan.catalog.get(t).id.as_str())
                .collect(),
        }
    }
}
