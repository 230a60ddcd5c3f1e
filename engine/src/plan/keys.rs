//! Every key a plan file may have (docs/inputs.md §2), stated once: the parser takes the keys it
//! accepts from [`PLAN_KEYS`] (an unknown key is a plan error naming the expected ones) and
//! `devdist explain plan` prints the same table, so the reference cannot miss a key the parser
//! knows.

use devdist_platform::limits::{MAX_DEVICES_PER_JOB, MAX_JOBS_IN_FLIGHT};

/// One key of a plan file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanKey {
    /// Dotted path: `account`, `inputs.inventory`, `routes.match.product_key`.
    pub path: &'static str,
    /// TOML type.
    pub kind: &'static str,
    /// Whether a plan must have it (when its table is present).
    pub required: bool,
    /// For `[limits]`: the largest value (and the default, as for both limits). `None` otherwise.
    pub max: Option<usize>,
    /// What a missing optional key means; empty for required keys and tables.
    pub default: &'static str,
    /// What it is, in one or two sentences.
    pub meaning: &'static str,
}

impl PlanKey {
    /// The key's own name, the last part of its path.
    pub fn name(&self) -> &'static str {
        self.path.rsplit('.').next().unwrap_or(self.path)
    }
}

const fn key(
    path: &'static str,
    kind: &'static str,
    required: bool,
    default: &'static str,
    meaning: &'static str,
) -> PlanKey {
    PlanKey { path, kind, required, max: None, default, meaning }
}

/// Every key of a plan file, tables first within their level, in the order a plan usually
/// writes them. The parser accepts exactly these (and [`INTERNAL_PLAN_KEYS`]).
pub const PLAN_KEYS: [PlanKey; 16] = [
    key(
        "account",
        "string",
        true,
        "",
        "UID of the account that owns the source devices; a safe name (1-128 characters of A-Z a-z 0-9 _ - ., not . or ..).",
    ),
    key("inputs", "table", true, "", "What to read."),
    key("limits", "table", false, "both limits at their maximum", "How big jobs and waves may be."),
    key(
        "routes",
        "array of tables",
        false,
        "no routes: only records with a target_instance cell have a destination",
        "Where devices go. The first route that matches a record, in file order, wins.",
    ),
    key(
        "inputs.inventory",
        "list of strings (one string is a list of one)",
        true,
        "",
        "Inventory files (.csv or .parquet, any case), folders of them (every .csv/.parquet inside, by name; hidden, _* and .crc files skipped) or globs in the file name (exports/part-*.parquet), relative to the plan file, in input order.",
    ),
    key(
        "inputs.instances",
        "string",
        false,
        "only the six built-in public instances exist",
        "The instance catalog CSV (`devdist explain catalog`), relative to the plan file.",
    ),
    PlanKey {
        max: Some(MAX_DEVICES_PER_JOB),
        ..key(
            "limits.devices_per_job",
            "integer",
            false,
            "the maximum",
            "Devices per job at most (the platform's cap).",
        )
    },
    PlanKey {
        max: Some(MAX_JOBS_IN_FLIGHT),
        ..key(
            "limits.jobs_per_wave",
            "integer",
            false,
            "the maximum",
            "Jobs per wave, and jobs `devdist apply` keeps running at once, at most (the platform's cap per account).",
        )
    },
    key("routes.name", "string", false, "`route N` (1-based)", "Used in messages."),
    key(
        "routes.match",
        "inline table",
        false,
        "matches every record",
        "Which records the route takes: every key given must list the record's value. An empty list matches nothing.",
    ),
    key(
        "routes.strategy",
        "string",
        true,
        "",
        "\"specified_region\" (API Strategy 0: exactly one target) or \"nearest_access\" (Strategy 1: one target per region, the device lands in the nearest when it connects).",
    ),
    key(
        "routes.targets",
        "list of strings",
        true,
        "",
        "Target instance IDs: in the catalog (or public), safe names, listed once; for nearest_access in distinct regions.",
    ),
    key(
        "routes.target_uid",
        "string",
        false,
        "`account`",
        "The destination account; another account than `account` is cross-account: console work (warning console_only), specified_region only.",
    ),
    key(
        "routes.match.product_key",
        "list of strings (or one string)",
        false,
        "any product",
        "ProductKeys the route takes.",
    ),
    key(
        "routes.match.source_instance",
        "list of strings (or one string)",
        false,
        "any instance",
        "Source (home) instance IDs the route takes.",
    ),
    key(
        "routes.match.source_region",
        "list of strings (or one string)",
        false,
        "any region",
        "Regions the route takes, compared with the catalog region of the record's source instance.",
    ),
];

/// Keys written only by `devdist redrive` and `devdist return` into the plans they derive: the
/// parser accepts them at the top level but never offers them (no error names them).
pub const INTERNAL_PLAN_KEYS: [&str; 2] = ["redrive_of", "return_of"];

