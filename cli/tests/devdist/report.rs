//! The report people look at and the commands around it: `explain`, `summary`,
//! `completions` and `man`; report.html and its checks in a real browser.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use devdist_engine::{EDITIONS, PLAN_EXAMPLE, PLAN_KEYS, PUBLIC_INSTANCES, Reason, Warning};
use devdist_formats::{CATALOG_COLUMN_MEANINGS, CATALOG_COLUMNS, Field};
use devdist_platform::codes::{Handling, PLATFORM_CODES};

use crate::support::{code, demo_plan, devdist, stderr};

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("stdout is UTF-8")
}

#[test]
fn explain_lists_the_topics_and_every_code_once() {
    let output = devdist(&["explain"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let text = stdout(&output);
    let codes: Vec<&str> = Reason::ALL
        .iter()
        .map(|r| r.code())
        .chain(Warning::ALL.iter().map(|w| w.code()))
        .chain(["plan", "inventory", "catalog"])
        .chain(PLATFORM_CODES.iter().map(|row| row.code))
        .collect();
    for code in &codes {
        let lines = text.lines().filter(|line| line.split_whitespace().next() == Some(code)).count();
        assert_eq!(lines, 1, "{code} should have exactly one line in:\n{text}");
    }
    // Three headings and the closing hint.
    assert_eq!(text.lines().filter(|line| !line.is_empty()).count(), codes.len() + 4, "{text}");
}

#[test]
fn explain_code_prints_the_engines_meaning_rule_and_fix() {
    for reason in Reason::ALL {
        let output = devdist(&["explain", reason.code()]);
        assert_eq!(code(&output), 0, "{}", stderr(&output));
        let explanation = reason.explain();
        let expected = format!(
            "{} (reason code)\n\nWhat it means: {}\nThe rule:      {}\nHow to fix:    {}\n",
            reason.code(),
            explanation.meaning,
            explanation.rule,
            explanation.fix
        );
        assert_eq!(stdout(&output), expected);
    }
    let output = devdist(&["explain", "TOPOLOGY_SPLIT"]);
    assert_eq!(code(&output), 0);
    assert!(stdout(&output).starts_with("topology_split (warning)\n\nWhat it means: "), "{}", stdout(&output));
}

#[test]
fn explain_unknown_code_exits_2_naming_the_nearest_code() {
    let output = devdist(&["explain", "capacity_exceeded"]);
    assert_eq!(code(&output), 2);
    assert_eq!(stdout(&output), "");
    assert_eq!(
        stderr(&output),
        "devdist: error: explain: no topic, reason code, warning or platform code is called \"capacity_exceeded\"; \
         did you mean target_capacity_exceeded? (`devdist explain` lists them all)\n"
    );
    let output = devdist(&["explain", "iot.system.InstanceIdSane"]);
    assert_eq!(code(&output), 2);
    assert_eq!(
        stderr(&output),
        "devdist: error: explain: no topic, reason code, warning or platform code is called \
         \"iot.system.InstanceIdSane\"; did you mean iot.system.InstanceIdSame? (`devdist explain` lists them all). \
         Were it a platform code in results.csv, apply would take it as refused for good: not retried\n"
    );
    let output = devdist(&["explain", "Throttling.Burst"]);
    assert!(stderr(&output).ends_with("apply would take it as retryable\n"), "{}", stderr(&output));
    assert_eq!(code(&devdist(&["explain", "inventry"])), 2);
    assert!(stderr(&devdist(&["explain", "inventry"])).contains("did you mean inventory?"));
}

#[test]
fn explain_plan_gives_every_key_the_parser_accepts_and_the_example() {
    let output = devdist(&["explain", "plan"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.starts_with("plan.toml: the plan file of `devdist plan PLAN.toml`"), "{text}");
    for key in PLAN_KEYS {
        let heading = match key.path {
            "inputs" | "limits" => format!("[{}]", key.path),
            "routes" => "[[routes]]".to_string(),
            path => path.to_string(),
        };
        let at = text.lines().position(|line| line == heading).unwrap_or_else(|| panic!("no {heading} in:\n{text}"));
        let about: String = text.lines().skip(at + 1).take_while(|line| line.starts_with("    ")).collect();
        assert!(about.contains(key.kind), "{heading}: {about}");
        assert_eq!(about.contains("required"), key.required, "{heading}: {about}");
    }
    assert!(text.contains("integer, 1 to 10000; optional, default 10000."), "{text}");
    assert!(text.contains("integer, 1 to 10; optional, default 10."), "{text}");
    assert!(text.contains("`redrive_of` and `return_of` are written by `devdist redrive`"), "{text}");
    assert!(text.ends_with(&format!("A complete example:\n\n{PLAN_EXAMPLE}")), "{text}");
    // The topic is a word, in any case.
    assert_eq!(stdout(&devdist(&["explain", " PLAN "])), text);
}

#[test]
fn explain_inventory_gives_every_column_with_the_aliases_the_reader_takes() {
    let output = devdist(&["explain", "inventory"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let text = stdout(&output);
    for field in Field::ALL {
        let prefix = format!("{} (", field.name());
        let line = text.lines().find(|line| line.starts_with(&prefix)).unwrap_or_else(|| panic!("{prefix}\n{text}"));
        let (spellings, need) = line[prefix.len()..].rsplit_once("), ").expect("name (spellings), need");
        assert_eq!(need, if field.required() { "required" } else { "optional" }, "{line}");
        let spellings: Vec<&str> = spellings.split(", ").collect();
        assert_eq!(spellings.len(), 1 + field.aliases().len(), "{line}");
        for spelling in spellings.iter().chain(&[field.name()]) {
            // What is printed is what the reader takes.
            assert_eq!(Field::from_header(spelling), Some(field), "{line}");
        }
        for alias in field.aliases() {
            assert!(spellings.contains(alias), "{line}");
        }
        assert!(text.contains(&field.meaning().split_whitespace().take(4).collect::<Vec<_>>().join(" ")), "{line}");
    }
    assert!(text.contains("source_instance (SourceInstance, IotInstanceId, SourceInstanceId), required\n"), "{text}");
    assert!(text.contains("The gateway format: `product_key/device_name` of the gateway device"), "{text}");
    for (id, region) in PUBLIC_INSTANCES {
        assert!(text.contains(&format!("\n  {id}  {region}\n")), "{id}: {text}");
    }
}

#[test]
fn explain_catalog_gives_every_column_and_an_example_the_reader_takes() {
    let output = devdist(&["explain", "catalog"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let text = stdout(&output);
    for (column, meaning) in CATALOG_COLUMNS.iter().zip(CATALOG_COLUMN_MEANINGS) {
        assert!(text.contains(&format!("\n{column}\n    {}", meaning.split(' ').next().unwrap())), "{column}: {text}");
    }
    assert!(text.contains(&format!("Editions: {}.", EDITIONS.join(", "))), "{text}");
    let example: String = text
        .split("An example:\n\n")
        .nth(1)
        .and_then(|rest| rest.split("\n\n").next())
        .expect("an example")
        .to_string();
    assert!(example.starts_with(&CATALOG_COLUMNS.join(",")), "{example}");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("instances.csv");
    fs::write(&path, format!("{example}\n")).unwrap();
    let catalog = devdist_engine::Catalog::load(&path).unwrap_or_else(|err| panic!("{err}"));
    assert!(catalog.find("iot-partner01").is_some());
}

#[test]
fn explain_platform_code_says_what_apply_does_and_never_redrives_a_refusal() {
    for row in &PLATFORM_CODES {
        let output = devdist(&["explain", row.code]);
        assert_eq!(code(&output), 0, "{}: {}", row.code, stderr(&output));
        let text = stdout(&output);
        assert!(text.starts_with(&format!("{} (platform code, ", row.code)), "{text}");
        assert!(text.contains(&format!("\nWhat it means: {}\n", row.meaning)), "{text}");
        assert!(text.contains(&format!("\nApply retries: {}\n", row.handling.apply())), "{text}");
        let todo = text.lines().find_map(|line| line.strip_prefix("What to do:    ")).expect("what to do");
        match row.handling {
            Handling::Refused => {
                assert!(todo.starts_with("Do not redrive"), "{}: {todo}", row.code);
                assert!(!todo.contains("redrive DIR"), "{}: {todo}", row.code);
            }
            Handling::Retried | Handling::Unsettled => {
                assert!(todo.contains("`devdist redrive DIR --out NEW`"), "{}: {todo}", row.code)
            }
            _ => assert!(!todo.contains("redrive"), "{}: {todo}", row.code),
        }
    }
    let output = devdist(&["explain", "iot.system.instanceidsame"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let row = devdist_platform::codes::lookup("iot.system.InstanceIdSame").unwrap();
    assert_eq!(
        stdout(&output),
        format!(
            "iot.system.InstanceIdSame (platform code, refused for good: not retried)\n\n\
             What it means: {}\nApply retries: {}\nWhat to do:    {} {}\n\n\
             In results.csv the outcome decides what `devdist redrive` does: `unknown`, or `failed` with a retryable \
             code, is planned again; `failed` with any other code is left out (refused_by_platform).\n",
            row.meaning,
            row.handling.apply(),
            row.handling.next(),
            row.action
        )
    );
    // Every code the emulator and the wire answer is in the table.
    for code in [
        "Throttling.User",
        "SignatureNonceUsed",
        "InternalError",
        "ServiceUnavailable",
        "iot.system.SystemException",
        "iot.distribute.TooManyJobs",
        "InvalidAccessKeyId.NotFound",
        "SignatureDoesNotMatch",
        "InvalidTimeStamp.Expired",
        "iot.system.IllegalRequest",
        "iot.system.UidNotFound",
        "iot.system.InstanceNotFound",
        "iot.prod.NotExistedProduct",
        "iot.device.NotExistedDevice",
        "iot.device.DistributeFailed",
        "iot.common.InvalidPageParams",
        "200",
        "interrupted",
        "not_in_result_file",
    ] {
        assert!(devdist_platform::codes::lookup(code).is_some(), "{code}");
    }
}

#[test]
fn docs_and_readme_agree_with_the_reference() {
    let read = |name: &str| fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(name)).unwrap();
    let inputs = read("docs/inputs.md");
    assert!(inputs.contains(&format!("```toml\n{PLAN_EXAMPLE}```")), "docs/inputs.md §2.7 is not PLAN_EXAMPLE");
    for key in PLAN_KEYS {
        let name = key.name();
        let spelled = [format!("`{name}`"), format!("`[{name}]`"), format!("`[[{name}]]`")];
        assert!(spelled.iter().any(|spelling| inputs.contains(spelling)), "{}", key.path);
    }
    for field in Field::ALL {
        assert!(inputs.contains(&format!("`{}`", field.name())), "{}", field.name());
        for alias in field.aliases() {
            assert!(inputs.contains(&format!("`{alias}`")), "{alias}");
        }
    }
    for column in CATALOG_COLUMNS {
        assert!(inputs.contains(&format!("`{column}`")), "{column}");
    }
    for (id, region) in PUBLIC_INSTANCES {
        assert!(inputs.contains(&format!("| `{id}` | {region} |")), "{id}");
    }
    assert!(inputs.contains("`devdist explain plan`"), "docs/inputs.md does not point at devdist explain");
    assert!(read("README.md").contains("`devdist explain plan|inventory|catalog|CODE`"));
}

#[test]
fn summary_of_an_output_folder_prints_the_same_table_as_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let out = out.to_str().unwrap();
    let run = devdist(&["plan", demo_plan(), "--out", out]);
    assert_eq!(code(&run), 1, "{}", stderr(&run));
    let summary = devdist(&["summary", out]);
    assert_eq!(code(&summary), 1, "{}", stderr(&summary));
    assert!(
        stderr(&summary)
            .starts_with("devdist plan: 3473 records read = 3345 accepted + 128 rejected (accounting holds)\n")
    );
    assert_eq!(stderr(&summary), stderr(&run));

    fs::remove_file(Path::new(out).join("run.json")).unwrap();
    let summary = devdist(&["summary", out]);
    assert!(stderr(&summary).contains(&format!("  {out} (no run.json: timings unknown)\n")), "{}", stderr(&summary));

    let missing = devdist(&["summary", dir.path().to_str().unwrap()]);
    assert_eq!(code(&missing), 3);
    assert!(stderr(&missing).contains("report.json"), "{}", stderr(&missing));
}

#[test]
fn completions_for_each_shell_name_every_subcommand() {
    for shell in ["bash", "zsh", "fish"] {
        let output = devdist(&["completions", shell]);
        assert_eq!(code(&output), 0, "{shell}: {}", stderr(&output));
        let script = stdout(&output);
        for sub in ["plan", "validate", "verify", "explain", "summary", "completions"] {
            assert!(script.contains(sub), "{shell} completions lack {sub}");
        }
    }
    assert_eq!(code(&devdist(&["completions", "tcsh"])), 2);
}

#[test]
fn man_writes_a_page_per_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let output = devdist(&["man", "--out", dir.path().to_str().unwrap()]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let page = fs::read_to_string(dir.path().join("devdist.1")).unwrap();
    assert!(page.contains("\n.TH devdist 1 "), "{page}");
    let plan = fs::read_to_string(dir.path().join("devdist-plan.1")).unwrap();
    assert!(plan.contains("\n.TH devdist-plan 1 ") && plan.contains("memory"), "{plan}");
    for sub in ["validate", "verify", "explain", "summary", "completions", "generate"] {
        assert!(dir.path().join(format!("devdist-{sub}.1")).is_file(), "no page for {sub}");
    }
    // The pages point at the reference, and devdist-explain.1 carries it whole, unfilled.
    assert!(page.contains("devdist explain plan"), "{page}");
    assert!(plan.contains("devdist explain plan"), "{plan}");
    let explain = fs::read_to_string(dir.path().join("devdist-explain.1")).unwrap();
    let reference =
        explain.split_once("\n.SH REFERENCE\n.nf\n").map(|(_, rest)| rest).unwrap_or_else(|| panic!("{explain}"));
    assert!(reference.ends_with("\n.fi\n"), "{reference}");
    for key in PLAN_KEYS {
        assert!(reference.contains(&format!("\n{}\n", key.path)) || key.kind.contains("table"), "{}", key.path);
    }
    for field in Field::ALL {
        assert!(reference.contains(&format!("\n{} (", field.name())), "{}", field.name());
    }
    for column in CATALOG_COLUMNS {
        assert!(reference.contains(&format!("\n{column}\n")), "{column}");
    }
    assert!(!reference.lines().any(|line| line.starts_with('.') && line != ".fi"), "{reference}");
}

#[test]
fn help_of_plan_validate_and_explain_points_at_the_reference() {
    for sub in [&["plan", "--help"][..], &["validate", "--help"], &["explain", "--help"], &["--help"]] {
        let output = devdist(sub);
        assert_eq!(code(&output), 0, "{sub:?}");
        let text = stdout(&output);
        assert!(
            text.contains("`devdist explain plan`") && text.contains("`devdist explain inventory`"),
            "{sub:?}: {text}"
        );
    }
}

/// Debian's chromium, installed here when it is missing (tests and CI run as root); a machine
/// where it cannot be installed fails this test rather than skipping it.
fn chromium() -> &'static Path {
    static PATH: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    PATH.get_or_init(|| {
        let find = || {
            let found = Command::new("sh").args(["-c", "command -v chromium"]).output().expect("sh runs");
            found.status.success().then(|| String::from_utf8_lossy(&found.stdout).trim().into())
        };
        if let Some(path) = find() {
            return path;
        }
        let install = Command::new("sh")
            .args(["-c", "apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium"])
            .output()
            .expect("sh runs");
        assert!(
            install.status.success(),
            "chromium is missing and `apt-get install -y chromium` failed:\n{}",
            stderr(&install)
        );
        find().expect("chromium is on PATH after apt-get install")
    })
}

/// What a headless Chromium saw of a page: its DOM, its console, and the requests the page
/// itself started (the browser's own background requests, initiator "not an origin", don't
/// count; none of them leaves the machine: every host name resolves to nothing).
#[derive(Debug)]
pub(crate) struct Browsed {
    pub(crate) dom: String,
    pub(crate) console: Vec<String>,
    pub(crate) page_requests: Vec<String>,
}

pub(crate) fn browse(page: &Path, extra: &[&str]) -> Browsed {
    let profile = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let netlog = logs.path().join("netlog.json");
    let output = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--log-net-log={}", netlog.display()))
        .args(extra)
        .arg(format!("file://{}", page.canonicalize().unwrap().display()))
        .output()
        .expect("chromium runs");
    assert!(output.status.success(), "chromium failed:\n{}", stderr(&output));
    let console = stderr(&output).lines().filter(|line| line.contains(":CONSOLE")).map(str::to_string).collect();
    let log: serde_json::Value =
        serde_json::from_slice(&fs::read(&netlog).unwrap()).expect("chromium wrote its net log");
    let start_job =
        log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"].as_u64().expect("the net log names its events");
    let page_requests = log["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|event| event["type"].as_u64() == Some(start_job))
        .filter(|event| event["params"]["initiator"].as_str() != Some("not an origin"))
        .filter_map(|event| event["params"]["url"].as_str().map(str::to_string))
        .collect();
    Browsed { dom: String::from_utf8(output.stdout).unwrap(), console, page_requests }
}

fn plan_demo(out: &Path) -> serde_json::Value {
    let output = devdist(&["plan", demo_plan(), "--out", out.to_str().unwrap(), "--quiet"]);
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    serde_json::from_slice(&fs::read(out.join("report.json")).unwrap()).unwrap()
}

#[test]
fn the_browser_check_notices_console_errors_and_network_requests() {
    // The negative control: without it, an empty console and no requests would prove nothing.
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("bad.html");
    fs::write(
        &page,
        "<!DOCTYPE html><p>x</p><img src=\"http://127.0.0.1:9/x.png\"><script>console.error(\"boom\")</script>",
    )
    .unwrap();
    let seen = browse(&page, &["--dump-dom"]);
    assert!(seen.console.iter().any(|line| line.contains("\"boom\"")), "{seen:?}");
    assert_eq!(seen.page_requests, ["http://127.0.0.1:9/x.png"]);
}

#[test]
fn demo_report_html_loads_offline_and_holds_report_jsons_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let report = plan_demo(&out);
    let seen = browse(&out.join("report.html"), &["--dump-dom"]);
    assert_eq!(seen.console, Vec::<String>::new(), "console messages");
    assert_eq!(seen.page_requests, Vec::<String>::new(), "network requests");
    let dom = &seen.dom;
    let counts = &report["counts"];
    for key in ["read", "accepted", "rejected"] {
        let n = counts[key].as_u64().unwrap();
        assert!(dom.contains(&format!("<div class=\"tile\" id=\"tile-{key}\"><b>{n}</b>")), "{key} = {n}");
    }
    for (code, n) in counts["rejected_by_code"].as_object().unwrap() {
        let n = n.as_u64().unwrap();
        let s = if n == 1 { "" } else { "s" };
        assert!(dom.contains(&format!("<code>{code}</code> <span class=\"n\">— {n} record{s}</span>")), "{code} = {n}");
    }
    for destination in report["destinations"].as_array().unwrap() {
        let cell = |key: &str| destination[key].to_string().trim_matches('"').to_string();
        let start =
            format!("<td class=\"mono\">{}</td><td class=\"mono nowrap\">{}</td>", cell("uid"), cell("instance"));
        let row = dom.split(&start).nth(1).unwrap_or_else(|| panic!("no row for {destination}"));
        let row = row.split("</tr>").next().unwrap();
        let expected = format!(
            "<td class=\"nowrap\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>",
            cell("region"),
            cell("devices"),
            cell("products")
        );
        assert!(row.starts_with(&expected), "{row}");
    }
    for (warning, n) in report["warnings"].as_object().unwrap() {
        assert!(dom.contains(&format!("<td><code>{warning}</code></td><td class=\"num\">{n}</td>")), "{warning}");
    }
}

#[test]
fn demo_report_html_screenshot_is_not_blank() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    plan_demo(&out);
    // Kept under target/ as CI's artifact; DEVDIST_BLESS=1 also refreshes docs/report.png.
    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-html-demo.png");
    let _ = fs::remove_file(&shot);
    let seen = browse(
        &out.join("report.html"),
        &["--hide-scrollbars", "--window-size=1280,2000", &format!("--screenshot={}", shot.display())],
    );
    assert_eq!(seen.console, Vec::<String>::new());
    assert_eq!(seen.page_requests, Vec::<String>::new());
    let decoder = png::Decoder::new(std::io::BufReader::new(fs::File::open(&shot).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut pixels).unwrap();
    assert_eq!((info.width, info.height), (1280, 2000));
    let channels = info.color_type.samples();
    let inked = pixels[..info.buffer_size()].chunks(channels).filter(|px| px[..3].iter().any(|&c| c < 200)).count();
    let share = inked as f64 / (1280.0 * 2000.0);
    assert!(share > 0.03, "only {:.2}% of the screenshot has ink: blank page?", share * 100.0);
    if std::env::var_os("DEVDIST_BLESS").is_some() {
        fs::copy(&shot, "../docs/report.png").unwrap();
    }
}

#[test]
fn hostile_device_names_show_as_inert_text_in_the_browser() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "zzSECRETk3vQ9mZp2Lr8sT1wY6bN4cJ7";
    let names = [
        ("a1BwAGVeu01", "<script>alert(1)</script>"),
        ("a1BwAGVeu01", "=cmd|' /C calc'!A0"),
        ("a1BwAGVeu01", "\u{1b}]8;;https://evil.example/\u{1b}\\click\u{1b}]8;;\u{1b}\\"),
        ("a1BwAGV\u{202e}10ue", "meter-0004"),
        ("a1BwAGVeu01", "meter-0005"),
    ];
    let mut csv = "product_key,device_name,device_secret,source_instance\n".to_string();
    for (product_key, name) in names {
        csv.push_str(&format!("{product_key},\"{}\",{secret},iotx-oxssharez200\n", name.replace('"', "\"\"")));
    }
    fs::write(dir.path().join("devices.csv"), csv).unwrap();
    fs::write(
        dir.path().join("plan.toml"),
        "account = \"1234567890123456\"\n[inputs]\ninventory = [\"devices.csv\"]\n[[routes]]\n\
         strategy = \"specified_region\"\ntargets = [\"iotx-oxssharez700\"]\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let run =
        devdist(&["validate", dir.path().join("plan.toml").to_str().unwrap(), "--out", out.to_str().unwrap(), "-q"]);
    assert_eq!(code(&run), 1, "{}", stderr(&run));
    let html = fs::read_to_string(out.join("report.html")).unwrap();
    assert!(!html.contains(secret), "a secret reached report.html");
    assert!(!html.contains('\u{1b}') && !html.contains('\u{202e}'), "raw escape or bidi override in report.html");

    let seen = browse(&out.join("report.html"), &["--dump-dom"]);
    assert_eq!(seen.console, Vec::<String>::new());
    assert_eq!(seen.page_requests, Vec::<String>::new());
    let dom = &seen.dom;
    assert!(!dom.contains("<script"), "a script element reached the DOM");
    assert!(!dom.contains("evil.example/\""), "the OSC-8 target became a link");
    for shown in [
        "<td class=\"nowrap mono\">&lt;script&gt;alert(1)&lt;/script&gt;</td>",
        "<td class=\"nowrap mono\">=cmd|' /C calc'!A0</td>",
        "<td class=\"nowrap mono\">\\u{1b}]8;;https://evil.example/\\u{1b}\\click\\u{1b}]8;;\\u{1b}\\</td>",
        "<td class=\"nowrap mono\">a1BwAGV\\u{202e}10ue</td>",
    ] {
        assert!(dom.contains(shown), "{shown} not shown as text in:\n{dom}");
    }
}
