#!/usr/bin/env bash
# End-to-end comparison of `devdist plan` with an equivalent DuckDB SQL job, on one generated
# inventory, 2 threads each, alternating runs. Runnable from a fresh clone:
#
#   bash benches/compare.sh [RECORDS] [ROUNDS]        # defaults: 5000000 3
#
# Needs: cargo, python3 (with venv), /usr/bin/time (Debian package `time`), network access to
# PyPI for `pip install duckdb` (without it, only the devdist rows are printed), and about
# RECORDS x 3 KB of free disk (5 M records: ~15 GB) under ${TMPDIR:-/tmp}.
# Environment: COMPARE_DIR (parent of the work folder, default ${TMPDIR:-/tmp}),
# KEEP=1 (keep the work folder), CARGO_TARGET_DIR (as cargo reads it).
#
# What is measured: wall time and peak RSS of each whole process (`/usr/bin/time -f "%e %M"`),
# inventory already in the page cache (it was just generated). records/s = input records /
# wall seconds, so both tools are charged per record read. Figures vary 10-30 % between runs
# on a 2-core machine: read the medians, and rerun before drawing conclusions.
set -euo pipefail

RECORDS=${1:-5000000}
ROUNDS=${2:-3}
THREADS=2
if ! [[ $RECORDS =~ ^[1-9][0-9]*$ && $ROUNDS =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: bash benches/compare.sh [RECORDS] [ROUNDS]   (positive integers; defaults 5000000 3)" >&2
    exit 2
fi

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'compare.sh: error: %s\n' "$*" >&2; exit 1; }

command -v cargo >/dev/null || die "cargo not found (install a Rust toolchain, 1.86 or newer)"
command -v python3 >/dev/null || die "python3 not found"
[[ -x /usr/bin/time ]] || die "/usr/bin/time not found (Debian/Ubuntu: apt-get install time)"

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
need_kb=$((RECORDS * 3))
if ((free_kb < need_kb)); then
    say "warning: $((free_kb / 1024)) MB free under $WORK, about $((need_kb / 1024)) MB needed"
fi

# ---------------------------------------------------------------------------------------------
say "building devdist (release)"
(cd "$ROOT" && cargo build --release -p devdist-cli --quiet) || die "cargo build --release -p devdist-cli failed"
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/devdist
[[ $BIN == /* ]] || BIN=$ROOT/$BIN
[[ -x $BIN ]] || die "built, but no binary at $BIN"

say "generating $RECORDS records"
"$BIN" generate --devices "$RECORDS" --seed 1 --bad-rate 0.01 --signed-rate 1 --out "$WORK/inv" >&2 ||
    die "devdist generate failed"
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
# product_key || device_name || device_secret); write one CSV per destination with
# PARTITION_BY, the destination being the row's target_instance or else the catch-all route's
# fixed target.
# What it does NOT do, and devdist does: verify the MQTT signature (a real HMAC-SHA256 keyed by
# each device's secret, compared with sign_password: sha256 here is a cheaper stand-in); match
# routes and strategies (only per-row target or one fixed target here); check instances
# against the catalog (existence, owner, edition, region, quota/capacity); find duplicates,
# blocked products and gateways; cut jobs and waves; billing reassignments; a reject report
# naming file/record/line/reason for every dropped record (DuckDB just filters them out);
# report.json with each output file's row count and SHA-256; an output folder moved into place
# only when complete, with secrets in 0600 files; byte-identical outputs at any thread count.
cat >"$WORK/duck.py" <<'PY'
import sys

import duckdb


def quoted(path):
    return "'" + path.replace("'", "''") + "'"


source, target, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
con = duckdb.connect()
con.execute(f"SET threads = {threads}")
# The inventory's deliberately broken records (wrong field counts, bytes that are not UTF-8)
# stop DuckDB's strict reader: it reads leniently and silently drops what it cannot parse,
# where devdist reports each such record with its reason code.
read = (
    f"read_csv({quoted(source)}, all_varchar = true, header = true, delim = ',', quote = '\"', escape = '\"', "
    "strict_mode = false, null_padding = true, ignore_errors = true)"
)
con.execute(f"""
        COPY (
            SELECT coalesce(nullif(target_instance, ''), 'iotx-oxssharez600') AS target,
                   product_key, device_name, device_secret, source_instance,
                   sha256(product_key || device_name || device_secret) AS digest
            FROM {read}
            WHERE regexp_full_match(product_key, '[A-Za-z0-9]{{1,20}}')
              AND regexp_full_match(device_name, '[A-Za-z0-9_@.:-]{{4,32}}')
              AND regexp_full_match(device_secret, '[A-Za-z0-9_@.:-]{{1,64}}')
        ) TO {quoted(target)} (FORMAT CSV, HEADER, PARTITION_BY (target))
    """)
PY

# The Parquet twin: the same generator, seed and options, written as Parquet. It holds the
# same records, except that the CSV's structurally broken ones (which Parquet cannot hold)
# are other stage-1 rejects (see `devdist generate --help`).
PARQUET=0
say "generating the same $RECORDS records as Parquet"
if "$BIN" generate --devices "$RECORDS" --seed 1 --bad-rate 0.01 --signed-rate 1 --format parquet \
    --out "$WORK/inv-parquet" >"$WORK/twin.log" 2>&1; then
    PARQUET=1
    TWIN_RECORDS=$RECORDS
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
    /usr/bin/time -f "%e %M" -o "$WORK/time.$name" "$@" >"$log" 2>&1 || RC=$?
    read -r SECONDS_TAKEN RSS_KB < <(tail -n 1 "$WORK/time.$name")
}

record_row() {  # tool round records
    local rate mb
    rate=$(awk -v n="$3" -v s="$SECONDS_TAKEN" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }')
    mb=$(awk -v k="$RSS_KB" 'BEGIN { printf "%.0f", k / 1024 }')
    ROWS+=("$1 $2 $SECONDS_TAKEN $rate $mb")
}

# run_devdist TOOL PLAN ROUND RECORDS: exit 0 (nothing rejected) and 1 (some rejected) both
# finish a run.
run_devdist() {
    local tool=$1 plan=$2 round=$3 records=$4 out=$WORK/out/$1-r$3
    timed "$tool-$round" "$WORK/$tool-$round.log" "$BIN" plan "$plan" --out "$out" --threads "$THREADS" --quiet
    if ((RC > 1)); then
        say "$tool round $round failed (exit $RC):"
        tail -n 10 "$WORK/$tool-$round.log" >&2
        return 1
    fi
    # Outside the timed part: prove it read every record.
    local read
    read=$(python3 -c 'import json, sys; c = json.load(open(sys.argv[1]))["counts"]; print(c["read"])' \
        "$out/report.json" 2>/dev/null || echo "?")
    if [[ $read != "$records" ]]; then
        say "$tool round $round: report.json counts $read records read, expected $records"
        return 1
    fi
    record_row "$tool" "$round" "$records"
}

run_duckdb() {
    local round=$1 out=$WORK/out/duckdb-r$1
    timed "duckdb-$round" "$WORK/duckdb-$round.log" "$PY" "$WORK/duck.py" "$CSV" "$out" "$THREADS"
    if ((RC != 0)); then
        say "duckdb round $round failed (exit $RC):"
        tail -n 10 "$WORK/duckdb-$round.log" >&2
        return 1
    fi
    # Outside the timed part: it must have written most records (1 % are deliberately bad).
    local written
    written=$(find "$out" -name '*.csv' -exec cat {} + | grep -vc '^target,\|^product_key,' || true)
    if ((written < RECORDS * 9 / 10)); then
        say "duckdb round $round wrote only $written rows of $RECORDS"
        return 1
    fi
    record_row duckdb "$round" "$RECORDS"
}


for ((round = 1; round <= ROUNDS; round++)); do
    say "round $round of $ROUNDS: devdist"
    run_devdist devdist "$INV/plan.toml" "$round" "$RECORDS" || die "devdist failed; see above"
    if ((DUCKDB)); then
        say "round $round of $ROUNDS: duckdb"
        run_duckdb "$round" || { say "DuckDB rows skipped from here on"; DUCKDB=0; }
    fi
    if ((PARQUET)); then
        say "round $round of $ROUNDS: devdist on the Parquet twin"
        run_devdist devdist-parquet "$WORK/inv-parquet/plan.toml" "$round" "$TWIN_RECORDS" ||
            { say "Parquet rows skipped from here on"; PARQUET=0; }
    fi
done

# ---------------------------------------------------------------------------------------------
median() {  # tool column(3=seconds 4=records/s 5=MB)
    printf '%s\n' "${ROWS[@]}" | awk -v t="$1" -v c="$2" '$1 == t { print $c }' | sort -g |
        awk '{ v[NR] = $1 } END { if (NR == 0) exit; print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}

echo
echo "devdist vs DuckDB: $RECORDS records ($(du -m "$CSV" | cut -f1) MB CSV), $THREADS threads, $ROUNDS rounds," \
    "$(nproc) cores; duckdb ${DUCKDB_VERSION:-not installed}"
printf '%-16s %5s %9s %12s %13s\n' tool round seconds records/s "peak RSS MB"
for row in "${ROWS[@]}"; do
    read -r tool round seconds rate mb <<<"$row"
    printf '%-16s %5s %9.2f %12s %13s\n' "$tool" "$round" "$seconds" "$rate" "$mb"
done
echo
printf '%-16s %5s %9s %12s %13s\n' median "" seconds records/s "peak RSS MB"
for tool in devdist duckdb devdist-parquet; do
    rate=$(median "$tool" 4)
    [[ -n $rate ]] || continue
    printf '%-16s %5s %9.2f %12.0f %13.0f\n' "$tool" "" "$(median "$tool" 3)" "$rate" "$(median "$tool" 5)"
done
echo
dev=$(median devdist 4)
duck=$(median duckdb 4)
pq=$(median devdist-parquet 4)
if [[ -n $duck ]]; then
    awk -v a="$dev" -v b="$duck" 'BEGIN { printf "devdist records/s / DuckDB records/s = %.2f\n", a / b }'
else
    echo "devdist records/s / DuckDB records/s = n/a (DuckDB did not run; see the messages above)"
fi
if [[ -n $pq ]]; then
    awk -v a="$pq" -v b="$dev" 'BEGIN { printf "devdist Parquet records/s / devdist CSV records/s = %.2f\n", a / b }'
else
    echo "devdist Parquet records/s / devdist CSV records/s = n/a (no Parquet run; see the messages above)"
fi
