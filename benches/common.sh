# Sourced by every bench script: ROOT, `die`, the check that /usr/bin/time is there, BIN (a
# release devdist built first; DEVDIST=path runs that binary instead) and the credentials the
# emulator is started with. The sourcing script sets NAME (for its messages) first.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
die() { printf '%s: error: %s\n' "$NAME" "$*" >&2; exit 1; }
[[ -x /usr/bin/time ]] || die "/usr/bin/time not found (Debian/Ubuntu: apt-get install time)"
if [[ -n ${DEVDIST:-} ]]; then
    BIN=$DEVDIST
else
    cargo build --quiet --release -j "${CARGO_BUILD_JOBS:-1}" -p devdist-cli --manifest-path "$ROOT/Cargo.toml"
    BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/devdist
fi
export ALIBABA_CLOUD_ACCESS_KEY_ID=bench ALIBABA_CLOUD_ACCESS_KEY_SECRET=bench-secret
