"""tiktoken's own cl100k_base / o200k_base, built from the rank files shipped in this repository.

tiktoken's constructors (tiktoken_ext.openai_public) would download the rank files; here the
loader they call is pointed at Sources/SluiceTokenizers/Resources instead, so the encodings are
tiktoken's exactly (same patterns, same special tokens, same hash check) with no network.
"""
import os

os.environ["TIKTOKEN_CACHE_DIR"] = ""  # never read or write tiktoken's download cache

import tiktoken
import tiktoken.load
from tiktoken_ext import openai_public

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RANKS_DIR = os.path.join(ROOT, "Sources", "SluiceTokenizers", "Resources")
NAMES = ["cl100k_base", "o200k_base"]


def encoding(name):
    def local_load(url, expected_hash=None):
        path = os.path.join(RANKS_DIR, url.rsplit("/", 1)[-1])
        return tiktoken.load.load_tiktoken_bpe(path, expected_hash=expected_hash)

    original = openai_public.load_tiktoken_bpe
    openai_public.load_tiktoken_bpe = local_load
    try:
        spec = getattr(openai_public, name)()
    finally:
        openai_public.load_tiktoken_bpe = original
    return tiktoken.Encoding(spec["name"], pat_str=spec["pat_str"], mergeable_ranks=spec["mergeable_ranks"],
                             special_tokens=spec["special_tokens"])
