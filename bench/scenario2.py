"""Scenario 2 of the project benchmark (bench/README.md): a function process
behind a fake Lambda Runtime API, with an ERP stub and EventBridge on moto.

Started by bench/run.sh (which owns redis-server and moto); runs each side
once per round, in turn, and prints one JSON line per run:

    python scenario2.py --batches M --redis URL --moto URL --bus NAME \
        --erp-sync-bin target/release/erp-sync --python .tools/bench-venv/bin/python

Everything here binds 127.0.0.1. The fake Runtime API follows the AWS
"Lambda runtime API" reference (version 2018-06-01):
`GET /2018-06-01/runtime/invocation/next` answers the next event with
`Lambda-Runtime-Aws-Request-Id`, `Lambda-Runtime-Deadline-Ms`,
`Lambda-Runtime-Invoked-Function-Arn` and `Lambda-Runtime-Trace-Id`;
`POST .../invocation/{id}/response`, `.../invocation/{id}/error` and
`.../init/error` answer 202. After the last event it holds `/next` open,
as Lambda does while it has nothing to deliver.

Per side: init time = process spawn to its first `/next`, and the CPU
the process used until then (its threads' /proc/<pid>/task/*/schedstat,
nanoseconds); CPU per message = utime + stime of the process
(/proc/<pid>/stat, all threads, 10 ms ticks) read at the first `/next` and
again at the `/next` that follows the last response, so init is excluded; peak RSS = VmHWM (/proc/<pid>/status) at the end; PutEvents
calls and entries from moto's own request recorder (`/moto-api/recorder/`),
filtered on `X-Amz-Target: AWSEvents.PutEvents`; ERP calls from the stub.
The function process is stopped by its PID (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "powertools"))
from models import BATCH, sqs_events  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
FUNCTION = "erp-sync"
ARN = f"arn:aws:lambda:us-east-1:123456789012:function:{FUNCTION}"
TIMEOUT_MS = 60_000


def cpu_seconds(pid: int) -> tuple[float, float]:
    """(utime, stime) of the whole process (every thread, live or exited)."""
    with open(f"/proc/{pid}/stat") as f:
        # the command name may hold spaces: fields follow the last ')'
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK


def threads_cpu_seconds(pid: int) -> float:
    """On-CPU time of the process's live threads, from the scheduler
    (nanoseconds; /proc/<pid>/stat counts 10 ms ticks, too coarse for init)."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                total += int(f.read().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            pass  # the thread exited meanwhile
    return total / 1e9


def vm_hwm_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return -1