/// A complete plan using every key of [`PLAN_KEYS`], with comments: what `devdist explain plan`
/// prints and docs/inputs.md §2.7 shows (a test loads it and checks both).
pub const PLAN_EXAMPLE: &str = r#"account = "1234567890123456"          # owns the source devices; a safe name

[inputs]
inventory = ["devices.csv", "more/devices.parquet"]   # files, folders or globs; relative to this file
instances = "instances.csv"                          # optional; the public instances are built in

[limits]                    # optional
devices_per_job = 500       # 1..=10000, default 10000
jobs_per_wave = 4           # 1..=10, default 10

[[routes]]                  # first matching route wins, in file order
name = "eu-move"
match = { product_key = ["a19yXTCutOV"], source_region = ["cn-shanghai"] }   # every key given must hold
strategy = "specified_region"                # exactly one target
targets = ["iot-eu0001"]

[[routes]]
name = "global-nearest"
match = { source_instance = ["iot-sh0001"] }
strategy = "nearest_access"                  # one target per region
targets = ["iotx-oxssharez400", "iotx-oxssharez500", "iot-jp0001"]   # distinct regions

[[routes]]
name = "partner-handover"                    # cross-account: console work
match = { product_key = ["a1S7Ah4zLPI"] }
strategy = "specified_region"
targets = ["iot-partner01"]
target_uid = "2345678901234567"              # default: account

[[routes]]                  # no match: takes every record no route above took
strategy = "specified_region"
targets = ["iotx-oxssharez700"]
"#;

/// The keys directly inside `within` (`""` for the top level, else a table's path with a
/// trailing dot, as in `"routes.match."`), in [`PLAN_KEYS`] order.
pub(crate) fn keys_within(within: &str) -> Vec<&'static str> {
    PLAN_KEYS.iter().filter_map(|key| key.path.strip_prefix(within)).filter(|rest| !rest.contains('.')).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Plan;

    /// The value at a dotted `path` of `table`; through an array of tables, of any element.
    fn has(table: &::toml::Table, path: &str) -> bool {
        let (head, rest) = path.split_once('.').map_or((path, None), |(h, r)| (h, Some(r)));
        match (table.get(head), rest) {
            (Some(_), None) => true,
            (Some(::toml::Value::Table(inner)), Some(rest)) => has(inner, rest),
            (Some(::toml::Value::Array(items)), Some(rest)) => {
                items.iter().any(|item| item.as_table().is_some_and(|inner| has(inner, rest)))
            }
            _ => false,
        }
    }

    #[test]
    fn the_example_is_a_valid_plan_that_uses_every_key() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("instances.csv"),
            "instance_id,region,edition,owner_uid,device_quota,devices_in_use\n\
             iot-eu0001,eu-central-1,standard,1234567890123456,,\n\
             iot-sh0001,cn-shanghai,standard,1234567890123456,,\n\
             iot-jp0001,ap-northeast-1,standard,1234567890123456,,\n\
             iot-partner01,cn-shanghai,standard,2345678901234567,,\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("plan.toml"), PLAN_EXAMPLE).unwrap();
        let plan = Plan::load(&dir.path().join("plan.toml")).unwrap_or_else(|err| panic!("{err}"));
        assert_eq!((plan.devices_per_job, plan.jobs_per_wave, plan.inputs.len()), (500, 4, 2));

        let table: ::toml::Table = PLAN_EXAMPLE.parse().unwrap();
        for key in PLAN_KEYS {
            assert!(has(&table, key.path), "the example does not use `{}`", key.path);
        }
    }

    #[test]
    fn the_parser_accepts_exactly_the_listed_keys() {
        assert_eq!(keys_within(""), ["account", "inputs", "limits", "routes"]);
        assert_eq!(keys_within("routes.match."), ["product_key", "source_instance", "source_region"]);
        let dir = tempfile::tempdir().unwrap();
        let plan = "account = \"1\"\nredrive_of = \"x\"\nbogus = 1\n[inputs]\ninventory = \"d.csv\"\nextra = 1\n";
        std::fs::write(dir.path().join("plan.toml"), plan).unwrap();
        let err = Plan::load(&dir.path().join("plan.toml")).unwrap_err().to_string();
        assert!(err.contains("unknown key `bogus` (expected one of: account, inputs, limits, routes)"), "{err}");
        assert!(err.contains("unknown key `inputs.extra` (expected one of: inventory, instances)"), "{err}");
        assert!(!err.contains("redrive_of"), "{err}");
        for key in PLAN_KEYS.iter().filter(|key| key.max.is_some()) {
            assert_eq!(
                key.max,
                Some(if key.name() == "devices_per_job" { MAX_DEVICES_PER_JOB } else { MAX_JOBS_IN_FLIGHT })
            );
        }
    }
}
