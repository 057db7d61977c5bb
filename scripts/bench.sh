#!/usr/bin/env bash
# The performance harness: builds the release binaries and measures each figure of
# BENCHMARKS.md against its baseline, in one run on this machine, with DynamoDB served by
# moto on loopback as in the tests. `--smoke` is the short run the test script makes so the
# harness cannot rot; its figures mean nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/aws-fake.sh
ensure_venv
start_moto
# graphgate's binaries first, on their own, as they ship; then the harness and its baselines
# (the workspace member `bench/`), which leaves them as they are.
cargo build --release --locked
cargo build --release --locked --package graphgate-bench
target/release/bench "$@"
