//! report.html: the report for people. One self-contained page — inline CSS, inline SVG
//! charts, no script, nothing from the network (a Content-Security-Policy of `default-src
//! 'none'` makes sure) — built from the same data as report.json and deterministic like it.
//!
//! Every value from an input is escaped by [`esc`]: HTML's five special characters become
//! entities, and control, bidi and invisible characters become visible `\u{…}` text, so a
//! hostile device name (`<script>`, `=cmd|`, an OSC-8 link, an RTL override) reads as inert
//! text and cannot reorder or restyle the page.

use std::fmt::Write;

use devdist_formats::is_invisible;

use crate::reason::{Explanation, Reason, Warning};
use crate::report::Report;

/// Rows shown per table before "and N more" (the CSV files hold every row).
pub(crate) const PAGE_ROWS: usize = 20;

/// Rejected records shown per reason code.
pub(crate) const FIRST_REJECTS: usize = 3;

/// CreateDeviceDistributeJob calls per second and account (docs/wire.md §1).
const CREATES_PER_SECOND: u64 = devdist_platform::Action::CreateDeviceDistributeJob.qps() as u64;

/// Jobs per account in flight at once (docs/wire.md §1).
const JOBS_IN_FLIGHT: u64 = devdist_platform::limits::MAX_JOBS_IN_FLIGHT as u64;

/// A rejected record as report.html shows it: where it is and what it names, never a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectRow {
    /// The inventory file, as named in the plan.
    pub file: String,
    /// 1-based data record.
    pub record: u64,
    /// 1-based line where the record starts; 0 for Parquet.
    pub line: u64,
    /// As read (may be broken: that can be why it was rejected).
    pub product_key: String,
    /// As read.
    pub device_name: String,
    /// The detail written to rejects.csv.
    pub detail: String,
}

/// A job that only the console can create (cross-account).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleJob {
    /// Its id in jobs.csv.
    pub job_id: String,
    /// The product.
    pub product_key: String,
    /// Where the devices are.
    pub source_instance: String,
    /// The destination account.
    pub target_uid: String,
    /// The destination instances, `;`-separated.
    pub targets: String,
    /// Devices in the job.
    pub devices: u64,
}

/// What report.html shows: report.json's data, plus the first rejects of each code and the
/// console-only jobs (both also in rejects.csv and jobs.csv).
#[derive(Debug, Clone, Copy)]
pub struct Page<'a> {
    /// The report written to report.json.
    pub report: &'a Report,
    /// Up to `FIRST_REJECTS` rejects per reason, indexed like [`Reason::ALL`].
    pub first_rejects: &'a [Vec<RejectRow>],
    /// The first `PAGE_ROWS` console-only jobs, in execution order.
    pub console_jobs: &'a [ConsoleJob],
}

/// Escapes text for HTML (element content, attribute values and SVG text alike). Control,
/// bidi-override and invisible characters become visible `\u{…}` text.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if is_invisible(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// The page for `page`: a whole HTML document.
pub fn render(page: &Page) -> String {
    let report = page.report;
    let mut html = String::with_capacity(64 << 10);
    let title = format!("devdist {} report — account {}", report.mode, report.account);
    head(&mut html, &title);
    let _ = writeln!(
        html,
        "<header><h1>{}</h1><p class=\"sub\">{} input file{}, {} destination{}. \
         Written beside report.json from the same data; every file is listed with its SHA-256 at the end.</p></header>",
        esc(&title),
        report.inputs.len(),
        plural(report.inputs.len() as u64),
        report.destinations.len(),
        plural(report.destinations.len() as u64),
    );
    verdict(&mut html, report);
    rejects(&mut html, page);
    destinations(&mut html, report);
    jobs(&mut html, page);
    warnings(&mut html, report);
    left_out(&mut html, report);
    files(&mut html, report);
    html.push_str("<footer>devdist — <code>devdist verify DIR</code> re-checks every checksum listed here and in report.json; \
                   <code>devdist explain CODE</code> prints any code's meaning, rule and fix.</footer>\n</body>\n</html>\n");
    html
}

