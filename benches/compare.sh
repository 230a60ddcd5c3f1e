#!/usr/bin/env bash
# End-to-end comparison, in one run, of `devdist validate` and `devdist plan` against the floor
# (devdist-floor: the least work any tool must do per record) and an equivalent DuckDB SQL job,
# plus devdist on a Parquet twin of the inventory; 2 threads each, alternating rounds.
# Runnable from a fresh clone beside the shared floor:
#
#   bash benches/compare.sh [RECORDS] [ROUNDS]        # defaults: 2000000 3
#
# Needs: cargo, python3 (with venv), /usr/bin/time (Debian package `time`), the floor's sources
# (FLOOR_DIR, default $ROOT/../shared/floor), network access to crates.io for the floor's
# build and to PyPI for `pip install duckdb` (without it, the DuckDB row is skipped), and about
# RECORDS x (1 + 2 x ROUNDS) KB of free disk (2 M records, 3 rounds: ~14 GB) under
# ${TMPDIR:-/tmp}.
# Environment: COMPARE_DIR (parent of the work folder, default ${TMPDIR:-/tmp}),
# FLOOR_DIR (the devdist-floor crate), KEEP=1 (keep the work folder), CARGO_TARGET_DIR (as cargo
# reads it; the floor builds into its floor/ subfolder).
#
# What is measured: wall time and peak RSS of each whole process (`/usr/bin/time -f "%e %M"`),
# the floor's included (its own printed timing leaves out process start and exit), inventory
# already in the page cache (it was just generated), and every run starts after a `sync`, with
# nothing left to flush. records/s = input records / wall seconds, so every tool is charged per
# record read. Figures vary 10-30 % between runs on a 2-core
# machine: read the medians, and rerun before drawing conclusions.
set -euo pipefail

