#!/usr/bin/env bash
# Runs every check and test graphgate has, on a fresh machine: formatting, lints, unit and
# integration tests. Whatever the tests need is installed here, not by hand.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --all-targets --locked -- -D warnings

echo "== cargo test"
cargo test --all-targets --locked
