"""The scoring rules of bench/speakers.py, on hand-made records (no model, no data-set text),
and the shape of the dev-set gold kept in the repository (ids, offsets and names only)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench" / "speakers.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_speakers", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through it
    spec.loader.exec_module(module)
    return module


b = _load()


@pytest.mark.parametrize(
    ("got", "gold", "kind", "expected"),
    [
        ("Michael Flynn", "Flynn, a top Trump surrogate,", "name", "right"),  # the gold's head
        ("Robby Mook", "Hillary Clinton's campaign manager Robby Mook", "name", "right"),
        (
            "Hillary Clinton",
            "Hillary Clinton's campaign manager Robby Mook",
            "name",
            "wrong",
        ),  # the possessor
        ("Bill Clinton", "Hillary Clinton", "name", "wrong"),  # another first name
        ("Mr. Clinton", "Mrs. Clinton", "name", "wrong"),  # another gendered title
        ("Clinton campaign chairman", "Clinton campaign chairman John Podesta", "name", "right"),
        ("Tim Cook", "Apple's chief executive, Tim Cook,", "name", "right"),  # the appositive's name
        ("RAIB", "the Rail Accident Investigation Branch", "name", "right"),  # an acronym
        ("a campaign spokesman", "a campaign spokesman", "nominal", "right"),
        ("the letter", "the letter", "nominal", "right"),
        ("Barack Obama", "the president", "nominal", "unchecked"),  # a name for a description
        ("Donald Trump", "The Trump campaign", "nominal", "wrong"),  # a name inside the source
        ("the president-elect", "Donald Trump", "name", "unchecked"),  # a description for a name
        ("a complaint", "a 52-count civil complaint filed by the SEC", "nominal", "right"),
        (None, "Donald Trump", "name", "abstained"),
        ("unnamed", "Donald Trump", "name", "abstained"),
        ("Donald Trump", None, "unnamed", "wrong"),  # naming a speaker the gold says nobody named
    ],
)
def test_judge(got: str | None, gold: str | None, kind: str, expected: str) -> None:
    assert b.judge(got, gold, kind) == expected


def _outcome(verdict: str, kind: str = "name", speaker: str | None = "X") -> object:
    gold = b.Gold("a1", 0, 5, "X", kind)
    return b.Outcome(gold, speaker, "clause", None, verdict)


def test_totals_count_precision_over_named_and_coverage_over_scored() -> None:
    outcomes = [
        _outcome("right"),
        _outcome("right", "nominal"),
        _outcome("wrong"),
        _outcome("abstained", speaker=None),
        _outcome("unchecked", "nominal"),
        _outcome("skipped", "pronoun"),
        _outcome("skipped", "pronoun", speaker=None),
    ]
    t = b.totals(outcomes)
    assert (t["quotations"], t["scored"], t["right"], t["wrong"], t["unchecked"]) == (7, 5, 2, 1, 1)
    assert (t["pronoun"], t["pronoun_named"]) == (2, 1)
    row = b.line("x", t)
    assert "0.667" in row and "0.400" in row  # precision 2/3, coverage 2/5


def test_halves_split_each_group_by_a_hash_of_the_ids_not_by_order() -> None:
    articles = [b.Article(f"id{i}", "", "pub") for i in range(12)]
    halves = [b.half_of(a, articles) for a in articles]
    assert halves.count("tune") == 6 and halves.count("held") == 6
    assert halves == [b.half_of(a, list(reversed(articles))) for a in articles]  # order-free


def test_product_outcomes_match_kept_quotes_to_gold_by_span() -> None:
    article = b.Article("a1", "", "devset", [b.Gold("a1", 10, 40, "Ann Blake", "name")])
    record = {
        "summary": {"quotes": [{"text": "…", "speaker": "Tom Reyes", "attribution": {"method": "model"}}]},
        "grounding": [{"field": "quotes[0].text", "value": "…", "span": {"start": 12, "end": 40}}],
    }
    results = {"systems": {"summarizer": {"articles": [{"id": "a1", "output": record}]}}}
    [o] = b.product_outcomes([article], results)
    assert (o.speaker, o.method, o.verdict) == ("Tom Reyes", "model", "wrong")


def test_the_dev_set_gold_holds_ids_offsets_and_names_only() -> None:
    lines = (ROOT / "bench" / "gold" / "devset_speakers.jsonl").read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines if line.strip()]
    assert len(rows) == 173
    for row in rows:
        assert set(row) == {"article", "start", "end", "speaker", "kind"}
        assert row["kind"] in {"name", "nominal", "unnamed"} and 0 <= row["start"] < row["end"]
    assert len({(r["article"], r["start"]) for r in rows}) == len(rows)
