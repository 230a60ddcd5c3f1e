#!/usr/bin/env bash
# The read side at scale: `devdist export` of a generated inventory, then `devdist apply` and
# `devdist audit` of its plan, against `devdist emulate` with jobs finishing at once
# (--job-seconds 0) and every limit scaled by K (--rate-scale K on both sides). Runnable from a
# fresh clone:
#
#   bash benches/read.sh [DEVICES] [K]        # defaults: 1000000 100
#
# For each command: wall, CPU and peak RSS (/usr/bin/time); the read calls per second it reached
# per API against the scaled limits, from the emulator's stats (`/_emulator/stats`, before and
# after); and the least time the platform's real limits (K = 1) allow for the same calls. Last,
# the emulator's own peak RSS (VmHWM) and the time it spent answering.
#
# Needs: cargo, python3, /usr/bin/time (Debian package `time`), Linux (/proc). DEVDIST=path runs
# that devdist binary instead of building a release one. A command this
# build does not have (`devdist export` or `devdist audit` before issue 27 lands) is skipped
# with a note. The emulator runs on the same cores and is charged to no command's figures.
set -euo pipefail

DEVICES=${1:-1000000}
K=${2:-100}
NAME=read.sh
[[ $DEVICES =~ ^[1-9][0-9]*$ ]] || { echo "$NAME: error: DEVICES must be a positive integer" >&2; exit 1; }
[[ $K =~ ^[0-9]+([.][0-9]+)?$ ]] || { echo "$NAME: error: K must be a positive number" >&2; exit 1; }
# shellcheck source=benches/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# shellcheck source=benches/emulated.sh
source "$ROOT/benches/emulated.sh"

# Every instance of the generated catalog that the plan's account owns, one --instance each.
mapfile -t INSTANCES < <(python3 - "$WORK/in/plan.toml" <<'EOF'
import csv, os, re, sys
text = open(sys.argv[1]).read()
# The two keys generate writes (tomllib is Python 3.11+; a fresh clone may have an older one).
account = re.search(r'^account = "([^"]*)"', text, re.M).group(1)
instances = re.search(r'^instances = "([^"]*)"', text, re.M).group(1)
with open(os.path.join(os.path.dirname(sys.argv[1]), instances), newline="") as file:
    for row in csv.DictReader(file):
        if row["owner_uid"] == account:
            print(row["instance_id"])
EOF
)
INSTANCE_ARGS=()
for id in "${INSTANCES[@]}"; do INSTANCE_ARGS+=(--instance "$id"); done
printf 'read.sh: %s devices, limits x%s, emulator %s; the account owns %s\n' \
    "$DEVICES" "$K" "$ENDPOINT" "${INSTANCES[*]}"

stats() { python3 -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1]).read().decode())' \
    "$ENDPOINT/_emulator/stats?jobs=0" >"$1"; }

# timed NAME COMMAND...: runs a devdist subcommand under /usr/bin/time and reports it, or says
# it is missing from this build.
timed() {
    local name=$1
    shift
    if ! "$BIN" "$1" --help >/dev/null 2>&1; then
        printf '\n== %s: skipped, this build has no `devdist %s` (issue 27)\n' "$name" "$1"
        return
    fi
    stats "$WORK/$name.before.json"
    local start end status=0
    start=$(date +%s.%N)
    /usr/bin/time -f "%e %U %S %M" -o "$WORK/$name.time" "$BIN" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" || status=$?
    end=$(date +%s.%N)
    stats "$WORK/$name.after.json"
    printf '\n== %s: exit %s: %s\n' "$name" "$status" "$*"
    tail -3 "$WORK/$name.err" | sed 's/^/   /'
    python3 - "$WORK/$name" "$start" "$end" "$K" <<'EOF'
import json, sys
base, start, end, scale = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
before = json.load(open(base + ".before.json"))["apis"]
after = json.load(open(base + ".after.json"))["apis"]
_, user, system, rss_kb = open(base + ".time").read().splitlines()[-1].split()  # after any "exited with" line
wall = end - start
DEEP_QPS = 2.0  # devdist_platform::limits::DEEP_PAGE_QPS, the platform's limit of deep pages
print(f"   wall {wall:.1f} s, CPU {float(user) + float(system):.2f} s, peak RSS {int(rss_kb) / 1024:.0f} MiB")
least = []
for name in sorted(after):
    now, was = after[name], before.get(name, {})
    delta = {key: now.get(key, 0) - was.get(key, 0) for key in ("calls", "deep_calls", "throttled", "answer_us")}
    if not delta["calls"]:
        continue
    shallow = delta["calls"] - delta["deep_calls"]
    seconds = shallow / now["platform_qps"] + delta["deep_calls"] / DEEP_QPS
    least.append(seconds)
    print(f"   {name:26} {delta['calls']:8} calls ({delta['deep_calls']} deep) {delta['calls'] / wall:8.1f}/s "
          f"of {now['limit']}/s (x{scale:g}), throttled {delta['throttled']}, "
          f"emulator {delta['answer_us'] / max(delta['calls'], 1):.0f} us/call; at the real limits >= {seconds:.0f} s")
if least:
    print(f"   least time the real limits allow (K=1): {max(least):.0f} s if every API runs at its limit at once, "
          f"{sum(least):.0f} s one API at a time")
EOF
}

timed export export "${INSTANCE_ARGS[@]}" --out "$WORK/export.csv" --endpoint "$ENDPOINT" --rate-scale "$K"
for report in "$WORK/export.json" "$WORK/export.csv.json"; do
    [[ -f $report ]] && printf '   %s: %s\n' "${report##*/}" "$(head -c 600 "$report")"
done
timed apply apply "$WORK/out" --endpoint "$ENDPOINT" --rate-scale "$K" --poll-min 0.02 --poll-max 0.2 --quiet
timed audit audit "$WORK/out" --endpoint "$ENDPOINT" --rate-scale "$K"
for report in "$WORK/out/audit/summary.json"; do
    [[ -f $report ]] && printf '   %s: %s\n' "${report#"$WORK"/}" "$(head -c 600 "$report")"
done

stats "$WORK/final.json"
python3 - "$WORK/final.json" "/proc/$EMULATOR/status" <<'EOF'
import json, sys
stats = json.load(open(sys.argv[1]))
hwm = next((line.split()[1] for line in open(sys.argv[2]) if line.startswith("VmHWM:")), "0")
answering = sum(api.get("answer_us", 0) for api in stats["apis"].values()) / 1e6
print(f"\nemulator: peak RSS {int(hwm) / 1024:.0f} MiB, {stats['requests']} requests, "
      f"{answering:.1f} s answering them, {stats['jobs_created']} jobs")
EOF
