//! `DIR/audit/report.html`: the audit page, drawn from [`AuditSummary`] alone with engine's
//! page kit. It stays small at any size: counts, then the disagreements with apply, then the
//! first devices of each kind (summary.json keeps at most 20 of each); every device is in
//! audit.csv.

use std::fmt::Write;

use devdist_engine::html::{bar_chart, esc, head, tiles};
use devdist_folder::AuditSummary;
use devdist_folder::audited::ProductAudit;

/// The most (product, source, target) rows the page lists.
const PRODUCTS_SHOWN: usize = 50;

/// The page `devdist audit` writes.
pub(super) fn page(summary: &AuditSummary) -> String {
    let mut html = String::with_capacity(32 << 10);
    head(&mut html, "devdist audit report");
    let v = &summary.verdicts;
    let d = &summary.disagreements;
    html.push_str(
        "<header><h1>devdist audit report</h1><p class=\"sub\">Where the platform says each device of the plan is now, \
         from audit/summary.json; every device's verdict is in <a href=\"audit.csv\">audit.csv</a>.</p></header>\n",
    );
    html.push_str("<section id=\"verdict\">\n<h2>1. Verdict</h2>\n");
    tiles(
        &mut html,
        &[
            ("devices", "devices", summary.devices),
            ("placed", "placed", v.placed),
            ("not_placed", "not placed", v.not_placed),
            ("returned", "returned", v.returned),
            ("elsewhere", "elsewhere", v.elsewhere),
            ("disagreements", "disagree with apply", d.total()),
        ],
    );
    let stop = v.placed != summary.devices || d.total() > 0;
    let _ = writeln!(
        html,
        "<div class=\"verdict {}\"><p class=\"line\"><span class=\"badge\">{}</span>{} devices = {} placed + {} not placed + {} returned + {} elsewhere.</p>",
        if stop { "stop" } else { "go" },
        if stop { "ACTION NEEDED" } else { "ALL PLACED" },
        summary.devices,
        v.placed,
        v.not_placed,
        v.returned,
        v.elsewhere
    );
    if d.total() > 0 {
        let _ = writeln!(
            html,
            "<p><b>The platform disagrees with apply's results for {} devices:</b> {} apply recorded distributed are \
             not at their target; {} apply recorded failed or unknown are placed. The platform's word is in \
             audit.csv; <code>devdist redrive</code> and <code>devdist return</code> follow it.</p>",
            d.total(),
            d.applied_not_placed,
            d.placed_not_applied
        );
    } else if summary.applied {
        html.push_str("<p>apply's results agree with the platform for every device.</p>\n");
    } else {
        html.push_str("<p>DIR has no apply results to compare with.</p>\n");
    }
    let _ = writeln!(
        html,
        "<p><b>Asked:</b> {} at {} (UTC); {} devices settled by ListDistributedDevice sweeps, {} by QueryDeviceProvisioning.</p>",
        esc(&summary.endpoint),
        esc(&summary.audited_at),
        summary.settled.sweep,
        summary.settled.provisioning
    );
    html.push_str("</div>\n</section>\n");

    html.push_str("<section id=\"first\">\n<h2>2. Devices to look at</h2>\n");
    if summary.first.is_empty() {
        html.push_str("<p>None: every device is placed and agrees with apply.</p>\n");
    } else {
        html.push_str(
            "<p>Disagreements first, then not placed, returned and elsewhere; at most 20 of each (all in audit.csv).</p>\n\
             <table><thead><tr><th>product</th><th>device</th><th>verdict</th><th>disagreement</th><th>apply</th>\
             <th>expected</th><th>observed</th><th>note</th></tr></thead><tbody>\n",
        );
        for row in &summary.first {
            let _ = writeln!(
                html,
                "<tr{}><td class=\"mono\">{}</td><td class=\"mono name\">{}</td><td>{}</td><td>{}</td><td>{}</td>\
                 <td class=\"mono\">{}</td><td class=\"mono\">{}</td><td>{}</td></tr>",
                if row.disagreement.is_empty() { "" } else { " class=\"exhausted\"" },
                esc(&row.product_key),
                esc(&row.device_name),
                row.verdict.name(),
                esc(&row.disagreement),
                esc(&row.apply_outcome),
                esc(&row.expected_target),
                esc(&row.observed_instance),
                esc(&row.note)
            );
        }
        html.push_str("</tbody></table>\n");
    }
    html.push_str("</section>\n<section id=\"products\">\n<h2>3. Products</h2>\n");
    let bars: Vec<(String, u64)> = summary
        .products
        .iter()
        .map(|p| (format!("{} → {}", p.product_key, p.target_instance), p.devices_placed))
        .collect();
    if !bars.is_empty() && bars.len() <= 40 {
        bar_chart(&mut html, "products-chart", "Devices placed per product and target", &bars);
    }
    html.push_str(
        "<table><thead><tr><th>product</th><th>source</th><th>target</th><th>ListDistributedProduct</th>\
         <th class=\"num\">devices placed</th></tr></thead><tbody>\n",
    );
    // The ones the platform does not list first, then the fullest: at most PRODUCTS_SHOWN rows.
    let mut shown: Vec<&ProductAudit> = summary.products.iter().collect();
    shown.sort_by_key(|p| (p.listed, std::cmp::Reverse(p.devices_placed)));
    for p in shown.iter().take(PRODUCTS_SHOWN) {
        let _ = writeln!(
            html,
            "<tr><td class=\"mono\">{}</td><td class=\"mono\">{}</td><td class=\"mono\">{}</td><td>{}</td><td class=\"num\">{}</td></tr>",
            esc(&p.product_key),
            esc(&p.source_instance),
            esc(&p.target_instance),
            if p.listed { "listed" } else { "not listed" },
            p.devices_placed
        );
    }
    html.push_str("</tbody></table>\n");
    if summary.products.len() > PRODUCTS_SHOWN {
        let _ = writeln!(
            html,
            "<p>{} more (product, source, target) in <a href=\"summary.json\">summary.json</a>.</p>",
            summary.products.len() - PRODUCTS_SHOWN
        );
    }
    html.push_str("</section>\n<section id=\"calls\">\n<h2>4. Calls</h2>\n");
    html.push_str(
        "<table><thead><tr><th>API</th><th class=\"num\">calls</th><th class=\"num\">retries</th></tr></thead><tbody>\n",
    );
    for c in &summary.calls {
        let _ = writeln!(
            html,
            "<tr><td class=\"mono\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            esc(&c.api),
            c.calls,
            c.retries
        );
    }
    html.push_str("</tbody></table>\n</section>\n");
    html.push_str(
        "<footer>devdist — <code>devdist verify DIR</code> re-checks audit's files and that every device has one verdict.</footer>\n</body>\n</html>\n",
    );
    html
}
