#!/usr/bin/env python3
"""Regenerates Tests/SluiceTokenizersTests/Fixtures/golden.json: token ids from real tiktoken.

    pip install tiktoken==0.14.0
    python3 Benchmarks/tokenizer/make-fixtures.py

tiktoken is built from the rank files in Sources/SluiceTokenizers/Resources (see
local_tiktoken.py), so nothing is downloaded. The tests compare Sluice's ids with these for every
case and both encodings, and check that decoding gives the text back.
"""
import json
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import corpus  # noqa: E402
import local_tiktoken  # noqa: E402

OUT = os.path.join(local_tiktoken.ROOT, "Tests", "SluiceTokenizersTests", "Fixtures", "golden.json")

CASES = [
    ("empty", ""),
    ("english", "The quick brown fox jumps over the lazy dog. It's 4:30pm; we'd better hurry!"),
    ("prose", " ".join(corpus.ENGLISH[:200])),
    ("contractions", "don't DON'T Don'T we'LL WE'LL we'll I'M i'm they've THEY'VE you're YOU'RE he'd HE'D it's IT'S"),
    ("contractions-edge", "'s 'S 'ſ 'ſx x'ſ ''s 'll 'LL 'Ll 'lL 're 'RE 've 'Ve 'm 'M 'd 'D 'x ' ' 'q 'le 'rv"),
    ("apostrophes", "rock'n'roll o'clock '90s ''quoted'' ’curly’ don’t l'été"),
    ("code-swift", corpus.CODE[0].format(name="loadUser", n=12, n2="05")),
    ("code-python", corpus.CODE[1].format(name="top_scores", n=3, n2="05")),
    ("code-js", corpus.CODE[2].format(name="getItems", n=7, n2="05")),
    ("sql", corpus.CODE[3].format(name="q", n=4, n2="09")),
    ("json", corpus.CODE[4].format(name="cfg-1", n=3, n2="11")),
    ("json-minified", '{"a":1,"b":[true,false,null],"c":{"d":"e\\n\\u00e9"},"f":-1.5e+10}'),
    ("shell", corpus.CODE[5].format(name="log", n=9, n2="01")),
    ("chinese", corpus.SCRIPTS["zh"]),
    ("japanese", corpus.SCRIPTS["ja"]),
    ("korean", corpus.SCRIPTS["ko"]),
    ("russian", corpus.SCRIPTS["ru"] + " ЗАГЛАВНЫЕ Буквы МиКс"),
    ("greek", corpus.SCRIPTS["el"] + " ΑΘΗΝΑ Αθήνα ς σ Σ"),
    ("arabic", corpus.SCRIPTS["ar"] + " ١٢٣٤٥٦٧ ٫ ؟"),
    ("hebrew", corpus.SCRIPTS["he"]),
    ("hindi", corpus.SCRIPTS["hi"] + " १२३४५"),
    ("thai", corpus.SCRIPTS["th"]),
    ("vietnamese", corpus.SCRIPTS["vi"]),
    ("german", corpus.SCRIPTS["de"] + " STRASSE Straße ÄÖÜ"),
    ("french", corpus.SCRIPTS["fr"]),
    ("emoji", " ".join(corpus.EMOJI) + "".join(corpus.EMOJI)),
    ("emoji-zwj", "👨‍👩‍👧‍👦👩🏽‍🚀 🧑🏿‍🔬x🏳️‍⚧️ 🏴󠁧󠁢󠁳󠁣󠁴󠁿 family:👨‍👩‍👧"),
    ("flags", "🇯🇵🇫🇷🇺🇸🇩🇪 🇬🇧 flags:🇨🇦🇧🇷"),
    ("combining", "e\u0301 cafe\u0301 n\u0303 a\u0308\u0304 \u0301start Z\u0351\u0358a\u0362l\u0336g\u0322o\u0353 ̃x  ̃ ̃̃"),
    ("marks-alone", "\u0301\u0302 \u0301a \u0301A A\u0301 a\u0301B \u0903\u0904 ़क"),
    ("titlecase", "ǅungla ǅ Ǆ ǆ ᾈ ᾀ ǅǅ ǅa Aǅ aǅ"),
    ("modifier-letters", "ʰʲ ʼn aʰb Aʰ ʰA ꜰ ᵃᵇ ˈfoʊ"),
    ("mixed-case", "HELLOworld helloWORLD HeLLo hELLO CamelCase snake_case SCREAMING_CASE iPhone eBay XMLHttpRequest"),
    ("numbers", "1 12 123 1234 12345 123456 1234567 3.14159 -42 1e10 0x1F 1,000,000 2024-01-15 ７８９ ²³ ½ ⅻ Ⅻ ① ٣٤ 12a34"),
    ("long-number", "31415926535897932384626433832795028841971693993751058209749445923078164062862089986280348253421170679"),
    ("whitespace-runs", "a" + " " * 40 + "b" + "\t" * 9 + "c \t \t d" + " " * 3 + "\n" + " " * 17 + "e"),
    ("trailing-spaces", "line one   \nline two\t\t\nline three   "),
    ("trailing-newlines", "end\n\n\n"),
    ("only-spaces", "      "),
    ("only-newlines", "\n\n\n\n"),
    ("crlf", "first line\r\nsecond line\r\n\r\nfourth\r\n  indented\r\n"),
    ("mixed-newlines", "a\r\rb\n\rc\r\n\nd \r\n e\t\r\n\tf"),
    ("unicode-spaces", "a\u00a0b\u3000c\u2028d\u2029e\u0085f\u2003g\u202fh \u00a0i\u000bj\u000ck\u001cl\u001fm\u200bn"),
    ("indentation", "def f():\n    if x:\n        return 1\n    \n    return 2\n\n\n        \n"),
    ("punctuation", "!!! ??? ... --- === *** /// \\\\ ((()))[[]]{{}} <<>> @#$%^&* ~`|; ,.:\"'"),
    ("slashes", "a/b //c // d/ /e\n/\n//\n\n/f http://example.com/path?q=1&r=2 ./x ../y .//\r\n/"),
    ("special-text", "hello <|endoftext|> world <|fim_prefix|>a<|fim_middle|>b<|fim_suffix|>c<|endofprompt|> <|im_start|> <|end"),
    ("special-adjacent", "<|endoftext|><|endoftext|>x<|endoftext|> <|endofprompt|>\n<|endoftext|>"),
    ("markdown", "# Title\n\n* item **bold** _it_ `code`\n1. one\n> quote\n\n```swift\nlet x = 1\n```\n| a | b |\n|---|---|\n"),
    ("url-email", "Visit https://www.example.co.uk/a/b-c_d?x=1#frag or mail first.last+tag@sub.example.org"),
    ("base64", "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="),
    ("long-letters", "a" * 300 + " " + "ab" * 200 + " " + "x" * 1000),
    ("long-spaces", " " * 1000 + "x" + " " * 300),
    ("long-punct", "=" * 500 + "-" * 257 + "#" * 300),
    ("long-cjk", corpus.SCRIPTS["zh"] * 4),
    ("long-hindi-word", "अ" * 200),
    ("control", "a\x00b\x01c\x7fd\x1be[0m"),
    ("private-use-and-rare", "\ue000\U000f0000 \U0001d400\U0001d41a 𝔘𝔫𝔦 \U00020000\U0002a6d6 \U000e0001"),
    ("invalid-looking", "\ufffd\ufeff\ufffe text"),
]

