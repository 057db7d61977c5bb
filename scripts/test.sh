#!/usr/bin/env bash
# Runs every check and test graphgate has, on a fresh machine: formatting, lints, the fuzz
# targets' build, the SAM template's lint, unit and integration tests, with DynamoDB and Secrets Manager served by a
# real AWS-compatible server (moto) on loopback, and a smoke run of the performance harness.
# Whatever the tests need is installed here, not by hand.
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/aws-fake.sh
ensure_venv

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

# The fuzz targets are built (not run) on the nightly toolchain, so they cannot rot.
echo "== fuzz targets build (cargo +nightly)"
cargo +nightly build --locked --manifest-path fuzz/Cargo.toml

echo "== cfn-lint template.yaml"
"$venv/bin/cfn-lint" template.yaml

start_moto

echo "== cargo test (DynamoDB at $AWS_ENDPOINT_URL_DYNAMODB)"
cargo test --all-targets --locked

# The performance harness, in its short form, so it cannot rot (scripts/bench.sh is the full
# run, on release binaries; BENCHMARKS.md records one).
echo "== performance harness (smoke)"
cargo build --locked --workspace --bins
target/debug/bench --smoke
