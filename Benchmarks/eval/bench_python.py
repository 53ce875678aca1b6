"""The Python baselines of Benchmarks/eval/run.sh, timed on the same files in the same run:
jsonschema 4 (Draft202012Validator, formats not asserted, as Sluice's default) over every
document, already parsed; sacrebleu 2.4 corpus BLEU and chrF; rouge-score ROUGE-1 and ROUGE-L
F averaged over lines. Prints one JSON line with the best and median seconds of REPEATS timings
and the results, which run.sh compares with Sluice's.

    bench_python.py FOLDER REPEATS
"""
import json
import statistics
import sys
import time

import jsonschema
import sacrebleu
from rouge_score import rouge_scorer

folder, repeats = sys.argv[1], int(sys.argv[2])
schema = json.load(open(folder + "/schema.json"))
documents = [json.loads(line) for line in open(folder + "/documents.jsonl", encoding="utf-8")]
references = open(folder + "/reference.txt", encoding="utf-8").read().split("\n")[:-1]
predictions = open(folder + "/prediction.txt", encoding="utf-8").read().split("\n")[:-1]


def timed(work):
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - start)
    return {"best": min(times), "median": statistics.median(times)}, result


validator = jsonschema.Draft202012Validator(schema)
validate_time, valid = timed(lambda: sum(1 for d in documents if validator.is_valid(d)))
errors_time, errors = timed(lambda: sum(len(list(validator.iter_errors(d))) for d in documents))
bleu_time, bleu = timed(lambda: sacrebleu.corpus_bleu(predictions, [references]).score)
chrf_time, chrf = timed(lambda: sacrebleu.corpus_chrf(predictions, [references]).score)
scorer = rouge_scorer.RougeScorer(["rouge1", "rougeL"])


def rouge():
    scores = [scorer.score(r, p) for r, p in zip(references, predictions)]
    return [sum(s[k].fmeasure for s in scores) / len(scores) for k in ("rouge1", "rougeL")]


rouge_time, (rouge1, rougeL) = timed(rouge)
print(json.dumps({"impl": "python", "documents": len(documents), "valid": valid, "errors": errors,
                  "validate": validate_time, "validate_errors": errors_time,
                  "lines": len(references), "bleu": bleu, "chrf": chrf, "rouge1": rouge1, "rougeL": rougeL,
                  "bleu_time": bleu_time, "chrf_time": chrf_time, "rouge_time": rouge_time}))
