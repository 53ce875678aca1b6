#!/usr/bin/env bash
# The evaluation benchmark: Sluice's JSON Schema validator against Python's jsonschema, and its
# reference metrics against sacrebleu and rouge-score, in the same run, single-threaded, on a
# generated corpus. Fails if a verdict count or a score differs.
#
#   pip install jsonschema==4.26.0 sacrebleu==2.4.3 rouge-score==0.1.2   # once
#   Benchmarks/eval/run.sh [DOCUMENTS] [ROUNDS] [REPEATS]
#
# DOCUMENTS (default 10000) order documents for schema.json and as many sentence pairs, from
# corpus.py (seed 1); ROUNDS (default 3) alternations of Python and Sluice; REPEATS (default 5)
# timings per round, of which each side's median is kept. The table shows the median over rounds.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
count="${1:-10000}"
rounds="${2:-3}"
repeats="${3:-5}"
work="$here/.build-bench"
pkg="$work/pkg"
data="$work/data-$count"
mkdir -p "$pkg/Sources" "$work/out" "$data"

# A scratch package: the main package's validator and metric targets plus the benchmark
# executable, built in release like `swift build -c release` builds `sluice`.
for target in SluiceSyntax SluiceSemantics SluiceRuntime; do
  ln -sfn "$root/Sources/$target" "$pkg/Sources/$target"
done
ln -sfn "$here/Sources/EvalBench" "$pkg/Sources/EvalBench"
cat > "$pkg/Package.swift" <<'SWIFT'
// swift-tools-version:6.0
import PackageDescription
let package = Package(
    name: "Sluice",
    platforms: [.macOS(.v13)],
    targets: [
        .target(name: "SluiceSyntax"),
        .target(name: "SluiceSemantics", dependencies: ["SluiceSyntax"]),
        .target(name: "SluiceRuntime", dependencies: ["SluiceSyntax", "SluiceSemantics"]),
        .executableTarget(name: "EvalBench", dependencies: ["SluiceRuntime"]),
    ]
)
SWIFT
echo "building (release)..." >&2
swift build -c release --package-path "$pkg" --scratch-path "$work/build" >&2
bench="$work/build/release/EvalBench"

cp "$here/schema.json" "$data/schema.json"
if [[ ! -f "$data/documents.jsonl" ]]; then python3 "$here/corpus.py" "$data" "$count"; fi
echo "corpus: $data ($(wc -l < "$data/documents.jsonl") documents, $(wc -c < "$data/documents.jsonl") bytes)" >&2

results="$work/out/results.jsonl"
: > "$results"
for round in $(seq 1 "$rounds"); do
  python3 "$here/bench_python.py" "$data" "$repeats" >> "$results"
  "$bench" "$data" "$repeats" >> "$results"
  echo "round $round done" >&2
done

python3 - "$results" <<'PY'
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
side = {impl: [r for r in rows if r["impl"] == impl] for impl in ("python", "sluice")}
def median(impl, key): return statistics.median(r[key]["median"] for r in side[impl])
py, sl = side["python"][0], side["sluice"][0]
status = 0
for key in ("valid", "errors"):
    if py[key] != sl[key]:
        print("%s DIFFER: jsonschema %s, Sluice %s" % (key.upper(), py[key], sl[key])); status = 1
for key in ("bleu", "chrf", "rouge1", "rougeL"):
    if abs(py[key] - sl[key]) > 1e-9:
        print("%s DIFFERS: Python %.12f, Sluice %.12f" % (key, py[key], sl[key])); status = 1
n = py["documents"]
print("Validation of %d documents (%d valid, %d violations), schema.json, already parsed:" % (n, py["valid"], py["errors"]))
print()
print("| work | jsonschema 4.26 | Sluice | Sluice/jsonschema |")
print("| --- | ---: | ---: | ---: |")
for key, label in (("validate", "verdict (is_valid)"), ("validate_errors", "every violation (iter_errors)")):
    p, s = median("python", key), median("sluice", key)
    print("| %s | %.0f docs/s | %.0f docs/s | %.1fx |" % (label, n / p, n / s, p / s))
print()
lines = py["lines"]
print("Metrics over %d line pairs (scores equal: BLEU %.4f, chrF %.4f, ROUGE-1 F %.4f, ROUGE-L F %.4f):" % (lines, py["bleu"], py["chrf"], py["rouge1"], py["rougeL"]))
print()
print("| metric | Python | Sluice | Sluice/Python |")
print("| --- | ---: | ---: | ---: |")
for key, label, who in (("bleu_time", "corpus BLEU", "sacrebleu 2.4.3"), ("chrf_time", "corpus chrF", "sacrebleu 2.4.3"),
                        ("rouge_time", "ROUGE-1 + ROUGE-L, mean of lines", "rouge-score 0.1.2")):
    p, s = median("python", key), median("sluice", key)
    print("| %s (%s) | %.0f lines/s | %.0f lines/s | %.1fx |" % (label, who, lines / p, lines / s, p / s))
sys.exit(status)
PY
