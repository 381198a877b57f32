"""Results of bench/run.sh: records one scenario-1 run with its Redis
command counts, and prints the tables of both scenarios (markdown).
Standard library only.

    python3 report.py record --run RUN.json --info INFO.txt --dbsize N --build B --round R
    python3 report.py monitor --file MONITOR.txt --side S --batches N
    python3 report.py table1 RESULTS1.jsonl MONITOR1.jsonl
    python3 report.py table2 RESULTS2.jsonl
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from collections import Counter

# issued by run.sh itself, around each run
CONTROL = {"flushall", "config|resetstat", "config", "info", "dbsize", "command", "command|docs", "ping", "echo"}
MONITOR_LINE = re.compile(r'^\d+\.\d+ \[\d+ (?P<who>[^\]]+)\] "(?P<cmd>[^"]*)"(?: "(?P<sub>[^"]*)")?')
SUBCOMMANDS = {"client", "config", "script", "command", "function", "object", "memory"}

BUILDS = {
    "bench": "Rust, `--profile bench` (opt-level 3)",
    "release": "Rust, `--release` (opt-level \"z\", the deployables' profile)",
    "cpython": "CPython 3.11",
}


def parse_commandstats(text: str) -> dict[str, tuple[int, int]]:
    """command -> (calls, usec) from INFO commandstats."""
    stats = {}
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("cmdstat_"):
            continue
        name, _, values = line[len("cmdstat_"):].partition(":")
        fields = dict(kv.split("=", 1) for kv in values.split(","))
        stats[name] = (int(fields["calls"]), int(fields["usec"]))
    return stats


def record(args) -> None:
    with open(args.run) as f:
        run = json.loads(f.read().strip().splitlines()[-1])
    with open(args.info) as f:
        stats = parse_commandstats(f.read())
    calls = {k: v[0] for k, v in stats.items() if k not in CONTROL}
    usec = {k: v[1] for k, v in stats.items() if k not in CONTROL}
    expected_keys = run["total_batches"] * 10
    if args.dbsize != expected_keys:
        sys.exit(
            f"{run['side']}: {args.dbsize} keys in Redis after the run, expected {expected_keys} "
            "(one per message): ids collided or messages were not claimed"
        )
    run.update(build=args.build, round=args.round, redis_calls=calls, redis_usec=usec,
               redis_keys=args.dbsize)
    print(json.dumps(run))


def monitor(args) -> None:
    """Counts what MONITOR saw: commands sent by clients, and those run by Lua."""
    client: Counter = Counter()
    lua: Counter = Counter()
    with open(args.file, errors="replace") as f:
        for line in f:
            m = MONITOR_LINE.match(line)
            if not m:
                continue
            name = m["cmd"].lower()
            if name in SUBCOMMANDS and m["sub"]:
                name = f"{name}|{m['sub'].lower()}"
            if name in CONTROL or name.split("|")[0] in ("flushall", "echo", "monitor"):
                continue
            (lua if m["who"] == "lua" else client)[name] += 1
    print(json.dumps({"side": args.side, "batches": args.batches, "client": client, "lua": lua}))


def load(path: str) -> list[dict]:
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def fmt(x: float, digits: int = 1) -> str:
    return f"{x:,.{digits}f}"


def per_batch(counts: dict[str, int], batches: int) -> tuple[float, str]:
    """Calls per batch of the commands sent every batch, and the breakdown
    (commands seen less than once per 2 batches are per-process set-up)."""
    steady, parts = 0.0, []
    for name, calls in sorted(counts.items(), key=lambda kv: -kv[1]):
        rate = calls / batches
        if rate >= 0.5:
            steady += rate
            parts.append(f"{name.upper()} {rate:.2f}")
        else:
            parts.append(f"{name.upper()} ×{calls} once")
    return steady, ", ".join(parts) or "—"


def table1(path: str, monitor_path: str) -> None:
    results = load(path)
    monitors = {m["side"]: m for m in load(monitor_path)}
    order = [("floor", "bench"), ("switchyard", "bench"), ("floor", "release"),
             ("switchyard", "release"), ("powertools", "cpython")]
    medians: dict[tuple[str, str], float] = {}
    rounds = max(r["round"] for r in results)
    first = results[0]
    print(f"{rounds} rounds, {first['batches']:,} batches of 10 per run "
          f"(+{first['total_batches'] - first['batches']:,} warm-up batches); "
          "median of the rounds, and the spread\n")
    print("| side | build | wall per message (µs) | min | max | client CPU per message (µs) | Redis server time per message (µs) |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for side, build in order:
        runs = [r for r in results if r["side"] == side and r["build"] == build]
        if not runs:
            continue
        values = [r["per_message_us"] for r in runs]
        medians[(side, build)] = statistics.median(values)
        cpus = [r["cpu_per_message_us"] for r in runs if r.get("cpu_per_message_us") is not None]
        cpu = fmt(statistics.median(cpus), 2) if cpus else "—"
        m = monitors.get(side)
        # the server time of the commands the client sent (a script's includes its inner calls)
        sent = set(m["client"]) if m else None
        server = statistics.median(
            sum(u for name, u in r["redis_usec"].items() if sent is None or name in sent)
            / (r["total_batches"] * 10)
            for r in runs
        )
        print(f"| {side} | {BUILDS[build]} | **{fmt(medians[(side, build)], 2)}** | {fmt(min(values), 2)} | "
              f"{fmt(max(values), 2)} | {cpu} | {fmt(server, 2)} |")
    print()
    print("| side | Redis commands sent per batch | run inside Lua scripts per batch | executed per batch (commandstats) |")
    print("|---|---|---:|---:|")
    for side in ("floor", "switchyard", "powertools"):
        runs = [r for r in results if r["side"] == side]
        if not runs:
            continue
        executed = statistics.median(sum(r["redis_calls"].values()) / r["total_batches"] for r in runs)
        m = monitors.get(side)
        if m:
            sent, breakdown = per_batch(m["client"], m["batches"])
            lua, _ = per_batch(m["lua"], m["batches"])
            print(f"| {side} | {sent:.2f} ({breakdown}) | {lua:.2f} | {executed:.2f} |")
        else:
            print(f"| {side} | — | — | {executed:.2f} |")
    print()
    print("| ratio (of the wall-time medians) | value |")
    print("|---|---:|")
    labels = {"bench": "opt-level 3", "release": 'opt-level "z"'}
    for build, label in labels.items():
        if ("switchyard", build) in medians and ("floor", build) in medians:
            print(f"| switchyard / floor, {label} | {medians[('switchyard', build)] / medians[('floor', build)]:.2f} |")
    for build, label in labels.items():
        if ("powertools", "cpython") in medians and ("switchyard", build) in medians:
            print(f"| powertools / switchyard {label} | "
                  f"{medians[('powertools', 'cpython')] / medians[('switchyard', build)]:.1f} |")


def table2(path: str) -> None:
    results = load(path)
    first = results[0]
    sides = list(dict.fromkeys(r["side"] for r in results))
    rounds = max(r.get("round", 1) for r in results)
    print(f"{rounds} rounds (the sides in turn), {first['batches']:,} batches of 10 per run; "
          "median of the rounds (min–max)\n")
    rows = [
        ("init: spawn to first `/next` (ms)", "init_ms", 1),
        ("CPU during init (ms, schedstat of its threads)", "init_cpu_ms", 1),
        ("CPU per message after init (µs, utime+stime)", "cpu_per_message_us", 0),
        ("… of which user (µs)", "user_per_message_us", 0),
        ("… of which system (µs)", "sys_per_message_us", 0),
        ("peak RSS, VmHWM (MiB)", "peak_rss_mib", 1),
        ("PutEvents calls per batch", "put_events_calls_per_batch", 2),
        ("PutEvents entries per batch", "put_events_entries_per_batch", 2),
        ("ERP PUTs per batch", "erp_calls_per_batch", 2),
        ("wall time per batch (ms; bound by the local stubs and moto)", "wall_per_batch_ms", 1),
    ]
    medians: dict[tuple[str, str], float] = {}

    def cell(side: str, key: str, digits: int) -> str:
        values = [r[key] for r in results if r["side"] == side]
        medians[(side, key)] = statistics.median(values)
        text = fmt(medians[(side, key)], digits)
        if len(values) > 1 and min(values) != max(values):
            text += f" ({fmt(min(values), digits)}–{fmt(max(values), digits)})"
        return text

    print("| | " + " | ".join(sides) + " |")
    print("|---|" + "---:|" * len(sides))
    for label, key, digits in rows:
        print(f"| {label} | " + " | ".join(cell(side, key, digits) for side in sides) + " |")
    if "switchyard" in sides and "powertools" in sides:
        ratio = {k: medians[("powertools", k)] / medians[("switchyard", k)]
                 for k in ("init_ms", "cpu_per_message_us", "peak_rss_mib")}
        print()
        print(f"powertools / switchyard (medians): init {ratio['init_ms']:.1f}×, "
              f"CPU per message {ratio['cpu_per_message_us']:.1f}×, peak RSS {ratio['peak_rss_mib']:.1f}×")


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("record")
    r.add_argument("--run", required=True)
    r.add_argument("--info", required=True)
    r.add_argument("--dbsize", type=int, required=True)
    r.add_argument("--build", required=True, choices=sorted(BUILDS))
    r.add_argument("--round", type=int, required=True)
    m = sub.add_parser("monitor")
    m.add_argument("--file", required=True)
    m.add_argument("--side", required=True)
    m.add_argument("--batches", type=int, required=True)
    t1 = sub.add_parser("table1")
    t1.add_argument("path")
    t1.add_argument("monitor_path")
    sub.add_parser("table2").add_argument("path")
    args = parser.parse_args()
    if args.command == "record":
        record(args)
    elif args.command == "monitor":
        monitor(args)
    elif args.command == "table1":
        table1(args.path, args.monitor_path)
    else:
        table2(args.path)


if __name__ == "__main__":
    main()
