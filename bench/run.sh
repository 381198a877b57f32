#!/usr/bin/env bash
# The project benchmark, Switchyard vs AWS Lambda Powertools for Python
# (bench/README.md). Run by hand, not by the test command:
#
#   bash bench/run.sh [--batches N] [--rounds R] [--warmup W] [--erp-batches M]
#                     [--erp-rounds Q] [--scenario 1|2|all] [--pin same|split|none]
#
# 1. installs the pinned Powertools side (bench/requirements.txt) into
#    .tools/bench-venv and, for scenario 2, the project's tools venv
#    (.tools/venv: moto) if missing; both git-ignored, reinstalled only when
#    their requirements file changes;
# 2. builds the Rust sides (bench crate at opt-level 3 and "z", erp-sync release);
# 3. starts redis-server (and, for scenario 2, moto) on free 127.0.0.1 ports;
# 4. scenario 1: floor, switchyard, powertools in alternation, R rounds,
#    Redis flushed and its stats reset before every run, commandstats read after;
#    scenario 2: erp-sync and the Powertools handler behind a fake Runtime API,
#    Q rounds (default 3) of M batches, the sides in turn;
#    --pin: in scenario 1, redis-server and the measured process share CPU 0
#    (same, the default), or run on CPUs 1 and 0 (split), or float (none);
# 5. prints the tables and keeps the raw results in .tools/bench-results/;
#    stops every process it started, by PID, also on failure or Ctrl-C.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TOOLS="$ROOT/.tools"
BENCH_VENV="$TOOLS/bench-venv"
VENV="$TOOLS/venv"
RESULTS_DIR="$TOOLS/bench-results"
RUN_DIR="$(mktemp -d "${TMPDIR:-/tmp}/switchyard-bench.XXXXXX")"
PIDS=()

BATCHES=2000
ROUNDS=3
WARMUP=200
ERP_BATCHES=200
ERP_ROUNDS=3
SCENARIO=all
PIN=same

usage() { sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
    case "$1" in
        --batches) BATCHES="$2"; shift 2 ;;
        --rounds) ROUNDS="$2"; shift 2 ;;
        --warmup) WARMUP="$2"; shift 2 ;;
        --erp-batches) ERP_BATCHES="$2"; shift 2 ;;
        --erp-rounds) ERP_ROUNDS="$2"; shift 2 ;;
        --scenario) SCENARIO="$2"; shift 2 ;;
        --pin) PIN="$2"; shift 2 ;;
        -h|--help) usage ;;
        *) echo "unknown option $1" >&2; usage ;;
    esac
done
case "$SCENARIO" in 1|2|all) ;; *) echo "--scenario is 1, 2 or all" >&2; exit 2 ;; esac
# scenario 1 is latency-bound on loopback: where the scheduler puts redis-server
# and the client changes the result by 2-4x on a small VM (bench/README.md)
case "$PIN" in
    same) PIN_REDIS=(taskset -c 0); PIN_CLIENT=(taskset -c 0) ;;
    split) PIN_REDIS=(taskset -c 1); PIN_CLIENT=(taskset -c 0) ;;
    none) PIN_REDIS=(); PIN_CLIENT=() ;;
    *) echo "--pin is same, split or none" >&2; exit 2 ;;
esac
if [ "$PIN" != none ] && ! command -v taskset >/dev/null 2>&1; then
    echo "taskset (util-linux) is needed for --pin $PIN; install it or pass --pin none" >&2; exit 2
fi
if [ "$PIN" = split ] && [ "$(nproc)" -lt 2 ]; then
    echo "--pin split needs 2 CPUs" >&2; exit 2
fi

# log, cleanup (stops PIDS on exit), free_port, wait_for, install_venv
source "$ROOT/scripts/lib.sh"

# ---------------------------------------------------------------- install

bench_python() {
    if command -v python3.11 >/dev/null 2>&1; then command -v python3.11; return; fi
    echo "python3.11 not found; using $(command -v python3) ($(python3 -V))" >&2
    command -v python3
}

install_venv "$BENCH_VENV" "$ROOT/bench/requirements.txt" "$(bench_python)" \
    "the Powertools side (bench/requirements.txt)"
if [ "$SCENARIO" != 1 ]; then
    # the test command's tools venv, installed the way scripts/test.sh does
    install_venv "$VENV" "$ROOT/scripts/tools-requirements.txt" python3 \
        "the pinned tools (scripts/tools-requirements.txt: moto, ...)"
