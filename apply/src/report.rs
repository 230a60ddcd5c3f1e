//! `DIR/apply/report.html`: the apply page, drawn from [`Summary`] alone with engine's page kit
//! (the same head, style and escaping as the plan's report.html).

use std::fmt::Write;

use devdist_engine::html::{bar_chart, console_table, esc, head, tiles};
use devdist_folder::applied::{JobSummary, Progress};
use devdist_folder::{Outcome, Summary};
use devdist_platform::is_retryable_code;

/// The page `devdist apply` writes to `DIR/apply/report.html`: outcomes per job and per
/// code, the failures with their platform codes, and the command that re-drives them.
pub(crate) fn page(summary: &Summary) -> String {
    let mut html = String::with_capacity(32 << 10);
    head(&mut html, "devdist apply report");
    let d = &summary.devices;
    let j = &summary.jobs;
    let a = &summary.accounting;
    let stop = !a.holds || d.failed + d.unknown > 0;
    html.push_str(
        "<header><h1>devdist apply report</h1><p class=\"sub\">What happened on the platform, from apply/summary.json; \
                   every device's outcome is in <a href=\"results.csv\">results.csv</a>.</p></header>\n",
    );
    html.push_str("<section id=\"verdict\">\n<h2>1. Verdict</h2>\n");
    tiles(
        &mut html,
        &[
            ("devices", "devices", d.total),
            ("distributed", "distributed", d.distributed),
            ("failed", "failed", d.failed),
            ("unknown", "unknown", d.unknown),
            ("console", "console-only", d.console),
            ("jobs", "jobs", j.total),
        ],
    );
    let _ = writeln!(
        html,
        "<div class=\"verdict {}\"><p class=\"line\"><span class=\"badge\">{}</span>{} devices = {} distributed + {} failed + {} unknown + {} console-only.</p>",
        if stop { "stop" } else { "go" },
        if stop { "ACTION NEEDED" } else { "DONE" },
        d.total,
        d.distributed,
        d.failed,
        d.unknown,
        d.console
    );
    let _ = writeln!(
        html,
        "<p><b>Accounting:</b> {} — {} devices in jobs, {} outcomes recorded.</p>",
        if a.holds { "every device has exactly one outcome" } else { "DOES NOT HOLD" },
        a.devices_in_jobs,
        a.outcomes
    );
    // A job refused at its Create settles (every device failed) without a platform job: it is
    // not one the platform ran, and "finished" would say it was.
    let settled = summary.per_job.iter().filter(|job| job.status == Progress::Finished);
    let ran = settled.clone().filter(|job| job.attempts > 0).count();
    let refused_jobs = settled.count() - ran;
    let _ = writeln!(
        html,
        "<p><b>Jobs:</b> {} in total ({} API, {} console-only): {} platform jobs created \
         (every attempt counts, {} interrupted); {ran} API jobs ran to their end on the platform, {refused_jobs} \
         were refused at their Create and made no platform job.</p>",
        j.total, j.api, j.console, j.created, j.interrupted
    );
    let retryable_failed: u64 = summary
        .by_code
        .iter()
        .filter(|c| c.outcome == Outcome::Failed && is_retryable_code(&c.code))
        .map(|c| c.devices)
        .sum();
    let retryable = d.unknown + retryable_failed;
    if retryable > 0 {
        let _ = writeln!(
            html,
            "<p><b>Re-drive the {retryable} unknown and retryably failed devices:</b></p><pre class=\"mono\">{}</pre>",
            esc(&summary.redrive_command)
        );
    }
    if d.failed > retryable_failed {
        let _ = writeln!(
            html,
            "<p><b>{} devices were refused for good</b> (their codes are below): re-driving will not change \
             that; fix the cause first.</p>",
            d.failed - retryable_failed
        );
    }
    html.push_str("</div>\n</section>\n");
    console_work(&mut html, summary);
    html.push_str("<section id=\"codes\">\n<h2>2. Outcomes per code</h2>\n");
    let bars: Vec<(String, u64)> =
        summary.by_code.iter().map(|c| (format!("{} {}", c.outcome.name(), c.code), c.devices)).collect();
    if !bars.is_empty() {
        bar_chart(&mut html, "codes-chart", "Devices per outcome and platform code", &bars);
    }
    html.push_str(
        "<table><thead><tr><th>outcome</th><th>code</th><th class=\"num\">devices</th></tr></thead><tbody>\n",
    );
    for c in &summary.by_code {
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td class=\"mono\">{}</td><td class=\"num\">{}</td></tr>",
            esc(c.outcome.name()),
            esc(&c.code),
            c.devices
        );
    }
    html.push_str("</tbody></table>\n</section>\n<section id=\"per-job\">\n<h2>3. Outcomes per job</h2>\n");
    html.push_str(
        "<table><thead><tr><th>job</th><th>platform job</th><th>status</th><th class=\"num\">devices</th><th class=\"num\">distributed</th>\
         <th class=\"num\">failed</th><th class=\"num\">unknown</th></tr></thead><tbody>\n",
    );
    let shown = shown_jobs(&summary.per_job);
    for job in shown.iter().map(|&i| &summary.per_job[i]) {
        let platform = job.platform_job_id.as_deref().filter(|id| !id.is_empty()).unwrap_or("—");
        let _ = writeln!(
            html,
            "<tr{}><td class=\"mono\">{}</td><td class=\"mono name\">{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            if job.failed + job.unknown > 0 { " class=\"exhausted\"" } else { "" },
            esc(&job.job_id),
            esc(platform),
            job.status.name(),
            job.devices,
            job.distributed,
            job.failed,
            job.unknown
        );
    }
    html.push_str("</tbody></table>\n");
    if shown.len() < summary.per_job.len() {
        let _ = writeln!(
            html,
            "<p>{} of {} jobs shown: those with failed or unknown devices first, then the others in plan order. \
             <a href=\"summary.json\">summary.json</a> lists every job, and \
             <a href=\"results.csv\">results.csv</a> every device.</p>",
            shown.len(),
            summary.per_job.len()
        );
    }
    html.push_str("</section>\n");
    html.push_str("<footer>devdist — <code>devdist verify DIR</code> re-checks the apply accounting.</footer>\n</body>\n</html>\n");
    html
}

