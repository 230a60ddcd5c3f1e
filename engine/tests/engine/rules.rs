//! One test per rule of docs/inputs.md §6: every reason code, every warning, the rule order and the
//! return to source, each on a minimal hand-written inventory run through `devdist_engine::run`.

use std::path::PathBuf;

use devdist_engine::{NoProgress, Options, Report, run, sign};
use devdist_testkit::Reject;

const ACCOUNT: &str = "1234567890123456";
const OTHER: &str = "2222222222222222";
const PK: &str = "a1BwAGVeu01";
const PK2: &str = "a1BwAGVeu02";
const SECRET: &str = "abcdefghijklmnopqrstuvwxyz012345";
const SECRET2: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ987654";
const SH: &str = "iotx-oxssharez200"; // cn-shanghai
const JP: &str = "iotx-oxssharez300"; // ap-northeast-1
const US: &str = "iotx-oxssharez600"; // us-east-1
const EU: &str = "iotx-oxssharez700"; // eu-central-1
/// The default header: the certificate, the source and a per-row target.
const HEADER: &str = "product_key,device_name,device_secret,source_instance,target_instance";

// ---------------------------------------------------------------------------------------------
// Harness

/// An inventory and plan to run: a CSV header, rows, an optional catalog and routes.
struct Case {
    inventory: Vec<u8>,
    instances: Option<String>,
    routes: String,
    threads: usize,
}

/// What a run produced.
struct Ran {
    /// Rows of rejects.csv, their text cells read back to the values they were written from
    /// (README: "Opening rejects.csv in a spreadsheet").
    rejects: Vec<Reject>,
    report: Report,
    out: PathBuf,
    _dir: tempfile::TempDir,
}

fn case(header: &str) -> Case {
    Case { inventory: format!("{header}\n").into_bytes(), instances: None, routes: String::new(), threads: 2 }
}

/// A row of the default header: `PK,name,SECRET,SH,EU`.
fn dev(name: &str) -> String {
    format!("{PK},{name},{SECRET},{SH},{EU}")
}

impl Case {
    /// Appends one line (a newline is added).
    fn row(self, line: &str) -> Case {
        self.raw(format!("{line}\n").as_bytes())
    }
    /// Appends raw bytes as they are (for malformed content).
    fn raw(mut self, bytes: &[u8]) -> Case {
        self.inventory.extend_from_slice(bytes);
        self
    }
    /// Enterprise instances: rows of `instance_id,region,edition,owner_uid,device_quota,devices_in_use`.
    fn instances(mut self, rows: &[&str]) -> Case {
        let header = "instance_id,region,edition,owner_uid,device_quota,devices_in_use\n";
        self.instances = Some(rows.iter().fold(header.to_string(), |text, row| text + row + "\n"));
        self
    }
    /// Appends a `[[routes]]` table (its body).
    fn route(mut self, body: &str) -> Case {
        self.routes += &format!("\n[[routes]]\n{body}\n");
        self
    }
    fn threads(mut self, threads: usize) -> Case {
        self.threads = threads;
        self
    }

    /// Writes the plan and inputs into a tempdir and runs them; checks that no secret of the
    /// inventory appears anywhere in rejects.csv and that the counts add up.
    fn run(self) -> Ran {
        let dir = tempfile::tempdir().unwrap();
        let mut plan = format!("account = \"{ACCOUNT}\"\n[inputs]\ninventory = [\"devices.csv\"]\n");
        if let Some(instances) = &self.instances {
            std::fs::write(dir.path().join("instances.csv"), instances).unwrap();
            plan += "instances = \"instances.csv\"\n";
        }
        plan += &self.routes;
        std::fs::write(dir.path().join("plan.toml"), plan).unwrap();
        std::fs::write(dir.path().join("devices.csv"), &self.inventory).unwrap();
        let out = dir.path().join("out");
        let options = Options { threads: self.threads, dry_run: false, ..Options::default() };
        let outcome = run(&dir.path().join("plan.toml"), &out, &options, &NoProgress).expect("the run succeeds");

        let text = std::fs::read_to_string(out.join("rejects.csv")).unwrap();
        let secrets = devdist_testkit::device_secrets(&self.inventory, 6);
        for file in ["rejects.csv", "warnings.csv"] {
            let text = std::fs::read_to_string(out.join(file)).unwrap();
            if let Some(secret) = devdist_testkit::find_any(text.as_bytes(), &secrets) {
                panic!("{file} shows the secret {:?}:\n{text}", String::from_utf8_lossy(secret));
            }
        }
        let rejects: Vec<Reject> =
            devdist_testkit::parse_rejects(text.as_bytes()).into_iter().map(Reject::read_back).collect();
        let report = outcome.report;
        assert_eq!(report.counts.read, report.counts.accepted + report.counts.rejected);
        assert_eq!(report.counts.rejected, rejects.len() as u64);
        Ran { rejects, report, out, _dir: dir }
    }
}

