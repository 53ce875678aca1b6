#!/usr/bin/env bash
# `sluice test` throughput against LangChain LCEL's batch, measured in the same run:
#   - Sluice: `sluice test support.sluice --cases CASES --concurrency 50` (release build, a fresh
#     store in a temporary folder each round, every case traced as always), timed as a whole
#     process: start-up, parsing, building the 200-document index, the cases, the trace flushed;
#   - LCEL: the chain of shared/bench/lcel_pipeline.py with the same score, as
#     `.batch(cases, config={"max_concurrency": 50})` (lcel_batch.py), timed around the call alone
#     (Python's start-up and LangChain's imports not counted);
# both over the same CASES cases against one nginx mock that answers at once
# (shared/bench/nginx-mock.conf, 127.0.0.1:18431). Prints cases/s of each (median of ROUNDS) and
# the ratio; fails unless both sides answered every case and every answer equals its `expected`.
#
#   Benchmarks/testrunner/run.sh [CASES] [ROUNDS]      (defaults 3000, 3)
#   SLUICE_BIN=.build/release/sluice Benchmarks/testrunner/run.sh   (a release binary already built)
#
# Needs nginx and python3 (see ../lib/mock.sh: installed when missing). Raw lines in
# Benchmarks/testrunner/.build-bench/results-*.txt.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
shared="${SLUICE_SHARED:-$root/../shared}"
cases="${1:-3000}"
rounds="${2:-3}"
concurrency=50
work="$here/.build-bench"
mkdir -p "$work"

say() { printf 'bench: %s\n' "$*" >&2; }
die() { printf 'bench: error: %s\n' "$*" >&2; exit 1; }
# shellcheck source=../lib/mock.sh
source "$here/../lib/mock.sh"

mock_require_files
mock_ensure_nginx
mock_ensure_lcel

if [ -n "${SLUICE_BIN:-}" ]; then
  # A release binary built already (say `swift build -c release` of this checkout), to skip the build.
  sluice="$SLUICE_BIN"
  [ -x "$sluice" ] || die "SLUICE_BIN=$sluice is not an executable"
else
  say "building sluice (release; its own scratch folder $work/build)"
  swift build -c release --product sluice --package-path "$root" --scratch-path "$work/build" >&2
  sluice="$work/build/release/sluice"
fi

# The cases: the pipeline's inputs and the answer the mock gives, as `expected`.
cases_file="$work/cases-$cases.jsonl"
python3 - "$cases" >"$cases_file" <<'PY'
import json, sys
asks = ["How do I reset my password?", "I forgot my password, how can I reset it?",
        "Where do I change my password in the settings?", "My password expired: what are the steps to set a new one?"]
for i in range(int(sys.argv[1])):
    print(json.dumps({"question": f"{asks[i % len(asks)]} (ticket {i})", "expected": "Open settings, then security."}))
PY

mock_start
say "$cases cases at concurrency $concurrency, $rounds rounds"

stamp="$(date +%Y%m%d-%H%M%S)"
results="$work/results-$stamp.txt"
: >"$results"
for round in $(seq 1 "$rounds"); do
  say "round $round/$rounds (load: $(cut -d' ' -f1-3 /proc/loadavg))"
  # A fresh folder: the script beside its docs/, and a new store.
  run="$(mktemp -d)"
  cp "$here/support.sluice" "$run/"
  mkdir "$run/docs"
  for i in $(seq 0 199); do
    printf 'Article %d: to reset a password open settings, choose security, step %d.' "$i" "$i" >"$run/docs/$(printf 'article-%03d.md' "$i")"
  done
  started=$EPOCHREALTIME
  status=0
  SLUICE_DB="$run/store.db" OPENAI_BASE_URL="$mock_base" OPENAI_API_KEY=sk-bench \
    "$sluice" test "$run/support.sluice" --cases "$cases_file" --concurrency "$concurrency" \
    --report "$run/report.json" >"$run/table.txt" 2>"$run/stderr.txt" || status=$?
  ended=$EPOCHREALTIME
  [ "$status" = 0 ] || { cat "$run/table.txt" "$run/stderr.txt" >&2; die "sluice test exited $status"; }
  python3 - "$run/report.json" "$started" "$ended" "$run/store.db" >>"$results" <<'PY'
import json, sqlite3, sys
report, started, ended, store = json.load(open(sys.argv[1])), float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
exact = next((s for s in report["scores"] if s["name"] == "exact"), None)
traced = sqlite3.connect(store).execute("select count(*) from runs").fetchone()[0]
seconds = ended - started
print(json.dumps({"what": "sluice", "cases": report["cases"], "answered": report["ok"],
                  "exact": round(exact["mean"] * exact["count"]) if exact else 0, "errors": report["failed"] + report["blocked"],
                  "traced_runs": traced, "seconds": round(seconds, 4), "cases_per_s": round(report["cases"] / seconds, 2)}))
PY
  rm -rf "$run"
  lcel="$("$lcel_venv/bin/python" "$here/lcel_batch.py" "$shared/bench/lcel_pipeline.py" "$mock_base" "$cases_file" "$concurrency")" \
    || die "lcel_batch.py failed"
  echo "{\"what\": \"lcel\", ${lcel#\{}" >>"$results"
done

python3 - "$results" "$cases" "$concurrency" "$(nproc)" "$(uname -m)" <<'PY'
import json, statistics, sys
path, cases, concurrency, cores, arch = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
rows = [json.loads(line) for line in open(path) if line.strip()]
for row in rows:
    # Agreement: every case answered, every answer the expected one, on both sides (and every Sluice case traced).
    if row["answered"] != cases or row["exact"] != cases or row["errors"]:
        sys.exit(f"{row['what']}: {row['answered']}/{cases} answered, {row['exact']} exact, {row['errors']} errors: {row.get('first_error')}")
    if row["what"] == "sluice" and row["traced_runs"] != cases:
        sys.exit(f"sluice: {row['traced_runs']} runs traced for {cases} cases")
def med(what): return statistics.median(r["cases_per_s"] for r in rows if r["what"] == what)
sluice, lcel = med("sluice"), med("lcel")
rounds = sum(r["what"] == "sluice" for r in rows)
print(f"\n{cases} cases at concurrency {concurrency} against an instant mock (nginx), {cores} cores {arch}; median of {rounds} rounds, measured in the same run.")
print("All cases answered on both sides, every answer equal to its expected one; every Sluice case traced.\n")
print("| | cases/s | seconds per round |")
print("|---|---|---|")
for what, name in (("sluice", "`sluice test` (whole process, traced)"), ("lcel", "LCEL `.batch` (the call alone)")):
    secs = ", ".join(f"{r['seconds']:.2f}" for r in rows if r["what"] == what)
    print(f"| {name} | {med(what):,.0f} | {secs} |")
print(f"\nSluice/LCEL: {sluice / lcel:.2f}×")
print(f"Raw lines: {path}")
PY
