"""The scoring rules of bench/speakers.py, on hand-made records (no model, no dev-set text)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench" / "speakers.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_speakers", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through it
    spec.loader.exec_module(module)
    return module


b = _load()


@pytest.mark.parametrize(
    ("got", "judged", "expected"),
    [
        ("Hillary Clinton", "Hillary Clinton", True),
        ("Clinton", "Hillary Clinton", True),  # last word
        ("Mondelez", "Mondelez International", True),  # words a subset
        ("RAIB", "the Rail Accident Investigation Branch", True),  # acronym
        ("British Transport Police", "Robin Smith", False),
        ("Hillary Clinton's", "Hillary Clinton", True),  # a possessive is the same name
        (None, "unnamed", True),
        ("unnamed", "unnamed", True),
        ("Lady Gaga", "unnamed", False),  # naming an unnamed speaker is wrong
        (None, "Lady Gaga", False),
        ("Donald Trump", "Trump", True),
    ],
)
def test_same_speaker(got: str | None, judged: str, expected: bool) -> None:
    assert b.same_speaker(got, judged) is expected


def test_rule_totals_and_product_totals() -> None:
    rows = [
        b.Row("a1", "We will rebuild the bridge", "Ann Blake", ["Ann Blake"], "Ann Blake"),
        b.Row("a1", "The money is there", "City Hall", ["City Hall", "Ann Blake"], "Ann Blake"),
        b.Row("a1", "We have heard this before", None, ["Tom Okafor", "Ann Blake"], "Tom Okafor"),
        b.Row("a1", "Curse of the Billy Goat", None, [], "unnamed"),
        b.Row("a1", "Not judged at all here", "Ann Blake", ["Ann Blake"], None),
    ]
    assert b.rule_totals(rows) == {
        "quotations": 5,
        "judged": 4,
        "proposed": 2,
        "proposed_right": 1,
        "not_proposed_named": 1,
        "offered_first": 1,
        "offered": 1,
    }
    judged = {b.key(r.article, r.quote): r.judged for r in rows if r.judged}
    quotes = [
        {"text": "We will rebuild the bridge", "speaker": "Ann Blake", "kind": "direct"},
        {"text": "The money is there", "speaker": "Tom Okafor", "kind": "direct"},
        {"text": "We have heard this before", "speaker": "unnamed", "kind": "direct"},
        {"text": "Something nobody judged", "speaker": "Ann Blake", "kind": "direct"},
        {"text": "The money is there", "speaker": "Ann Blake", "kind": "indirect"},  # not counted
    ]
    results = {
        "systems": {"summarizer": {"articles": [{"id": "a1", "output": {"summary": {"quotes": quotes}}}]}}
    }
    assert b.product_totals(results, judged) == {
        "articles": 1,
        "named_judged": 2,
        "right": 1,
        "unjudged": 1,
        "unnamed": 1,
    }
