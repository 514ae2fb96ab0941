"""Who said it: speaker precision and coverage of the attribution step against two gold sets.

    .venv/bin/python bench/speakers.py devset ../shared/devset          # gold: bench/gold/
    .venv/bin/python bench/speakers.py polnear ../shared/polnear-dev
    .venv/bin/python bench/speakers.py polnear ../shared/polnear-dev --half held --wrong
    .venv/bin/python bench/speakers.py devset ../shared/devset --results quality.json

Both sets are read where they lie; nothing of them is copied. The dev set's gold speakers are
``bench/gold/devset_speakers.jsonl`` (article ids, offsets and names only; see its README).

What is measured: ``summarizer.speakers.attribute`` (code only, no model) over every quoted
stretch of the article, scored on each gold quotation's stretch (``--spans gold``, the
default), or on the quotations the product finds itself (``--spans found``: four words or
more, our own quotation finder; a gold quotation no found one overlaps is not scored). A quotation the
rules leave to the model counts as an abstention (``unnamed``), so these figures are the
floor the model's picks can only add to. ``--results`` scores instead the speakers kept in a
``bench/quality.py --keep-outputs`` results file: the whole product, model picks included.

Halves: each set is split by a hash of the article id, within each publisher for PolNeAR
(``tune`` and ``held``). Rules are tuned on ``tune``; ``held`` is the figure to report.

Scoring (PolNeAR's fair rule, its README; the same rule for the dev set):
- A speaker is **right** when it and the gold source overlap as names: the gold's head (its
  last proper noun, after any possessor: "Hillary Clinton's campaign manager Robby Mook" ->
  Mook; the last word of a description with no proper noun: "a campaign spokesman" ->
  spokesman) is a word of ours, or our head is a word of the gold's; but a different first
  name ("Bill" vs "Hillary" Clinton) or title (Mr. vs Mrs.) is wrong.
- A nominal gold source ("the president") against a name of ours that shares no word with it
  cannot be checked from the gold: counted apart as ``unchecked``. A nominal gold whose head
  is not ours but shares a word ("Donald Trump" for "the Trump campaign") is wrong.
- ``unnamed`` (or none) is an abstention, never wrong. Naming a speaker the gold calls
  ``unnamed`` (dev set) is wrong.
- Precision = right / (right + wrong). Coverage = right / gold quotations with a name or
  nominal source (nested quotations left out of both). Pronoun sources (PolNeAR "he") cannot
  be checked from the gold: reported as how many we named.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEVSET_GOLD = ROOT / "bench" / "gold" / "devset_speakers.jsonl"
_TITLES = {"mr": "m", "mrs": "f", "ms": "f", "miss": "f"}
_POSSESSOR = re.compile(r"^.*['\u2019]s\s+(?=\S)")
_WORD = re.compile(r"[^\W\d_][\w'\u2019.-]*")


def _words(name: str) -> list[str]:
    return [w.strip(".'\u2019").lower() for w in _WORD.findall(name)]


def _core(name: str) -> str:
    """The name without its possessor and appositives: "Flynn, a top Trump surrogate," ->
    "Flynn"; "Hillary Clinton's campaign manager Robby Mook" -> "campaign manager Robby Mook"."""
    parts = [_POSSESSOR.sub("", p.strip()) for p in name.split(",") if p.strip()]
    named = [p for p in parts if any(w[0].isupper() for w in _WORD.findall(p))]
    core = (named or parts or [name])[0]
    return re.sub(r"['\u2019]s$", "", core)


def head(name: str) -> str:
    """The last proper noun of the core, else its last word (lower case)."""
    words = _WORD.findall(_core(name))
    proper = [w for w in words if w[0].isupper() and w.lower().strip(".") not in _TITLES]
    pick = (proper or words or [""])[-1]
    return pick.strip(".'\u2019").removesuffix("'s").lower()


def _conflict(got: str, gold: str) -> bool:
    """A different first name before the same surname, or a different gendered title."""
    a, b = _WORD.findall(_core(got)), _WORD.findall(_core(gold))
    ta = {_TITLES[w.lower().strip(".")] for w in a if w.lower().strip(".") in _TITLES}
    tb = {_TITLES[w.lower().strip(".")] for w in b if w.lower().strip(".") in _TITLES}
    if ta and tb and ta != tb:
        return True
    proper_a = [w.lower() for w in a if w[0].isupper() and w.lower().strip(".") not in _TITLES]
    proper_b = [w.lower() for w in b if w[0].isupper() and w.lower().strip(".") not in _TITLES]
    if len(proper_a) >= 2 and len(proper_b) >= 2 and proper_a[-1] == proper_b[-1]:
        return proper_a[-2] != proper_b[-2]
    return False


def unnamed(name: str | None) -> bool:
    return name is None or name.strip().lower() in {"", "unnamed", "unknown", "none"}


def _description_head(name: str) -> str:
    """The head noun of a description: its core's last word before any preposition or
    participle ("a 52-count civil complaint filed by the SEC" -> complaint)."""
    words = _WORD.findall(_core(name))
    for k, w in enumerate(words):
        if k and (w.lower() in {"of", "for", "from", "at", "by", "with", "in", "on"} or w.endswith("ed")):
            words = words[:k]
            break
    return words[-1].strip(".'\u2019").lower() if words else ""


def _acronym(name: str) -> str:
    return "".join(w[0] for w in _WORD.findall(name) if w[0].isupper())


def judge(got: str | None, gold: str | None, kind: str) -> str:
    """``right``, ``wrong``, ``unchecked`` or ``abstained`` for one quotation."""
    if unnamed(got):
        return "abstained"
    assert got is not None
    if kind == "unnamed" or unnamed(gold):
        return "wrong"
    assert gold is not None
    ours, theirs = set(_words(_core(got))), set(_words(_core(gold)))
    if got.replace(".", "") in (_acronym(gold), _acronym(_core(gold))) or gold.replace(".", "") == _acronym(
        got
    ):
        return "right"  # "RAIB" for "the Rail Accident Investigation Branch"
    if _conflict(got, gold):
        return "wrong"
    if kind == "nominal":
        if _description_head(gold) in ours or head(gold) in ours:
            return "right"
        return "wrong" if ours & theirs else "unchecked"
    if head(gold) in ours or head(got) in theirs:
        return "right"
    words = _WORD.findall(_core(got)) or [""]
    described = not words[-1][:1].isupper()
    return "unchecked" if described and not ours & theirs else "wrong"  # "the president-elect"


def scored(gold: Gold, speaker: str | None) -> str:
    """The verdict for one gold quotation: nested, pronoun and no-source quotations count for
    recall only (``skipped``)."""
    if gold.nested or gold.kind in ("pronoun", "none"):
        return "skipped"
    return judge(speaker, gold.source, gold.kind)


# -- gold -------------------------------------------------------------------------------------


@dataclass
class Gold:
    article: str
    start: int
    end: int
    source: str | None
    kind: str  # name, nominal, pronoun, unnamed, none
    nested: bool = False


@dataclass
class Article:
    id: str
    text: str
    group: str  # publisher (PolNeAR) or "devset"
    gold: list[Gold] = field(default_factory=list)


def half_of(article: Article, peers: Sequence[Article]) -> str:
    """``tune`` or ``held``: the article's place among its group's, ordered by a hash of ids."""
    order = sorted(peers, key=lambda a: hashlib.sha256(a.id.encode()).hexdigest())
    return "tune" if order.index(article) < (len(order) + 1) // 2 else "held"


def polnear(folder: Path) -> list[Article]:
    articles: dict[str, Article] = {}
    for path in sorted((folder / "articles").glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        articles[data["id"]] = Article(data["id"], data["text"], data["publisher"])
    for line in (folder / "quotes.jsonl").read_text(encoding="utf-8").splitlines():
        q = json.loads(line)
        kind = q["source_kind"]  # "none": counted for recall only
        articles[q["id"]].gold.append(Gold(q["id"], q["start"], q["end"], q["source"], kind, q["nested"]))
    return list(articles.values())


def devset(folder: Path, gold: Path = DEVSET_GOLD) -> list[Article]:
    from summarizer.articles import load_article

    articles: dict[str, Article] = {}
    for path in sorted((folder / "articles").glob("*.json")):
        a = load_article(path)
        articles[a.id] = Article(a.id, a.text, "devset")
    for line in gold.read_text(encoding="utf-8").splitlines():
        if line.strip():
            g = json.loads(line)
            speaker = None if unnamed(g["speaker"]) else g["speaker"]
            articles[g["article"]].gold.append(Gold(g["article"], g["start"], g["end"], speaker, g["kind"]))
    return list(articles.values())


# -- running the attribution step -------------------------------------------------------------

_MARKS = "\"\u201c\u201d\u201e\u00ab\u00bb'\u2018\u2019"


def _region_around(text: str, start: int, end: int) -> tuple[int, int]:
    """The inner span between the quotation marks around a gold quotation (gold spans leave
    out a trailing comma that sits inside the marks)."""
    a = start
    while a > 0 and start - a < 3 and text[a - 1] not in _MARKS:
        a -= 1
    b = end
    while b < len(text) and b - end < 3 and text[b] not in _MARKS and text[b] != "\n":
        b += 1
    return (a if a > 0 and text[a - 1] in _MARKS else start), (
        b if b < len(text) and text[b] in _MARKS else end
    )


@dataclass
class Outcome:
    gold: Gold
    speaker: str | None
    method: str
    clause: str | None
    verdict: str


def run(article: Article, spans: str) -> tuple[list[Outcome], float]:
    """The attribution of every gold quotation of ``article`` and the seconds it took."""
    from summarizer import units as units_module
    from summarizer.speakers import Region, attribute
    from summarizer.units import analyse

    def quotation_spans(text: str) -> list[tuple[int, int]]:  # older checkouts lack the public one
        if hasattr(units_module, "quotation_spans"):
            return list(units_module.quotation_spans(text))
        paragraphs = units_module._paragraphs(text)
        return [span for p in paragraphs for span in units_module._quote_regions(text, p)]

    units = analyse(article.text)
    regions: list[tuple[Region, Gold | None]] = []

    def region(a: int, b: int) -> Region:
        sentence = next((i for i, s in enumerate(units.sentences) if s.start <= a < s.end), 0)
        paragraph = next((i for i, p in enumerate(units.paragraphs) if p.start <= a < p.end), 0)
        return Region(a, b, sentence, paragraph)

    if spans == "gold":
        # every quoted stretch of the article is attributed, as in the product (a quotation
        # continues the one before it), and the gold quotations are scored
        found = quotation_spans(article.text)
        taken: dict[tuple[int, int], Gold | None] = dict.fromkeys(found)
        for g in article.gold:
            inner = [(a, b) for a, b in found if a <= g.start and g.end <= b]
            span = (
                min(inner, key=lambda s: s[1] - s[0])
                if inner
                else _region_around(article.text, g.start, g.end)
            )
            if taken.get(span) is None:
                taken[span] = g
            else:  # two gold quotations in one stretch (a transcript block): each its own region
                taken[(g.start, g.end)] = g
        regions = [(region(a, b), g) for (a, b), g in sorted(taken.items())]
    else:
        for q in units.quotations:
            match = next((g for g in article.gold if _overlaps(q.start, q.end, g.start, g.end)), None)
            regions.append((Region(q.start, q.end, q.sentence, q.paragraph), match))
    t0 = time.perf_counter()
    found = attribute(
        article.text,
        paragraphs=units.paragraphs,
        sentences=units.sentences,
        names=units.names,
        places=units.places,
        regions=[r for r, _ in regions],
    )
    seconds = time.perf_counter() - t0
    out = []
    for (_, g), a in zip(regions, found, strict=True):
        if g is None:
            continue
        speaker = getattr(a, "speaker", None) or getattr(a, "proposed", None)
        method = getattr(a, "method", "clause" if speaker else "unnamed")
        span = getattr(a, "clause", None)  # older checkouts keep no clause
        clause = article.text[span.start : span.end] if span is not None else None
        out.append(Outcome(g, speaker, method, clause, scored(g, speaker)))
    return out, seconds


def _overlaps(a0: int, a1: int, b0: int, b1: int) -> bool:
    shorter = min(a1 - a0, b1 - b0)
    return shorter > 0 and min(a1, b1) - max(a0, b0) >= shorter / 2


# -- report -----------------------------------------------------------------------------------


def totals(outcomes: Iterable[Outcome]) -> dict[str, int]:
    c: Counter[str] = Counter()
    for o in outcomes:
        c["quotations"] += 1
        if o.gold.kind in ("name", "nominal") and not o.gold.nested:
            c["scored"] += 1
        if o.gold.kind == "pronoun" and not o.gold.nested:
            c["pronoun"] += 1
            c["pronoun_named"] += not unnamed(o.speaker)
        c[o.verdict] += 1
    return dict(c)


def line(label: str, t: dict[str, int]) -> str:
    right, wrong = t.get("right", 0), t.get("wrong", 0)
    named = right + wrong
    precision = f"{right / named:.3f}" if named else "-"
    coverage = f"{right / t['scored']:.3f}" if t.get("scored") else "-"
    return (
        f"{label:<28} {t.get('quotations', 0):>5} {t.get('scored', 0):>6} {right:>6} {wrong:>6} "
        f"{t.get('unchecked', 0):>9} {precision:>9} {coverage:>8} {t.get('pronoun_named', 0):>4}/"
        f"{t.get('pronoun', 0):<4}"
    )


HEADER = (
    f"{'set':<28} {'quotes':>5} {'scored':>6} {'right':>6} {'wrong':>6} {'unchecked':>9} "
    f"{'precision':>9} {'coverage':>8} {'pronouns named':>14}"
)


def product_outcomes(articles: Sequence[Article], results: dict[str, Any]) -> list[Outcome]:
    """The speakers the product kept (a quality.py results file), matched to gold by span."""
    rows = {r["id"]: r for r in results["systems"]["summarizer"]["articles"]}
    out = []
    for article in articles:
        record = (rows.get(article.id) or {}).get("output") or {}
        quotes = (record.get("summary") or {}).get("quotes") or []
        spans = {
            g["field"].split(".")[0]: g["span"]
            for g in (record.get("grounding") or [])
            if g["field"].endswith(".text")
        }
        for i, q in enumerate(quotes):
            span = spans.get(f"quotes[{i}]")
            if span is None:
                continue
            g = next((g for g in article.gold if _overlaps(span["start"], span["end"], g.start, g.end)), None)
            if g is None:
                continue
            speaker = None if unnamed(q.get("speaker")) else q["speaker"]
            method = (q.get("attribution") or {}).get("method", "")
            verdict = scored(g, speaker)
            out.append(Outcome(g, speaker, method, None, verdict))
    return out


def list_misses(by_half: dict[str, list[Outcome]]) -> None:
    """Wrong speakers, and abstentions where the gold names someone, one line each."""
    for half in ("tune", "held"):
        for o in by_half[half]:
            named_gold = o.gold.kind in ("name", "nominal")
            if o.verdict == "wrong" or (o.verdict == "abstained" and named_gold):
                print(
                    f"  {o.verdict:<9} {half} {o.gold.article[:30]} @{o.gold.start} got {o.speaker!r} "
                    f"[{o.method}] gold {o.gold.source!r} ({o.gold.kind})"
                )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("set", choices=["devset", "polnear"])
    parser.add_argument("folder", help="the data set's folder (read in place)")
    parser.add_argument("--gold", default=str(DEVSET_GOLD), help="dev-set gold speakers (JSONL)")
    parser.add_argument("--half", choices=["tune", "held", "all"], default="all")
    parser.add_argument("--spans", choices=["gold", "found"], default="gold")
    parser.add_argument("--results", help="score a bench/quality.py --keep-outputs results file instead")
    parser.add_argument("--wrong", action="store_true", help="list wrong and abstained quotations")
    parser.add_argument("--per-article", action="store_true")
    parser.add_argument("--project", default=str(ROOT), help="checkout whose summarizer package to measure")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(Path(args.project).resolve()))
    folder = Path(args.folder)
    articles = polnear(folder) if args.set == "polnear" else devset(folder, Path(args.gold))
    groups: dict[str, list[Article]] = defaultdict(list)
    for a in articles:
        groups[a.group].append(a)
    halves = {a.id: half_of(a, groups[a.group]) for a in articles}
    chosen = [a for a in articles if args.half in ("all", halves[a.id])]
    by_half: dict[str, list[Outcome]] = defaultdict(list)
    per_article: list[tuple[str, list[Outcome]]] = []
    seconds = 0.0
    if args.results:
        for o in product_outcomes(chosen, json.loads(Path(args.results).read_text(encoding="utf-8"))):
            by_half[halves[o.gold.article]].append(o)
    else:
        for a in chosen:
            got, took = run(a, args.spans)
            seconds += took
            by_half[halves[a.id]] += got
            per_article.append((a.id, got if args.per_article else []))
    what = "kept by the product" if args.results else f"attribution rules on {args.spans} spans"
    print(f"{args.set}: {what}; right/wrong by PolNeAR's fair rule (see this file's docstring)")
    print(HEADER)
    for half in ("tune", "held"):
        if by_half[half]:
            print(line(f"{half} half", totals(by_half[half])))
    print(line("all", totals(o for h in by_half.values() for o in h)))
    for aid, got in per_article if args.per_article else []:
        print(line(f"  {aid[:26]}", totals(got)))
    if not args.results:
        print(f"attribution step: {1000 * seconds / max(1, len(chosen)):.1f} ms per article ({len(chosen)})")
    if args.wrong:
        list_misses(by_half)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