impl Ran {
    /// (record, line, code) of every reject, in file order.
    fn rejected(&self) -> Vec<(u64, u64, &str)> {
        self.rejects.iter().map(|r| (r.record, r.line.expect("a CSV line"), r.code.as_str())).collect()
    }
    fn accepted(&self) -> u64 {
        self.report.counts.accepted
    }
    fn by_code(&self, code: &str) -> u64 {
        self.report.counts.rejected_by_code[code]
    }
    /// (record, line, device name, code, detail) of every row of warnings.csv, in file order;
    /// checks each code's rows are the report's count.
    fn warned(&self) -> Vec<(String, String, String, String, String)> {
        let rows = devdist_testkit::table(&self.out.join("warnings.csv"));
        for (code, n) in &self.report.warnings {
            assert_eq!(rows.iter().filter(|row| row["code"] == *code).count() as u64, *n, "{code}: {rows:?}");
        }
        rows.into_iter()
            .map(|row| {
                assert_eq!((row["source_file"].as_str(), row["product_key"].as_str()), ("devices.csv", PK));
                let cell = |name: &str| row[name].clone();
                (cell("record"), cell("line"), cell("device_name"), cell("code"), cell("detail"))
            })
            .collect()
    }
    fn warning(&self, code: &str) -> u64 {
        self.report.warnings.get(code).copied().unwrap_or_else(|| panic!("no warning {code} in the report"))
    }
    /// Rows of an output CSV as maps from column to value.
    fn table(&self, path: &str) -> Vec<std::collections::BTreeMap<String, String>> {
        devdist_testkit::table(&self.out.join(path))
    }
}

// ---------------------------------------------------------------------------------------------
// Stage 1

#[test]
fn malformed_record_wrong_field_count() {
    // Record 1 spans lines 2–3 (a quoted newline in a runtime column); record 2 has too few
    // fields and record 4 too many.
    let ran = case(&format!("{HEADER},note"))
        .row(&format!("{},\"two\nlines\"", dev("dev-0001")))
        .row(&format!("{PK},dev-0002,{SECRET},{SH}"))
        .row(&format!("{},ok", dev("dev-0003")))
        .row(&format!("{},x,extra", dev("dev-0004")))
        .run();
    assert_eq!(ran.rejected(), [(2, 4, "malformed_record"), (4, 6, "malformed_record")]);
    assert_eq!(ran.rejects[0].source_file, "devices.csv");
    assert_eq!(ran.accepted(), 2);
    assert_eq!(ran.by_code("malformed_record"), 2);
}

#[test]
fn malformed_record_invalid_utf8() {
    let ran = case(HEADER)
        .row(&dev("dev-0001"))
        .raw(format!("{PK},dev-").as_bytes())
        .raw(b"\xff\xfe02,") // device_name "dev-\xff\xfe02" is not UTF-8
        .raw(format!("{SECRET},{SH},{EU}\n").as_bytes())
        .row(&dev("dev-0003"))
        .run();
    assert_eq!(ran.rejected(), [(2, 3, "malformed_record")]);
    assert_eq!(ran.accepted(), 2);
}

#[test]
fn missing_field_each_required_field() {
    let ran = case(HEADER)
        .row(&format!(",dev-0001,{SECRET},{SH},{EU}"))
        .row(&format!("{PK},,{SECRET},{SH},{EU}"))
        .row(&format!("{PK},dev-0003,,{SH},{EU}"))
        .row(&format!("{PK},dev-0004,{SECRET},,{EU}"))
        .row(&dev("dev-0005"))
        .run();
    let want: Vec<_> = (1..=4).map(|r| (r, r + 1, "missing_field")).collect();
    assert_eq!(ran.rejected(), want);
    assert_eq!(ran.accepted(), 1);
}

#[test]
fn invalid_product_key() {
    let ran = case(HEADER)
        .row(&format!("a1Bw-GVeu01,dev-0001,{SECRET},{SH},{EU}"))
        .row(&format!("a1BwAGVeu01a1BwAGVeu0,dev-0002,{SECRET},{SH},{EU}")) // 21 characters
        .row(&format!("a1BwAGVeu01a1BwAGVeu,dev-0003,{SECRET},{SH},{EU}")) // 20: valid
        .run();
    assert_eq!(ran.rejected(), [(1, 2, "invalid_product_key"), (2, 3, "invalid_product_key")]);
    assert_eq!(ran.accepted(), 1);
}

#[test]
fn invalid_device_name() {
    let ran = case(HEADER)
        .row(&dev("abc")) // 3 characters
        .row(&dev(&"a".repeat(33)))
        .row(&dev("dev#0003"))
        .row(&dev("dev 0004"))
        .row(&dev("A_z-0@.:")) // every allowed punctuation
        .row(&dev(&"b".repeat(32)))
        .run();
    let want: Vec<_> = (1..=4).map(|r| (r, r + 1, "invalid_device_name")).collect();
    assert_eq!(ran.rejected(), want);
    assert_eq!(ran.accepted(), 2);
}

#[test]
fn invalid_device_secret() {
    let long = "s".repeat(65);
    let ran = case(HEADER)
        .row(&format!("{PK},dev-0001,{long},{SH},{EU}"))
        .row(&format!("{PK},dev-0002,secret/with/slash,{SH},{EU}"))
        .row(&format!("{PK},dev-0003,secret with space,{SH},{EU}"))
        .row(&format!("{PK},dev-0004,{},{SH},{EU}", "t".repeat(64)))
        .run();
    let want: Vec<_> = (1..=3).map(|r| (r, r + 1, "invalid_device_secret")).collect();
    assert_eq!(ran.rejected(), want);
    assert_eq!(ran.accepted(), 1);
}