/// At most `limit` characters of `text`, with "…" where it was cut (the CSV has it whole).
fn shorten(text: &str, limit: usize) -> std::borrow::Cow<'_, str> {
    match text.char_indices().nth(limit) {
        Some((cut, _)) => format!("{}…", &text[..cut]).into(),
        None => text.into(),
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Starts a page: the doctype, the Content-Security-Policy, the title and the shared style.
pub fn head(html: &mut String, title: &str) {
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n",
        esc(title)
    );
}

const STYLE: &str = r#":root { --ink: #1a202c; --muted: #5a6474; --line: #d5dae1; --bar: #2c5d9e; --bar2: #a9c1e0; --bad: #a61b1b; --okbg: #e8f4ea; --badbg: #fbeaea; --warnbg: #fff6dd; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", "Liberation Sans", sans-serif; color: var(--ink); margin: 0 auto; max-width: 1180px; padding: 20px 28px 40px; background: #fff; }
h1 { font-size: 24px; margin: 0 0 2px; }
h2 { font-size: 18px; margin: 28px 0 8px; padding-bottom: 4px; border-bottom: 2px solid var(--ink); }
h3 { font-size: 15px; margin: 16px 0 4px; }
h3 .n { font-weight: normal; color: var(--muted); }
p { margin: 4px 0 8px; }
.sub, .note { color: var(--muted); }
code, .mono { font-family: "DejaVu Sans Mono", "Liberation Mono", Menlo, Consolas, monospace; font-size: 12.5px; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 10px; }
th, td { text-align: left; padding: 3px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: #f2f4f7; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.name { overflow-wrap: anywhere; }
.nowrap { white-space: nowrap; }
table.narrow { width: auto; min-width: 420px; }
.tiles { display: flex; flex-wrap: wrap; gap: 10px; margin: 10px 0; }
.tile { border: 1px solid var(--line); border-radius: 6px; padding: 6px 14px; min-width: 130px; }
.tile b { display: block; font-size: 22px; font-variant-numeric: tabular-nums; }
.tile span { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.verdict { border: 2px solid var(--ink); border-radius: 8px; padding: 10px 16px; margin-top: 14px; }
.verdict.go { background: var(--okbg); }
.verdict.stop { background: var(--badbg); border-color: var(--bad); }
.badge { display: inline-block; font-weight: 700; letter-spacing: .05em; border: 2px solid currentColor; border-radius: 4px; padding: 0 6px; margin-right: 6px; }
.verdict .line { font-size: 16px; font-weight: 600; }
ul { margin: 4px 0 8px; padding-left: 22px; }
.code { display: grid; grid-template-columns: 30% 1fr; gap: 0 18px; border-left: 4px solid var(--bar); padding: 2px 0 2px 12px; margin: 10px 0; break-inside: avoid; }
.code h3 { margin-top: 2px; }
.code p { margin: 2px 0 4px; }
.code table { font-size: 12.5px; margin: 2px 0; }
.code .note { font-size: 12px; }
.fix::before { content: "Fix: "; font-weight: 600; }
.rule { color: var(--muted); font-size: 12.5px; }
tr.exhausted td { background: var(--badbg); font-weight: 600; }
.flag { color: var(--bad); font-weight: 700; }
.console { background: var(--warnbg); border: 1px solid #e5c66b; border-radius: 6px; padding: 8px 14px; margin: 8px 0; }
svg { display: block; max-width: 100%; height: auto; }
svg text { font: 12px system-ui, "DejaVu Sans", "Liberation Sans", sans-serif; fill: var(--ink); }
footer { margin-top: 30px; padding-top: 8px; border-top: 1px solid var(--line); color: var(--muted); font-size: 12px; }
a { color: var(--bar); }
@page { size: A4; margin: 14mm 12mm; }
@media print {
  body { max-width: none; padding: 0; font-size: 10pt; }
  h2 { break-after: avoid; }
  .code { grid-template-columns: 1fr; }
  tr, .tile, .verdict { break-inside: avoid; }
  .verdict.go, .verdict.stop, tr.exhausted td, .console, th { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  a { color: inherit; text-decoration: none; }
}
"#;

fn verdict(html: &mut String, report: &Report) {
    let counts = &report.counts;
    let holds = counts.read == counts.accepted + counts.rejected
        && report.inputs.iter().all(|input| input.records == input.accepted + input.rejected);
    let blocked = !holds || counts.accepted == 0;
    let exit_code = if counts.rejected == 0 { 0 } else { 1 };
    html.push_str("<section id=\"verdict\">\n<h2>1. Verdict</h2>\n");
    tiles(
        html,
        &[
            ("read", "records read", counts.read),
            ("accepted", "accepted", counts.accepted),
            ("rejected", "rejected", counts.rejected),
            ("destinations", "destinations", report.destinations.len() as u64),
            ("jobs", "jobs", report.jobs.jobs),
            ("waves", "waves", report.jobs.waves),
        ],
    );
    let _ = writeln!(
        html,
        "<div class=\"verdict {}\"><p class=\"line\"><span class=\"badge\">{}</span>{} records read = {} accepted + {} rejected.</p>",
        if blocked { "stop" } else { "go" },
        if blocked { "STOP" } else { "GO" },
        counts.read,
        counts.accepted,
        counts.rejected
    );
    let proofs: Vec<String> = report
        .inputs
        .iter()
        .map(|input| format!("{} {} = {} + {}", esc(&input.path), input.records, input.accepted, input.rejected))
        .collect();
    let _ = writeln!(
        html,
        "<p><b>Accounting:</b> {} — {}.</p>",
        if holds { "every record is accounted for, in each input and in total" } else { "DOES NOT HOLD" },
        proofs.join("; ")
    );
    let _ = writeln!(
        html,
        "<p><b>Exit code {exit_code}:</b> {}.</p>",
        if exit_code == 0 { "done, nothing rejected" } else { "done, some records rejected" }
    );
    let mut notes = Vec::new();
    if !holds {
        notes.push("the accounting does not hold: do not go ahead; run <code>devdist verify DIR</code>".to_string());
    } else if counts.accepted == 0 {
        notes.push("no device was accepted: there is nothing to distribute".to_string());
    } else {
        notes.push(format!(
            "nothing blocks the {} accepted device{}: they are in {} job{}",
            counts.accepted,
            plural(counts.accepted),
            report.jobs.jobs,
            plural(report.jobs.jobs)
        ));
    }
    if counts.rejected > 0 {
        notes.push(format!(
            "{} rejected record{} stay behind until the input is fixed and planned again (section 2)",
            counts.rejected,
            plural(counts.rejected)
        ));
    }
    if report.jobs.console > 0 {
        notes.push(format!(
            "{} console-only job{} need an operator in the console (section 4)",
            report.jobs.console,
            plural(report.jobs.console)
        ));
    }
    let exhausted = report.destinations.iter().filter(|d| d.quota_headroom_after == Some(0)).count() as u64;
    if exhausted > 0 {
        notes.push(format!(
            "{exhausted} target instance{} will have no quota left (section 3)",
            if exhausted == 1 { "" } else { "s" }
        ));
    }
    if report.mode == crate::report::Mode::Validate {
        notes.push("this is a dry run: <code>devdist plan</code> writes the manifests and jobs".to_string());
    }
    let _ = writeln!(html, "<p><b>Going ahead:</b></p>\n<ul>");
    for note in notes {
        let _ = writeln!(html, "<li>{note}</li>");
    }
    html.push_str("</ul></div>\n</section>\n");
}

/// The table of console-only jobs, as plan's and apply's pages show it: per row (job, product
/// key, source instance, target account, target instances) and the devices; `targets` heads
/// the column of target instances.
pub fn console_table<'a>(html: &mut String, targets: &str, rows: impl IntoIterator<Item = ([&'a str; 5], u64)>) {
    let _ = writeln!(
        html,
        "<table><thead><tr><th>job</th><th>product key</th><th>source instance</th><th>target account</th>\
         <th>{targets}</th><th class=\"num\">devices</th></tr></thead><tbody>"
    );
    for ([job, product_key, source, target_uid, target_instances], devices) in rows {
        let _ = writeln!(
            html,
            "<tr><td class=\"mono\">{}</td><td class=\"mono\">{}</td><td class=\"mono\">{}</td><td class=\"mono\">{}</td>\
             <td class=\"mono\">{}</td><td class=\"num\">{devices}</td></tr>",
            esc(job),
            esc(product_key),
            esc(source),
            esc(target_uid),
            esc(target_instances),
        );
    }
    html.push_str("</tbody></table>\n");
}

/// A row of figures, each a tile: (its id, its label, the number).
pub fn tiles(html: &mut String, tiles: &[(&str, &str, u64)]) {
    html.push_str("<div class=\"tiles\">\n");
    for (id, label, n) in tiles {
        let _ = writeln!(html, "<div class=\"tile\" id=\"tile-{id}\"><b>{n}</b><span>{label}</span></div>");
    }
    html.push_str("</div>\n");
}

/// A horizontal bar chart: one labelled bar per (label, value), scaled to the largest.
pub fn bar_chart(html: &mut String, id: &str, title: &str, bars: &[(String, u64)]) {
    let row = 22;
    let (label_width, chart_width, width) = (210, 760, 1040);
    let height = row * bars.len() + 8;
    let max = bars.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1);
    let _ = writeln!(
        html,
        "<svg id=\"{id}\" role=\"img\" aria-label=\"{}\" viewBox=\"0 0 {width} {height}\" width=\"{width}\" height=\"{height}\" xmlns=\"http://www.w3.org/2000/svg\">",
        esc(title)
    );
    let _ = writeln!(html, "<title>{}</title>", esc(title));
    for (i, (label, n)) in bars.iter().enumerate() {
        let y = 4 + i * row;
        let w = ((*n as f64 / max as f64) * chart_width as f64).round().max(1.0) as u64;
        let _ = writeln!(
            html,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text><rect x=\"{label_width}\" y=\"{}\" width=\"{w}\" height=\"15\" fill=\"#2c5d9e\"/><text x=\"{}\" y=\"{}\">{n}</text>",
            label_width - 8,
            y + 12,
            esc(label),
            y + 1,
            label_width + w + 6,
            y + 12,
        );
    }
    html.push_str("</svg>\n");
}

