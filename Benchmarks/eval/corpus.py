"""The evaluation benchmark's inputs, generated from a seed so every run measures the same work.

documents(n, seed): n JSON order documents, about a third of them invalid in one of several
ways (a missing field, a wrong type, a bad pattern, a number out of range, an unknown
property, a bad enum value, too few items), for the schema in schema.json.
sentences(n, seed): n (reference, prediction) pairs of English-like sentences; predictions
are references with words dropped, swapped and replaced, so BLEU, chrF and ROUGE are mid-range.
"""
import json
import random

WORDS = ("the a an of to in is was for on with as by at from that this it be are or not have "
         "order customer payment export settings account invoice report shipment refund item price "
         "quickly slowly carefully again never always button screen window file folder data key "
         "rotate update delete create open close choose select click press send receive check").split()
SKUS = ["W-%03d" % i for i in range(200)]


def _order(rng):
    items = [{"sku": rng.choice(SKUS), "qty": rng.randint(1, 9), "price": round(rng.uniform(0.5, 200), 2)}
             for _ in range(rng.randint(1, 6))]
    order = {
        "id": "ORD-%d" % rng.randint(1, 10**7),
        "customer": {"name": " ".join(rng.choice(WORDS).title() for _ in range(2)),
                     "email": "%s@example.com" % rng.choice(WORDS)},
        "status": rng.choice(["new", "paid", "shipped", "refunded"]),
        "items": items,
        "total": round(sum(i["qty"] * i["price"] for i in items), 2),
        "placed": "2026-%02d-%02d" % (rng.randint(1, 12), rng.randint(1, 28)),
    }
    if rng.random() < 0.5:
        order["note"] = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 20)))
    return order


def _break(order, rng):
    kind = rng.randrange(7)
    if kind == 0:
        del order[rng.choice(["id", "items", "total", "customer"])]
    elif kind == 1:
        order["total"] = str(order["total"])
    elif kind == 2:
        order["id"] = order["id"].replace("ORD-", "ORD")
    elif kind == 3:
        order["items"][0]["qty"] = 0
    elif kind == 4:
        order["coupon"] = "SAVE10"
    elif kind == 5:
        order["status"] = "lost"
    else:
        order["items"] = []
    return order


def documents(n, seed=1):
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        order = _order(rng)
        out.append(_break(order, rng) if rng.random() < 0.33 else order)
    return out


def sentences(n, seed=1):
    rng = random.Random(seed)
    pairs = []
    for _ in range(n):
        reference = [rng.choice(WORDS) for _ in range(rng.randint(8, 30))]
        prediction = []
        for word in reference:
            roll = rng.random()
            if roll < 0.1:
                continue
            prediction.append(rng.choice(WORDS) if roll < 0.25 else word)
            if roll > 0.95:
                prediction.append(rng.choice(WORDS))
        if not prediction:
            prediction = [rng.choice(WORDS)]
        pairs.append((" ".join(reference).capitalize() + ".", " ".join(prediction).capitalize() + "."))
    return pairs


if __name__ == "__main__":
    import sys
    folder, count = sys.argv[1], int(sys.argv[2])
    with open(folder + "/documents.jsonl", "w", encoding="utf-8") as f:
        for doc in documents(count):
            f.write(json.dumps(doc) + "\n")
    pairs = sentences(count)
    with open(folder + "/reference.txt", "w", encoding="utf-8") as f:
        f.write("".join(r + "\n" for r, _ in pairs))
    with open(folder + "/prediction.txt", "w", encoding="utf-8") as f:
        f.write("".join(p + "\n" for _, p in pairs))