#[test]
fn signature_mismatch_and_correct_signature() {
    let header = format!("{HEADER},sign_client_id,sign_method,sign_timestamp,sign_password");
    let good = sign("hmacsha256", "cid-1", "dev-0001", PK, "1700000000", SECRET).unwrap();
    let good_sha1 = sign("hmacsha1", "cid-2", "dev-0002", PK, "", SECRET).unwrap().to_uppercase();
    let good_md5 = sign("hmacmd5", "cid-5", "dev-0005", PK, "17", SECRET).unwrap();
    let wrong = sign("hmacsha256", "cid-3", "dev-0003", PK, "1700000000", SECRET2).unwrap();
    let ran = case(&header)
        .row(&format!("{},cid-1,hmacsha256,1700000000,{good}", dev("dev-0001")))
        .row(&format!("{},cid-2,hmacsha1,,{good_sha1}", dev("dev-0002")))
        .row(&format!("{},cid-3,hmacsha256,1700000000,{wrong}", dev("dev-0003")))
        .row(&format!("{},cid-4,hmacsha512,1700000000,{good}", dev("dev-0004")))
        .row(&format!("{},cid-5,hmacmd5,17,{good_md5}", dev("dev-0005")))
        .row(&format!("{},cid-6,nonsense,1,", dev("dev-0006"))) // empty password: not checked
        .row(&format!("{},cid-1,hmacsha256,1700000001,{good}", dev("dev-0007"))) // other device
        .run();
    assert_eq!(
        ran.rejected(),
        [(3, 4, "signature_mismatch"), (4, 5, "signature_mismatch"), (7, 8, "signature_mismatch")]
    );
    assert_eq!(ran.accepted(), 4);
}

#[test]
fn unknown_source_instance() {
    let ran = case(HEADER).row(&dev("dev-0001")).row(&format!("{PK},dev-0002,{SECRET},iot-nowhere,{EU}")).run();
    assert_eq!(ran.rejected(), [(2, 3, "unknown_source_instance")]);
    assert_eq!(ran.accepted(), 1);
}

#[test]
fn unknown_target_instance() {
    let ran = case(HEADER).row(&format!("{PK},dev-0001,{SECRET},{SH},iot-nowhere")).row(&dev("dev-0002")).run();
    assert_eq!(ran.rejected(), [(1, 2, "unknown_target_instance")]);
    assert_eq!(ran.accepted(), 1);
}

#[test]
fn region_mismatch() {
    let ran = case(&format!("{HEADER},source_region"))
        .row(&format!("{},cn-shanghai", dev("dev-0001")))
        .row(&format!("{},cn-beijing", dev("dev-0002")))
        .row(&format!("{},", dev("dev-0003")))
        .run();
    assert_eq!(ran.rejected(), [(2, 3, "region_mismatch")]);
    assert_eq!(ran.accepted(), 2);
}

#[test]
fn not_owner() {
    let ran = case(HEADER)
        .instances(&[
            "iot-bj0001,cn-beijing,standard,9999999999999999,,",
            &format!("iot-bj0002,cn-beijing,standard,{ACCOUNT},,"),
        ])
        .row(&format!("{PK},dev-0001,{SECRET},iot-bj0001,{EU}"))
        .row(&format!("{PK},dev-0002,{SECRET},iot-bj0002,{EU}"))
        .run();
    assert_eq!(ran.rejected(), [(1, 2, "not_owner")]);
    assert_eq!(ran.accepted(), 1);
}

#[test]
fn no_route() {
    let ran = case(HEADER)
        .route(&format!("name = \"pk2\"\nmatch = {{ product_key = [\"{PK2}\"] }}\nstrategy = \"specified_region\"\ntargets = [\"{EU}\"]"))
        .route(&format!("name = \"jp\"\nmatch = {{ source_region = [\"ap-northeast-1\"] }}\nstrategy = \"specified_region\"\ntargets = [\"{EU}\"]"))
        .row(&format!("{PK},dev-0001,{SECRET},{SH},")) // no target, no route matches
        .row(&format!("{PK2},dev-0002,{SECRET},{SH},")) // route pk2
        .row(&format!("{PK},dev-0003,{SECRET},{JP},")) // route jp
        .row(&dev("dev-0004")) // per-row target
        .run();
    assert_eq!(ran.rejected(), [(1, 2, "no_route")]);
    assert_eq!(ran.accepted(), 3);
}

#[test]
fn invalid_target_each_sub_case() {
    let ran = case(&format!("{HEADER},target_uid"))
        .instances(&[
            &format!("iot-eu0001,eu-central-1,standard,{ACCOUNT},,"),
            "iot-eu0002,eu-central-1,standard,3333333333333333,,",
        ])
        .route(&format!("strategy = \"nearest_access\"\ntargets = [\"{JP}\", \"{EU}\"]"))
        // 1. cross-account with nearest_access
        .row(&format!("{PK},dev-0001,{SECRET},{SH},,{OTHER}"))
        // 2. cross-account with the source instance among the targets
        .row(&format!("{PK},dev-0002,{SECRET},{SH},{SH},{OTHER}"))
        // 3. the target's owner_uid is set and differs from target_uid (other account, then ours)
        .row(&format!("{PK},dev-0003,{SECRET},{SH},iot-eu0001,{OTHER}"))
        .row(&format!("{PK},dev-0004,{SECRET},{SH},iot-eu0002,"))
        // 4. a uid that is not a safe name
        .row(&format!("{PK},dev-0005,{SECRET},{SH},{EU},../evil"))
        .row(&format!("{PK},dev-0006,{SECRET},{SH},{EU},a/b"))
        // valid: cross-account specified_region elsewhere; same-account nearest_access
        .row(&format!("{PK},dev-0007,{SECRET},{SH},{EU},{OTHER}"))
        .row(&format!("{PK},dev-0008,{SECRET},{SH},,"))
        .run();
    let want: Vec<_> = (1..=6).map(|r| (r, r + 1, "invalid_target")).collect();
    assert_eq!(ran.rejected(), want);
    assert_eq!(ran.accepted(), 2);
}

