"""Speaker precision against hand-judged speakers: the rules alone, and the product's kept quotes.

    .venv/bin/python bench/speakers.py ../shared/devset --judged judged.jsonl
    .venv/bin/python bench/speakers.py ../shared/devset --judged judged.jsonl --results v5.json
    .venv/bin/python bench/speakers.py ../shared/devset --dump quotations.json   # to judge
    .venv/bin/python bench/speakers.py ../shared/devset --judged judged.jsonl --project ../old

``--dump`` writes every quotation ``summarizer.units.analyse`` finds in the dev set, with the
rules' proposal, the names offered and the text around it, for a reader to judge. A judged file
is JSONL, one line per quotation: ``{"article": ID, "quote": the quotation's first 60
characters, "speaker": who said it, as an editor reads the article, or "unnamed"}``. Both hold
article text: keep them outside the repository, beside the dev set.

Rules (printed with the table):

- A quotation is matched to its judgment by article id and its first 40 characters (whitespace
  collapsed), so a judged file survives changes to the quotation ids.
- A speaker is right when its last word equals the judged speaker's last word (case and a
  possessive "'s" ignored), when its words are a subset of the judged speaker's ("Mondelez" for
  "Mondelez International"), or when one is the other's acronym ("RAIB"). "unnamed" is right
  only for a quotation judged unnamed.
- Rules: of the quotations with a proposal, how many proposals are right; of those without,
  how many have the judged speaker among the names offered to the model (and first).
- Product (``--results``, a ``bench/quality.py`` results file run with ``--keep-outputs``):
  every kept direct quote with a named speaker, scored against the judgment of the quotation
  its text starts with. Speaker precision = right / named and judged.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def key(article: str, quote: str) -> tuple[str, str]:
    return article, " ".join(quote.split())[:40]


def _last(name: str) -> str:
    words = re.findall(r"\w+", re.sub(r"['\u2019]s\b", "", name.lower()))
    return words[-1] if words else ""


def _acronym(name: str) -> str:
    return "".join(w[0] for w in re.findall(r"\w+", name) if w[0].isupper())


def unnamed(name: str | None) -> bool:
    return name is None or name.strip().lower() in {"", "unnamed", "unknown", "none"}


def same_speaker(got: str | None, judged: str) -> bool:
    if unnamed(judged):
        return unnamed(got)
    if got is None or unnamed(got):
        return False
    words = set(re.findall(r"\w+", got.lower()))
    judged_words = set(re.findall(r"\w+", judged.lower())) - {"the"}
    return (
        _last(got) == _last(judged)
        or bool(words and words <= judged_words)
        or got.replace(".", "") == _acronym(judged)
        or _acronym(got) == judged.replace(".", "")
    )


@dataclass
class Row:
    article: str
    quote: str
    proposed: str | None
    candidates: list[str]
    judged: str | None


def quotations(devset: Path, project: Path = ROOT) -> list[tuple[str, Any, Any]]:
    sys.path.insert(0, str(project))  # the checkout to measure comes first
    from summarizer.articles import load_article
    from summarizer.units import analyse

    out = []
    for path in sorted((devset / "articles").glob("*.json")):
        article = load_article(path)
        units = analyse(article.text)
        out += [(article.id, units, q) for q in units.quotations]
    return out


def load_judged(path: Path) -> dict[tuple[str, str], str]:
    judged: dict[tuple[str, str], str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            j = json.loads(line)
            judged[key(j["article"], j["quote"])] = j["speaker"]
    return judged


def rule_rows(found: Iterable[tuple[str, Any, Any]], judged: dict[tuple[str, str], str]) -> list[Row]:
    rows = []
    for article, units, q in found:
        text = units.text[q.start : q.end]
        cands = [c for c in q.candidates if c != "unnamed"]
        rows.append(Row(article, text, q.proposed, cands, judged.get(key(article, text))))
    return rows


def rule_totals(rows: Sequence[Row]) -> dict[str, int]:
    judged = [r for r in rows if r.judged is not None]
    proposed = [r for r in judged if r.proposed]
    open_named = [r for r in judged if not r.proposed and not unnamed(r.judged)]
    return {
        "quotations": len(rows),
        "judged": len(judged),
        "proposed": len(proposed),
        "proposed_right": sum(same_speaker(r.proposed, r.judged or "") for r in proposed),
        "not_proposed_named": len(open_named),
        "offered_first": sum(
            bool(r.candidates) and same_speaker(r.candidates[0], r.judged or "") for r in open_named
        ),
        "offered": sum(any(same_speaker(c, r.judged or "") for c in r.candidates) for r in open_named),
    }


def product_totals(results: dict[str, Any], judged: dict[tuple[str, str], str]) -> dict[str, int]:
    """Kept direct quotes with a named speaker in a quality.py results file, scored."""
    articles = results["systems"]["summarizer"]["articles"]
    named = right = unjudged = unnamed_kept = 0
    for row in articles:
        summary = (row.get("output") or {}).get("summary") or {}
        for q in summary.get("quotes") or []:
            if q.get("kind") != "direct":
                continue
            if unnamed(q.get("speaker")):
                unnamed_kept += 1
                continue
            j = judged.get(key(row["id"], q.get("text") or ""))
            if j is None:
                unjudged += 1
                continue
            named += 1
            right += same_speaker(q["speaker"], j)
    return {
        "articles": len(articles),
        "named_judged": named,
        "right": right,
        "unjudged": unjudged,
        "unnamed": unnamed_kept,
    }


def _pct(a: int, b: int) -> str:
    return f"{a / b:.0%}" if b else "-"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("devset", help="dev-set folder with articles/")
    parser.add_argument("--judged", help="JSONL of judged speakers (kept outside the repository)")
    parser.add_argument("--results", help="bench/quality.py results file (run with --keep-outputs)")
    parser.add_argument("--dump", help="write every quotation with its context here, to judge")
    parser.add_argument("--wrong", action="store_true", help="list the wrong rule proposals")
    parser.add_argument("--project", default=str(ROOT), help="checkout whose summarizer package to measure")
    args = parser.parse_args(argv)
    found = quotations(Path(args.devset), Path(args.project).resolve())
    if args.dump:
        dump = []
        for article, units, q in found:
            para = units.paragraphs[q.paragraph]
            prev = units.paragraphs[max(0, q.paragraph - 1)]
            context = units.text[max(prev.start, q.start - 500) : min(para.end, q.end + 250)]
            text = units.text[q.start : q.end]
            dump.append({"article": article, "q": q.id, "quote": text[:120], "proposed": q.proposed,
                         "candidates": list(q.candidates), "context": context})  # fmt: skip
        Path(args.dump).write_text(json.dumps(dump, ensure_ascii=False, indent=1), encoding="utf-8")
        print(f"speakers: {len(dump)} quotations written to {args.dump}")
    if not args.judged:
        return 0
    judged = load_judged(Path(args.judged))
    rows = rule_rows(found, judged)
    t = rule_totals(rows)
    print("rules: right = last word equal, words a subset, or acronym; unnamed only for unnamed")
    print(f"quotations {t['quotations']}, judged {t['judged']}")
    share = _pct(t["proposed_right"], t["proposed"])
    print(f"rule proposals right: {t['proposed_right']} / {t['proposed']} ({share})")
    print(
        f"no proposal, judged named: {t['not_proposed_named']}; judged speaker offered {t['offered']}, "
        f"offered first {t['offered_first']}"
    )
    if args.wrong:
        for r in rows:
            if r.judged is not None and r.proposed and not same_speaker(r.proposed, r.judged):
                print(f"  wrong {r.article[:8]} {r.proposed!r} (judged {r.judged!r}): {r.quote[:50]}")
    if args.results:
        p = product_totals(json.loads(Path(args.results).read_text(encoding="utf-8")), judged)
        print(
            f"product, {p['articles']} articles: named kept quotes right {p['right']} / {p['named_judged']} "
            f"({_pct(p['right'], p['named_judged'])}); unnamed {p['unnamed']}; not judged {p['unjudged']}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
