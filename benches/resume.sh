#!/usr/bin/env bash
# How soon a resumed `devdist apply` is ready for its next Create when its journal is long: a
# generated plan of JOBS one-device jobs (`devices_per_job = 1`), a synthetic journal in which
# all but a tenth of its API jobs were created and completed, then `devdist apply` against a
# port nothing listens on. The time to its first call (it says "cannot reach" on stderr, just
# before it would send the first Create) is measured twice: with no checkpoint (the whole journal
# is replayed), then from the checkpoint the first run left. Peak RSS from /usr/bin/time.
#
#   bash benches/resume.sh [JOBS]        # default 700000
#
# Needs: cargo, python3, /usr/bin/time (Debian package `time`).
set -euo pipefail

JOBS=${1:-700000}
NAME=resume.sh
[[ $JOBS =~ ^[1-9][0-9]*$ ]] || { echo "$NAME: error: JOBS must be a positive integer" >&2; exit 1; }
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/devdist-resume-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
ENDPOINT=http://127.0.0.1:9  # discard: nothing listens

"$BIN" generate --devices "$JOBS" --seed 7 --out "$WORK/in" >/dev/null
sed -i 's/^devices_per_job = .*/devices_per_job = 1/' "$WORK/in/plan.toml"
"$BIN" plan "$WORK/in/plan.toml" --out "$WORK/out" --quiet || [[ $? == 1 ]]
mkdir -m 700 "$WORK/out/apply"

python3 - "$WORK/out" "$ENDPOINT" <<'PY'
# The journal: bound, then intent, created and finished (every device distributed) for all but
# a tenth of the API jobs, in plan order.
import hashlib, json, os, sys
out, endpoint = sys.argv[1], sys.argv[2]
report = open(f"{out}/report.json", "rb").read()
lines = open(f"{out}/jobs/requests.jsonl").read().splitlines()
api = [json.loads(line) for line in lines]
api = [job for job in api if job["api"] == "CreateDeviceDistributeJob"]
line = lambda record: json.dumps(record, separators=(",", ":")) + "\n"
fd = os.open(f"{out}/apply/journal.jsonl", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
with os.fdopen(fd, "w") as journal:
    journal.write(line({"event": "bound", "endpoint": endpoint, "account": json.loads(report)["account"],
                        "plan_sha256": hashlib.sha256(report).hexdigest()}))
    for n, job in enumerate(api[: len(api) - len(api) // 10]):
        devices = job["request"]["DeviceName"]
        journal.write(line({"event": "intent", "job": job["job_id"], "attempt": 0, "devices": len(devices), "at_ms": 1}))
        journal.write(line({"event": "created", "job": job["job_id"], "attempt": 0, "platform_job_id": f"j-{n}",
                            "adopted": False}))
        journal.write(line({"event": "finished", "job": job["job_id"], "attempt": 0, "end": "completed",
                            "outcomes": [{"device": d, "outcome": "distributed", "code": "200", "message": ""}
                                         for d in devices]}))
PY

# resumed NAME: one apply, its seconds to the first call, and its peak RSS.
resumed() {
    python3 - "$WORK" "$1" "$BIN" apply "$WORK/out" --endpoint "$ENDPOINT" --poll-min 0.001 --poll-max 0.002 \
        --quiet <<'PY'
import subprocess, sys, time
work, name, command = sys.argv[1], sys.argv[2], sys.argv[3:]
start = time.monotonic()
child = subprocess.Popen(["/usr/bin/time", "-f", "%M", "-o", f"{work}/time.{name}", *command],
                         stderr=subprocess.PIPE, text=True)
first = None
for line in child.stderr:
    if first is None and "cannot reach" in line:
        first = time.monotonic() - start
child.wait()
end = time.monotonic() - start
rss = int(open(f"{work}/time.{name}").read().split()[-1]) / 1024
print(f"{name:18} first call after {first:6.1f} s, whole run {end:6.1f} s, peak RSS {rss:5.0f} MiB")
PY
}
printf 'journal.jsonl: %s lines, %s B\n' "$(wc -l <"$WORK/out/apply/journal.jsonl")" \
    "$(stat -c %s "$WORK/out/apply/journal.jsonl")"
resumed "no checkpoint"
printf 'checkpoint.json: %s B\n' "$(stat -c %s "$WORK/out/apply/checkpoint.json")"
resumed "from checkpoint"