SPECIAL_CASES = [
    ("allowed-all", "hello <|endoftext|> world <|fim_prefix|>a<|fim_middle|>b<|fim_suffix|>c<|endofprompt|> <|im_start|>", "all"),
    ("allowed-endoftext", "a<|endoftext|>b<|endofprompt|>c  <|endoftext|>  ", ["<|endoftext|>"]),
    ("allowed-adjacent", "<|endoftext|><|endoftext|>x<|endoftext|> <|endofprompt|>\n<|endoftext|>", "all"),
    ("allowed-trailing-space", "text   <|endoftext|>   more\n\n<|endofprompt|>", "all"),
    ("allowed-partial", "<|endoftext|<|endoftext|>|>", "all"),
]


def fuzz_cases(count, seed=20260101):
    rng = random.Random(seed)
    pools = [
        "abcXYZ", "'", "sStTdDmMlLvVrReE", " ", "  ", "\t", "\n", "\r\n", "\r", "0123456789", "٣७７²½Ⅻ",
        ".,;:!?-/()[]{}\"#", "éÉßçñ", "ſ", "\u0301\u0308\u0903", "ǅʰ", "中文日本語한국어", "Привет", "مرحبا",
        "नमस्ते", "👍🇯🇵👨‍👩‍👧", "\u00a0\u3000\u2028\u0085", "<|endoftext|>", "\x1c\x0b",
    ]
    out = []
    for i in range(count):
        n = rng.randint(1, 40)
        text = "".join(rng.choice(rng.choice(pools)) if rng.random() < 0.7 else rng.choice(pools) for _ in range(n))
        out.append(("fuzz-%03d" % i, text))
    return out


def main():
    encodings = {name: local_tiktoken.encoding(name) for name in local_tiktoken.NAMES}
    cases = []
    for name, text in CASES + fuzz_cases(400) + [("generated-mixed", corpus.generate(60_000, seed=3))]:
        case = {"name": name, "text": text}
        for enc_name, enc in encodings.items():
            case[enc_name] = enc.encode_ordinary(text)
            assert enc.decode(case[enc_name]) == text, name
        cases.append(case)
    for name, text, allowed in SPECIAL_CASES:
        case = {"name": name, "text": text, "allowed_special": allowed}
        for enc_name, enc in encodings.items():
            allow = "all" if allowed == "all" else set(allowed)
            case[enc_name] = enc.encode(text, allowed_special=allow, disallowed_special=())
        cases.append(case)
    document = {"tiktoken": local_tiktoken.tiktoken.__version__, "cases": cases}
    with open(OUT, "w", encoding="utf-8") as f:
        json.dump(document, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")
    print("%d cases -> %s (%d bytes)" % (len(cases), OUT, os.path.getsize(OUT)))


if __name__ == "__main__":
    main()
