"""A deterministic mixed-language corpus for the tokenizer benchmark and the estimate's calibration.

`generate(size, seed)` recombines the seed texts below with a seeded PRNG: English prose, source
code (Swift, Python, JavaScript, SQL, JSON, shell), Chinese, Japanese, Korean, Russian, Greek,
Arabic, Hebrew, Hindi, Thai, Vietnamese, German and French, emoji, numbers, tables with aligned
columns, indentation, trailing spaces and CRLF line ends. The same size and seed always give the
same bytes. `sections(seed)` gives labelled samples for calibration.
"""
import random

ENGLISH = """
The pipeline reads a question, retrieves the five most relevant passages from the knowledge base,
and asks a small model to answer from them. If the model is not confident enough, the same prompt
goes to a stronger model, and the answer is checked against a schema before it is returned.
Every stage is traced: which documents were found, which model answered and why, how many tokens
were spent and what they cost. Budgets are declared in the script and are never exceeded, because
the cost of a call is reserved before the call is made and settled when the reply arrives.
We don't trust text that comes from users or from retrieved documents. It's placed in the user
message inside a fenced block, and the checker refuses it in a system message unless it's fenced.
Tokenizers matter here: a budget of eight thousand tokens means nothing if the count is a guess.
OpenAI publishes its byte-pair encodings, so counts for its models can be exact; for other models
the runtime falls back to a calibrated estimate and says so in the trace and in the dry run.
Researchers have long observed that long contexts hurt retrieval in the middle of the prompt, so
the retriever can order passages with the best ones first and last. Results vary between models,
and the evaluation suite exists to measure them rather than to guess. She said they'd already
shipped it; we'll see whether the numbers hold up when the traffic doubles next quarter.
Accounting for every request, the team found that forty percent of spending went to retries that
failed anyway, and that a circuit breaker with a thirty second cooldown removed most of it.
""".split()

CODE = [
    '''func {name}(_ items: [Item], limit: Int = {n}) throws -> [Result] {{
    var results: [Result] = []
    for (index, item) in items.enumerated() where index < limit {{
        guard let value = item.value else {{ continue }}
        results.append(Result(id: item.id, score: Double(value) / {n}.0))
    }}
    return results.sorted {{ $0.score > $1.score }}
}}
''',
    '''def {name}(records, threshold={n}):
    """Return the records above the threshold, newest first."""
    selected = [r for r in records if r["score"] >= threshold]
    selected.sort(key=lambda r: r["timestamp"], reverse=True)
    for i, record in enumerate(selected):
        print(f"{{i:>4}} {{record['id']:<12}} {{record['score']:.3f}}")
    return selected
''',
    '''export async function {name}(url, options = {{}}) {{
  const response = await fetch(url, {{ ...options, headers: {{ "Content-Type": "application/json" }} }});
  if (!response.ok) {{
    throw new Error(`request failed: ${{response.status}} ${{response.statusText}}`);
  }}
  return (await response.json()).items.filter((x) => x.count > {n});
}}
''',
    '''SELECT u.id, u.email, COUNT(o.id) AS orders, SUM(o.total) AS spent
FROM users u
LEFT JOIN orders o ON o.user_id = u.id AND o.created_at >= '2024-01-{n2}'
WHERE u.status = 'active'
GROUP BY u.id, u.email
HAVING COUNT(o.id) > {n}
ORDER BY spent DESC
LIMIT 100;
''',
    '''{{
  "id": "{name}",
  "version": {n},
  "enabled": true,
  "thresholds": [0.25, 0.5, 0.75],
  "owner": {{"name": "Ada Lovelace", "email": "ada@example.com"}},
  "tags": ["retrieval", "support", "eval"],
  "created": "2025-03-{n2}T12:34:56Z"
}}
''',
    '''#!/usr/bin/env bash
set -euo pipefail
for f in "$@"; do
  if [[ -f "$f" ]]; then
    wc -l "$f" | awk '{{print $1}}' >> /tmp/{name}.log
  fi
done
echo "processed $# files with limit {n}" >&2
''',
]

