#!/usr/bin/env bash
# The performance harness: builds the release binaries and measures each figure of
# BENCHMARKS.md against its baseline, in one run on this machine. `--smoke` is the short run
# the test script makes so the harness cannot rot; its figures mean nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked --bins
exec target/release/bench "$@"
