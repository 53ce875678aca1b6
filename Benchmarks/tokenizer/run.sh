#!/usr/bin/env bash
# The tokenizer benchmark: Sluice's cl100k_base / o200k_base against tiktoken itself, in the same
# run, on a generated mixed corpus, single-threaded. Checks that the ids are identical.
#
#   pip install tiktoken==0.14.0      # once; no network needed after that
#   Benchmarks/tokenizer/run.sh [SIZE_BYTES] [ROUNDS] [REPEATS]
#
# SIZE_BYTES (default 6000000) of corpus from corpus.py (seed 1); ROUNDS (default 3) alternations
# of tiktoken and Sluice per encoding; REPEATS (default 5) timings per round, of which each side's
# median is kept. The table shows the median over rounds. Exit status 1 if any id differs.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
size="${1:-6000000}"
rounds="${2:-3}"
repeats="${3:-5}"
work="$here/.build-bench"
pkg="$work/pkg"
mkdir -p "$pkg/Sources" "$work/out"

# A scratch package: the main package's tokenizer targets plus the benchmark executable, built
# in release like `swift build -c release` builds `sluice`.
for target in SluiceSyntax SluiceSemantics SluiceRuntime SluiceTokenizers; do
  ln -sfn "$root/Sources/$target" "$pkg/Sources/$target"
done
ln -sfn "$here/Sources/TokenizerBench" "$pkg/Sources/TokenizerBench"
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
        .target(name: "SluiceTokenizers", dependencies: ["SluiceRuntime"], resources: [.copy("Resources")]),
        .executableTarget(name: "TokenizerBench", dependencies: ["SluiceTokenizers"]),
    ]
)
SWIFT
echo "building (release)..." >&2
swift build -c release --package-path "$pkg" --scratch-path "$work/build" >&2
bench="$work/build/release/TokenizerBench"

corpus="$work/corpus-$size.txt"
if [[ ! -f "$corpus" ]]; then
  python3 -c "import sys; sys.path.insert(0, '$here'); import corpus; open('$corpus', 'w', encoding='utf-8').write(corpus.generate($size, seed=1))"
fi
echo "corpus: $corpus ($(wc -c < "$corpus") bytes)" >&2

results="$work/out/results.jsonl"
: > "$results"
status=0
for round in $(seq 1 "$rounds"); do
  for encoding in cl100k_base o200k_base; do
    python3 "$here/bench_tiktoken.py" "$corpus" "$encoding" "$repeats" "$work/out/tiktoken-$encoding.ids" >> "$results"
    "$bench" "$corpus" "$encoding" "$repeats" "$work/out/sluice-$encoding.ids" >> "$results"
    if cmp -s "$work/out/tiktoken-$encoding.ids" "$work/out/sluice-$encoding.ids"; then
      echo "round $round $encoding: ids identical" >&2
    else
      echo "round $round $encoding: IDS DIFFER from tiktoken" >&2
      status=1
    fi
  done
done

python3 - "$results" <<'PY'
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
print("| encoding | implementation | encode MB/s | encode Mtok/s | count MB/s | 4 KB pieces MB/s | tokens |")
print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
summary = {}
for encoding in ["cl100k_base", "o200k_base"]:
    for impl in ["tiktoken", "sluice"]:
        runs = [r for r in rows if r["encoding"] == encoding and r["impl"] == impl]
        mb = runs[0]["bytes"] / 1e6
        enc = statistics.median(r["encode_median"] for r in runs)
        cnt = statistics.median(r["count_median"] for r in runs)
        chk = statistics.median(r["chunked_median"] for r in runs)
        summary[(encoding, impl)] = (enc, cnt, chk)
        print("| %s | %s | %.1f | %.2f | %.1f | %.1f | %d |" % (encoding, impl, mb / enc, runs[0]["tokens"] / enc / 1e6,
                                                              mb / cnt, mb / chk, runs[0]["tokens"]))
for encoding in ["cl100k_base", "o200k_base"]:
    tokens = {(r["impl"], r["tokens"], r["chunked_tokens"]) for r in rows if r["encoding"] == encoding}
    if len({(t[1], t[2]) for t in tokens}) != 1:
        print("TOKEN COUNTS DIFFER for %s: %s" % (encoding, sorted(tokens)))
        sys.exit(1)
print()
print("| encoding | Sluice/tiktoken encode | count | 4 KB pieces |")
print("| --- | ---: | ---: | ---: |")
for encoding in ["cl100k_base", "o200k_base"]:
    t, s = summary[(encoding, "tiktoken")], summary[(encoding, "sluice")]
    print("| %s | %.2fx | %.2fx | %.2fx |" % (encoding, t[0] / s[0], t[1] / s[1], t[2] / s[2]))
PY
exit $status