SCRIPTS = {
    "zh": "检索增强生成把问题和相关文档一起交给模型。每一次调用都会被记录下来，包括使用了哪些文档、哪个模型回答以及花费了多少。预算在脚本中声明，运行时在调用之前预留费用，在收到回复之后结算，因此永远不会超出预算。",
    "ja": "このパイプラインは質問を受け取り、知識ベースから関連する文書を五つ検索して、小さなモデルに答えさせます。自信が足りない場合は、同じプロンプトをより強いモデルに送ります。トークン数は正確に数えられます。",
    "ko": "파이프라인은 질문을 읽고 지식 베이스에서 가장 관련성이 높은 문서 다섯 개를 찾은 다음 작은 모델에게 답하게 합니다. 모델의 확신이 부족하면 같은 프롬프트를 더 강한 모델에 보냅니다.",
    "ru": "Конвейер читает вопрос, находит пять самых подходящих отрывков в базе знаний и просит небольшую модель ответить по ним. Если модель не уверена, тот же запрос уходит более сильной модели, а ответ проверяется по схеме.",
    "el": "Η διοχέτευση διαβάζει μια ερώτηση, ανακτά τα πέντε πιο σχετικά αποσπάσματα και ζητά από ένα μικρό μοντέλο να απαντήσει. Κάθε στάδιο καταγράφεται, μαζί με το κόστος του.",
    "ar": "يقرأ خط المعالجة السؤال، ويسترجع أكثر خمسة مقاطع صلة من قاعدة المعرفة، ثم يطلب من نموذج صغير الإجابة منها. إذا لم يكن النموذج واثقًا بما يكفي، يُرسل الطلب نفسه إلى نموذج أقوى.",
    "he": "הצינור קורא שאלה, מאחזר את חמשת הקטעים הרלוונטיים ביותר ממאגר הידע, ומבקש ממודל קטן לענות מתוכם. כל שלב נרשם יחד עם העלות שלו.",
    "hi": "पाइपलाइन एक प्रश्न पढ़ती है, ज्ञान आधार से पाँच सबसे प्रासंगिक अंश खोजती है, और एक छोटे मॉडल से उनसे उत्तर देने को कहती है। यदि मॉडल पर्याप्त आश्वस्त नहीं है, तो वही प्रॉम्प्ट एक मज़बूत मॉडल को भेजा जाता है।",
    "th": "ไปป์ไลน์อ่านคำถาม ค้นหาข้อความที่เกี่ยวข้องที่สุดห้าข้อความจากฐานความรู้ แล้วขอให้โมเดลขนาดเล็กตอบจากข้อความเหล่านั้น ทุกขั้นตอนถูกบันทึกไว้",
    "vi": "Quy trình đọc một câu hỏi, truy xuất năm đoạn văn liên quan nhất từ cơ sở tri thức và yêu cầu một mô hình nhỏ trả lời dựa trên chúng. Mỗi bước đều được ghi lại cùng chi phí.",
    "de": "Die Pipeline liest eine Frage, ruft die fünf relevantesten Abschnitte aus der Wissensdatenbank ab und lässt ein kleines Modell daraus antworten. Größere Modelle übernehmen, wenn die Zuversicht nicht ausreicht; Überschreitungen des Budgets gibt es nie.",
    "fr": "Le pipeline lit une question, récupère les cinq passages les plus pertinents de la base de connaissances et demande à un petit modèle d'y répondre. Chaque étape est tracée, avec son coût et le modèle qui a répondu.",
}