fi
PY="$BENCH_VENV/bin/python"

if ! command -v redis-server >/dev/null 2>&1; then
    if [ -x "$TOOLS/redis/usr/bin/redis-server" ]; then
        PATH="$TOOLS/redis/usr/bin:$PATH"
    else
        echo "redis-server is required: install it, or run bash scripts/test.sh once (it fetches one into .tools/redis)" >&2
        exit 1
    fi
fi

# ---------------------------------------------------------------- build
if [ "$SCENARIO" != 2 ]; then
    log "building sqs-redis (--profile bench: opt-level 3; --release: opt-level \"z\")"
    # cargo puts both profiles' binary at target/release/sqs-redis: copy each aside
    cargo build --locked --profile bench -p switchyard-bench --bin sqs-redis
    cp target/release/sqs-redis "$RUN_DIR/sqs-redis-opt3"
    cargo build --locked --release -p switchyard-bench --bin sqs-redis
    cp target/release/sqs-redis "$RUN_DIR/sqs-redis-optz"
    if cmp -s "$RUN_DIR/sqs-redis-opt3" "$RUN_DIR/sqs-redis-optz"; then
        echo "the two profiles built the same sqs-redis binary: is [profile.bench] still opt-level 3?" >&2
        exit 1
    fi
fi
if [ "$SCENARIO" != 1 ]; then
    log "building erp-sync (--release, the deployable)"
    cargo build --locked --release -p switchyard-erp-sync --bin erp-sync
fi

# ---------------------------------------------------------------- start
REDIS_PORT="$(free_port)"
log "starting redis-server on 127.0.0.1:$REDIS_PORT"
"${PIN_REDIS[@]}" redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no \
    --dir "$RUN_DIR" --daemonize no >"$RUN_DIR/redis.log" 2>&1 &
REDIS_PID=$!
PIDS+=($REDIS_PID)
REDIS_URL="redis://127.0.0.1:$REDIS_PORT"

rcli() { # one Redis command, redis-cli if present, else the tiny client
    if command -v redis-cli >/dev/null 2>&1; then
        redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"
    else
        python3 "$ROOT/bench/resp.py" "$REDIS_PORT" "$@"
    fi
}
wait_for redis 30 python3 "$ROOT/bench/resp.py" "$REDIS_PORT" PING

COMMIT="$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . 2>/dev/null || echo '+dirty')"
MACHINE="$(nproc) vCPU, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), Linux $(uname -r), $(rustc --version | cut -d' ' -f1-2), $("$PY" -V), redis $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/')"
mkdir -p "$RESULTS_DIR"
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"

# ---------------------------------------------------------------- scenario 1
if [ "$SCENARIO" != 2 ]; then
    RESULTS1="$RESULTS_DIR/$STAMP-scenario1.jsonl"
    : >"$RESULTS1"
    run1() { # run1 ROUND BUILD CMD... (timed; Redis flushed, stats reset before, read after)
        local round=$1 build=$2; shift 2
        rcli FLUSHALL >/dev/null
        rcli CONFIG RESETSTAT >/dev/null
        "${PIN_CLIENT[@]}" "$@" --redis "$REDIS_URL" --batches "$BATCHES" --warmup "$WARMUP" \
            >"$RUN_DIR/run.json" 2>"$RUN_DIR/run1.log"
        rcli INFO commandstats >"$RUN_DIR/info.txt"
        local keys; keys="$(rcli DBSIZE)"
        python3 "$ROOT/bench/report.py" record --run "$RUN_DIR/run.json" --info "$RUN_DIR/info.txt" \
            --dbsize "$keys" --build "$build" --round "$round" | tee -a "$RESULTS1" >&2
    }
    # An untimed pass per side under MONITOR, which tells the commands a
    # client sends from those a Lua script runs (commandstats counts both).
    monitor1() { # monitor1 SIDE CMD...
        local side=$1; shift
        local out="$RUN_DIR/monitor-$side.txt"
        rcli FLUSHALL >/dev/null
        if command -v redis-cli >/dev/null 2>&1; then
            redis-cli -h 127.0.0.1 -p "$REDIS_PORT" MONITOR >"$out" 2>/dev/null &
        else
            python3 "$ROOT/bench/resp.py" "$REDIS_PORT" MONITOR >"$out" 2>/dev/null &
        fi
        local monitor=$!
        PIDS+=($monitor)
        wait_for MONITOR 10 grep -q OK "$out"
        "$@" --redis "$REDIS_URL" --batches "$MONITOR_BATCHES" --warmup 0 >/dev/null 2>"$RUN_DIR/run1.log"
        rcli ECHO bench-monitor-end >/dev/null
        wait_for "the end of MONITOR" 10 grep -q bench-monitor-end "$out"
        kill "$monitor" 2>/dev/null; wait "$monitor" 2>/dev/null || true
        python3 "$ROOT/bench/report.py" monitor --file "$out" --side "$side" \
            --batches "$MONITOR_BATCHES" | tee -a "$MONITOR1" >&2
    }
    for round in $(seq 1 "$ROUNDS"); do
        log "scenario 1, round $round of $ROUNDS ($BATCHES batches of 10, $WARMUP warm-up)"
        run1 "$round" bench "$RUN_DIR/sqs-redis-opt3" floor
        run1 "$round" bench "$RUN_DIR/sqs-redis-opt3" switchyard
        run1 "$round" release "$RUN_DIR/sqs-redis-optz" floor
        run1 "$round" release "$RUN_DIR/sqs-redis-optz" switchyard
        run1 "$round" cpython env -C "$ROOT/bench/powertools" "$PY" sqs_redis.py
    done
    MONITOR_BATCHES=20
    MONITOR1="$RESULTS_DIR/$STAMP-scenario1-monitor.jsonl"
    : >"$MONITOR1"
    log "scenario 1: the commands each side sends, $MONITOR_BATCHES batches under MONITOR (untimed)"
    monitor1 floor "$RUN_DIR/sqs-redis-opt3" floor
    monitor1 switchyard "$RUN_DIR/sqs-redis-opt3" switchyard
    monitor1 powertools env -C "$ROOT/bench/powertools" "$PY" sqs_redis.py
