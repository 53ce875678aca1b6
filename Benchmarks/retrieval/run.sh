#!/usr/bin/env bash
# The retrieval benchmark: Sluice's search (`retrieve ... top 5`) against the bare FTS5 top-k
# query on the same index, in the same run, at each index size. Indexes are built once into
# .build-bench/indexes/ (through the store's indexing code, as `sluice index add` does) and reused
# by later runs; delete that folder to build them again. Prints the table.
#
#   Benchmarks/retrieval/run.sh [SIZES] [QUERIES] [ROUNDS] [BEFORE_QUERIES]
#
# Defaults 1000,10000,50000,500000, 200, 5, 20. Run it on a quiet machine: absolute numbers
# drift with load, the ratios measured together hold.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$here/.build-bench"
mkdir -p "$work"

printf 'bench: building RetrievalBench (release; its own scratch folder %s)\n' "$work/build" >&2
swift build -c release --package-path "$here" --scratch-path "$work/build" >&2
printf 'bench: load %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)" >&2
"$work/build/release/RetrievalBench" --sizes "${1:-1000,10000,50000,500000}" --queries "${2:-200}" --rounds "${3:-5}" \
    --before-queries "${4:-20}" --work "$work/indexes"
