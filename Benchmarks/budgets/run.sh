#!/usr/bin/env bash
# The spend-ledger benchmark, with its baseline measured in the same run: reservations per second
# (each one checked against three window limits, recorded, then settled: what every model call
# adds to a run) of
#   - the in-memory ledger (the baseline: a lock and a dictionary),
#   - the store's SQLite ledger in one process, from 1 task, from 8 and 50 concurrent tasks (as
#     the runtime's runs call it) and from 50 threads (callers all waiting at once: what its group
#     commit makes of concurrency when the cooperative pool's few threads do not bound it),
#   - the store's ledger across PROCESSES processes started at once on one file (the aggregate
#     rate: total reservations over the wall time from the first start to the last exit).
#
#   Benchmarks/budgets/run.sh [RESERVATIONS] [PROCESSES] [ROUNDS]
#
# Defaults 20000, 8, 3: every cell is the median of ROUNDS rounds, each round running every
# subject in turn on a fresh store (WAL mode, synchronous NORMAL, as `sluice run` opens it) in
# .build-bench/. Run it on a quiet machine: absolute numbers drift with load, ratios measured
# together hold.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
count="${1:-20000}"
processes="${2:-8}"
rounds="${3:-3}"
work="$here/.build-bench"
mkdir -p "$work/out"

echo "building (release)..." >&2
swift build -c release --package-path "$here" --scratch-path "$work/build" >&2
bench="$work/build/release/BudgetsBench"

results="$work/out/results.jsonl"
: > "$results"
per_process=$(( count / processes ))
for round in $(seq 1 "$rounds"); do
  echo "round $round/$rounds" >&2
  "$bench" memory "$count" >> "$results"
  rm -f "$work/store.db"*; "$bench" sqlite "$count" "$work/store.db" >> "$results"
  rm -f "$work/store.db"*; "$bench" sqlite "$count" "$work/store.db" 8 >> "$results"
  rm -f "$work/store.db"*; "$bench" sqlite "$count" "$work/store.db" 50 >> "$results"
  rm -f "$work/store.db"*; "$bench" sqlite "$count" "$work/store.db" 50 threads >> "$results"
  # Many processes on one file: created first, so no process pays the schema's migration.
  rm -f "$work/store.db"*; "$bench" sqlite 1 "$work/store.db" > /dev/null
  start=$(date +%s.%N)
  pids=()
  for p in $(seq 1 "$processes"); do
    "$bench" sqlite "$per_process" "$work/store.db" > "$work/out/process-$p.json" & pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid"; done
  end=$(date +%s.%N)
  python3 - "$work/out" "$processes" "$(( per_process * processes ))" "$start" "$end" >> "$results" <<'PY'
import json, sys
folder, processes, reservations, start, end = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
transactions = sum(json.loads(open(f"{folder}/process-{p}.json").read())["transactions"] for p in range(1, processes + 1))
print(json.dumps({"subject": "processes", "tasks": processes, "threads": False, "reservations": reservations,
                  "seconds": end - start, "transactions": transactions}))
PY
done

python3 - "$results" "$processes" <<'PY'
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
processes = int(sys.argv[2])
def runs(subject, tasks, threads=False):
    return [r for r in rows if r["subject"] == subject and r["tasks"] == tasks and r["threads"] == threads]
def rate(*cell):
    return statistics.median(r["reservations"] / r["seconds"] for r in runs(*cell))
def per_transaction(*cell):
    # Every reservation here is one reserve and one settle: two operations of the ledger.
    found = runs(*cell)
    return statistics.median(2 * r["reservations"] / r["transactions"] for r in found) if found[0]["transactions"] else None
memory, single = rate("memory", 1), rate("sqlite", 1)
cells = [
    ("in-memory ledger (baseline)", ("memory", 1)),
    ("SQLite ledger, 1 process, 1 task", ("sqlite", 1)),
    ("SQLite ledger, 1 process, 8 tasks", ("sqlite", 8)),
    ("SQLite ledger, 1 process, 50 tasks", ("sqlite", 50)),
    ("SQLite ledger, 1 process, 50 threads", ("sqlite", 50, True)),
    (f"SQLite ledger, {processes} processes on one file", ("processes", processes)),
]
print("| ledger | reservations/s | vs in-memory | vs 1 task | operations per transaction |")
print("| --- | ---: | ---: | ---: | ---: |")
for name, cell in cells:
    value, grouped = rate(*cell), per_transaction(*cell)
    shown = "" if grouped is None else f"{grouped:.2f}"
    print(f"| {name} | {value:,.0f} | {value / memory:.4f}× | {value / single:.2f}× | {shown} |")
PY