EMOJI = ["👍", "🎉", "🚀", "❤️", "👩‍💻", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇯🇵", "🇫🇷", "🇺🇸", "✅", "⚠️", "🔥", "😂", "🤖", "👋🏽", "🧑🏿‍🔬"]

CJK = {"zh", "ja", "ko", "th"}


def _words(rng, language):
    text = SCRIPTS[language]
    if language in CJK:
        # Phrases: random slices of the seed text.
        out = []
        while sum(len(p) for p in out) < rng.randint(30, 120):
            start = rng.randrange(len(text) - 8)
            out.append(text[start:start + rng.randint(2, 12)])
        return "".join(out) + ("。" if language in ("zh", "ja") else " ")
    words = text.split()
    sentence = " ".join(rng.choice(words) for _ in range(rng.randint(6, 24)))
    return sentence[0].upper() + sentence[1:] + rng.choice([". ", ". ", "? ", "! ", "; "])


def _prose(rng):
    sentences = []
    for _ in range(rng.randint(2, 7)):
        words = [rng.choice(ENGLISH) for _ in range(rng.randint(5, 28))]
        if rng.random() < 0.15:
            words.insert(rng.randrange(len(words)), str(rng.choice([rng.randint(0, 99), rng.randint(100, 99999), rng.randint(10**6, 10**12)])))
        if rng.random() < 0.1:
            words.insert(rng.randrange(len(words)), rng.choice(["DON'T", "We'LL", "it's", "I'm", "they've", "You'RE"]))
        if rng.random() < 0.05:
            words.insert(rng.randrange(len(words)), rng.choice(EMOJI))
        sentence = " ".join(words).rstrip(".,;")
        sentences.append(sentence[0].upper() + sentence[1:] + rng.choice([".", ".", ".", "?", "!"]))
    return " ".join(sentences) + "\n\n"


def _identifier(rng):
    parts = ["load", "fetch", "user", "index", "score", "cache", "token", "budget", "trace", "model", "chunk", "parse"]
    name = rng.choice(parts) + "".join(p.capitalize() for p in rng.sample(parts, rng.randint(0, 2)))
    return name if rng.random() < 0.7 else name.lower() + "_" + rng.choice(parts)


def _code(rng):
    text = rng.choice(CODE).format(name=_identifier(rng), n=rng.randint(1, 5000), n2="%02d" % rng.randint(1, 28))
    if rng.random() < 0.3:
        text = text.replace("\n", "\r\n")
    if rng.random() < 0.2:
        text = text.replace("    ", "\t")
    return text + "\n"


def _table(rng):
    rows = ["| name                 | tokens |    cost | status  |", "|----------------------|--------|---------|---------|"]
    for _ in range(rng.randint(3, 12)):
        rows.append("| %-20s | %6d | %7.4f | %-7s |" % (_identifier(rng), rng.randint(1, 99999), rng.random() * 10,
                                                       rng.choice(["ok", "error", "blocked"])))
    lines = [r + (" " * rng.randint(0, 6) if rng.random() < 0.3 else "") for r in rows]
    return "\n".join(lines) + "\n" + " " * rng.randint(0, 40) + "\n" * rng.randint(1, 4)


def _other(rng):
    language = rng.choice(sorted(SCRIPTS))
    return "".join(_words(rng, language) for _ in range(rng.randint(1, 5))) + "\n\n"


def generate(size, seed=1):
    """At least `size` bytes of mixed text (str), deterministic in `size` and `seed`."""
    rng = random.Random(seed)
    parts, total = [], 0
    kinds = [(_prose, 45), (_code, 25), (_other, 20), (_table, 10)]
    population = [k for k, w in kinds for _ in range(w)]
    while total < size:
        piece = rng.choice(population)(rng)
        parts.append(piece)
        total += len(piece.encode("utf-8"))
    return "".join(parts)


def sections(seed=7, samples=40):
    """Labelled samples for calibrating the estimate: (label, text) pairs."""
    rng = random.Random(seed)
    out = []
    for _ in range(samples):
        out.append(("prose", "".join(_prose(rng) for _ in range(3))))
        out.append(("code", "".join(_code(rng) for _ in range(2))))
        out.append(("table", _table(rng)))
        out.append(("emoji", " ".join(rng.choice(EMOJI) * rng.randint(1, 3) + rng.choice(["", " " + rng.choice(ENGLISH)])
                                      for _ in range(rng.randint(5, 30)))))
        for language in sorted(SCRIPTS):
            out.append((language, "".join(_words(rng, language) for _ in range(4))))
    return out