#[test]
fn invalid_target_unsafe_instance_id() {
    // The catalog may hold an instance whose ID would escape DIR as a path component.
    let ran = case(HEADER)
        .instances(&["..,eu-central-1,standard,,,", "iot/../x,eu-central-1,standard,,,"])
        .row(&format!("{PK},dev-0001,{SECRET},{SH},.."))
        .row(&format!("{PK},dev-0002,{SECRET},{SH},iot/../x"))
        .row(&dev("dev-0003"))
        .run();
    assert_eq!(ran.rejected(), [(1, 2, "invalid_target"), (2, 3, "invalid_target")]);
    assert_eq!(ran.accepted(), 1);
}

#[test]
fn already_at_target() {
    let ran = case(&format!("{HEADER},current_instance"))
        .route(&format!(
            "match = {{ product_key = [\"{PK2}\"] }}\nstrategy = \"nearest_access\"\ntargets = [\"{JP}\", \"{EU}\"]"
        ))
        .row(&format!("{},{EU}", dev("dev-0001"))) // now at EU, target EU
        .row(&format!("{PK},dev-0002,{SECRET},{SH},{SH},")) // at its source, target the source
        .row(&format!("{},{JP}", dev("dev-0003"))) // now at JP, target EU: fine
        .row(&format!("{PK2},dev-0004,{SECRET},{SH},,{EU}")) // nearest_access: not this rule
        .run();
    assert_eq!(ran.rejected(), [(1, 2, "already_at_target"), (2, 3, "already_at_target")]);
    assert_eq!(ran.accepted(), 2);
}

#[test]
fn a_users_platform_code_column_rejects_nothing_only_redrives_does() {
    // redrive's derived plan carries `redrive_of`; an operator's inventory with a column of
    // that name (a platform export, say) is not a refusal list.
    let ran = case(&format!("{HEADER},platform_code"))
        .row(&format!("{},iot.device.DistributeFailed", dev("dev-0001")))
        .row(&format!("{},", dev("dev-0002")))
        .run();
    assert_eq!(ran.rejected(), []);
    assert_eq!(ran.accepted(), 2);
}

// ---------------------------------------------------------------------------------------------
// Stage 2

#[test]
fn duplicate_conflict_rejects_every_copy() {
    let ran = case(&format!("{HEADER},target_uid"))
        .threads(3)
        .row(&format!("{PK},dev-0001,{SECRET},{SH},{EU},")) // 1: secret differs from 3
        .row(&format!("{PK},dev-0009,{SECRET},{SH},{EU},")) // 2: unrelated
        .row(&format!("{PK},dev-0001,{SECRET2},{SH},{EU},")) // 3
        .row(&format!("{PK},dev-0002,{SECRET},{SH},{EU},")) // 4: target differs from 5
        .row(&format!("{PK},dev-0002,{SECRET},{SH},{US},")) // 5
        .row(&format!("{PK},dev-0003,{SECRET},{SH},{EU},")) // 6: target_uid differs from 8
        .row(&format!("{PK},dev-0003,{SECRET},{SH},{EU},")) // 7
        .row(&format!("{PK},dev-0003,{SECRET},{SH},{EU},{OTHER}")) // 8
        .run();
    let want: Vec<_> = [1, 3, 4, 5, 6, 7, 8].into_iter().map(|r| (r, r + 1, "duplicate_conflict")).collect();
    assert_eq!(ran.rejected(), want);
    assert_eq!(ran.accepted(), 1);
}

#[test]
fn duplicate_conflict_on_strategy() {
    let ran = case(HEADER)
        .route(&format!("strategy = \"nearest_access\"\ntargets = [\"{JP}\", \"{EU}\"]"))
        .row(&dev("dev-0001")) // specified_region to EU
        .row(&format!("{PK},dev-0001,{SECRET},{SH},")) // nearest_access via the route
        .run();
    assert_eq!(ran.rejected(), [(1, 2, "duplicate_conflict"), (2, 3, "duplicate_conflict")]);
    assert_eq!(ran.accepted(), 0);
}

#[test]
fn duplicate_record_keeps_the_first_copy() {
    // Record 1 spans lines 2–4, so later records start two lines after record + 1.
    let ran = case(&format!("{HEADER},note"))
        .threads(4)
        .row(&format!("{},\"a\nb\nc\"", dev("dev-0001")))
        .row(&format!("{},", dev("dev-0002")))
        .row(&format!("{},other runtime data", dev("dev-0001")))
        .row(&format!("{},", dev("dev-0001")))
        .run();
    assert_eq!(ran.rejected(), [(3, 6, "duplicate_record"), (4, 7, "duplicate_record")]);
    assert_eq!(ran.accepted(), 2);
    let manifest = ran.table(&format!("grants/{ACCOUNT}/{EU}/devices.csv"));
    let names: Vec<&str> = manifest.iter().map(|row| row["device_name"].as_str()).collect();
    assert_eq!(names, ["dev-0001", "dev-0002"]);
}