fn rejects(html: &mut String, page: &Page) {
    let counts = &page.report.counts;
    html.push_str("<section id=\"rejects\">\n<h2>2. Rejects by reason code</h2>\n");
    if counts.rejected == 0 {
        html.push_str("<p>No record was rejected.</p>\n</section>\n");
        return;
    }
    let count = |reason: Reason| counts.rejected_by_code.get(reason.code()).copied().unwrap_or(0);
    let found: Vec<Reason> = Reason::ALL.into_iter().filter(|&r| count(r) > 0).collect();
    let _ = writeln!(
        html,
        "<p>{} rejected record{} under {} code{}, in the order the rules apply. Every one is in \
         <a href=\"rejects.csv\">rejects.csv</a> with its file, record, line and detail; \
         <code>devdist explain CODE</code> says more.</p>",
        counts.rejected,
        plural(counts.rejected),
        found.len(),
        plural(found.len() as u64)
    );
    let bars: Vec<(String, u64)> = found.iter().map(|&r| (r.code().to_string(), count(r))).collect();
    bar_chart(html, "rejects-chart", "Rejected records per reason code", &bars);
    for reason in found {
        let Explanation { meaning, rule, fix } = reason.explain();
        let n = count(reason);
        let _ = writeln!(
            html,
            "<div class=\"code\" id=\"code-{0}\"><div><h3><code>{0}</code> <span class=\"n\">— {n} record{1}</span></h3>\n\
             <p>{2}</p><p class=\"fix\">{3}</p><p class=\"rule\">{4}</p></div><div>",
            reason.code(),
            plural(n),
            esc(meaning),
            esc(fix),
            esc(rule)
        );
        let rows = page.first_rejects.get(reason as usize).map_or(&[][..], Vec::as_slice);
        if !rows.is_empty() {
            html.push_str(
                "<table><thead><tr><th>file</th><th class=\"num\">record</th><th class=\"num\">line</th>\
                 <th>product key</th><th>device name</th><th>detail</th></tr></thead><tbody>\n",
            );
            for row in rows {
                let line = if row.line == 0 { "—".to_string() } else { row.line.to_string() };
                let _ = writeln!(
                    html,
                    "<tr><td class=\"nowrap\">{}</td><td class=\"num\">{}</td><td class=\"num\">{line}</td>\
                     <td class=\"nowrap mono\">{}</td><td class=\"nowrap mono\">{}</td><td>{}</td></tr>",
                    esc(&row.file),
                    row.record,
                    esc(&shorten(&row.product_key, 40)),
                    esc(&shorten(&row.device_name, 40)),
                    esc(&shorten(&row.detail, 200))
                );
            }
            html.push_str("</tbody></table>\n");
            if n > rows.len() as u64 {
                let _ = writeln!(
                    html,
                    "<p class=\"note\">The first {} of {n}; the rest are in rejects.csv.</p>",
                    rows.len()
                );
            }
        }
        html.push_str("</div></div>\n");
    }
    let clean: Vec<&str> = Reason::ALL.iter().filter(|&&r| count(r) == 0).map(|r| r.code()).collect();
    if !clean.is_empty() {
        let _ = writeln!(html, "<p class=\"note\">No record broke: {}.</p>", clean.join(", "));
    }
    html.push_str("</section>\n");
}