fi

# ---------------------------------------------------------------- scenario 2
if [ "$SCENARIO" != 1 ]; then
    # scenario 2 runs unpinned: the function, its stubs and Redis share both CPUs
    if [ "$PIN" != none ]; then taskset -a -p -c "0-$(($(nproc) - 1))" "$REDIS_PID" >/dev/null; fi
    MOTO_PORT="$(free_port)"
    log "starting moto server on 127.0.0.1:$MOTO_PORT"
    MOTO_RECORDER_FILEPATH="$RUN_DIR/moto_recording" \
        "$VENV/bin/moto_server" -H 127.0.0.1 -p "$MOTO_PORT" >"$RUN_DIR/moto.log" 2>&1 &
    PIDS+=($!)
    MOTO_URL="http://127.0.0.1:$MOTO_PORT"
    wait_for moto 60 python3 -c "import urllib.request; urllib.request.urlopen('$MOTO_URL/moto-api/')"
    BUS=switchyard-bench
    AWS_ENDPOINT_URL="$MOTO_URL" AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing \
        "$PY" -c "import boto3; boto3.client('events').create_event_bus(Name='$BUS')" >/dev/null

    RESULTS2="$RESULTS_DIR/$STAMP-scenario2.jsonl"
    log "scenario 2: $ERP_ROUNDS rounds of $ERP_BATCHES batches of 10 per side through a fake Lambda Runtime API"
    "$PY" "$ROOT/bench/scenario2.py" --batches "$ERP_BATCHES" --rounds "$ERP_ROUNDS" --redis "$REDIS_URL" --moto "$MOTO_URL" \
        --bus "$BUS" --erp-sync-bin "$ROOT/target/release/erp-sync" --python "$PY" \
        --log-dir "$RUN_DIR" >"$RESULTS2" &
    S2=$!
    PIDS+=($S2)
    wait "$S2"
    cat "$RESULTS2" >&2
fi

# ---------------------------------------------------------------- report
echo
echo "machine: $MACHINE"
echo "commit: $COMMIT"
echo "scenario 1 CPU placement: --pin $PIN"
if [ "$SCENARIO" != 2 ]; then
    echo
    echo "## Scenario 1: SQS batches with Redis idempotency, first delivery"
    echo
    python3 "$ROOT/bench/report.py" table1 "$RESULTS1" "$MONITOR1"
fi
if [ "$SCENARIO" != 1 ]; then
    echo
    echo "## Scenario 2: through a Lambda Runtime API, ERP PUT and PutEvents per order"
    echo
    python3 "$ROOT/bench/report.py" table2 "$RESULTS2"
fi
echo
echo "raw results: ${RESULTS_DIR#"$ROOT"/}/$STAMP-*.jsonl"