RECORDS=${1:-2000000}
ROUNDS=${2:-3}
THREADS=2
if ! [[ $RECORDS =~ ^[1-9][0-9]*$ && $ROUNDS =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: bash benches/compare.sh [RECORDS] [ROUNDS]   (positive integers; defaults 2000000 3)" >&2
    exit 2
fi

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'compare.sh: error: %s\n' "$*" >&2; exit 1; }

command -v cargo >/dev/null || die "cargo not found (install a Rust toolchain, 1.86 or newer)"
command -v python3 >/dev/null || die "python3 not found"
[[ -x /usr/bin/time ]] || die "/usr/bin/time not found (Debian/Ubuntu: apt-get install time)"
FLOOR_DIR=${FLOOR_DIR:-$ROOT/../shared/floor}
[[ -f $FLOOR_DIR/Cargo.toml ]] ||
    die "no floor at $FLOOR_DIR (no Cargo.toml there): set FLOOR_DIR to the devdist-floor crate"

# A fresh work folder per invocation, every run writing into a new folder of its own: on ext4,
# creating files where many were recently deleted gets very slow, so nothing is reused.
PARENT=${COMPARE_DIR:-${TMPDIR:-/tmp}}
mkdir -p "$PARENT"
WORK=$(mktemp -d "$PARENT/devdist-compare.XXXXXX")
cleanup() {
    if [[ ${KEEP:-0} == 1 ]]; then
        say "kept $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
say "work folder: $WORK"
free_kb=$(df -Pk "$WORK" | awk 'NR == 2 { print $4 }')
need_kb=$((RECORDS * (1 + 2 * ROUNDS)))
if ((free_kb < need_kb)); then
    say "warning: $((free_kb / 1024)) MB free under $WORK, about $((need_kb / 1024)) MB needed"
fi

# ---------------------------------------------------------------------------------------------
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
[[ $TARGET == /* ]] || TARGET=$ROOT/$TARGET
say "building devdist (release)"
(cd "$ROOT" && cargo build --release -p devdist-cli --quiet) || die "cargo build --release -p devdist-cli failed"
BIN=$TARGET/release/devdist
[[ -x $BIN ]] || die "built, but no binary at $BIN"

say "building the floor from $FLOOR_DIR (release)"
cargo build --release --quiet --manifest-path "$FLOOR_DIR/Cargo.toml" --target-dir "$TARGET/floor" ||
    die "cargo build of the floor ($FLOOR_DIR) failed"
FLOOR=$TARGET/floor/release/devdist-floor
[[ -x $FLOOR ]] || die "built, but no floor binary at $FLOOR"

# The options of issue 12. --signed-rate is left at its default, 1 (every record carries a
# captured MQTT login), so devdist and the floor both verify an HMAC per record.
GENERATE=(generate --devices "$RECORDS" --seed 7 --bad-rate 0.02)
say "generating $RECORDS records"
"$BIN" "${GENERATE[@]}" --out "$WORK/inv" >&2 || die "devdist generate failed"
INV=$WORK/inv
CSV=$INV/devices.csv

# ---------------------------------------------------------------------------------------------
DUCKDB=1
PY=$WORK/venv/bin/python
say "creating a virtualenv and installing duckdb"
if ! python3 -m venv "$WORK/venv" >"$WORK/venv.log" 2>&1; then
    say "python3 -m venv failed (Debian/Ubuntu: apt-get install python3-venv); DuckDB rows skipped:"
    tail -n 5 "$WORK/venv.log" >&2
    DUCKDB=0
elif ! PIP_NO_INPUT=1 "$WORK/venv/bin/pip" install --quiet --disable-pip-version-check duckdb \
    >"$WORK/pip.log" 2>&1; then
    say "pip install duckdb failed; DuckDB rows skipped. pip said:"
    tail -n 15 "$WORK/pip.log" >&2
    DUCKDB=0
fi
if ((DUCKDB)); then
    DUCKDB_VERSION=$("$PY" -c 'import duckdb; print(duckdb.__version__)')
    say "duckdb $DUCKDB_VERSION"
fi

# The DuckDB job. What it does, like devdist: read every column as text; validate product_key
# (1-20 ASCII letters/digits), device_name (4-32 of A-Z a-z 0-9 _ - @ . :) and device_secret
# (1-64 of the same) with regexp_full_match (SPEC §1 name rules); hash each record (sha256 of
# product_key || device_name || device_secret); write the 13 device-manifest columns of SPEC §4
# (plus the hash) as one CSV per destination with PARTITION_BY (target_uid, target_instance),
# the destination being the row's target_uid/target_instance or else the account and the
# catch-all route's fixed target; and write billing/reassignments.csv with the 8 billing
# columns, billed-now being current_uid/current_instance or else the account/source instance.
# Where devdist derives a value from the plan, the job writes a constant: job_id, wave,
# source_uid, target_region/to_region, strategy (and so effective), rights.
# What it does NOT do, and devdist does: verify the MQTT signature (a real HMAC-SHA256 keyed by
# each device's secret, compared with sign_password: sha256 here is a cheaper stand-in); match
# routes and strategies (so no nearest-access fan-out to several manifests); check instances
# against the catalog (existence, owner, edition, region, quota/capacity); find duplicates,
# blocked products and gateways; cut jobs and waves; write jobs, product grants or the billing
# summary; a reject report naming file/record/line/reason for every dropped record (DuckDB just
# filters them out); report.json with each output file's row count and SHA-256; sorted outputs
# in an output folder moved into place only when complete, with secrets in 0600 files;
# byte-identical outputs at any thread count.
cat >"$WORK/duck.py" <<'PY'
import os
import sys

import duckdb

ACCOUNT = "1234567890123456"  # the generated plan's account
CATCH_ALL = "iotx-oxssharez600"  # the generated plan's catch-all route target
REGION = "us-east-1"  # a constant target region (devdist looks it up in the catalog)


def quoted(path):
    return "'" + path.replace("'", "''") + "'"


source, target, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
os.makedirs(f"{target}/billing")
con = duckdb.connect()
con.execute(f"SET threads = {threads}")
# The inventory's deliberately broken records (wrong field counts, bytes that are not UTF-8)
# stop DuckDB's strict reader: it reads leniently and silently drops what it cannot parse,
# where devdist reports each such record with its reason code.
read = (
    f"read_csv({quoted(source)}, all_varchar = true, header = true, delim = ',', quote = '\"', escape = '\"', "
    "strict_mode = false, null_padding = true, ignore_errors = true)"
)
# Read and check once, then write both outputs from the rows that pass.
con.execute(f"""
        CREATE TEMP TABLE ok AS
            SELECT product_key, device_name, device_secret, source_region, source_instance,
                   coalesce(nullif(current_uid, ''), '{ACCOUNT}') AS from_uid,
                   coalesce(nullif(current_instance, ''), source_instance) AS from_instance,
                   coalesce(nullif(target_uid, ''), '{ACCOUNT}') AS target_uid,
                   coalesce(nullif(target_instance, ''), '{CATCH_ALL}') AS target_instance,
                   sha256(product_key || device_name || device_secret) AS digest
            FROM {read}
            WHERE regexp_full_match(product_key, '[A-Za-z0-9]{{1,20}}')
              AND regexp_full_match(device_name, '[A-Za-z0-9_@.:-]{{4,32}}')
              AND regexp_full_match(device_secret, '[A-Za-z0-9_@.:-]{{1,64}}')
    """)
con.execute(f"""
        COPY (
            SELECT 'job-0123456789abcdef' AS job_id, 1 AS wave, product_key, device_name,
                   device_secret, '{ACCOUNT}' AS source_uid, source_region, source_instance,
                   target_uid, '{REGION}' AS target_region, target_instance,
                   'specified_region' AS strategy, 'use' AS rights, digest
            FROM ok
        ) TO {quoted(target + "/grants")}
          (FORMAT CSV, HEADER, PARTITION_BY (target_uid, target_instance), WRITE_PARTITION_COLUMNS true)
    """)
con.execute(f"""
        COPY (
            SELECT product_key, device_name, from_uid, from_instance, target_uid AS to_uid,
                   '{REGION}' AS to_region, target_instance AS to_instance, 'immediate' AS effective
            FROM ok
        ) TO {quoted(target + "/billing/reassignments.csv")} (FORMAT CSV, HEADER)
    """)
PY

# The Parquet twin: the same generator, seed and options, written as Parquet. It holds the
# same number of records, except that the CSV's structurally broken ones (which Parquet cannot
# hold) are other stage-1 rejects (see `devdist generate --help`).
PARQUET=0
say "generating the same $RECORDS records as Parquet"
if "$BIN" "${GENERATE[@]}" --format parquet --out "$WORK/inv-parquet" >"$WORK/twin.log" 2>&1; then
    PARQUET=1
else
    say "devdist generate --format parquet failed; Parquet row skipped:"
    tail -n 10 "$WORK/twin.log" >&2
fi

# ---------------------------------------------------------------------------------------------
mkdir "$WORK/out"
ROWS=()  # "tool round seconds records/s rss_mb"

# timed NAME LOG CMD...: runs CMD under /usr/bin/time; sets SECONDS_TAKEN, RSS_KB, RC.
timed() {
    local name=$1 log=$2
    shift 2
    RC=0
    # Outside the timed part: the previous run's writes reach the disk first, so no run is
    # charged for flushing another's.
    sync
    /usr/bin/time -f "%e %M" -o "$WORK/time.$name" "$@" >"$log" 2>&1 || RC=$?
    read -r SECONDS_TAKEN RSS_KB < <(tail -n 1 "$WORK/time.$name")
}

record_row() {  # tool round
    local rate mb
    rate=$(awk -v n="$RECORDS" -v s="$SECONDS_TAKEN" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }')
    mb=$(awk -v k="$RSS_KB" 'BEGIN { printf "%.0f", k / 1024 }')
    ROWS+=("$1 $2 $SECONDS_TAKEN $rate $mb")
}

failed() {  # tool round log: says why a run failed; returns 1
    say "$1 round $2 failed (exit $RC):"
    tail -n 10 "$3" >&2
    return 1
}

# data_rows FILES...: rows in CSV files that have no newline inside a field, headers excluded.
data_rows() {
    awk 'FNR > 1 { n++ } END { print n + 0 }' "$@"
}

# run_floor MODE ROUND: `devdist-floor check` or `write` (into a new folder).
run_floor() {
    local mode=$1 round=$2 log=$WORK/floor-$1-$2.log out=$WORK/out/floor-$1-r$2
    local args=("$mode" "$CSV")
    [[ $mode == write ]] && args+=("$out")
    timed "floor-$mode-$round" "$log" "$FLOOR" "${args[@]}" "$THREADS"
    ((RC == 0)) || failed "floor-$mode" "$round" "$log" || return 1
    # Outside the timed part: it read every record, and `write` wrote a manifest row and a
    # billing row for each that passed (its files have no header).
    local n pass
    read -r n pass < <(sed -n "s/^$mode: \([0-9]*\) records (\([0-9]*\) pass).*/\1 \2/p" "$log") || true
    if [[ ${n:-} != "$RECORDS" ]]; then
        say "floor-$mode round $round: printed ${n:-no} record count, expected $RECORDS:"
        tail -n 3 "$log" >&2
        return 1
    fi
    if [[ $mode == write ]]; then
        local manifest billing
        manifest=$(cat "$out"/part-*.devices.csv | wc -l)
        billing=$(cat "$out"/part-*.billing.csv | wc -l)
        if [[ $manifest != "$pass" || $billing != "$pass" ]]; then
            say "floor-write round $round: $manifest manifest and $billing billing rows, $pass passed"
            return 1
        fi
    fi
    record_row "floor-$mode" "$round"
}

# run_devdist TOOL COMMAND PLAN ROUND: `devdist validate` or `devdist plan` into a new folder.
# Exit 0 (nothing rejected) and 1 (some rejected) both finish a run.
run_devdist() {
    local tool=$1 command=$2 plan=$3 round=$4 out=$WORK/out/$1-r$4 log=$WORK/$1-$4.log
    timed "$tool-$round" "$log" "$BIN" "$command" "$plan" --out "$out" --threads "$THREADS" --quiet
    ((RC <= 1)) || failed "$tool" "$round" "$log" || return 1
    # Outside the timed part: prove it read every record, and that plan wrote manifests and
    # billing for the accepted ones.
    local counts read accepted
    counts=$(python3 -c 'import json, sys; c = json.load(open(sys.argv[1]))["counts"]; print(c["read"], c["accepted"])' \
        "$out/report.json" 2>/dev/null || echo "? ?")
    read -r read accepted <<<"$counts"
    if [[ $read != "$RECORDS" ]]; then
        say "$tool round $round: report.json counts $read records read, expected $RECORDS"
        return 1
    fi
    if [[ $command == plan ]]; then
        local manifests
        manifests=$(find "$out/grants" -name 'devices.*' | wc -l)
        if ((accepted == 0 || manifests == 0)) || [[ ! -s $out/billing/reassignments.csv ]]; then
            say "$tool round $round: $accepted accepted, $manifests device manifests, billing missing or empty"
            return 1
        fi
    fi
    record_row "$tool" "$round"
}

run_duckdb() {
    local round=$1 out=$WORK/out/duckdb-r$1 log=$WORK/duckdb-$1.log
    timed "duckdb-$round" "$log" "$PY" "$WORK/duck.py" "$CSV" "$out" "$THREADS"
    ((RC == 0)) || failed duckdb "$round" "$log" || return 1
    # Outside the timed part: it wrote most records (2 % are deliberately bad) to the manifests,
    # the same rows to billing, and the manifests have every column devdist writes.
    local files manifest billing header
    mapfile -t files < <(find "$out/grants" -name '*.csv')
    ((${#files[@]} > 0)) || { say "duckdb round $round wrote no manifest"; return 1; }
    manifest=$(data_rows "${files[@]}")
    billing=$(data_rows "$out/billing/reassignments.csv")
    header=$(head -n 1 "${files[0]}")
    if ((manifest < RECORDS * 9 / 10 || billing != manifest)); then
        say "duckdb round $round wrote $manifest manifest and $billing billing rows of $RECORDS"
        return 1
    fi
    if [[ $header != job_id,wave,product_key,device_name,device_secret,source_uid,source_region,source_instance,target_uid,target_region,target_instance,strategy,rights* ]]; then
        say "duckdb round $round: manifest header is $header"
        return 1
    fi
    record_row duckdb "$round"
}

for ((round = 1; round <= ROUNDS; round++)); do
    say "round $round of $ROUNDS: floor check"
    run_floor check "$round" || die "the floor failed; see above"
    say "round $round of $ROUNDS: devdist validate"
    run_devdist validate validate "$INV/plan.toml" "$round" || die "devdist validate failed; see above"
    say "round $round of $ROUNDS: floor write"
    run_floor write "$round" || die "the floor failed; see above"
    say "round $round of $ROUNDS: devdist plan"
    run_devdist plan plan "$INV/plan.toml" "$round" || die "devdist plan failed; see above"
    if ((DUCKDB)); then
        say "round $round of $ROUNDS: duckdb"
        run_duckdb "$round" || { say "DuckDB rows skipped from here on"; DUCKDB=0; }
    fi
    if ((PARQUET)); then
        say "round $round of $ROUNDS: devdist plan on the Parquet twin"
        run_devdist plan-parquet plan "$WORK/inv-parquet/plan.toml" "$round" ||
            { say "Parquet rows skipped from here on"; PARQUET=0; }
    fi
done

# ---------------------------------------------------------------------------------------------
TOOLS=(floor-check validate floor-write plan duckdb plan-parquet)

median() {  # tool column(3=seconds 4=records/s 5=MB)
    printf '%s\n' "${ROWS[@]}" | awk -v t="$1" -v c="$2" '$1 == t { print $c }' | sort -g |
        awk '{ v[NR] = $1 } END { if (NR == 0) exit; print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}

# spread TOOL: the fastest and slowest round's seconds. A ratio means little when either
# tool's rounds spread wide (this VM's first touch of fresh memory costs from 0.4 to 1.5 s).
spread() {
    printf '%s\n' "${ROWS[@]}" | awk -v t="$1" '$1 == t { print $3 }' | sort -g |
        awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.2f-%.2f", lo, hi }'
}

# ratio A B TARGET: median records/s of A over B's, against the target.
ratio() {
    local a b
    a=$(median "$1" 4)
    b=$(median "$2" 4)
    if [[ -z $a || -z $b ]]; then
        printf '%-26s %6s   (target >= %s: n/a, no %s rows; see the messages above)\n' \
            "$1 / $2" n/a "$3" "$([[ -z $a ]] && echo "$1" || echo "$2")"
        return
    fi
    awk -v n="$1 / $2" -v a="$a" -v b="$b" -v t="$3" \
        'BEGIN { r = a / b; printf "%-26s %6.2f   (target >= %s: %s)\n", n, r, t, (r >= t ? "met" : "not met") }'
}

echo
echo "devdist vs the floor and DuckDB: $RECORDS records ($(du -m "$CSV" | cut -f1) MB CSV), $THREADS threads," \
    "$ROUNDS rounds, $(nproc) cores; duckdb ${DUCKDB_VERSION:-not installed}"
printf '%-16s %5s %9s %12s %13s\n' tool round seconds records/s "peak RSS MB"
for row in "${ROWS[@]}"; do
    read -r tool round seconds rate mb <<<"$row"
    printf '%-16s %5s %9.2f %12s %13s\n' "$tool" "$round" "$seconds" "$rate" "$mb"
done
echo
printf '%-16s %5s %9s %12s %13s %12s\n' median "" seconds records/s "peak RSS MB" "range s"
for tool in "${TOOLS[@]}"; do
    rate=$(median "$tool" 4)
    [[ -n $rate ]] || continue
    printf '%-16s %5s %9.2f %12.0f %13.0f %12s\n' "$tool" "" "$(median "$tool" 3)" "$rate" "$(median "$tool" 5)" \
        "$(spread "$tool")"
done
echo
echo "ratios of median records/s:"
ratio validate floor-check 0.8
ratio plan floor-write 0.7
ratio plan duckdb 2
ratio plan-parquet plan 1.3
