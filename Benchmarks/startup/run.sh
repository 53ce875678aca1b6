#!/usr/bin/env bash
# The start-up benchmark: what a whole `sluice` process costs for one small job, against
# `sluice --help` (the floor: the runtime, Foundation and argument parsing, no Sluice work) of the
# same binary, in the same run:
#   - run:     a one-call pipeline (pipelines/feedback_zero_shot.sluice: two guards, a typed
#              prompt, a scripted reply from --replies, validation, the trace written to SQLite);
#   - dry-run: the same pipeline explored, tokens counted with o200k_base;
#   - tokens:  `sluice tokens` of a short text (o200k_base).
# Two measures: wall time (hyperfine, median of RUNS runs after warm-ups; noisy on a shared
# machine) and instructions executed (valgrind's callgrind, repeatable to a fraction of a percent),
# each with its ratio to --help.
#
#   Benchmarks/startup/run.sh [RUNS] [SLUICE_BINARY]
#
# RUNS defaults to 30. Without SLUICE_BINARY it builds a release copy in
# Benchmarks/startup/.build-bench. Needs hyperfine, valgrind and objcopy (Debian: hyperfine, valgrind, binutils).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
runs="${1:-30}"
sluice="${2:-}"
work="$here/.build-bench"
mkdir -p "$work"

for tool in hyperfine valgrind objcopy; do
  command -v "$tool" >/dev/null 2>&1 || { echo "startup: $tool is needed (apt-get install $tool)" >&2; exit 1; }
done
if [[ -z "$sluice" ]]; then
  echo "building (release)..." >&2
  swift build -c release --product sluice --package-path "$root" --scratch-path "$work/build" >&2
  sluice="$work/build/release/sluice"
fi

# valgrind cannot read the debug info Swift writes: callgrind runs a copy without it, beside the
# binary (where the tokenizers' resource bundle is).
objcopy --strip-debug "$sluice" "$sluice.nodebug"

cd "$root"
export SLUICE_DB="$work/bench.db"
rm -f "$SLUICE_DB" "$SLUICE_DB-wal" "$SLUICE_DB-shm"   # a fresh store for each run of the script
pipeline=pipelines/feedback_zero_shot.sluice
case=pipelines/cases/feedback_bug.json
printf 'The CSV export never finishes on large workspaces; please look into it.\n' > "$work/text.txt"
names=(help run dry-run tokens)
commands=(
  "$sluice --help"
  "$sluice run $pipeline --replies pipelines/replies/feedback_zero_shot.jsonl --input-file $case"
  "$sluice dry-run $pipeline --input-file $case"
  "$sluice tokens --encoding o200k_base $work/text.txt"
)
# Each command must work before it is timed.
for i in "${!commands[@]}"; do
  ${commands[$i]} >/dev/null 2>"$work/${names[$i]}.err" \
    || { echo "startup: '${commands[$i]}' failed:" >&2; cat "$work/${names[$i]}.err" >&2; exit 1; }
done

printf '%-8s %12s %8s %16s %8s\n' command "wall (ms)" "× help" "instructions" "× help"
help_ms="" help_ir=""
for i in "${!commands[@]}"; do
  hyperfine -N --warmup 3 --runs "$runs" --export-json "$work/${names[$i]}.json" "${commands[$i]}" >/dev/null 2>&1
  ms="$(python3 -c "import json,sys; print('%.1f' % (json.load(open(sys.argv[1]))['results'][0]['median'] * 1000))" "$work/${names[$i]}.json")"
  # Valgrind 3.19 (Debian 12) dies of an internal error on some commands (`run`, `dry-run`):
  # their row then says so instead of a count.
  valgrind --tool=callgrind --callgrind-out-file="$work/${names[$i]}.callgrind" "$sluice.nodebug" ${commands[$i]#"$sluice"} \
    >/dev/null 2>"$work/${names[$i]}.valgrind" || true
  ir="$(sed -n 's/.*Collected : *\([0-9]*\).*/\1/p' "$work/${names[$i]}.valgrind")"
  [[ -n "$help_ms" ]] || { help_ms="$ms"; help_ir="$ir"; }
  if [[ -n "$ir" ]]; then ratio="$(python3 -c "print('%.2f' % ($ir / $help_ir))")"; else ir="(valgrind failed)"; ratio="-"; fi
  printf '%-8s %12s %8s %16s %8s\n' "${names[$i]}" "$ms" "$(python3 -c "print('%.2f' % ($ms / $help_ms))")" "$ir" "$ratio"
done
echo "profiles: $work/*.callgrind (callgrind_annotate FILE)" >&2
