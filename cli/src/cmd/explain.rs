//! `devdist explain [TOPIC|CODE]`: the reference of every input a user writes (`plan`,
//! `inventory`, `catalog`), and what a code means — a reason code or warning (the rule behind it,
//! docs/inputs.md §6, and how to fix the input: the same text report.html shows, from the table in
//! the engine) or a code `devdist apply` recorded (what apply did and what to do, from the table in
//! the platform crate). The topics are printed from the definitions the parsers use: the plan's
//! keys (`PLAN_KEYS`), the inventory's fields and aliases (`Field`), the catalog's columns.

use std::fmt::Write as _;
use std::io::Write;

use clap::Args;
use devdist_engine::{EDITIONS, Explanation, PLAN_EXAMPLE, PLAN_KEYS, PUBLIC_INSTANCES, Reason, Warning};
use devdist_formats::{CATALOG_COLUMN_MEANINGS, CATALOG_COLUMNS, Field};
use devdist_platform::codes::{self, Handling, PLATFORM_CODES};

/// Where to look for the reference: `--help` of devdist, plan, validate and explain, and the man
/// pages (whose devdist-explain.1 also holds the whole reference, see [`reference()`]).
pub(crate) const REFERENCE_HELP: &str = "Reference: `devdist explain plan` (every plan.toml key, with an \
example), `devdist explain inventory` (inventory columns and their aliases, public instance IDs, the gateway \
format), `devdist explain catalog` (instance catalog columns); `devdist explain CODE` for a reason code, a warning \
or a code apply recorded. Also docs/inputs.md.";

#[derive(Debug, Args)]
pub(crate) struct ExplainArgs {
    /// A topic (plan, inventory, catalog), a reason code (e.g. no_route), a warning (e.g.
    /// console_only) or a code apply recorded (e.g. iot.system.InstanceIdSame); none lists them all.
    code: Option<String>,
}

/// A topic: its name, what it covers, its text.
type Topic = (&'static str, &'static str, fn() -> String);

/// The topics.
const TOPICS: [Topic; 3] = [
    ("plan", "the plan file: every key with its type and default, and a complete example", plan),
    ("inventory", "inventory columns and their aliases, the gateway format, public instance IDs", inventory),
    ("catalog", "the instance catalog's columns and editions", catalog),
];

/// Every reason code and warning with its kind and explanation, reasons in rule order, then warnings.
fn all() -> Vec<(&'static str, &'static str, Explanation)> {
    let reasons = Reason::ALL.iter().map(|r| (r.code(), "reason code", r.explain()));
    let warnings = Warning::ALL.iter().map(|w| (w.code(), "warning", w.explain()));
    reasons.chain(warnings).collect()
}

pub(crate) fn run(args: ExplainArgs) -> anyhow::Result<u8> {
    let codes = all();
    let mut out = std::io::stdout().lock();
    let Some(wanted) = args.code else {
        write!(out, "{}", list(&codes))?;
        return Ok(0);
    };
    let wanted = wanted.trim();
    let lower = wanted.to_ascii_lowercase();
    if let Some((_, _, text)) = TOPICS.iter().find(|(name, ..)| *name == lower) {
        write!(out, "{}", text())?;
        return Ok(0);
    }
    if let Some((code, kind, explanation)) = codes.iter().find(|(code, ..)| *code == lower) {
        writeln!(out, "{code} ({kind})\n")?;
        writeln!(out, "What it means: {}", explanation.meaning)?;
        writeln!(out, "The rule:      {}", explanation.rule)?;
        writeln!(out, "How to fix:    {}", explanation.fix)?;
        return Ok(0);
    }
    if let Some(row) = codes::lookup(wanted) {
        let todo = if row.action.is_empty() {
            row.handling.next().to_string()
        } else {
            format!("{} {}", row.handling.next(), row.action)
        };
        writeln!(out, "{} (platform code, {})\n", row.code, label(row.handling))?;
        writeln!(out, "What it means: {}", row.meaning)?;
        writeln!(out, "Apply retries: {}", row.handling.apply())?;
        writeln!(out, "What to do:    {todo}")?;
        writeln!(out, "\n{REDRIVE_NOTE}")?;
        return Ok(0);
    }
    let names = TOPICS.iter().map(|(name, ..)| *name).chain(codes.iter().map(|(code, ..)| *code));
    let nearest = names
        .chain(PLATFORM_CODES.iter().map(|row| row.code))
        .min_by_key(|name| strsim::levenshtein(&name.to_ascii_lowercase(), &lower))
        .unwrap_or("plan");
    let mut message = format!(
        "explain: no topic, reason code, warning or platform code is called {wanted:?}; did you mean {nearest}? \
         (`devdist explain` lists them all)"
    );
    // A code the platform answers that devdist has no row for is still classified by its form.
    if wanted.contains('.') || wanted.chars().any(|c| c.is_ascii_uppercase()) {
        let handling = codes::handling(wanted);
        let _ = write!(message, ". Were it a platform code in results.csv, apply would take it as {}", label(handling));
    }
    Err(devdist_engine::Error::invocation(message).into())
}

