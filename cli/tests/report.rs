//! The report people look at and the commands around it: `explain`, `summary`,
//! `completions` and `man`; report.html and its checks in a real browser.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use devdist_engine::{Reason, Warning};

const DEMO_PLAN: &str = "../fixtures/demo/plan.toml";

fn devdist(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_devdist")).args(args).output().expect("devdist runs")
}

fn code(output: &Output) -> i32 {
    output.status.code().expect("exited normally")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("stdout is UTF-8")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn explain_lists_every_reason_code_and_warning_once() {
    let output = devdist(&["explain"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let text = stdout(&output);
    let codes: Vec<&str> = Reason::ALL.iter().map(|r| r.code()).chain(Warning::ALL.iter().map(|w| w.code())).collect();
    for code in &codes {
        let lines = text.lines().filter(|line| line.split_whitespace().next() == Some(code)).count();
        assert_eq!(lines, 1, "{code} should have exactly one line in:\n{text}");
    }
    assert_eq!(text.lines().filter(|line| !line.is_empty()).count(), codes.len() + 1, "{text}");
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
        "devdist: error: explain: no reason code or warning is called \"capacity_exceeded\"; did you mean \
         target_capacity_exceeded? (`devdist explain` lists them all)\n"
    );
}

#[test]
fn summary_of_an_output_folder_prints_the_same_table_as_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let out = out.to_str().unwrap();
    let run = devdist(&["plan", DEMO_PLAN, "--out", out]);
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
}