/// The share of the quota headroom this plan takes, as a bar: used (dark) and left (light);
/// an exhausted instance is hatched and says so in words.
fn headroom_bar(before: u64, after: u64) -> String {
    let width = 160.0;
    let taken = before - after.min(before);
    let used = if before == 0 { width } else { (taken as f64 / before as f64 * width).round() };
    let used = used.max(if taken > 0 { 1.0 } else { 0.0 });
    let fill = if after == 0 { "url(#hatch)" } else { "#2c5d9e" };
    let share = match (before, taken) {
        (0, _) => "full".to_string(),
        (_, 0) => "0%".to_string(),
        _ if taken * 100 < before => "<1%".to_string(),
        _ => format!("{}%", taken * 100 / before),
    };
    format!(
        "<svg viewBox=\"0 0 205 16\" width=\"205\" height=\"16\" xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" aria-label=\"{} of the headroom used\">\
         <rect x=\"0\" y=\"2\" width=\"{width}\" height=\"12\" fill=\"#a9c1e0\"/><rect x=\"0\" y=\"2\" width=\"{used}\" height=\"12\" fill=\"{fill}\"/>\
         <rect x=\"0\" y=\"2\" width=\"{width}\" height=\"12\" fill=\"none\" stroke=\"#1a202c\" stroke-width=\"0.6\"/>\
         <text x=\"166\" y=\"13\">{}</text></svg>",
        esc(&share),
        esc(&share),
    )
}