/// How `devdist redrive` reads results.csv, said under every platform code.
const REDRIVE_NOTE: &str = "In results.csv the outcome decides what `devdist redrive` does: `unknown`, or `failed` \
with a retryable code, is planned again; `failed` with any other code is left out (refused_by_platform).";

/// A few words for a [`Handling`].
fn label(handling: Handling) -> &'static str {
    match handling {
        Handling::Distributed => "distributed",
        Handling::Retried => "retryable",
        Handling::JobLimit => "job limit: queued again",
        Handling::Credentials => "credentials refused: apply stops",
        Handling::Refused => "refused for good: not retried",
        Handling::Unsettled => "outcome unknown",
        _ => "not classified",
    }
}

/// `devdist explain` without an argument: the topics, then every code in one line each.
fn list(codes: &[(&'static str, &'static str, Explanation)]) -> String {
    let mut text = String::from("Topics (`devdist explain TOPIC`):\n");
    for (name, about, _) in TOPICS {
        let _ = writeln!(text, "  {name:<9}  {about}");
    }
    text.push_str("\nReason codes and warnings (rejects.csv, report.json):\n");
    let width = codes.iter().map(|(code, ..)| code.len()).max().unwrap_or(0);
    for (code, kind, explanation) in codes {
        let kind = if *kind == "warning" { " (warning)" } else { "" };
        let _ = writeln!(text, "  {code:<width$}  {}{kind}", explanation.meaning);
    }
    text.push_str("\nPlatform codes (apply's results.csv):\n");
    let width = PLATFORM_CODES.iter().map(|row| row.code.len()).max().unwrap_or(0);
    for row in &PLATFORM_CODES {
        let _ = writeln!(text, "  {:<width$}  {} ({})", row.code, row.meaning, label(row.handling));
    }
    text.push_str(
        "\n`devdist explain CODE` gives a reason code's rule and fix, or what apply does about a platform code and \
         what to do.\n",
    );
    text
}

/// `text` wrapped at 100 columns, every line indented by `indent` spaces.
fn wrapped(text: &str, indent: usize) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && indent + line.len() + 1 + word.len() > 100 {
            let _ = writeln!(out, "{:indent$}{line}", "");
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        let _ = writeln!(out, "{:indent$}{line}", "");
    }
    out
}

