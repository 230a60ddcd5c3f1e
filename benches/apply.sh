#!/usr/bin/env bash
# `devdist apply` of a generated plan against `devdist emulate`, jobs finishing at once
# (--job-seconds 0) and every limit scaled by K (--rate-scale K on both sides), so what is
# measured is apply itself: the calls per second it reaches against the scaled limits, and its
# CPU seconds and peak RSS per 1,000 jobs. Runnable from a fresh clone:
#
#   bash benches/apply.sh [DEVICES] [K]        # defaults: 75000 100 (about 1,000 API jobs)
#
# Then the steps after it, each under /usr/bin/time: `apply` again on the finished folder (it
# replays the journal and calls nothing), `verify`, `redrive` and `return`; a table gives each
# step's peak RSS, wall time and RSS per device.
#
# Needs: cargo, python3, /usr/bin/time (Debian package `time`). DEVDIST=path runs that devdist
# binary instead of building a release one. The emulator runs on the same 2 cores and is charged
# to neither figure; each step's CPU and RSS come from /usr/bin/time. Last, the emulator's own
# peak RSS (VmHWM from /proc).
set -euo pipefail

DEVICES=${1:-75000}
K=${2:-100}
NAME=apply.sh
[[ $DEVICES =~ ^[1-9][0-9]*$ ]] || { echo "$NAME: error: DEVICES must be a positive integer" >&2; exit 1; }
# shellcheck source=benches/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
# shellcheck source=benches/emulated.sh
source "$ROOT/benches/emulated.sh"

"$BIN" apply "$WORK/out" --dry-run --rate-scale 1 | tail -3
START=$(date +%s.%N)
/usr/bin/time -f "%e %U %S %M" -o "$WORK/time" \
    "$BIN" apply "$WORK/out" --endpoint "$ENDPOINT" --rate-scale "$K" --poll-min 0.02 --poll-max 0.2 --quiet \
    || [[ $? == 1 ]]
END=$(date +%s.%N)
python3 - "$ENDPOINT/_emulator/stats?jobs=0" "$WORK/time" "$WORK/out/apply/summary.json" "$START" "$END" "$K" <<'EOF'
import json, sys, urllib.request
stats = json.load(urllib.request.urlopen(sys.argv[1]))
wall, user, system, rss_kb = open(sys.argv[2]).read().splitlines()[-1].split()  # after any "exited with" line
summary = json.load(open(sys.argv[3]))
wall = float(sys.argv[5]) - float(sys.argv[4])
jobs = summary["jobs"]["created"]
calls = sum(api["calls"] for api in stats["apis"].values())
print(f"jobs created {jobs}, devices distributed {summary['devices']['distributed']}, "
      f"failed {summary['devices']['failed']}, wall {wall:.1f} s, {calls} calls = {calls / wall:.0f} calls/s")
for name, api in sorted(stats["apis"].items()):
    if api["calls"]:
        print(f"  {name:32} {api['calls']:6} calls  peak {api['max_per_second']:4}/s of {api['limit']}/s  "
              f"throttled {api['throttled']}")
cpu = float(user) + float(system)
print(f"apply: CPU {cpu:.2f} s ({cpu / jobs * 1000:.2f} s per 1,000 jobs), peak RSS {int(rss_kb) / 1024:.0f} MiB")
EOF
cp "$WORK/time" "$WORK/time.apply"

# step NAME COMMAND…: runs it under /usr/bin/time (exit 0 or 1 is a result, not a failure).
step() {
    local name=$1
    shift
    /usr/bin/time -f "%e %U %S %M" -o "$WORK/time.$name" "$@" >/dev/null || [[ $? == 1 ]]
}
step resumed "$BIN" apply "$WORK/out" --endpoint "$ENDPOINT" --rate-scale "$K" --quiet
step verify "$BIN" verify "$WORK/out"
step redrive "$BIN" redrive "$WORK/out" --out "$WORK/redrive" --quiet
step return "$BIN" return "$WORK/out" --out "$WORK/return" --quiet
for file in journal.jsonl results.csv summary.json report.html; do
    printf '%s %s B; ' "$file" "$(stat -c %s "$WORK/out/apply/$file")"
done
echo
python3 - "$WORK" "$DEVICES" <<'EOF'
import sys
work, devices = sys.argv[1], int(sys.argv[2])
print(f"{'step':10} {'peak RSS':>10} {'wall':>8} {'RSS/device':>11}   ({devices} devices)")
for name in ["apply", "resumed", "verify", "redrive", "return"]:
    wall, user, system, rss_kb = open(f"{work}/time.{name}").read().splitlines()[-1].split()
    print(f"{name:10} {int(rss_kb) / 1024:7.0f} MiB {float(wall):6.1f} s {int(rss_kb) * 1024 / devices:9.0f} B")
EOF
# The emulator's own peak, read before cleanup kills it.
awk '/^VmHWM:/ { printf "emulator: peak RSS %.0f MiB (VmHWM %d kB)\n", $2 / 1024, $2 }' "/proc/$EMULATOR/status"