#[test]
fn product_blocked_includes_the_marking_record() {
    let ran = case(&format!("{HEADER},authorized,transferred"))
        .row(&format!("{},,", dev("dev-0001"))) // 1: PK, blocked by 2
        .row(&format!("{},TRUE,", dev("dev-0002"))) // 2: the marker itself
        .row(&format!("{PK2},dev-0003,{SECRET},{SH},{EU},false,")) // 3: PK2, not blocked
        .row(&format!("{},,", dev("dev-0004"))) // 4: PK, blocked
        .row(&format!("a1BwAGVeu03,dev-0005,{SECRET},{SH},{EU},,true")) // 5: transferred
        .run();
    let want: Vec<_> = [1, 2, 4, 5].into_iter().map(|r| (r, r + 1, "product_blocked")).collect();
    assert_eq!(ran.rejected(), want);
    assert_eq!(ran.accepted(), 1);
}

#[test]
fn product_blocked_by_yes_words_and_odd_values_not_by_no_words() {
    // One product per row: rows 1–6 say yes, 7–12 say no (or nothing), 13–15 say something
    // else, which blocks too and is named in the detail.
    let cells = [
        "TRUE",
        " Yes ",
        "y",
        "T",
        "1",
        "yEs",
        "false",
        " NO ",
        "n",
        "F",
        "0",
        "",
        "maybe",
        "\"tab\tand\nnewline\"",
        "2",
    ];
    let mut c = case(&format!("{HEADER},authorized,transferred"));
    for (i, cell) in cells.iter().enumerate() {
        let (authorized, transferred) = if i % 2 == 0 { (*cell, "") } else { ("", *cell) };
        c = c.row(&format!("a1BwAGVe{i:03},dev-{i:04},{SECRET},{SH},{EU},{authorized},{transferred}"));
    }
    let ran = c.run();
    let blocked: Vec<u64> =
        ran.rejects.iter().inspect(|r| assert_eq!(r.code, "product_blocked")).map(|r| r.record).collect();
    assert_eq!(blocked, [1, 2, 3, 4, 5, 6, 13, 14, 15]);
    assert_eq!(ran.accepted(), 6);
    assert_eq!(ran.rejects[0].detail, "product a1BwAGVe000 is marked authorized or transferred (devices.csv record 1)");
    assert_eq!(
        ran.rejects[6].detail,
        "product a1BwAGVe012 is taken as marked: authorized \"maybe\" (devices.csv record 13) is neither true nor false"
    );
    assert_eq!(
        ran.rejects[7].detail,
        "product a1BwAGVe013 is taken as marked: transferred \"tab\\tand\\nnewline\" (devices.csv record 14) \
         is neither true nor false"
    );
}

#[test]
fn an_odd_marking_is_named_for_every_record_it_blocks_and_cut_when_long() {
    let long = "x".repeat(5000);
    let ran = case(&format!("{HEADER},authorized,transferred"))
        .row(&format!("{},,", dev("dev-0001"))) // 1: blocked by 2
        .row(&format!("{},{long},", dev("dev-0002"))) // 2: the odd marker
        .row(&format!("{},,TRUE", dev("dev-0003"))) // 3: a later yes: the first marker counts
        .run();
    assert_eq!(ran.rejected(), [(1, 2, "product_blocked"), (2, 3, "product_blocked"), (3, 4, "product_blocked")]);
    let want = format!(
        "product {PK} is taken as marked: authorized \"{}\"... (devices.csv record 2) is neither true nor false",
        "x".repeat(40)
    );
    assert!(ran.rejects.iter().all(|r| r.detail == want), "{:?}", ran.rejects);
}

#[test]
fn target_capacity_exceeded_in_input_order() {
    // iot-eu0001: headroom 2; iot-jp0001: headroom 1. The route sends PK2 to both (nearest).
    let ran = case(HEADER)
        .threads(4)
        .instances(&[
            &format!("iot-eu0001,eu-central-1,standard,{ACCOUNT},3,1"),
            &format!("iot-jp0001,ap-northeast-1,standard,{ACCOUNT},1,0"),
            &format!("iot-us0001,us-east-1,standard,{ACCOUNT},5,5"),
        ])
        .route(&format!("match = {{ product_key = [\"{PK2}\"] }}\nstrategy = \"nearest_access\"\ntargets = [\"iot-eu0001\", \"iot-jp0001\"]"))
        .row(&format!("{PK2},near-0001,{SECRET},{SH},")) // 1: takes one from each (eu 1, jp 0)
        .row(&format!("{PK2},near-0002,{SECRET},{SH},")) // 2: jp is full, though eu is not
        .row(&format!("{PK},dev-b,{SECRET},{SH},iot-eu0001")) // 3: eu's last (eu 0)
        .row(&format!("{PK},dev-a,{SECRET},{SH},iot-eu0001")) // 4: later in input, sorts first: full
        .row(&format!("{PK},dev-c,{SECRET},{SH},iot-us0001")) // 5: no headroom at all
        .row(&format!("{PK},dev-d,{SECRET},{SH},{EU}")) // 6: public, unlimited
        .run();
    assert_eq!(
        ran.rejected(),
        [(2, 3, "target_capacity_exceeded"), (4, 5, "target_capacity_exceeded"), (5, 6, "target_capacity_exceeded")]
    );
    assert_eq!(ran.rejects[1].device_name, "dev-a");
    assert_eq!(ran.accepted(), 3);
    let headroom = |id: &str| ran.report.destinations.iter().find(|d| d.instance == id).unwrap().quota_headroom_after;
    assert_eq!((headroom("iot-eu0001"), headroom("iot-jp0001")), (Some(0), Some(0)));
}

