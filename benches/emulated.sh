# Sourced by apply.sh and read.sh after common.sh: generates DEVICES devices (seed 7) and their
# plan in a temporary folder WORK removed on exit, and starts `devdist emulate --job-seconds 0
# --rate-scale K` on it. Sets WORK, EMULATOR (its pid) and ENDPOINT.

WORK=$(mktemp -d "${TMPDIR:-/tmp}/devdist-bench.XXXXXX")
EMULATOR=
cleanup() { [[ -n $EMULATOR ]] && kill "$EMULATOR" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

"$BIN" generate --devices "$DEVICES" --seed 7 --out "$WORK/in" >/dev/null
"$BIN" plan "$WORK/in/plan.toml" --out "$WORK/out" --quiet || [[ $? == 1 ]]
"$BIN" emulate "$WORK/in/plan.toml" --job-seconds 0 --rate-scale "$K" >"$WORK/endpoint" 2>"$WORK/emulate.log" &
EMULATOR=$!
# A million devices take a few seconds to load.
for _ in $(seq 600); do [[ -s $WORK/endpoint ]] && break; sleep 0.1; done
[[ -s $WORK/endpoint ]] || die "the emulator did not start: $(cat "$WORK/emulate.log")"
ENDPOINT=$(head -1 "$WORK/endpoint")