/// The most jobs the page lists one row each: past it a page of 700,000 rows is more than a
/// browser shows, and the counts above still cover every job.
pub(crate) const PAGE_JOBS: usize = 1000;

/// The indices of the jobs the page lists, in plan order: every job when they are at most
/// [`PAGE_JOBS`]; else those with failed or unknown devices first, then the others, up to it.
fn shown_jobs(jobs: &[JobSummary]) -> Vec<usize> {
    if jobs.len() <= PAGE_JOBS {
        return (0..jobs.len()).collect();
    }
    let troubled = |job: &JobSummary| job.failed + job.unknown > 0;
    let mut shown: Vec<usize> = (0..jobs.len()).filter(|&i| troubled(&jobs[i])).take(PAGE_JOBS).collect();
    let room = PAGE_JOBS - shown.len();
    shown.extend((0..jobs.len()).filter(|&i| !troubled(&jobs[i])).take(room));
    shown.sort_unstable();
    shown
}

/// The cross-account jobs the operator creates in the console, each with what to enter.
fn console_work(html: &mut String, summary: &Summary) {
    if summary.console_work.is_empty() {
        return;
    }
    html.push_str("<section id=\"console\">\n<h2>Console work</h2>\n");
    let mut actions: Vec<&str> = summary.console_work.iter().map(|work| work.action.as_str()).collect();
    actions.dedup();
    for action in actions {
        let _ = writeln!(html, "<p>{}.</p>", esc(action));
    }
    let rows = summary.console_work.iter().take(PAGE_JOBS).map(|w| {
        ([w.job_id.as_str(), &w.product_key, &w.source_instance, &w.target_uid, &w.target_instances], w.devices)
    });
    console_table(html, "target instances", rows);
    if summary.console_work.len() > PAGE_JOBS {
        let _ = writeln!(
            html,
            "<p>The first {PAGE_JOBS} of {} console work items are shown; \
             <a href=\"summary.json\">summary.json</a> lists every one (<code>console_work</code>).</p>",
            summary.console_work.len()
        );
    }
    html.push_str(
        "<p>Their devices are listed in <a href=\"results.csv\">results.csv</a> \
                   (outcome <code>console</code>).</p>\n</section>\n",
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_renders_a_hand_made_summary() {
        let text =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/apply/summary.json")).unwrap();
        let summary: Summary = serde_json::from_str(&text).unwrap();
        let html = page(&summary);
        assert_eq!(html, page(&summary), "deterministic");
        let ok = "devices = 1000 distributed + 120 failed + 30 unknown + 50 console-only";
        assert!(html.contains(&format!("<span class=\"badge\">ACTION NEEDED</span>1200 {ok}.")), "{html}");
        assert!(html.contains("every device has exactly one outcome — 1200 devices in jobs, 1200 outcomes recorded"));
        assert!(html.contains("<pre class=\"mono\">devdist redrive out --out out-redrive</pre>"));
        assert!(html.contains("<td class=\"mono\">iot.device.NotExistedDevice</td><td class=\"num\">80</td>"));
        assert!(html.contains("iot.device.&lt;b&gt;Bad&lt;/b&gt;") && !html.contains("<b>Bad</b>"));
        // Every status in words, empty and null platform ids.
        assert!(html.contains("<td class=\"mono name\">dj-9a77b1</td><td>redrive_queued</td>"));
        assert_eq!(html.matches("<td class=\"mono name\">—</td>").count(), 2);
        assert_eq!(html.matches("<tr class=\"exhausted\">").count(), 2, "the jobs with failed or unknown devices");
        assert!(!html.contains("<script") && html.contains("default-src 'none'"));
    }

    #[test]
    fn a_page_of_many_jobs_lists_the_troubled_ones_first_and_counts_them_all() {
        let text =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/apply/summary.json")).unwrap();
        let mut summary: Summary = serde_json::from_str(&text).unwrap();
        let clean = summary.per_job.iter().find(|job| job.failed + job.unknown == 0).unwrap().clone();
        let troubled = summary.per_job.iter().find(|job| job.failed + job.unknown > 0).unwrap().clone();
        summary.per_job = (0..700_000)
            .map(|i| {
                let mut job = if i % 100_000 == 99_999 { troubled.clone() } else { clean.clone() };
                job.job_id = format!("job-{i:016}");
                job
            })
            .collect();
        let html = page(&summary);
        assert!(html.len() < 1 << 20, "{} bytes", html.len());
        assert_eq!(html.matches("<tr class=\"exhausted\">").count(), 7, "every troubled job is listed");
        assert!(html.contains("<td class=\"mono\">job-0000000000699999</td>"));
        assert!(html.contains("<td class=\"mono\">job-0000000000000992</td>"));
        assert!(!html.contains("<td class=\"mono\">job-0000000000000993</td>"), "993 clean jobs fill the page");
        assert!(html.contains("<p>1000 of 700000 jobs shown: those with failed or unknown devices first"), "{html}");

        let work = summary.console_work[0].clone();
        summary.console_work = vec![work; 70_000];
        let html = page(&summary);
        assert!(html.len() < 2 << 20, "{} bytes", html.len());
        assert!(html.contains("<p>The first 1000 of 70000 console work items are shown;"), "{html}");
    }

    #[test]
    fn refused_jobs_are_not_called_finished_and_console_work_is_listed() {
        let text =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/apply/summary.json")).unwrap();
        let summary: Summary = serde_json::from_str(&text).unwrap();
        let html = page(&summary);
        assert!(!html.contains("finished,"), "{html}");
        assert!(
            html.contains(
                "<p><b>Jobs:</b> 4 in total (3 API, 1 console-only): 3 platform jobs created \
                 (every attempt counts, 1 interrupted); 2 API jobs ran to their end on the platform, 0 were refused \
                 at their Create and made no platform job.</p>"
            ),
            "{html}"
        );
        assert!(html.contains("<section id=\"console\">"), "{html}");
        assert!(html.contains("<p>cross-account: create this job in the IoT console.</p>"), "{html}");
        assert!(html.contains(
            "<tr><td class=\"mono\">job-0000000000000004</td><td class=\"mono\">a1Pk</td><td class=\"mono\">iot-a</td>\
             <td class=\"mono\">222</td><td class=\"mono\">iot-b</td><td class=\"num\">50</td></tr>"
        ));
        // 30 unknown are worth re-driving; the 120 failed have codes that are not.
        assert!(html.contains("<p><b>Re-drive the 30 unknown and retryably failed devices:</b></p>"), "{html}");
        assert!(html.contains("<p><b>120 devices were refused for good</b>"), "{html}");

        // A job refused at its Create: settled, no platform job.
        let mut refused = summary.clone();
        refused.per_job[2].attempts = 0;
        refused.per_job[2].platform_job_id = None;
        refused.devices.unknown = 0;
        refused.by_code.retain(|c| c.outcome != Outcome::Unknown);
        let html = page(&refused);
        assert!(html.contains("1 API jobs ran to their end on the platform, 1 were refused at their Create"), "{html}");
        assert!(!html.contains("devdist redrive"), "nothing is worth re-driving: {html}");
    }
}
