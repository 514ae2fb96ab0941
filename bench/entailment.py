"""Would a model's entailment check catch what the rules miss? Measured, not adopted.

    .venv/bin/python bench/entailment.py --results quality.json [--limit 40] [--out E.json]

Issue 18 asks to consider an entailment check for the model's prose (headline and brief
sentences) and to measure it before choosing. This asks the embedded default model (started and
stopped here, through the OpenAI SDK and instructor, the answer constrained to a yes/no schema)
whether the sentences cited for a piece of prose say it, and compares with the rules of
``summarizer.prose``/``summarizer.meaning`` on:

- the fabrications and true wordings of ``tests/test_meaning.py`` (written for the rules'
  patterns; the rules reject and keep them all by construction);
- the prose the product *kept* in a ``bench/quality.py --keep-outputs`` results file (headline
  and brief sentences), each against its three best-supporting sentences, the evidence the
  rules use. A "no" there is either a catch beyond the rules or a false alarm: the bench lists
  them for reading.

Prints counts and the median seconds per question (a brief asks one per headline or brief
sentence).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Literal

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pydantic import BaseModel  # noqa: E402

SYSTEM = (
    "You check a news summary against its source. Answer yes only if the source sentences state "
    "everything the summary sentence says (same people, numbers, polarity and certainty); "
    "otherwise answer no."
)


class Verdict(BaseModel):
    supported: Literal["yes", "no"]


def ask(client: Any, model: str, prose: str, sources: list[str]) -> tuple[bool, float]:
    numbered = "\n".join(f"- {s}" for s in sources)
    t0 = time.perf_counter()
    verdict = client.chat.completions.create(
        model=model,
        response_model=Verdict,
        max_retries=1,
        temperature=0,
        max_tokens=16,
        messages=[
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": f"Source sentences:\n{numbered}\n\nSummary sentence: {prose}"},
        ],
    )
    return verdict.supported == "yes", time.perf_counter() - t0


def kept_prose(results: Path, limit: int) -> list[tuple[str, str, list[str]]]:
    """(article id, prose sentence, its three best-supporting sentences) for each kept headline
    and brief sentence of a quality results file (articles read again from their source path)."""
    from summarizer.articles import load_article
    from summarizer.grounding.check import Resolver
    from summarizer.units import analyse

    data = json.loads(results.read_text(encoding="utf-8"))
    out: list[tuple[str, str, list[str]]] = []
    for row in data["systems"]["summarizer"]["articles"]:
        record = row.get("output") or {}
        path = (record.get("article") or {}).get("source_path")
        if not path or not Path(path).is_file():
            continue
        units = analyse(load_article(Path(path)).text)
        finder = Resolver(units, None)
        summary = record.get("summary") or {}
        brief = re.split(r"(?<=[.!?])\s+", (summary.get("brief") or "").strip())
        for prose in [summary.get("headline") or "", *brief]:
            if prose.strip():
                support = [units.text[s.start : s.end] for s in finder.best_support(prose, 3)]
                out.append((row["id"], prose, support))
        if len(out) >= limit:
            break
    return out[:limit]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=Path, help="a bench/quality.py --keep-outputs results file")
    parser.add_argument("--limit", type=int, default=60, help="kept prose sentences to ask about")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)

    import instructor
    from openai import OpenAI

    from summarizer.local.embedded import EmbeddedServer
    from tests.test_meaning import FABRICATIONS, TRUE_WORDINGS

    kept = kept_prose(args.results, args.limit) if args.results else []
    rows: list[dict[str, Any]] = []
    with EmbeddedServer() as server:
        client = instructor.from_openai(
            OpenAI(base_url=server.base_url, api_key="local"), mode=instructor.Mode.JSON_SCHEMA
        )
        for kind, pairs in (("fabrication", FABRICATIONS), ("true wording", TRUE_WORDINGS)):
            for prose, cited in pairs:
                yes, seconds = ask(client, server.model_name, prose, [cited])
                rows.append({"set": kind, "prose": prose, "sources": [cited], "yes": yes, "s": seconds})
        for article, prose, support in kept:
            yes, seconds = ask(client, server.model_name, prose, support)
            rows.append(
                {"set": "kept", "id": article, "prose": prose, "sources": support, "yes": yes, "s": seconds}
            )
    for kind in ("fabrication", "true wording", "kept"):
        part = [r for r in rows if r["set"] == kind]
        if part:
            no = sum(not r["yes"] for r in part)
            print(f"{kind:13} {len(part):4} asked   model says no: {no:3}   (rules: "
                  f"{'all rejected' if kind == 'fabrication' else 'all kept'})")  # fmt: skip
    seconds = [r["s"] for r in rows]
    if seconds:
        print(f"seconds per question: median {statistics.median(seconds):.2f}, max {max(seconds):.2f}")
    for r in rows:
        if r["set"] == "kept" and not r["yes"]:
            print(f"\n[{r['id']}] {r['prose']}\n  " + "\n  ".join(r["sources"]))
    if args.out:
        args.out.write_text(json.dumps(rows, indent=1, ensure_ascii=False), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