/// `product_key` → `ProductKey`.
fn pascal(name: &str) -> String {
    name.split('_')
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map(|first| first.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect()
}

fn public_instances() -> String {
    let mut text = String::from("Public instance IDs (built in: usable as targets without a catalog):\n");
    for (id, region) in PUBLIC_INSTANCES {
        let _ = writeln!(text, "  {id}  {region}");
    }
    text.push_str("  cn-beijing and cn-shenzhen have Enterprise instances only.\n");
    text
}

/// `devdist explain plan`.
fn plan() -> String {
    let mut text = String::from(
        "plan.toml: the plan file of `devdist plan PLAN.toml` and `devdist validate PLAN.toml` (docs/inputs.md §2)\n\n",
    );
    text.push_str(&wrapped(
        "Every problem in a plan is reported at once, with its line and column, before any inventory is read \
         (exit 2). A key not listed here is a plan error. Paths are relative to the plan file.",
        0,
    ));
    text.push('\n');
    for key in PLAN_KEYS {
        let heading = match key.path {
            "inputs" | "limits" => format!("[{}]", key.path),
            "routes" => "[[routes]]".to_string(),
            path => path.to_string(),
        };
        let kind = match key.max {
            Some(max) => format!("{}, 1 to {max}", key.kind),
            None => key.kind.to_string(),
        };
        let need = match (key.required, key.max) {
            (true, _) => "required".to_string(),
            (false, Some(max)) => format!("optional, default {max}"),
            (false, None) => format!("optional, default: {}", key.default),
        };
        let _ = writeln!(text, "{heading}");
        text.push_str(&wrapped(&format!("{kind}; {need}. {}", key.meaning), 4));
    }
    text.push('\n');
    text.push_str(&wrapped(
        &format!(
            "{} are written by `devdist redrive` and `devdist return` into the plans they derive; do not write them.",
            devdist_engine::INTERNAL_PLAN_KEYS.map(|key| format!("`{key}`")).join(" and ")
        ),
        0,
    ));
    text.push_str("\nA complete example:\n\n");
    text.push_str(PLAN_EXAMPLE);
    text
}

/// `devdist explain inventory`.
fn inventory() -> String {
    let mut text = String::from(
        "Inventory files: CSV or Parquet, one device per record, named by the plan's inputs.inventory \
         (docs/inputs.md §3)\n\n",
    );
    text.push_str(&wrapped(
        "A header name matches a column in any case with `_` and surrounding blanks ignored: product_key, \
         ProductKey and PRODUCT_KEY are the same column. A missing required column, or two columns that mean the \
         same field, fail the file (exit 3); an empty required cell rejects the record (missing_field). Identifier \
         cells are not trimmed: a stray space is refused by the name rule.",
        0,
    ));
    text.push('\n');
    for field in Field::ALL {
        let mut spellings = vec![pascal(field.name())];
        spellings.extend(field.aliases().iter().map(|alias| alias.to_string()));
        let need = if field.required() { "required" } else { "optional" };
        let _ = writeln!(text, "{} ({}), {need}", field.name(), spellings.join(", "));
        text.push_str(&wrapped(field.meaning(), 4));
    }
    text.push('\n');
    text.push_str(&wrapped(
        "Every other column is runtime data (status, shadow, tags, ...): read only to count its non-empty cells, \
         never written. A column that looks like a field under another name (TargetInstanceId, CurrentInstanceId, \
         RegionId, GatewayDeviceName, ...) is not read as that field: the run warns about it; rename it to have it \
         read.",
        0,
    ));
    text.push('\n');
    text.push_str(&wrapped(
        "The gateway format: `product_key/device_name` of the gateway device, e.g. a1BwAGVeu01/gw-0001, compared \
         byte for byte with the plan's accepted devices; a gateway that goes elsewhere than its sub-device draws \
         the topology_split warning.",
        0,
    ));
    text.push('\n');
    text.push_str(&public_instances());
    text
}

/// `devdist explain catalog`.
fn catalog() -> String {
    let mut text =
        String::from("Instance catalog: a CSV file named by the plan's inputs.instances (docs/inputs.md §4)\n\n");
    text.push_str(&wrapped(
        "Every column below must be in the header (any case, any order; other columns are ignored). Cells are \
         trimmed; a short row's missing cells are empty. A bad row fails the catalog (exit 3), naming its line and \
         column. Without a catalog only the public instances exist.",
        0,
    ));
    text.push('\n');
    for (column, meaning) in CATALOG_COLUMNS.iter().zip(CATALOG_COLUMN_MEANINGS) {
        let _ = writeln!(text, "{column}");
        text.push_str(&wrapped(meaning, 4));
    }
    text.push('\n');
    text.push_str(&wrapped(&format!("Editions: {}.", EDITIONS.join(", ")), 0));
    text.push_str(&wrapped(
        "A row may restate a public instance to give it a quota, but not change its region or edition, or give it \
         an owner.",
        0,
    ));
    let _ = write!(
        text,
        "\nAn example:\n\n{}\niot-eu0001,eu-central-1,standard,1234567890123456,100000,2500\n\
         iot-partner01,cn-shanghai,standard,2345678901234567,,\niotx-oxssharez700,eu-central-1,public,,50000,0\n\n",
        CATALOG_COLUMNS.join(",")
    );
    text.push_str(&public_instances());
    text
}

/// The three topics, one after the other: what the man page devdist-explain.1 carries.
pub(crate) fn reference() -> String {
    TOPICS.iter().map(|(_, _, text)| text()).collect::<Vec<_>>().join("\n")
}
