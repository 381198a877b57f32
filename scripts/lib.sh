# Shared by scripts/test.sh and bench/run.sh (sourced, not run): logging,
# stopping by PID every process the script started (PIDS) on exit —
# also on failure or Ctrl-C, printing the tail of each log in RUN_DIR when
# it failed — free loopback ports, waiting for a server to be ready, and
# a pinned venv reinstalled only when its requirements file changes.
# The sourcing script sets RUN_DIR and PIDS=() first.

log() { printf '\n==> %s\n' "$*" >&2; }

cleanup() {
    local status=$?
    for pid in "${PIDS[@]:-}"; do
        [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
    done
    if [ $status -ne 0 ] && [ -d "$RUN_DIR" ]; then
        for f in "$RUN_DIR"/*.log; do
            [ -s "$f" ] && { echo "--- last lines of $(basename "$f") ---" >&2; tail -n 20 "$f" >&2; }
        done
    fi
    rm -rf "$RUN_DIR"
    exit $status
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

wait_for() { # wait_for NAME SECONDS CMD...
    local name=$1 secs=$2; shift 2
    local deadline=$((SECONDS + secs))
    until "$@" >/dev/null 2>&1; do
        if [ $SECONDS -ge $deadline ]; then echo "$name did not become ready in ${secs}s" >&2; return 1; fi
        sleep 0.2
    done
}

install_venv() { # install_venv DIR REQUIREMENTS PYTHON WHAT
    local venv=$1 req=$2 python=$3 what=$4
    local stamp="$venv/.requirements.sha256"
    local want; want="$(sha256sum "$req" | cut -d' ' -f1)"
    if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
        return
    fi
    log "installing $what into ${venv#"$ROOT"/}"
    rm -rf "$venv"
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
    echo "$want" >"$stamp"
}
