#!/usr/bin/env bash
# The trace-store benchmark: spans written per second, and what tracing adds to a run of the
# six-step support pipeline in-process with the scripted provider (no network), at concurrency
# 1, 10 and 100: into the SQLite store through the TraceWriter (group commit, the CLI's way), into
# the store a transaction per record (the way before), and into a sink that drops everything.
# Every round measures every sink, so the ratios come from the same minutes. Prints the tables.
#
#   Benchmarks/store/run.sh [SEQUENTIAL_RUNS] [CONCURRENT_RUNS] [SPANS] [ROUNDS]
#
# Defaults 2000, 4000, 100000, 3. Run it on a quiet machine: absolute numbers drift with load.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$here/.build-bench"
mkdir -p "$work"

printf 'bench: building StoreBench (release; its own scratch folder %s)\n' "$work/build" >&2
swift build -c release --package-path "$here" --scratch-path "$work/build" >&2
printf 'bench: load %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)" >&2
"$work/build/release/StoreBench" --runs "${1:-2000}" --concurrent-runs "${2:-4000}" --spans "${3:-100000}" --rounds "${4:-3}"
