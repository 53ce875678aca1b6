#!/usr/bin/env python3
"""tiktoken's side of the benchmark (run by run.sh): the same measurements as TokenizerBench.

    bench_tiktoken.py CORPUS ENCODING REPEATS IDS_OUT

Single-threaded: encode_ordinary on the whole corpus (count = len of it; tiktoken has no
count-only call) and on 4 KB pieces. Writes the whole-corpus ids as little-endian uint32.
"""
import json
import os
import sys
import time
from array import array

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import local_tiktoken  # noqa: E402


def timed(repeats, body):
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = body()
        times.append(time.perf_counter() - start)
    times.sort()
    return times[0], times[len(times) // 2], result


def main():
    corpus_path, name, repeats, ids_out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    with open(corpus_path, "rb") as f:
        data = f.read()
    text = data.decode("utf-8")
    enc = local_tiktoken.encoding(name)
    pieces, current = [], []
    size = 0
    for line in text.split("\n"):
        current.append(line + "\n")
        size += len(line.encode("utf-8")) + 1
        if size >= 4096:
            pieces.append("".join(current))
            current, size = [], 0
    if current:
        pieces.append("".join(current))
    # The Swift side splits with omittingEmptySubsequences: false and appends "\n" to every line,
    # so both see the same pieces.
    encode_best, encode_median, ids = timed(repeats, lambda: enc.encode_ordinary(text))
    count_best, count_median, count = timed(repeats, lambda: len(enc.encode_ordinary(text)))
    chunked_best, chunked_median, chunked = timed(repeats, lambda: sum(len(enc.encode_ordinary(p)) for p in pieces))
    array("I", ids).tofile(open(ids_out, "wb"))
    print(json.dumps({"impl": "tiktoken", "encoding": name, "bytes": len(data), "tokens": len(ids),
                      "encode_best": encode_best, "encode_median": encode_median, "count_best": count_best,
                      "count_median": count_median, "chunked_best": chunked_best, "chunked_median": chunked_median,
                      "chunked_tokens": chunked}))


if __name__ == "__main__":
    main()
