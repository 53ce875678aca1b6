#!/usr/bin/env python3
"""Calibrates the "estimate" token counter against o200k_base and reports its error.

    pip install tiktoken==0.14.0 numpy
    python3 Benchmarks/tokenizer/calibrate.py

The estimate (Sources/SluiceTokenizers/TokenEstimate.swift) sorts every UTF-8 byte of a text
into a script class and charges each class a fixed number of tokens per byte; ASCII words also
cost a fixed amount each. This script computes the same features, fits the per-class rates by
non-negative least squares on the relative error over samples from corpus.sections() (prose,
code, tables, twelve languages), then reports the error per class there and on held-out text:
this repository's own documentation, sources and pipelines. Paste the printed rates into
TokenEstimate.swift.
"""
import glob
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import corpus  # noqa: E402
import local_tiktoken  # noqa: E402

CLASSES = ["ascii_word", "ascii_letter", "ascii_digit", "punct_run", "ascii_punct", "space_run", "newline",
           "cjk", "cyrillic", "other2", "other3", "symbol"]


def is_cjk(cp):
    return (0x1100 <= cp <= 0x11FF or 0x2E80 <= cp <= 0x9FFF or 0xA960 <= cp <= 0xA97F or 0xAC00 <= cp <= 0xD7FF
            or 0xF900 <= cp <= 0xFAFF or 0xFE30 <= cp <= 0xFE4F or 0xFF00 <= cp <= 0xFFEF or 0x20000 <= cp <= 0x3FFFF)


def is_symbol(cp):
    return cp >= 0x1F000 or 0x2190 <= cp <= 0x2BFF or cp in (0x200D, 0xFE0F) or 0xE0000 <= cp <= 0xE007F


def features(text):
    """Mirror of TokenEstimate.features in Swift: one pass, the previous scalar's kind as state."""
    f = dict.fromkeys(CLASSES, 0)
    previous = None   # "letter", "punct", "space", or None
    space_run = 0
    for ch in text:
        cp = ord(ch)
        kind = None
        if cp < 0x80:
            if 0x41 <= cp <= 0x5A or 0x61 <= cp <= 0x7A:
                kind = "letter"
                f["ascii_letter"] += 1
                if previous != "letter":
                    f["ascii_word"] += 1
            elif 0x30 <= cp <= 0x39:
                f["ascii_digit"] += 1
            elif cp in (0x20, 0x09, 0x0A, 0x0D, 0x0B, 0x0C):
                kind = "space"
                if cp == 0x0A:
                    f["newline"] += 1
            else:
                kind = "punct"
                f["ascii_punct"] += 1
                if previous != "punct":
                    f["punct_run"] += 1
        else:
            n = len(ch.encode("utf-8"))
            if is_cjk(cp):
                f["cjk"] += n
            elif is_symbol(cp):
                f["symbol"] += n
            elif 0x0400 <= cp <= 0x052F:
                f["cyrillic"] += n
            elif n == 2:
                f["other2"] += n
            else:
                f["other3"] += n
        # A run of two or more whitespace scalars costs about a token of its own (indentation,
        # blank lines); a single space is absorbed by the word after it.
        if kind == "space":
            space_run += 1
            if space_run == 2:
                f["space_run"] += 1
        else:
            space_run = 0
        previous = kind
    return [f[c] for c in CLASSES]


def held_out():
    root = local_tiktoken.ROOT
    out = []
    for pattern, label in [("*.md", "docs"), ("grammar/*.md", "docs"), ("Sources/SluiceSyntax/*.swift", "swift"),
                           ("Sources/SluiceRuntime/*.swift", "swift"), ("pipelines/*.sluice", "sluice"),
                           ("stdlib/std/*.sluice", "sluice"), ("pipelines/cases/*.json", "json")]:
        for path in sorted(glob.glob(os.path.join(root, pattern))):
            with open(path, encoding="utf-8") as f:
                text = f.read()
            # Pieces of a few KB, like the prompts a budget is checked against.
            for i in range(0, len(text), 4000):
                if len(text[i:i + 4000]) > 200:
                    out.append((label, text[i:i + 4000]))
    return out


def report(title, samples, rates, enc):
    print(title)
    by_label = {}
    for label, text in samples:
        actual = len(enc.encode_ordinary(text))
        estimate = float(np.dot(features(text), rates))
        by_label.setdefault(label, []).append((actual, estimate))
    for label, rows in sorted(by_label.items()):
        actual = np.array([r[0] for r in rows], dtype=float)
        estimate = np.array([r[1] for r in rows])
        rel = (estimate - actual) / actual
        print("  %-8s n=%3d  tokens=%7d  mean |error| %5.1f%%  bias %+5.1f%%  worst %+6.1f%%"
              % (label, len(rows), actual.sum(), 100 * np.abs(rel).mean(), 100 * rel.mean(), 100 * rel[np.abs(rel).argmax()]))


def main():
    enc = local_tiktoken.encoding("o200k_base")
    samples = corpus.sections()
    X = np.array([features(t) for _, t in samples], dtype=float)
    y = np.array([len(enc.encode_ordinary(t)) for _, t in samples], dtype=float)
    # Relative error: weight each sample by 1/y; non-negative least squares.
    from scipy.optimize import nnls
    rates = nnls(X / y[:, None], np.ones(len(y)))[0]
    print("rates (tokens per unit):")
    for c, r in zip(CLASSES, rates):
        print("  %-13s %.4f" % (c, r))
    report("calibration samples (corpus.sections):", samples, rates, enc)
    report("held out (this repository):", held_out(), rates, enc)
    report("benchmark corpus (1 MB, in 4 KB pieces):",
           [("mixed", p) for p in (lambda t: [t[i:i + 4000] for i in range(0, len(t), 4000)])(corpus.generate(1_000_000, seed=1))],
           rates, enc)


if __name__ == "__main__":
    main()