fn destinations(html: &mut String, report: &Report) {
    html.push_str("<section id=\"destinations\">\n<h2>3. Destinations</h2>\n");
    let devices: u64 = report.destinations.iter().map(|d| d.devices).sum();
    let _ = writeln!(
        html,
        "<p>{} destination{} (account, instance, region). A nearest-access device counts in every candidate instance, \
         so the devices here add up to {devices}, more than the accepted records when nearest access is used. \
         The bar shows the part of each instance's quota headroom (device_quota − devices_in_use) that this plan takes.</p>",
        report.destinations.len(),
        plural(report.destinations.len() as u64)
    );
    html.push_str(
        "<svg width=\"0\" height=\"0\" style=\"position:absolute\" aria-hidden=\"true\"><defs>\
         <pattern id=\"hatch\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\">\
         <rect width=\"6\" height=\"6\" fill=\"#a61b1b\"/><rect width=\"3\" height=\"6\" fill=\"#f3c4c4\"/></pattern></defs></svg>\n\
         <table id=\"destinations-table\"><thead><tr><th>account</th><th>instance</th><th>region</th><th class=\"num\">devices</th>\
         <th class=\"num\">products</th><th class=\"num\">headroom before</th><th class=\"num\">headroom after</th><th>quota used by this plan</th></tr></thead><tbody>\n",
    );
    for d in &report.destinations {
        let exhausted = d.quota_headroom_after == Some(0);
        let flag = if exhausted { " <span class=\"flag\">⚠ EXHAUSTED</span>" } else { "" };
        let quota = |headroom: Option<u64>| headroom.map_or("unlimited".to_string(), |n| n.to_string());
        let (before, after) = (quota(d.quota_headroom_before), format!("{}{flag}", quota(d.quota_headroom_after)));
        let bar = match (d.quota_headroom_before, d.quota_headroom_after) {
            (Some(before), Some(after)) => headroom_bar(before, after),
            (None, None) => "<span class=\"note\">no quota</span>".to_string(),
            _ => String::new(),
        };
        let _ = writeln!(
            html,
            "<tr{}><td class=\"mono\">{}</td><td class=\"mono nowrap\">{}</td><td class=\"nowrap\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{before}</td><td class=\"num nowrap\">{after}</td><td>{bar}</td></tr>",
            if exhausted { " class=\"exhausted\"" } else { "" },
            esc(&d.uid),
            esc(&d.instance),
            esc(&d.region),
            d.devices,
            d.products,
        );
    }
    html.push_str("</tbody></table>\n");
    for (home, devices) in &report.returning_home {
        let _ = writeln!(
            html,
            "<p class=\"returning\"><b>Returning home:</b> {devices} device{} back to {} (their home instance: no quota \
             taken and no product granted there; billing goes back).</p>",
            plural(*devices),
            esc(home)
        );
    }
    if report.destinations.iter().any(|d| d.quota_headroom_after == Some(0)) {
        html.push_str(
            "<p><span class=\"flag\">⚠ EXHAUSTED</span> marks an instance with no headroom left after this plan: \
             any device beyond it was rejected as <code>target_capacity_exceeded</code>, and the next plan to it will be too \
             until its quota is raised.</p>\n",
        );
    }
    html.push_str("</section>\n");
}