// ---------------------------------------------------------------------------------------------
// Rule order

#[test]
fn a_record_breaking_two_rules_gets_the_earlier_code() {
    let ran = case(&format!("{HEADER},source_region,authorized"))
        // (The account owns an instance too: a catalog of only another account's is a plan error.)
        .instances(&[
            "iot-bj0001,cn-beijing,standard,9999999999999999,,",
            &format!("iot-bj0002,cn-beijing,standard,{ACCOUNT},,"),
        ])
        // missing device_secret + bad product key → missing_field
        .row(&format!("a1Bw-GVeu01,dev-0001,,{SH},{EU},,"))
        // bad device name + bad secret → invalid_device_name
        .row(&format!("{PK},dev#0002,bad/secret,{SH},{EU},,"))
        // bad secret + unknown source → invalid_device_secret
        .row(&format!("{PK},dev-0003,bad/secret,iot-nowhere,{EU},,"))
        // unknown source + unknown target → unknown_source_instance
        .row(&format!("{PK},dev-0004,{SECRET},iot-nowhere,iot-nowhere,,"))
        // region mismatch + not owner → region_mismatch
        .row(&format!("{PK},dev-0005,{SECRET},iot-bj0001,{EU},cn-shanghai,"))
        // not owner + no route → not_owner
        .row(&format!("{PK},dev-0006,{SECRET},iot-bj0001,,,"))
        // already at target (stage 1) + product blocked (stage 2) → already_at_target
        .row(&format!("{PK2},dev-0007,{SECRET},{SH},{SH},,true"))
        // duplicate_conflict + product_blocked → duplicate_conflict for both copies
        .row(&format!("a1BwAGVeu03,dev-0008,{SECRET},{SH},{EU},,true"))
        .row(&format!("a1BwAGVeu03,dev-0008,{SECRET2},{SH},{EU},,"))
        .row(&format!("a1BwAGVeu03,dev-0009,{SECRET},{SH},{EU},,"))
        .run();
    assert_eq!(
        ran.rejected(),
        [
            (1, 2, "missing_field"),
            (2, 3, "invalid_device_name"),
            (3, 4, "invalid_device_secret"),
            (4, 5, "unknown_source_instance"),
            (5, 6, "region_mismatch"),
            (6, 7, "not_owner"),
            (7, 8, "already_at_target"),
            (8, 9, "duplicate_conflict"),
            (9, 10, "duplicate_conflict"),
            (10, 11, "product_blocked"),
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// Warnings

#[test]
fn warning_topology_split() {
    let ran = case(&format!("{HEADER},gateway"))
        .row(&format!("{},", dev("gw-0001")))
        .row(&format!("{PK},dev-0001,{SECRET},{SH},{US},{PK}/gw-0001")) // elsewhere: split
        .row(&format!("{},{PK}/gw-0001", dev("dev-0002"))) // with its gateway
        .row(&format!("{PK},dev-0003,{SECRET},{SH},{US},{PK}/gw-none")) // gateway not in the run
        .row(&format!("{PK},dev-0004,{SECRET},{SH},{US},{PK}/gw-bad")) // gateway rejected
        .row(&format!("{PK},gw-bad,{SECRET},nowhere,{US},"))
        .run();
    assert_eq!(ran.rejected(), [(6, 7, "unknown_source_instance")]);
    assert_eq!(ran.accepted(), 5);
    assert_eq!(ran.warning("topology_split"), 1);
    assert_eq!(ran.warning("gateway_not_accepted"), 2);
    // Each warned device is listed with its row, in device-name order.
    let row = |record: &str, line: &str, name: &str, code: &str, detail: String| {
        (record.to_string(), line.to_string(), name.to_string(), code.to_string(), detail)
    };
    let not_accepted = |gateway: &str| {
        format!("gateway {PK}/{gateway} is not an accepted device of this plan (not in the inventory, or rejected)")
    };
    assert_eq!(
        ran.warned(),
        [
            row(
                "2",
                "3",
                "dev-0001",
                "topology_split",
                format!(
                    "gateway {PK}/gw-0001 goes to {EU} (account {ACCOUNT}); this device to {US} (account {ACCOUNT})"
                )
            ),
            row("4", "5", "dev-0003", "gateway_not_accepted", not_accepted("gw-none")),
            row("5", "6", "dev-0004", "gateway_not_accepted", not_accepted("gw-bad")),
        ]
    );
}

#[test]
fn warning_console_only() {
    let ran = case(&format!("{HEADER},target_uid"))
        .row(&format!("{},{OTHER}", dev("dev-0001")))
        .row(&format!("{},", dev("dev-0002")))
        .run();
    assert_eq!(ran.rejected(), []);
    assert_eq!(ran.accepted(), 2);
    assert_eq!(ran.warning("console_only"), 1);
    assert_eq!(ran.report.jobs.console, 1);
    let detail = format!("target_uid {OTHER} is not account {ACCOUNT}: a console job");
    assert_eq!(ran.warned(), [("1".into(), "2".into(), "dev-0001".into(), "console_only".into(), detail)]);
}

#[test]
fn warning_unusual_product_key() {
    let ran = case(HEADER)
        .row(&format!("a1B2c3,dev-0001,{SECRET},{SH},{EU}"))
        .row(&format!("a1BwAGVeu01a1BwAGVeu,dev-0002,{SECRET},{SH},{EU}"))
        .row(&dev("dev-0003"))
        .run();
    assert_eq!(ran.rejected(), []);
    assert_eq!(ran.accepted(), 3);
    assert_eq!(ran.warning("unusual_product_key"), 2);
}

#[test]
fn warning_unusual_device_secret() {
    let dashed = format!("{}-", &SECRET[..31]); // 32 characters, not all alphanumeric
    let ran = case(HEADER)
        .row(&format!("{PK},dev-0001,short_secret.1,{SH},{EU}"))
        .row(&format!("{PK},dev-0002,{dashed},{SH},{EU}"))
        .row(&dev("dev-0003"))
        .run();
    assert_eq!(ran.rejected(), []);
    assert_eq!(ran.accepted(), 3);
    assert_eq!(ran.warning("unusual_device_secret"), 2);
}

// ---------------------------------------------------------------------------------------------
// Return to source

#[test]
fn return_to_source_is_accepted_and_billing_goes_back() {
    let ran = case(&format!("{HEADER},current_instance,current_uid"))
        .row(&format!("{PK},dev-0001,{SECRET},{SH},{SH},{EU},")) // at EU now, back to SH
        .row(&format!("{PK},dev-0002,{SECRET},{SH},{SH},{JP},{OTHER}")) // at JP, billed to OTHER
        .run();
    assert_eq!(ran.rejected(), []);
    assert_eq!(ran.accepted(), 2);
    let billing = ran.table("billing/reassignments.csv");
    assert_eq!(billing.len(), 2);
    let first = &billing[0];
    assert_eq!(first["device_name"], "dev-0001");
    assert_eq!((first["from_uid"].as_str(), first["from_instance"].as_str()), (ACCOUNT, EU));
    assert_eq!((first["to_uid"].as_str(), first["to_instance"].as_str()), (ACCOUNT, SH));
    assert_eq!(first["effective"], "immediate");
    let second = &billing[1];
    assert_eq!((second["from_uid"].as_str(), second["from_instance"].as_str()), (OTHER, JP));
    assert_eq!(second["to_instance"], SH);
}

// ---------------------------------------------------------------------------------------------
// Thread count does not change the verdicts

#[test]
fn verdicts_do_not_depend_on_threads() {
    let build = |threads| {
        let mut c = case(&format!("{HEADER},authorized")).threads(threads);
        for i in 0..40 {
            let name = format!("dev-{:04}", i % 25);
            let target = if i % 7 == 0 { US } else { EU };
            let flag = if i == 33 { "true" } else { "" };
            let pk = if i % 2 == 0 { PK } else { PK2 };
            c = c.row(&format!("{pk},{name},{SECRET},{SH},{target},{flag}"));
        }
        c.run()
    };
    let one = build(1);
    let many = build(8);
    assert!(!one.rejects.is_empty());
    let key = |ran: &Ran| {
        ran.rejects
            .iter()
            .map(|r| (r.record, r.line, r.product_key.clone(), r.device_name.clone(), r.code.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(key(&one), key(&many));
}

#[test]
fn malformed_record_unterminated_quote() {
    // The last record opens a quote it never closes: it swallows the rest of the file.
    let ran = case(HEADER)
        .row(&dev("dev-0001"))
        .row(&format!("{PK},\"dev-0002,{SECRET},{SH},{EU}"))
        .row(&dev("dev-0003"))
        .run();
    assert_eq!(ran.rejected(), [(2, 3, "malformed_record")]);
    assert_eq!(ran.accepted(), 1);
}

// ---------------------------------------------------------------------------------------------
// Where a device is now (docs/inputs.md §1.4)

#[test]
fn a_job_leaves_from_where_its_devices_are_now_and_a_return_takes_no_quota_or_product_at_home() {
    // Home iot-sh0001 is full (headroom 0): a return home needs none. iot-jp0001 has room.
    let ran = case(&format!("{HEADER},current_instance,current_uid"))
        .instances(&[
            &format!("iot-sh0001,cn-shanghai,standard,{ACCOUNT},5,5"),
            &format!("iot-jp0001,ap-northeast-1,standard,{ACCOUNT},10,0"),
            &format!("iot-eu0001,eu-central-1,standard,{ACCOUNT},10,0"),
        ])
        .row(&format!("{PK},back-0001,{SECRET},iot-sh0001,iot-sh0001,iot-jp0001,")) // return jp → home
        .row(&format!("{PK},hop-0001,{SECRET},iot-sh0001,iot-eu0001,iot-jp0001,")) // second hop jp → eu
        .row(&format!("{PK},first-0001,{SECRET},iot-sh0001,iot-jp0001,,")) // first move home → jp
        .row(&format!("{PK},theirs-0001,{SECRET},iot-sh0001,iot-eu0001,{EU},{OTHER}")) // in another account's hands
        .run();
    assert_eq!(ran.rejected(), []);
    let jobs = ran.table("jobs/jobs.csv");
    let job = |target: &str, from: &str| {
        jobs.iter()
            .find(|j| j["target_instances"] == target && j["source_instance"] == from)
            .unwrap_or_else(|| panic!("no job {from} → {target} in {jobs:?}"))
    };
    assert_eq!(job("iot-sh0001", "iot-jp0001")["api"], "CreateDeviceDistributeJob", "the return leaves from jp");
    assert_eq!(job("iot-eu0001", "iot-jp0001")["devices"], "1", "the second hop leaves from jp");
    assert_eq!(job("iot-jp0001", "iot-sh0001")["devices"], "1", "the first move leaves from home");
    assert_eq!(job("iot-eu0001", EU)["api"], "console", "a device in another account's hands is console work");
    assert!(jobs.iter().all(|j| j["source_instance"] != j["target_instances"]), "no job to where it leaves from");
    // The manifests say where each device leaves from.
    let manifest = ran.table("grants/1234567890123456/iot-sh0001/devices.csv");
    assert_eq!(
        (manifest[0]["device_name"].as_str(), manifest[0]["from_instance"].as_str()),
        ("back-0001", "iot-jp0001")
    );
    // Home is no destination: no quota taken, no product granted; the report says returning home.
    assert_eq!(ran.report.returning_home.get("iot-sh0001"), Some(&1));
    assert!(ran.report.destinations.iter().all(|d| d.instance != "iot-sh0001"));
    assert!(!ran.out.join("grants/1234567890123456/iot-sh0001/products.csv").exists());
    let html = std::fs::read_to_string(ran.out.join("report.html")).unwrap();
    assert!(html.contains("<b>Returning home:</b> 1 device back to iot-sh0001"), "{html}");
}

#[test]
fn a_column_that_looks_like_a_field_is_warned_about_never_guessed_and_honoured_once_renamed() {
    // An operator's spreadsheet export: BOM, CRLF, PascalCase, per-row targets under the
    // platform's name for them.
    let export = |target_column: &str| {
        let mut case =
            case(&format!("\u{feff}ProductKey,DeviceName,DeviceSecret,IotInstanceId,{target_column},RegionId"));
        case.inventory.pop(); // the header's \n
        case.raw(format!("\r\n{PK},dev-0001,{SECRET},{SH},{JP},cn-shanghai\r\n").as_bytes())
            .route(&format!("strategy = \"specified_region\"\ntargets = [\"{EU}\"]"))
            .run()
    };
    let warned = export("TargetInstanceId");
    assert_eq!(
        warned.report.columns_that_may_be_fields.get("TargetInstanceId").map(String::as_str),
        Some("target_instance")
    );
    assert_eq!(warned.report.columns_that_may_be_fields.get("RegionId").map(String::as_str), Some("source_region"));
    assert_eq!(warned.table("jobs/jobs.csv")[0]["target_instances"], EU, "not guessed: the route decides");
    let html = std::fs::read_to_string(warned.out.join("report.html")).unwrap();
    assert!(
        html.contains("Column <code>TargetInstanceId</code> may be meant as <code>target_instance</code>"),
        "{html}"
    );

    let renamed = export("target_instance");
    assert!(!renamed.report.columns_that_may_be_fields.contains_key("target_instance"));
    assert_eq!(renamed.table("jobs/jobs.csv")[0]["target_instances"], JP, "the per-row target is honoured");
}

#[test]
fn an_inventory_folder_of_part_files_is_read_part_by_part_and_each_part_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let parts = dir.path().join("export");
    std::fs::create_dir(&parts).unwrap();
    std::fs::write(parts.join("part-00001.csv"), format!("{HEADER}\n{}\n", dev("dev-0002"))).unwrap();
    std::fs::write(parts.join("part-00000.csv"), format!("{HEADER}\n{}\n", dev("dev-0001"))).unwrap();
    std::fs::write(parts.join("_SUCCESS"), b"").unwrap();
    std::fs::write(parts.join(".part-00000.csv.crc"), b"crc").unwrap();
    let plan = format!("account = \"{ACCOUNT}\"\n[inputs]\ninventory = [\"export\"]\n");
    std::fs::write(dir.path().join("plan.toml"), plan).unwrap();
    let options = Options { threads: 2, dry_run: false, ..Options::default() };
    let out = dir.path().join("out");
    let outcome = run(&dir.path().join("plan.toml"), &out, &options, &NoProgress).unwrap();
    let inputs: Vec<(&str, u64)> = outcome.report.inputs.iter().map(|i| (i.path.as_str(), i.records)).collect();
    assert_eq!(inputs, [("export/part-00000.csv", 1), ("export/part-00001.csv", 1)]);
    assert_eq!(outcome.report.counts.accepted, 2);

    // A glob that matches nothing is a plan error, before anything is read.
    let plan = format!("account = \"{ACCOUNT}\"\n[inputs]\ninventory = [\"export/*.parquet\"]\n");
    std::fs::write(dir.path().join("plan.toml"), plan).unwrap();
    let err = run(&dir.path().join("plan.toml"), &dir.path().join("out2"), &options, &NoProgress).unwrap_err();
    assert!(err.to_string().contains("\"export/*.parquet\" matches no .csv or .parquet file"), "{err}");
    assert_eq!(err.exit_code(), 2);
}
