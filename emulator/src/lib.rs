//! A local emulator of the IoT platform's device distribution API, seeded from a devdist plan:
//! the platform `devdist apply` is rehearsed and tested against.
//!
//! A request goes through these modules in order:
//! - `http` reads it off the connection (plain or TLS, see `tls`);
//! - `gateway` checks its signature (V3 or V2), time and nonce, and merges its parameters;
//! - `meter` enforces the per-API QPS limits of the account;
//! - `faults` decides, from the seed and the call's identity, whether to misbehave;
//! - `distribution` applies the platform's rules and runs the jobs (`world` is what exists);
//! - `service` glues them and shapes the answers like the platform's.
//!
//! ```no_run
//! use devdist_emulator::{Config, Credentials, Emulator, World};
//!
//! let world = World::from_plan("fixtures/demo/plan.toml".as_ref())?;
//! let credentials = Credentials { access_key_id: "id".into(), access_key_secret: "secret".into(), security_token: None };
//! let emulator = Emulator::start(world, Config::new(credentials))?;
//! println!("{}", emulator.url());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

mod distribution;
mod faults;
mod gateway;
mod http;
mod meter;
mod service;
mod tls;
mod world;

pub use distribution::{
    DEVICE_PERMANENT, DEVICE_RETRYABLE, Distribution, Download, Failure, Job, MAX_DEVICES_PER_JOB, MAX_JOBS_IN_FLIGHT,
    Now, Outcome, Params, TOO_MANY_JOBS,
};
pub use faults::{Fault, Faults};
pub use gateway::{Authenticated, Call, Credentials, Gateway, MAX_CLOCK_SKEW_MS, Scheme, VERSION, parse_utc};
pub use meter::{Api, ApiStats, Meter};
pub use service::{Config, Emulator, HOST_ID, RESULT_URL_SECONDS, RESULTS_PATH, STATS_PATH};
pub use tls::Identity;
pub use world::{Device, Instance, World};
