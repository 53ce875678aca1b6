"""LCEL's batch over the cases of `sluice test`: the chain of shared/bench/lcel_pipeline.py, scored
against each case's `expected` like support.sluice's `exact(expected)`.

  python lcel_batch.py LCEL_PIPELINE.py BASE_URL CASES.jsonl [CONCURRENCY]

Times `chain.batch(cases, config={"max_concurrency": CONCURRENCY})` as a whole (not Python's start-up
or its imports) and prints one JSON line: cases, answered, exact (how many answers equal `expected`),
errors, the first error, seconds and cases_per_s.
"""
import json, sys, time

pipeline_path, base, cases_path = sys.argv[1], sys.argv[2], sys.argv[3]
concurrency = int(sys.argv[4]) if len(sys.argv) > 4 else 50

# lcel_pipeline.py defines its chain and then runs its own benchmark at the top level; take the
# definitions only (everything before its benchmark's input `x = ...`), so both benchmarks run
# one chain.
source = open(pipeline_path).read()
marker = "\nx = {"
if marker not in source:
    sys.exit(f"{pipeline_path}: no line starting 'x = {{' ends its chain's definition; update lcel_batch.py")
definitions = {"__name__": "lcel_pipeline"}
sys.argv = [pipeline_path, base]
exec(compile(source[: source.index(marker)], pipeline_path, "exec"), definitions)
chain = definitions["chain"]

from langchain_core.runnables import RunnableLambda, RunnablePassthrough

# Each case keeps its `expected` beside the chain's reply; the score is exact equality of the answer.
scored = RunnablePassthrough.assign(reply=chain) | RunnableLambda(
    lambda case: {**case["reply"], "exact": float(case["reply"]["answer"] == case["expected"])})

cases = [json.loads(line) for line in open(cases_path) if line.strip()]
t0 = time.perf_counter()
results = scored.batch(cases, config={"max_concurrency": concurrency}, return_exceptions=True)
seconds = time.perf_counter() - t0

errors = [r for r in results if isinstance(r, BaseException)]
answered = [r for r in results if not isinstance(r, BaseException)]
print(json.dumps({
    "cases": len(cases), "answered": len(answered), "exact": int(sum(r["exact"] for r in answered)),
    "errors": len(errors), "first_error": repr(errors[0]) if errors else None,
    "seconds": round(seconds, 4), "cases_per_s": round(len(cases) / seconds, 2),
}))
