#!/usr/bin/env bash
# The one test command (README.md, .ci/run).
#
# 1. installs the pinned emulators and checkers into .tools/ (git-ignored);
# 2. starts moto server and redis-server on free 127.0.0.1 ports;
# 3. runs cargo fmt --check, clippy -D warnings, `switchyard package` (the
#    deployable artifacts the tests then run) and the whole test suite with
#    the emulators' endpoints exported (AWS_ENDPOINT_URL, REDIS_URL, ...),
#    then the template checks: cfn-lint, tests/infra (our own checks and a
#    deploy into moto's CloudFormation) and checkov (AWS and Azure);
# 4. stops every process it started, by PID, also on failure or Ctrl-C.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TOOLS="$ROOT/.tools"
VENV="$TOOLS/venv"
RUN_DIR="$(mktemp -d "${TMPDIR:-/tmp}/switchyard-test.XXXXXX")"
PIDS=()

# log, cleanup (stops PIDS on exit), free_port, wait_for, install_venv
source "$ROOT/scripts/lib.sh"

# ---------------------------------------------------------------- install

find_redis() {
    if command -v redis-server >/dev/null 2>&1; then command -v redis-server; return; fi
    if [ -x "$TOOLS/redis/usr/bin/redis-server" ]; then echo "$TOOLS/redis/usr/bin/redis-server"; return; fi
    if command -v apt-get >/dev/null 2>&1; then
        log "redis-server not found: fetching Debian's package into .tools/redis"
        mkdir -p "$TOOLS/redis"
        (cd "$RUN_DIR" && apt-get download redis-server redis-tools >&2) || {
            if [ "$(id -u)" = 0 ]; then apt-get install -y redis-server >&2 && command -v redis-server && return; fi
            echo "could not install redis-server; install it (e.g. apt-get install redis-server) and rerun" >&2; return 1; }
        for deb in "$RUN_DIR"/redis-*.deb; do dpkg-deb -x "$deb" "$TOOLS/redis"; done
        echo "$TOOLS/redis/usr/bin/redis-server"; return
    fi
    echo "redis-server is required and apt-get is unavailable: install redis-server and rerun" >&2
    return 1
}

install_venv "$VENV" "$ROOT/scripts/tools-requirements.txt" python3 "pinned tools (moto, cargo-lambda, cfn-lint, ...)"
export PATH="$VENV/bin:$PATH"
REDIS_SERVER="$(find_redis)"

# ---------------------------------------------------------------- start
MOTO_PORT="$(free_port)"
log "starting moto server on 127.0.0.1:$MOTO_PORT"
"$VENV/bin/moto_server" -H 127.0.0.1 -p "$MOTO_PORT" >"$RUN_DIR/moto.log" 2>&1 &
PIDS+=($!)

REDIS_PORT="$(free_port)"
log "starting redis-server on 127.0.0.1:$REDIS_PORT"
"$REDIS_SERVER" --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no \
    --dir "$RUN_DIR" --daemonize no >"$RUN_DIR/redis.log" 2>&1 &
PIDS+=($!)

wait_for moto 60 python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$MOTO_PORT/moto-api/')"
wait_for redis 30 python3 -c "import socket; s=socket.create_connection(('127.0.0.1',$REDIS_PORT)); s.sendall(b'PING\r\n'); assert s.recv(16).startswith(b'+PONG')"

export AWS_ENDPOINT_URL="http://127.0.0.1:$MOTO_PORT"
export AWS_REGION="us-east-1" AWS_DEFAULT_REGION="us-east-1"
export AWS_ACCESS_KEY_ID="testing" AWS_SECRET_ACCESS_KEY="testing"
unset AWS_PROFILE AWS_SESSION_TOKEN
export REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
export SWITCHYARD_TOOLS_DIR="$TOOLS"

# ---------------------------------------------------------------- check
log "cargo fmt --check"
cargo fmt --all -- --check

log "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

# The deployable artifacts, built as a user would build them (release
# profile, cargo lambda for the Lambda zips); the tests below run them
# (shared/local/tests/package_*.rs). x86_64: the machine's own target.
log "switchyard package --target all --arch x86_64"
PACKAGE_DIR="$RUN_DIR/package"
cargo run -p switchyard-local --locked --quiet -- package --target all --arch x86_64 --out "$PACKAGE_DIR"
export SWITCHYARD_PACKAGE_DIR="$PACKAGE_DIR"

log "cargo test (all crates, emulators at $AWS_ENDPOINT_URL and $REDIS_URL)"
cargo test --workspace --locked --no-fail-fast

# A crate outside the workspace, on the public crates by path: its own event
# type and handler through the SQS and Service Bus adapters (its README).
# Built into the workspace's target directory, so shared dependencies build once.
log "examples/external-handler (outside the workspace)"
cargo fmt --manifest-path examples/external-handler/Cargo.toml -- --check
CARGO_TARGET_DIR="$ROOT/target" cargo test --manifest-path examples/external-handler/Cargo.toml --locked

if [ -f "$ROOT/template.yaml" ]; then
    log "cfn-lint template.yaml and the packaged template"
    cfn-lint "$ROOT/template.yaml" "$PACKAGE_DIR/aws/template.yaml"

    # Our own template checks, the SAM translation, and a deploy of it into
    # moto's CloudFormation (tests/infra/README.md); emulators still running.
    log "template tests (tests/infra, moto at $AWS_ENDPOINT_URL)"
    PYTHONDONTWRITEBYTECODE=1 "$VENV/bin/python" -m unittest discover -s "$ROOT/tests/infra" -v
fi

# Security misconfiguration checks, offline (--skip-download: no calls to
# the vendor's platform). checkov exits 0 on a file it cannot parse (it only
# counts "Parsing errors"): that fails here too, as does a run that checked
# nothing.
run_checkov() {
    local out status=0
    out="$("$VENV/bin/checkov" "$@" --compact --quiet --skip-download 2>&1)" || status=$?
    printf '%s\n' "$out"
    if [ "$status" -ne 0 ]; then return "$status"; fi
    if grep -q "Parsing errors" <<<"$out" || ! grep -q "Passed checks" <<<"$out"; then
        echo "checkov did not check every file (parsing errors, or nothing found)" >&2
        return 1
    fi
}

if [ -f "$ROOT/template.yaml" ]; then
    # The SAM template as written and as packaged (CodeUri rewritten; the
    # checkov skips kept). Framework cloudformation: it reads SAM templates
    # (AWS::Serverless::Function included); checkov's `serverless` framework
    # is the Serverless Framework's serverless.yml and finds nothing here.
    # Justified skips are the resources' Metadata.checkov.skip entries, each
    # with its reason (infra/README.md, Policy checks).
    log "checkov template.yaml and the packaged template (CloudFormation)"
    run_checkov -f "$ROOT/template.yaml" -f "$PACKAGE_DIR/aws/template.yaml" --framework cloudformation
fi

if [ -f "$ROOT/infra/azure/main.bicep" ]; then
    # Justified skips are inline `checkov:skip` comments in the template
    # (infra/README.md).
    log "checkov infra/azure (Bicep)"
    run_checkov -d "$ROOT/infra/azure" --framework bicep
fi

log "all checks passed"
