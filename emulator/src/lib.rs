//! A local emulator of the IoT platform's device distribution API, seeded from a devdist plan:
//! the platform `devdist apply` is rehearsed and tested against.
//!
//! A request goes through these modules in order:
//! - `http` reads it off the connection (plain or TLS, see `tls`);
//! - `gateway` checks its signature (V3 or V2), time and nonce, and merges its parameters;
//! - `meter` enforces the per-API QPS limits of the account;
//! - `faults` decides, from the seed and the call's identity, whether to misbehave;
//! - `distribution` applies the platform's rules and runs the jobs (`world` is what exists and
//!   where each device is); `registry` answers the read APIs from the world, which `churn` changes
//!   while a reader sweeps it;
//! - `service` glues them and writes the answers.
//!
//! The wire contract is `devdist_platform`'s, the client's own: Create is read with
//! `api::CreateDeviceDistributeJob::from_params`, every API answer is one of `api`'s body types
//! serialised and each line of a result file a `results::DeviceResult`, the actions and their
//! limits are `api::Action` and `limits`, the canonical forms of the signatures are `sign`'s,
//! and the account's key is a `Credentials`.
//!
//! ```no_run
//! use devdist_emulator::{Config, Emulator, World};
//! use devdist_platform::{Credentials, Secret};
//!
//! let world = World::from_plan("fixtures/demo/plan.toml".as_ref())?;
//! let credentials = Credentials { access_key_id: "id".into(), secret: Secret::new("secret"), token: None };
//! let emulator = Emulator::start(world, Config::new(credentials))?;
//! println!("{}", emulator.url());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

mod churn;
mod distribution;
mod faults;
mod gateway;
mod http;
mod index;
mod meter;
mod registry;
mod service;
mod tls;
mod world;

pub use churn::{CHURN_CALLS, CHURN_PICK, TRANSIENT_PREFIX};
pub use distribution::{
    DEVICE_PERMANENT, DEVICE_RETRYABLE, Distribution, Download, Failure, Job, Now, Outcome, Params, TOO_MANY_JOBS,
};
pub use faults::{Fault, Faults};
pub use gateway::{Authenticated, Call, Gateway, MAX_CLOCK_SKEW_MS, parse_utc};
pub use meter::{ApiStats, Meter};
pub use registry::{DEVICE_STATUS, REGISTERED_EPOCH_MS};
pub use service::{Config, Emulator, HOST_ID, RESULT_URL_SECONDS, RESULTS_PATH, STALL_SECONDS, STATS_PATH};
pub use tls::Identity;
pub use world::{Device, Instance, Move, World};
