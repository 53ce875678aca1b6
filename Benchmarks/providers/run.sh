#!/usr/bin/env bash
# The provider-layer benchmark, with its peer baseline measured in the same run:
#   - Sluice: the six-step support pipeline (guard, retrieve over 200 documents, prompt, model call,
#     validate, score) on its interpreter, OpenAI-compatible provider and SQLite trace store; the
#     same without its trace writes; the provider alone; and a bare libcurl POST loop (the HTTP floor);
#   - LangChain LCEL + ChatOpenAI doing the same six steps (shared/bench/lcel_pipeline.py), and a
#     bare httpx POST loop (its HTTP floor);
# all against one nginx mock that answers at once (shared/bench/nginx-mock.conf, 127.0.0.1:18431),
# at concurrency 1, 10 and 100. Prints a table with Sluice/LCEL ratios; raw lines in
# Benchmarks/providers/.build-bench/results-*.txt.
#
#   Benchmarks/providers/run.sh [SEQUENTIAL_RUNS] [CONCURRENT_RUNS] [ROUNDS]
#
# Defaults 1000, 3000, 3: every cell is the median of ROUNDS rounds, each round running every
# subject in turn. Needs nginx (Debian nginx-light; installed with apt-get when missing and run as
# root) and python3; LangChain goes into a venv under ${XDG_CACHE_HOME:-$HOME/.cache}/sluice/bench.
# Run it on a quiet machine: absolute numbers drift with load, ratios measured together hold.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
shared="${SLUICE_SHARED:-$root/../shared}"
sequential="${1:-1000}"
concurrent="${2:-3000}"
rounds="${3:-3}"
levels="1,10,50,100"
work="$here/.build-bench"
mkdir -p "$work"

say() { printf 'bench: %s\n' "$*" >&2; }
die() { printf 'bench: error: %s\n' "$*" >&2; exit 1; }
# shellcheck source=../lib/mock.sh
source "$here/../lib/mock.sh"
base="$mock_base"
venv="$lcel_venv"

mock_require_files
mock_ensure_nginx
mock_ensure_lcel

# Sluice's side, in release like `swift build -c release`.
say "building the benchmark (release; its own scratch folder $work/build)"
swift build -c release --package-path "$here" --scratch-path "$work/build" >&2
bench="$work/build/release/ProvidersBench"

mock_start
say "$sequential sequential runs, $concurrent at concurrency 10, 50 and 100, $rounds rounds"

stamp="$(date +%Y%m%d-%H%M%S)"
results="$work/results-$stamp.txt"
: >"$results"
for round in $(seq 1 "$rounds"); do
  say "round $round/$rounds (load: $(cut -d' ' -f1-3 /proc/loadavg))"
  for c in ${levels//,/ }; do
    n=$([ "$c" = 1 ] && echo "$sequential" || echo "$concurrent")
    echo "lcel $("$venv/bin/python" "$shared/bench/lcel_pipeline.py" "$base" "$n" "$c")" >>"$results"
    echo "httpx $("$venv/bin/python" "$here/bare_httpx.py" "$base" "$n" "$c")" >>"$results"
  done
  "$bench" "$base" --runs "$sequential" --concurrent-runs "$concurrent" --concurrency "$levels" >>"$results"
done

python3 - "$results" "$(nproc)" "$(uname -m)" <<'PY'
import json, re, statistics, sys
path, cores, arch = sys.argv[1], sys.argv[2], sys.argv[3]
cells = {}
for line in open(path):
    line = line.strip()
    m = re.match(r"(lcel|httpx) .*: (\d+) runs at concurrency (\d+): (\d+) runs/s, ([\d.]+) ms per run", line)
    if m:
        cells.setdefault((m[1], int(m[3])), []).append({"runs_per_s": float(m[4]), "mean_ms": float(m[5])})
    elif line.startswith("{"):
        d = json.loads(line)
        if d["errors"]: sys.exit(f"Sluice {d['what']} had {d['errors']} errors: {d.get('first_error')}")
        cells.setdefault((d["what"], d["concurrency"]), []).append(d)
def med(what, c, key):
    xs = [x[key] for x in cells.get((what, c), []) if key in x]
    return statistics.median(xs) if xs else float("nan")
levels = sorted({c for _, c in cells})
rounds = len(cells.get(("pipeline", 1), []))
def per_run(what, c): return 1000 / med(what, c, "runs_per_s")   # ms of wall time per run = inverse throughput
print(f"\nProvider layer against an instant mock (nginx), {cores} cores {arch}; median of {rounds} rounds, all measured in the same run.\n")
print("Throughput (runs/s; higher is better)\n")
print("| concurrency | Sluice pipeline | LCEL pipeline | Sluice/LCEL | Sluice untraced | Sluice provider alone | bare libcurl | bare httpx |")
print("|---|---|---|---|---|---|---|---|")
for c in levels:
    s, l = med("pipeline", c, "runs_per_s"), med("lcel", c, "runs_per_s")
    print(f"| {c} | {s:,.0f} | {l:,.0f} | {s / l:.2f}× | {med('untraced', c, 'runs_per_s'):,.0f} | {med('provider', c, 'runs_per_s'):,.0f} | "
          f"{med('bare', c, 'runs_per_s'):,.0f} | {med('httpx', c, 'runs_per_s'):,.0f} |")
print("\nWhat each layer adds, in ms of wall time per run (wall time / runs), over the bare HTTP loop of the same language at the same concurrency\n")
print("| concurrency | Sluice pipeline | of which tracing | Sluice provider alone | LCEL pipeline | LCEL/Sluice |")
print("|---|---|---|---|---|---|")
for c in levels:
    sl = per_run("pipeline", c) - per_run("bare", c)
    lc = per_run("lcel", c) - per_run("httpx", c)
    print(f"| {c} | {sl:+.2f} | {per_run('pipeline', c) - per_run('untraced', c):+.2f} | {per_run('provider', c) - per_run('bare', c):+.2f} | "
          f"{lc:+.2f} | {lc / sl:.2f}× |")
print("\nSluice latency per run in ms, mean / p50 / p99 (from hand-over to the runtime to the result, waiting for a thread included)\n")
print("| concurrency | pipeline | untraced | provider alone | bare libcurl |")
print("|---|---|---|---|---|")
for c in levels:
    def trio(w): return f"{med(w, c, 'mean_ms'):.2f} / {med(w, c, 'p50_ms'):.2f} / {med(w, c, 'p99_ms'):.2f}"
    print(f"| {c} | {trio('pipeline')} | {trio('untraced')} | {trio('provider')} | {trio('bare')} |")
print(f"Raw lines: {path}")
PY
