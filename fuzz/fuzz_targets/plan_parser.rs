//! The plan parser: bytes → `plan.toml` (beside a valid `instances.csv` and `devices.csv`) →
//! `Plan::load`. Errors are fine; panics are not. A plan problem must carry a sane position
//! (1-based line and column within the text, or 0:0 for the catalog), and a loaded plan must
//! respect its documented limits.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use devdist_engine::{Error, Plan};
use libfuzzer_sys::fuzz_target;

const INSTANCES: &str = include_str!("../../fixtures/demo/instances.csv");

fuzz_target!(|data: &[u8]| {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let dir = devdist_fuzz::scratch("plan_parser");
        std::fs::write(dir.join("instances.csv"), INSTANCES).unwrap();
        std::fs::write(dir.join("devices.csv"), "product_key,device_name,device_secret,source_instance\n").unwrap();
        dir
    });
    let path = dir.join("plan.toml");
    std::fs::write(&path, data).expect("cannot write the scratch plan");

    match Plan::load(&path) {
        Ok(plan) => {
            assert!((1..=10_000).contains(&plan.devices_per_job), "devices_per_job {}", plan.devices_per_job);
            assert!((1..=10).contains(&plan.jobs_per_wave), "jobs_per_wave {}", plan.jobs_per_wave);
            assert!(devdist_engine::is_safe_name(&plan.account), "unsafe account {:?}", plan.account);
            for route in &plan.routes {
                assert!(devdist_engine::is_safe_name(&route.target_uid), "unsafe target_uid {:?}", route.target_uid);
                assert!(!plan.target_sets.get(route.targets).is_empty(), "route {:?} has no targets", route.name);
            }
        }
        Err(Error::Plan(problems)) => {
            assert!(!problems.problems.is_empty(), "a plan error names at least one problem");
            let text = String::from_utf8_lossy(data);
            let lines = text.split('\n').count();
            for problem in &problems.problems {
                if problem.line == 0 {
                    assert_eq!(problem.column, 0, "{problem:?}");
                    continue;
                }
                assert!(problem.line <= lines, "{problem:?} is past the last line ({lines})");
                assert!(problem.column >= 1, "{problem:?}");
            }
            let _ = problems.to_string();
        }
        Err(other) => {
            let _ = other.to_string();
        }
    }
});
