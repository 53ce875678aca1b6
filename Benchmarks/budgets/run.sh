#!/usr/bin/env bash
# The spend-ledger benchmark, with its baseline measured in the same run: reservations per second
# (each one checked against three window limits, recorded, then settled: what every model call
# adds to a run) of
#   - the in-memory ledger (the baseline: a lock and a dictionary),
#   - the store's SQLite ledger in one process, from 1 task and from 8 concurrent tasks,
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
  # Many processes on one file: created first, so no process pays the schema's migration.
  rm -f "$work/store.db"*; "$bench" sqlite 1 "$work/store.db" > /dev/null
  start=$(date +%s.%N)
  pids=()
  for p in $(seq 1 "$processes"); do
    "$bench" sqlite "$per_process" "$work/store.db" > "$work/out/process-$p.json" & pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid"; done
  end=$(date +%s.%N)
  python3 -c "import sys; print('{\"subject\": \"processes\", \"tasks\": $processes, \"reservations\": $(( per_process * processes )), \"seconds\": ' + str($end - $start) + '}')" >> "$results"
done

python3 - "$results" "$processes" <<'PY'
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
processes = sys.argv[2]
def rate(subject, tasks):
    runs = [r for r in rows if r["subject"] == subject and r["tasks"] == tasks]
    return statistics.median(r["reservations"] / r["seconds"] for r in runs)
memory = rate("memory", 1)
cells = [
    ("in-memory ledger (baseline)", memory),
    ("SQLite ledger, 1 process, 1 task", rate("sqlite", 1)),
    ("SQLite ledger, 1 process, 8 tasks", rate("sqlite", 8)),
    (f"SQLite ledger, {processes} processes on one file", rate("processes", int(processes))),
]
print("| ledger | reservations/s | vs in-memory |")
print("| --- | ---: | ---: |")
for name, value in cells:
    print(f"| {name} | {value:,.0f} | {value / memory:.4f}× |")
PY