fn jobs(html: &mut String, page: &Page) {
    let jobs = &page.report.jobs;
    html.push_str("<section id=\"jobs\">\n<h2>4. Jobs and waves</h2>\n");
    let _ = writeln!(
        html,
        "<p>{} job{} in {} wave{}: {} through the API (CreateDeviceDistributeJob), {} console-only. \
         Each job moves one product from one source instance to one destination, listed in <code>jobs/jobs.csv</code> in execution order.</p>",
        jobs.jobs,
        plural(jobs.jobs),
        jobs.waves,
        plural(jobs.waves),
        jobs.api,
        jobs.console
    );
    let seconds = jobs.api.div_ceil(CREATES_PER_SECOND);
    let rounds = jobs.api.div_ceil(JOBS_IN_FLIGHT);
    let _ = writeln!(
        html,
        "<p><b>Least time the platform allows:</b> at {CREATES_PER_SECOND} creates a second, the {} API job{} take at least {seconds} s to create; \
         with at most {JOBS_IN_FLIGHT} jobs in flight per account they run in at least {rounds} round{}, each waiting for its jobs to finish \
         (the platform publishes no job duration, so plan for more).</p>",
        jobs.api,
        plural(jobs.api),
        plural(rounds)
    );
    if jobs.console > 0 {
        let _ = writeln!(
            html,
            "<div class=\"console\"><p><b>{} console-only job{}: what the operator must do.</b> The API cannot distribute to another account. \
             For each job below, sign in to the console as the source account, create a device distribution of the product from the source \
             instance to the target account and instance with the strategy <i>specified region</i>, and enter the devices of that job \
             (<code>jobs/jobs.csv</code>, manifest under <code>grants/TARGET_UID/INSTANCE/</code>). The platform sends a verification code to \
             the target account, valid 5 minutes: have its owner ready before you start.</p>",
            jobs.console,
            plural(jobs.console)
        );
        let rows = page.console_jobs.iter().take(PAGE_ROWS).map(|job| {
            ([job.job_id.as_str(), &job.product_key, &job.source_instance, &job.target_uid, &job.targets], job.devices)
        });
        console_table(html, "target instance", rows);
        let shown = page.console_jobs.len().min(PAGE_ROWS) as u64;
        if jobs.console > shown {
            let _ =
                writeln!(html, "<p class=\"note\">The first {shown} of {}; jobs.csv lists them all.</p>", jobs.console);
        }
        html.push_str("</div>\n");
    }
    html.push_str("</section>\n");
}

