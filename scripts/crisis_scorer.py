#!/usr/bin/env python3
"""A small statistical scorer for crisis posts, evaluated leave-one-set-out.

Logistic regression over word uni- and bigrams and character 3- to 5-grams of the text (lower
case, Spanish accents folded, punctuation to spaces), trained by plain gradient descent with L2,
standard library only, so the figures are reproducible from the corpora in moderation/corpus/:

    python3 scripts/crisis_scorer.py evaluate            # leave one set out, per language
    python3 scripts/crisis_scorer.py evaluate --rules-dir /tmp/rules
        # the same, beside the rules' own verdicts and rules OR scorer: /tmp/rules/<set>.txt is
        # the output of the `measure_files` test for that set (its "missed:" and "false alarm:"
        # lines), with the crisis.toml of the time the set was first measured.
    python3 scripts/crisis_scorer.py split OUTDIR       # each set as OUTDIR/<set>-{crisis,everyday}.txt

Sets: the corpora as they were written, in order: `main` (crisis.txt and everyday.txt up to the
round-three lines), `heldout`, `heldout2`, `heldout3`, `heldout4`, `round3` (the lines written by
sign of risk), `probe1` to `probe5` (the round-three probes, each written before the rules
were tuned on it).
"""
import math
import os
import random
import re
import sys
import unicodedata
from collections import defaultdict

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "moderation", "corpus")

# Where crisis.txt / everyday.txt change hands from one set to the next (comment prefixes).
SECTIONS = [
    ("round3", "# Round three (2026-12-07)"),
    ("round3", "# Round three, second batch"),
    ("probe1", "# Round three, probe"),
    ("probe2", "# Round three, second probe"),
    ("probe3", "# Round three, third probe"),
    ("probe4", "# Round three, fourth probe"),
    ("probe5", "# Round three, fifth probe"),
    ("round3", "# Round three, last additions"),
]


def parse(path, start="main"):
    """(set, tag, text) for each line; the set changes at the SECTIONS comments."""
    out, current = [], start
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line.startswith("#"):
                for name, prefix in SECTIONS:
                    if line.startswith(prefix):
                        current = name
                continue
            if " | " not in line:
                continue
            tag, text = line.split(" | ", 1)
            out.append((current, tag.strip(), text.strip()))
    return out


def load():
    """Every corpus line as (set, tag, text, is_crisis)."""
    rows = []
    for kind, crisis in (("crisis", True), ("everyday", False)):
        for s, tag, text in parse(os.path.join(ROOT, f"{kind}.txt")):
            rows.append((s, tag, text, crisis))
        for h in ("heldout", "heldout2", "heldout3", "heldout4"):
            for _, tag, text in parse(os.path.join(ROOT, f"{h}-{kind}.txt"), h):
                rows.append((h, tag, text, crisis))
    return rows


FOLD = str.maketrans("áéíóúüñàèìòù", "aeiouunaeiou")


def normalise(text):
    text = unicodedata.normalize("NFKC", text).lower().translate(FOLD)
    text = re.sub(r"['’`´]", "", text)
    text = re.sub(r"[^\w\u0900-\u097f]+", " ", text)
    return text.split()


def features(text):
    words = normalise(text)
    feats = set(f"w:{w}" for w in words)
    feats.update(f"b:{a}_{b}" for a, b in zip(words, words[1:]))
    for w in words:
        padded = f"<{w}>"
        for n in (3, 4, 5):
            feats.update(f"c:{padded[i:i + n]}" for i in range(len(padded) - n + 1))
    return feats


def train(rows, epochs=15, rate=0.3, l2=1e-4, seed=7):
    """Weights of a logistic regression, by stochastic gradient descent."""
    rnd = random.Random(seed)
    data = [(features(t), 1.0 if c else 0.0) for _, _, t, c in rows]
    w, bias = defaultdict(float), 0.0
    # Balance the classes: a crisis line weighs as much as all the everyday lines over their count.
    pos = sum(y for _, y in data) or 1.0
    neg = (len(data) - pos) or 1.0
    for _ in range(epochs):
        rnd.shuffle(data)
        for feats, y in data:
            z = bias + sum(w[f] for f in feats)
            p = 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))
            g = (p - y) * (len(data) / (2 * (pos if y else neg)))
            bias -= rate * g
            for f in feats:
                w[f] -= rate * (g + l2 * w[f])
    return w, bias


def score(model, text):
    w, bias = model
    z = bias + sum(w.get(f, 0.0) for f in features(text))
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


def rules_verdicts(path):
    """The rules' verdicts from a `measure_files` output: texts missed and texts falsely caught."""
    missed, alarms = set(), set()
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line.startswith("missed: "):
                missed.add(line[len("missed: "):])
            elif line.startswith("false alarm: "):
                alarms.add(line[len("false alarm: "):].split("    <- ")[0])
    return missed, alarms


def rate(hits, n):
    return f"{100.0 * hits / n:5.1f}% ({hits}/{n})" if n else "      –     "


def evaluate(rules_dir=None, threshold=0.5):
    rows = load()
    sets = []
    for s, *_ in rows:
        if s not in sets:
            sets.append(s)
    print(f"threshold {threshold}; recall and false alarms per held-out set and language")
    for held in sets:
        model = train([r for r in rows if r[0] != held])
        test = [r for r in rows if r[0] == held]
        verdicts = None
        if rules_dir and os.path.exists(os.path.join(rules_dir, f"{held}.txt")):
            verdicts = rules_verdicts(os.path.join(rules_dir, f"{held}.txt"))
        print(f"== {held}: trained on the other {len(sets) - 1} sets")
        for tag in sorted({r[1] for r in test}):
            c = [r[2] for r in test if r[1] == tag and r[3]]
            e = [r[2] for r in test if r[1] == tag and not r[3]]
            lr_c = sum(score(model, t) >= threshold for t in c)
            lr_e = sum(score(model, t) >= threshold for t in e)
            line = f"{tag:8} scorer: recall {rate(lr_c, len(c))} false alarms {rate(lr_e, len(e))}"
            if verdicts:
                missed, alarms = verdicts
                ru_c = sum(t not in missed for t in c)
                ru_e = sum(t in alarms for t in e)
                un_c = sum(t not in missed or score(model, t) >= threshold for t in c)
                un_e = sum(t in alarms or score(model, t) >= threshold for t in e)
                line += (f" | rules: {rate(ru_c, len(c))} fa {rate(ru_e, len(e))}"
                         f" | rules or scorer: {rate(un_c, len(c))} fa {rate(un_e, len(e))}")
            print(line)


def split(outdir):
    os.makedirs(outdir, exist_ok=True)
    rows = load()
    for s in {r[0] for r in rows}:
        for kind, crisis in (("crisis", True), ("everyday", False)):
            with open(os.path.join(outdir, f"{s}-{kind}.txt"), "w", encoding="utf-8") as f:
                for _, tag, text, c in rows:
                    if _ == s and c == crisis:
                        f.write(f"{tag} | {text}\n")


if __name__ == "__main__":
    args = sys.argv[1:]
    if args[:1] == ["split"] and len(args) == 2:
        split(args[1])
    elif args[:1] == ["evaluate"]:
        rules = args[args.index("--rules-dir") + 1] if "--rules-dir" in args else None
        t = float(args[args.index("--threshold") + 1]) if "--threshold" in args else 0.5
        evaluate(rules, t)
    else:
        print(__doc__)
