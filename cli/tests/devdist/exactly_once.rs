//! Exactly once when it is not apply that crashes but the world around it that changes: the
//! folder applied elsewhere, re-planned, copied, emptied, moved; the endpoint silent. The
//! witness is the emulator's own job list (its stats), never apply's files.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use devdist_testkit::{fixture, walk};

use crate::rehearsal::{Emulator, apply, apply_command, command, devdist, distributed_by_emulator, plan};
use crate::support::stderr;

/// Fast emulator and apply: the scaled limits keep each run to seconds.
const FAST: [&str; 2] = ["--rate-scale", "20"];

fn emulator(plan: &Path, job_seconds: &str) -> Emulator {
    Emulator::start(plan, &["--job-seconds", job_seconds, "--rate-scale", "20"])
}

fn jobs_created(emulator: &Emulator) -> usize {
    emulator.stats()["jobs"].as_array().unwrap().len()
}

/// Waits until `path` has bytes (a running apply journalled), or fails the test.
fn until_written(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::fs::metadata(path).map_or(0, |m| m.len()) == 0 {
        assert!(Instant::now() < deadline, "{} was never written", path.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_rehearsed_folder_applied_to_another_endpoint_is_refused_and_creates_nothing_there() {
    let dir = tempfile::tempdir().unwrap();
    let demo = fixture("demo/plan.toml");
    let out = plan(&demo, dir.path(), "out");
    let rehearsal = emulator(&demo, "0");
    let rehearsed = apply(&out, &rehearsal, &FAST);
    assert_eq!(rehearsed.status.code(), Some(0), "{}", stderr(&rehearsed));
    let production = emulator(&demo, "0");
    let refused = apply(&out, &production, &FAST);
    assert_eq!(refused.status.code(), Some(3), "{}", stderr(&refused));
    let said = stderr(&refused);
    assert!(said.contains(&format!("records an apply against \"{}\"", rehearsal.url)), "{said}");
    assert!(said.contains("plan it again into a new folder"), "{said}");
    assert_eq!(jobs_created(&production), 0, "production saw no Create");
    assert!(!said.contains("distributed"), "no success claimed: {said}");
}

#[test]
fn an_applied_folder_is_never_replanned_or_replaced_and_its_copies_never_create_twice() {
    let dir = tempfile::tempdir().unwrap();
    let demo = fixture("demo/plan.toml");
    let out = plan(&demo, dir.path(), "out");
    let copy = dir.path().join("copy");
    devdist_testkit::copy_dir(&out, &copy);
    let emulator = emulator(&demo, "1");

    // While apply runs: re-planning over it, or a copy applied at once, is refused.
    let running = apply_command(&out, &emulator, &FAST).stderr(Stdio::piped()).spawn().unwrap();
    until_written(&out.join("apply/journal.jsonl"));
    let replan = devdist(&["plan", demo.to_str().unwrap(), "--out", out.to_str().unwrap(), "--force", "--quiet"]);
    assert_eq!(replan.status.code(), Some(2), "{}", stderr(&replan));
    assert!(stderr(&replan).contains("`devdist apply` has run on it"), "{}", stderr(&replan));
    let twin = apply(&copy, &emulator, &FAST);
    assert_eq!(twin.status.code(), Some(4), "{}", stderr(&twin));
    assert!(stderr(&twin).contains("another `devdist apply` of this same plan"), "{}", stderr(&twin));
    let first = running.wait_with_output().unwrap();
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let created = jobs_created(&emulator);

    // After it: re-planning is still refused, and the journal is untouched.
    let journal = std::fs::read(out.join("apply/journal.jsonl")).unwrap();
    let replan = devdist(&["plan", demo.to_str().unwrap(), "--out", out.to_str().unwrap(), "--force", "--quiet"]);
    assert_eq!(replan.status.code(), Some(2), "{}", stderr(&replan));
    assert_eq!(std::fs::read(out.join("apply/journal.jsonl")).unwrap(), journal);

    // A redrive may not write over, into or beside-inside what it reads.
    let listing = walk(&out);
    for into in [out.clone(), out.join("sub"), out.join("apply/x")] {
        let redrive =
            devdist(&["redrive", out.to_str().unwrap(), "--out", into.to_str().unwrap(), "--force", "--quiet"]);
        assert_eq!(redrive.status.code(), Some(2), "--out {}: {}", into.display(), stderr(&redrive));
        assert!(stderr(&redrive).contains("which this run reads"), "{}", stderr(&redrive));
        assert_eq!(walk(&out), listing, "--out {} changed the applied folder", into.display());
    }

    // The copy, applied afterwards, has no journal of its own: the platform's jobs say
    // what exists, and it creates none again. The same for the original with its journal
    // emptied.
    let second = apply(&copy, &emulator, &FAST);
    assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));
    assert!(stderr(&second).contains("adopted, not created again"), "{}", stderr(&second));
    std::fs::write(out.join("apply/journal.jsonl"), b"").unwrap();
    let third = apply(&out, &emulator, &FAST);
    assert_eq!(third.status.code(), Some(0), "{}", stderr(&third));
    assert_eq!(jobs_created(&emulator), created, "no job was created twice");
    let twice: Vec<_> = distributed_by_emulator(&emulator.stats()).into_iter().filter(|(_, n)| *n > 1).collect();
    assert!(twice.is_empty(), "distributed twice: {twice:?}");
    assert_eq!(
        std::fs::read(out.join("apply/results.csv")).unwrap(),
        std::fs::read(copy.join("apply/results.csv")).unwrap()
    );
}

#[test]
fn verify_judges_the_files_not_the_path_they_are_reached_by() {
    let dir = tempfile::tempdir().unwrap();
    let demo = fixture("demo/plan.toml");
    let out = plan(&demo, dir.path(), "out");
    let emulator = emulator(&demo, "0");
    assert_eq!(apply(&out, &emulator, &FAST).status.code(), Some(0));
    let verify = |cwd: &Path, path: &str| {
        let output = Command::new(crate::support::BIN).args(["verify", path]).current_dir(cwd).output().unwrap();
        assert_eq!(output.status.code(), Some(0), "verify {path}: {}", stderr(&output));
    };
    verify(dir.path(), "out");
    verify(dir.path(), "./out");
    verify(dir.path(), "./out/");
    verify(&out, ".");
    verify(Path::new("/"), out.to_str().unwrap());
    let moved = dir.path().join("moved");
    std::fs::rename(&out, &moved).unwrap();
    verify(dir.path(), "moved");
    // A file apply did not write is found.
    std::fs::write(moved.join("apply/notes.txt"), b"mine").unwrap();
    let output = devdist(&["verify", moved.to_str().unwrap()]);
    assert_ne!(output.status.code(), Some(0));
    let said = stderr(&output);
    assert!(said.contains("moved/apply/notes.txt: not a file apply writes"), "{said}");
    // However DIR is spelled, no path is doubled.
    let output =
        Command::new(crate::support::BIN).args(["verify", "./moved/"]).current_dir(dir.path()).output().unwrap();
    let said = stderr(&output);
    assert!(said.lines().any(|line| line == "./moved/apply/notes.txt: not a file apply writes"), "{said}");
    assert!(!said.contains("//"), "{said}");
}

#[test]
fn a_silent_endpoint_is_said_at_once_and_ctrl_c_ends_apply_within_two_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let demo = fixture("demo/plan.toml");
    let out = plan(&demo, dir.path(), "out");
    // A black hole: it accepts connections and never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            held.push(stream);
        }
    });
    let mut running = command(&["apply", out.to_str().unwrap(), "--endpoint", &endpoint, "--quiet"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    let interrupted = Instant::now();
    Command::new("kill").args(["-INT", &running.id().to_string()]).status().unwrap();
    let status = running.wait().unwrap();
    let took = interrupted.elapsed();
    assert_eq!(status.code(), Some(130));
    assert!(took < Duration::from_secs(3), "Ctrl-C took {took:?}");

    // A dead endpoint (nothing listens): the first failure is said within seconds.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dead = format!("http://127.0.0.1:{port}");
    let copy = dir.path().join("copy");
    let _ = std::fs::remove_dir_all(out.join("apply"));
    devdist_testkit::copy_dir(&out, &copy);
    let mut running = command(&["apply", copy.to_str().unwrap(), "--endpoint", &dead, "--quiet"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let mut lines = BufReader::new(running.stderr.take().unwrap()).lines();
    let first = lines.next().expect("a line").unwrap();
    let said_after = started.elapsed();
    let _ = running.kill();
    let _ = running.wait();
    assert!(first.contains(&format!("cannot reach {dead}")), "{first}");
    assert!(said_after < Duration::from_secs(5), "said after {said_after:?}");
}
