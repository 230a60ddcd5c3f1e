#!/usr/bin/env bash
# Builds (does not run) every fuzz target, as CI does. Works from a fresh clone on stable Rust:
# cargo-fuzz needs nightly-only flags (-Zsanitizer, sancov passes), which RUSTC_BOOTSTRAP=1
# unlocks on a stable toolchain. Installs cargo-fuzz if it is missing. Exits non-zero on failure.
#
#   fuzz/ci-build.sh            # from anywhere in the repository
set -euo pipefail

cd "$(dirname "$0")"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "ci-build: installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked
fi

# Same flags as the documented runs (-O: release, AddressSanitizer on), so a CI cache of
# fuzz/target also serves local runs. fuzz/Cargo.lock pins the main workspace's versions.
RUSTC_BOOTSTRAP=1 cargo fuzz build -O

host=$(rustc -vV | sed -n 's/^host: //p')
target_dir=$(cargo metadata --no-deps --format-version 1 | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
for target in $(cargo fuzz list); do
    binary="${target_dir:-target}/$host/release/$target"
    if [ ! -x "$binary" ]; then
        echo "ci-build: $binary was not built" >&2
        exit 1
    fi
done
echo "ci-build: built $(cargo fuzz list | tr '\n' ' ')"
