#!/usr/bin/env bash
# Runs every check and test graphgate has, on a fresh machine: formatting, lints, the fuzz
# targets' build, the SAM template's lint, unit and integration tests, with DynamoDB and Secrets Manager served by a
# real AWS-compatible server (moto) on loopback, and a smoke run of the performance harness.
# Whatever the tests need is installed here, not by hand.
set -euo pipefail
cd "$(dirname "$0")/.."

# moto serves DynamoDB and Secrets Manager; cfn-lint and the SAM translator check the template;
# cargo-lambda checks the deploy metadata in Cargo.toml.
venv=.venv
if ! "$venv/bin/moto_server" --help >/dev/null 2>&1 || ! "$venv/bin/cfn-lint" --version >/dev/null 2>&1 \
  || ! "$venv/bin/python" -c 'import samtranslator' 2>/dev/null || ! "$venv/bin/cargo-lambda" --version >/dev/null 2>&1; then
  echo "== installing moto[server], cfn-lint, aws-sam-translator and cargo-lambda into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'moto[server]>=5,<6' 'cfn-lint>=1,<2' \
    'aws-sam-translator>=1.90,<2' 'cargo-lambda>=1.9,<2'
fi

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --all-targets --locked -- -D warnings

# The fuzz targets are built (not run) on the nightly toolchain, so they cannot rot.
echo "== fuzz targets build (cargo +nightly)"
cargo +nightly build --locked --manifest-path fuzz/Cargo.toml

echo "== cfn-lint template.yaml"
"$venv/bin/cfn-lint" template.yaml

# A DynamoDB-compatible server on a free loopback port, for this run only.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"${TMPDIR:-/tmp}/graphgate-moto-$port.log" 2>&1 &
moto_pid=$!
trap 'kill "$moto_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  if python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null; then break; fi
  sleep 0.1
done
export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$port" AWS_ENDPOINT_URL_SECRETS_MANAGER="http://127.0.0.1:$port"
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1
unset AWS_PROFILE AWS_SESSION_TOKEN

echo "== cargo test (DynamoDB at $AWS_ENDPOINT_URL_DYNAMODB)"
cargo test --all-targets --locked

# The performance harness, in its short form, so it cannot rot (scripts/bench.sh is the full
# run, on release binaries; BENCHMARKS.md records one).
echo "== performance harness (smoke)"
cargo build --locked --bins
target/debug/bench --smoke
