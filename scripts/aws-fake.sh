# Sourced by scripts/test.sh and scripts/bench.sh: the Python tools graphgate's checks use,
# installed into .venv, and a DynamoDB- and Secrets Manager-compatible server (moto) on a free
# loopback port for this run only, its address exported the way the AWS SDK reads it.

# moto serves DynamoDB and Secrets Manager; cfn-lint and the SAM translator check the template;
# cargo-lambda checks the deploy metadata in Cargo.toml (its `--version` exits 2, so `lambda --help`
# is what tells it is there).
venv=.venv
ensure_venv() {
  if ! "$venv/bin/moto_server" --help >/dev/null 2>&1 || ! "$venv/bin/cfn-lint" --version >/dev/null 2>&1 \
    || ! "$venv/bin/python" -c 'import samtranslator' 2>/dev/null || ! "$venv/bin/cargo-lambda" lambda --help >/dev/null 2>&1; then
    echo "== installing moto[server], cfn-lint, aws-sam-translator and cargo-lambda into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check 'moto[server]>=5,<6' 'cfn-lint>=1,<2' \
      'aws-sam-translator>=1.90,<2' 'cargo-lambda>=1.9,<2'
  fi
}

# Starts moto and stops it when the script exits.
start_moto() {
  local port
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  # moto's server, taking requests one at a time as DynamoDB's conditional writes need
  # (see the script).
  "$venv/bin/python" "$(dirname "${BASH_SOURCE[0]}")/moto_server.py" 127.0.0.1 "$port" \
    >"${TMPDIR:-/tmp}/graphgate-moto-$port.log" 2>&1 &
  moto_pid=$!
  trap 'kill "$moto_pid" 2>/dev/null || true' EXIT
  for _ in $(seq 1 100); do
    if python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null; then break; fi
    sleep 0.1
  done
  export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$port" AWS_ENDPOINT_URL_SECRETS_MANAGER="http://127.0.0.1:$port"
  export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1
  unset AWS_PROFILE AWS_SESSION_TOKEN
}