class Quiet(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Lambda's and the ERP's servers
    # one write per response (headers and body), sent at once: without these,
    # Nagle's algorithm and the client's delayed ACK add up to 40 ms a response
    wbufsize = 1 << 16
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args) -> None:  # noqa: A002
        pass

    def body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def send(self, status: int, payload: bytes = b"", headers: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if payload:
            self.wfile.write(payload)


class Server(ThreadingHTTPServer):
    daemon_threads = True


# ------------------------------------------------------------------ runtime API
class RuntimeApi:
    """Serves `events` to one function process and records what it answers."""

    def __init__(self, events: list[bytes]) -> None:
        self.events = events
        self.lock = threading.Lock()
        self.next_index = 0
        self.in_flight: dict[str, int] = {}
        self.responses: list[bytes] = []
        self.errors: list[bytes] = []
        self.init_error: bytes | None = None
        self.pid: int | None = None
        self.first_next: float | None = None
        self.cpu_at_first_next: tuple[float, float] | None = None
        self.init_cpu: float | None = None
        self.end: float | None = None
        self.cpu_at_end: tuple[float, float] | None = None
        self.hwm_kib_at_end: int | None = None
        self.finished = threading.Event()
        self.stopping = threading.Event()
        api = self

        class Handler(Quiet):
            def do_GET(self) -> None:  # noqa: N802
                if self.path != "/2018-06-01/runtime/invocation/next":
                    return self.send(404, b'{"errorType":"NotFound"}')
                api.next(self)

            def do_POST(self) -> None:  # noqa: N802
                payload = self.body()
                parts = self.path.split("/")
                # /2018-06-01/runtime/invocation/{id}/response|error, /2018-06-01/runtime/init/error
                if self.path == "/2018-06-01/runtime/init/error":
                    api.init_error = payload
                    api.finished.set()
                    return self.send(202, b'{"status":"OK"}')
                if len(parts) == 6 and parts[3] == "invocation" and parts[5] in ("response", "error"):
                    if not api.answer(parts[4], parts[5], payload):
                        return self.send(400, b'{"errorType":"InvalidRequestID"}')
                    return self.send(202, b'{"status":"OK"}')
                self.send(404, b'{"errorType":"NotFound"}')

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def next(self, request: Quiet) -> None:
        with self.lock:
            now = time.monotonic()
            if self.first_next is None:
                self.first_next = now
                if self.pid:
                    self.init_cpu = threads_cpu_seconds(self.pid)
                    self.cpu_at_first_next = cpu_seconds(self.pid)
            if self.next_index < len(self.events):
                event = self.events[self.next_index]
                self.next_index += 1
                request_id = str(uuid.uuid4())
                self.in_flight[request_id] = self.next_index
            else:
                event = None
                if not self.in_flight and self.end is None:
                    # the process answered everything and asks for more: idle
                    self.end = now
                    if self.pid:
                        self.cpu_at_end = cpu_seconds(self.pid)
                        self.hwm_kib_at_end = vm_hwm_kib(self.pid)
                    self.finished.set()
        if event is None:
            # nothing to deliver: hold the request, as Lambda does
            self.stopping.wait(600)
            return self.send_close(request)
        deadline_ms = int(time.time() * 1000) + TIMEOUT_MS
        trace = f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Parent={uuid.uuid4().hex[:16]};Sampled=0"
        request.send(
            200,
            event,
            {
                "Lambda-Runtime-Aws-Request-Id": request_id,
                "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
                "Lambda-Runtime-Invoked-Function-Arn": ARN,
                "Lambda-Runtime-Trace-Id": trace,
            },
        )

    @staticmethod
    def send_close(request: Quiet) -> None:
        try:
            request.close_connection = True
            request.send(500, b'{"errorType":"RuntimeStopping"}')
        except OSError:
            pass

    def answer(self, request_id: str, kind: str, payload: bytes) -> bool:
        with self.lock:
            if self.in_flight.pop(request_id, None) is None:
                return False
            (self.responses if kind == "response" else self.errors).append(payload)
            return True

    def close(self) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()


# ------------------------------------------------------------------ ERP stub
class ErpStub:
    """The protocol of shared/local/src/erp.rs: `PUT /orders/{id}` answers 201
    `{"erpOrderNumber": "ERP-000001", "outcome": "created"}` the first time
    an Idempotency-Key is seen, 200 `unchanged` with the same number after;
    `PUT /customers/{id}` answers 200 `{"customerNumber": "CUST-{id}"}`."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()
        stub = self

        class Handler(Quiet):
            def do_PUT(self) -> None:  # noqa: N802
                payload = self.body()
                parts = self.path.split("/")
                if len(parts) != 3 or parts[1] not in ("orders", "customers"):
                    return self.send(404, b'{"error":"not found"}')
                try:
                    json.loads(payload)
                except ValueError:
                    return self.send(400, b'{"error":"body is not JSON"}')
                status, reply = stub.upsert(parts[1], parts[2], self.headers.get("Idempotency-Key") or "")
                self.send(status, json.dumps(reply).encode())

        self.server = Server(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def reset(self) -> None:
        with self.lock:
            self.numbers: dict[str, str] = {}
            self.calls = {"orders": 0, "customers": 0}
            self.keyless = 0

    def upsert(self, resource: str, rid: str, key: str) -> tuple[int, dict]:
        with self.lock:
            self.calls[resource] += 1
            if not key:
                self.keyless += 1
            if resource == "customers":
                return 200, {"customerNumber": f"CUST-{rid}"}
            if key in self.numbers:
                return 200, {"erpOrderNumber": self.numbers[key], "outcome": "unchanged"}
            number = f"ERP-{len(self.numbers) + 1:06d}"
            self.numbers[key] = number
            return 201, {"erpOrderNumber": number, "outcome": "created"}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# ------------------------------------------------------------------ moto
def moto(base: str, path: str, method: str = "POST") -> bytes:
    request = urllib.request.Request(f"{base}/moto-api/recorder/{path}", method=method)
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.read()


def put_events_from_recording(recording: bytes) -> dict:
    calls = entries = other = 0
    for line in recording.decode().splitlines():
        if not line.strip():
            continue
        entry = json.loads(line)
        headers = {k.lower(): v for k, v in entry.get("headers", {}).items()}
        if headers.get("x-amz-target") != "AWSEvents.PutEvents":
            other += 1
            continue
        calls += 1
        body = entry.get("body") or ""
        if entry.get("body_encoded"):
            body = base64.b64decode(body).decode()
        entries += len(json.loads(body).get("Entries", []))
    return {"calls": calls, "entries": entries, "other_aws_requests": other}


# ------------------------------------------------------------------ one side
def run_side(side: str, argv: list[str], cwd: Path, env: dict, events: list[bytes],
             erp: ErpStub, args, log_dir: Path) -> dict:
    import redis  # the bench venv has the client

    redis.Redis.from_url(args.redis).flushall()
    erp.reset()
    moto(args.moto, "reset-recording")
    moto(args.moto, "start-recording")
    api = RuntimeApi(events)
    env = dict(env, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{api.port}")
    log_path = log_dir / f"scenario2-{side}.log"
    process = None
    try:
        with open(log_path, "wb") as log:
            spawned = time.monotonic()
            process = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                       stdout=log, stderr=subprocess.STDOUT)
            api.pid = process.pid
            while not api.finished.wait(0.2):
                if process.poll() is not None:
                    break
                if time.monotonic() - spawned > args.timeout:
                    raise RuntimeError(f"{side}: not finished after {args.timeout}s")
        if api.init_error is not None or api.end is None:
            tail = log_path.read_bytes()[-3000:].decode(errors="replace")
            raise RuntimeError(
                f"{side}: the function did not finish (exit {process.poll()}, "
                f"init error {api.init_error!r}); last log lines:\n{tail}"
            )
    finally:
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        api.close()
        moto(args.moto, "stop-recording")
    recording = moto(args.moto, "download-recording", "GET")

    failures = 0
    for payload in api.responses:
        failures += len(json.loads(payload).get("batchItemFailures", []))
    messages = len(events) * BATCH
    if api.errors or failures or erp.calls["orders"] != messages:
        raise RuntimeError(
            f"{side}: {len(api.errors)} invocation errors, {failures} failed messages, "
            f"{erp.calls['orders']} ERP order calls for {messages} messages; see {log_path}"
        )
    put_events = put_events_from_recording(recording)
    user = api.cpu_at_end[0] - api.cpu_at_first_next[0]
    system = api.cpu_at_end[1] - api.cpu_at_first_next[1]
    cpu = user + system
    return {
        "side": side,
        "batches": len(events),
        "messages": messages,
        "init_ms": round((api.first_next - spawned) * 1000, 1),
        "init_cpu_ms": round(api.init_cpu * 1000, 1),
        "cpu_per_message_us": round(cpu * 1e6 / messages, 1),
        "user_per_message_us": round(user * 1e6 / messages, 1),
        "sys_per_message_us": round(system * 1e6 / messages, 1),
        "cpu_s": round(cpu, 2),
        "wall_per_batch_ms": round((api.end - api.first_next) * 1000 / len(events), 2),
        "peak_rss_mib": round(api.hwm_kib_at_end / 1024, 1),
        "put_events_calls_per_batch": round(put_events["calls"] / len(events), 2),
        "put_events_entries_per_batch": round(put_events["entries"] / len(events), 2),
        "other_aws_requests": put_events["other_aws_requests"],
        "erp_calls_per_batch": round(erp.calls["orders"] / len(events), 2),
        "erp_calls_without_key": erp.keyless,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description="scenario 2 of the project benchmark")
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--redis", required=True)
    parser.add_argument("--moto", required=True)
    parser.add_argument("--bus", required=True)
    parser.add_argument("--erp-sync-bin", required=True)
    parser.add_argument("--python", required=True, help="the bench venv's python")
    parser.add_argument("--rounds", type=int, default=1, help="each side once per round, in turn")
    parser.add_argument("--sides", default="switchyard,powertools")
    parser.add_argument("--log-dir", default=".")
    parser.add_argument("--timeout", type=float, default=900)
    args = parser.parse_args()

    # SIGTERM from run.sh's trap: unwind, so the finally blocks stop the child
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    events = [json.dumps(e).encode() for e in sqs_events(0, args.batches)]
    erp = ErpStub()
    common = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "TZ": ":UTC",
        "AWS_LAMBDA_FUNCTION_NAME": FUNCTION,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{FUNCTION}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_ENDPOINT_URL": args.moto,
        "AWS_EC2_METADATA_DISABLED": "true",
        "ERP_BASE_URL": erp.base_url,
        "ERP_TIMEOUT_MS": "5000",
        "EVENT_BUS_NAME": args.bus,
        "SWITCHYARD_IDEMPOTENCY": args.redis,
    }
    sides = {
        "switchyard": (
            [str(Path(args.erp_sync_bin).resolve())],
            Path(args.erp_sync_bin).resolve().parent,
            dict(common, _HANDLER="erp-sync", LAMBDA_TASK_ROOT=str(Path(args.erp_sync_bin).resolve().parent)),
        ),
        "powertools": (
            [os.path.abspath(args.python), "-m", "awslambdaric", "erp_sync.handler"],
            HERE / "powertools",
            dict(common, _HANDLER="erp_sync.handler", LAMBDA_TASK_ROOT=str(HERE / "powertools"),
                 AWS_EXECUTION_ENV="AWS_Lambda_python3.11", PYTHONDONTWRITEBYTECODE="1"),
        ),
    }
    try:
        for round_ in range(1, args.rounds + 1):
            for side in args.sides.split(","):
                argv, cwd, env = sides[side]
                result = run_side(side, argv, cwd, env, events, erp, args, Path(args.log_dir))
                print(json.dumps(dict(result, round=round_)), flush=True)
    finally:
        erp.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