fn warnings(html: &mut String, report: &Report) {
    html.push_str("<section id=\"warnings\">\n<h2>5. Warnings</h2>\n");
    html.push_str(
        "<p>Warnings are about accepted devices: they are distributed, but someone should know. \
         <a href=\"warnings.csv\">warnings.csv</a> lists each warned device with its file, record, line and detail.</p>\n\
         <table><thead><tr><th>warning</th><th class=\"num\">devices</th><th>what it means</th><th>what to do</th></tr></thead><tbody>\n",
    );
    for warning in Warning::ALL {
        let n = report.warnings.get(warning.code()).copied().unwrap_or(0);
        let Explanation { meaning, fix, .. } = warning.explain();
        let _ = writeln!(
            html,
            "<tr id=\"warning-{0}\"><td><code>{0}</code></td><td class=\"num\">{n}</td><td>{1}</td><td>{2}</td></tr>",
            warning.code(),
            esc(meaning),
            esc(fix)
        );
    }
    html.push_str("</tbody></table>\n</section>\n");
}

fn left_out(html: &mut String, report: &Report) {
    html.push_str("<section id=\"left-out\">\n<h2>6. What stays behind</h2>\n");
    html.push_str(
        "<p>The platform's rule: distribution moves only the certificate (ProductKey, DeviceName, DeviceSecret) and the product's \
         definition, read-only. Device status, TSL/property data, the device shadow, files and logs never travel, and tags, groups \
         and gateway topology are cleared. devdist read the columns below and wrote them to no output.</p>\n",
    );
    if report.runtime_columns_left_out.is_empty() {
        html.push_str("<p>The inventories had no runtime columns.</p>\n</section>\n");
        return;
    }
    for (column, field) in &report.columns_that_may_be_fields {
        let _ = writeln!(
            html,
            "<p class=\"warn\"><b>⚠ Column <code>{}</code> may be meant as <code>{}</code></b>: it was read as runtime data \
             and decided nothing. If it holds {}, rename the column to <code>{}</code> and plan again.</p>",
            esc(column),
            esc(field),
            esc(field),
            esc(field)
        );
    }
    html.push_str(
        "<table class=\"narrow\"><thead><tr><th>column</th><th class=\"num\">non-empty cells left out</th></tr></thead><tbody>\n",
    );
    for (column, cells) in &report.runtime_columns_left_out {
        let _ = writeln!(html, "<tr><td class=\"name mono\">{}</td><td class=\"num\">{cells}</td></tr>", esc(column));
    }
    html.push_str("</tbody></table>\n</section>\n");
}

fn files(html: &mut String, report: &Report) {
    html.push_str("<section id=\"files\">\n<h2>7. Inputs and outputs</h2>\n");
    html.push_str(
        "<table><thead><tr><th>input</th><th>format</th><th class=\"num\">bytes</th><th class=\"num\">records</th>\
         <th class=\"num\">accepted</th><th class=\"num\">rejected</th></tr></thead><tbody>\n",
    );
    for input in &report.inputs {
        let _ = writeln!(
            html,
            "<tr><td class=\"name mono\">{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            esc(&input.path),
            esc(&input.format),
            input.bytes,
            input.records,
            input.accepted,
            input.rejected
        );
    }
    html.push_str("</tbody></table>\n");
    let _ = writeln!(
        html,
        "<p>{} output file{} besides report.json, run.json and this page (report.json lists this page's SHA-256 too):</p>",
        report.outputs.len(),
        plural(report.outputs.len() as u64)
    );
    html.push_str("<table><thead><tr><th>output</th><th class=\"num\">rows</th><th>SHA-256</th></tr></thead><tbody>\n");
    let shown = report.outputs.len().min(PAGE_ROWS * 5);
    for file in &report.outputs[..shown] {
        let _ = writeln!(
            html,
            "<tr><td class=\"name mono\">{}</td><td class=\"num\">{}</td><td class=\"mono\">{}</td></tr>",
            esc(&file.path),
            file.rows,
            esc(&file.sha256)
        );
    }
    html.push_str("</tbody></table>\n");
    if report.outputs.len() > shown {
        let _ = writeln!(
            html,
            "<p class=\"note\">The first {shown} of {}; report.json lists them all.</p>",
            report.outputs.len()
        );
    }
    html.push_str("</section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn esc_leaves_no_markup_and_shows_invisible_characters() {
        assert_eq!(esc("<script>alert('x')</script>"), "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;");
        assert_eq!(esc("=cmd|' /C calc'!A0"), "=cmd|&#39; /C calc&#39;!A0");
        assert_eq!(esc("\u{1b}]8;;http://x\u{1b}\\ok"), "\\u{1b}]8;;http://x\\u{1b}\\ok");
        assert_eq!(esc("abc\u{202e}fed"), "abc\\u{202e}fed");
        assert_eq!(esc("a\u{2066}b\u{200b}c\u{feff}\u{85}"), "a\\u{2066}b\\u{200b}c\\u{feff}\\u{85}");
        assert_eq!(esc("sensor_bj.0984 é 中"), "sensor_bj.0984 é 中");
    }

    fn demo_report() -> Report {
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/demo/golden/report.json"))
            .unwrap();
        serde_json::from_str(&text).unwrap()
    }

    #[test]
    fn hostile_values_show_as_inert_text_everywhere() {
        let mut report = demo_report();
        let hostile =
            "<script>alert(1)</script>=cmd|' /C calc'!A0\u{1b}]8;;https://evil.example/\u{1b}\\x\u{202e}gnp.exe";
        report.inputs[0].path = hostile.to_string();
        report.runtime_columns_left_out.insert(hostile.to_string(), 1);
        let row = RejectRow {
            file: hostile.to_string(),
            record: 1,
            line: 2,
            product_key: hostile.to_string(),
            device_name: hostile.to_string(),
            detail: hostile.to_string(),
        };
        let mut first = vec![Vec::new(); Reason::ALL.len()];
        first[Reason::InvalidDeviceName as usize].push(row);
        let html = render(&Page { report: &report, first_rejects: &first, console_jobs: &[] });
        assert!(!html.contains("<script"), "no script element");
        assert!(!html.contains('\u{1b}') && !html.contains('\u{202e}'), "no raw escape or bidi override");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;=cmd|&#39; /C calc&#39;!A0\\u{1b}]8;;https://evil.example/\\u{1b}\\x\\u{202e}gnp.exe"));
        assert!(!html.contains("href=\"https://evil"), "the OSC-8 target is no link");
    }

    #[test]
    fn page_shows_the_reports_numbers_in_section_order() {
        let report = demo_report();
        let html = render(&Page { report: &report, first_rejects: &[], console_jobs: &[] });
        let order: Vec<usize> = [
            "id=\"verdict\"",
            "id=\"rejects\"",
            "id=\"destinations\"",
            "id=\"jobs\"",
            "id=\"warnings\"",
            "id=\"left-out\"",
            "id=\"files\"",
        ]
        .iter()
        .map(|id| html.find(id).unwrap_or_else(|| panic!("no {id}")))
        .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
        assert!(html.contains("3473 records read = 3345 accepted + 128 rejected."));
        assert!(html.contains("0 <span class=\"flag\">⚠ EXHAUSTED</span>"), "iot-eu0001 is full, said in words");
        assert!(html.contains("the 23 API jobs take at least 12 s to create"));
        assert!(html.contains("at least 3 rounds"));
        for (code, n) in &report.counts.rejected_by_code {
            assert!(html.contains(&format!("<code>{code}</code> <span class=\"n\">— {n} records</span>")), "{code}");
        }
    }
}
