"""The scoring rules of bench/quality.py, on hand-made strings (no model, no dev-set text)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench" / "quality.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_quality", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses and pydantic resolve annotations through it
    spec.loader.exec_module(module)
    return module


q = _load()

ARTICLE = (
    'The mayor said: "We will rebuild the bridge before winter comes. '
    'Nobody will be left behind. "The money is there," she added. '
    'Critics called it "a fantasy", and Mr Okafor replied: “We have heard this promise before.”\n'
    "Officials said 6,266 people left in 2016, and twenty-five buses carried two hundred and fifty of them.\n"
    "„Wir schaffen das nicht allein“, sagte die Ministerin."
)


@pytest.mark.parametrize(
    ("answer", "gold", "expected"),
    [
        ("Wrigley Field", "at Wrigley Field", True),  # containment as token sequences
        ("the Chicago Cubs baseball team", "Chicago Cubs", True),  # containment the other way
        ("Cubs fans", "Chicago Cubs", True),  # F1 = 0.5
        ("Cleveland Indians", "Chicago Cubs", False),
        ("Field Wrigley at", "at Wrigley Field", True),  # F1 = 1.0 although not a sequence
        ("on Wednesday night in Chicago", "Wednesday", True),
        ("Wednesday, November 2", "almost midnight on Wednesday", False),  # F1 = 0.25
        ("...", "anything", False),  # no tokens never match
    ],
)
def test_answer_matching(answer: str, gold: str, expected: bool) -> None:
    assert q.answer_matches(answer, gold) is expected


def test_token_f1_and_4w_scores() -> None:
    assert q.token_f1(["a", "b"], ["b", "c"]) == pytest.approx(0.5)
    assert q.token_f1(["a"], ["b"]) == 0.0
    scores = q.score_4w(
        {"who": ["Mr Okafor", "mr okafor!", "the bridge"], "what": [], "when": ["before winter"]},
        {"who": ["Okafor"], "what": ["rebuild the bridge"], "when": [], "where": []},
    )
    assert scores["who"] == {"has_gold": True, "answers": 2, "matched": 1, "covered": True}  # deduplicated
    assert scores["what"] == {"has_gold": True, "answers": 0, "matched": 0, "covered": False}
    assert scores["when"]["has_gold"] is False


def test_quotation_counting() -> None:
    found = [ARTICLE[x.start : x.end] for x in q.find_quotations(ARTICLE)]
    assert found == [
        # unclosed: ends at the last sentence end before the next opening mark
        "We will rebuild the bridge before winter comes. Nobody will be left behind.",
        "The money is there,",
        # "a fantasy" has fewer than 4 words
        "We have heard this promise before.",
        "Wir schaffen das nicht allein",
    ]
    assert [x.paragraph for x in q.find_quotations(ARTICLE)] == [0, 0, 0, 2]
    # an unclosed quotation at the paragraph end runs to it, and stays inside its paragraph
    text = 'He said: "This is far from over and we know it\nNext paragraph has "no closing mark here either'
    assert [text[x.start : x.end] for x in q.find_quotations(text)] == [
        "This is far from over and we know it",
        "no closing mark here either",
    ]
    assert q.find_quotations('It was 5\'11" tall and "odd"') == []


def test_quote_scores_recall_and_named_near() -> None:
    kept = [
        q.KeptQuote("We have heard this promise before.", "Chidi Okafor"),  # name is near
        q.KeptQuote("“The money is there,”", "Maria Lopez"),  # matched; Lopez not in the text
        q.KeptQuote("Nobody will be left behind", "unnamed"),  # matched by containment, unnamed
        q.KeptQuote("words nobody wrote down", "Chidi Okafor"),  # not in the article
    ]
    s = q.score_quotes(ARTICLE, kept)
    assert s["quotations"] == 4
    assert (s["quotes_kept"], s["quotes_named"], s["quotes_unnamed"]) == (4, 3, 1)
    assert s["quotations_matched_named"] == 2
    assert s["quotations_matched_any"] == 3
    assert s["quotes_on_quotation"] == 3
    assert s["named_near"] == 1
    assert s["quotes_unlocated"] == 1
    assert q.surname("Chidi Okafor, a local resident") == "Okafor"
    assert not q.is_named(" Unnamed ")


def test_number_counting() -> None:
    assert q.numbers_in_text(ARTICLE) == ["6,266", "twenty-five", "two hundred and fifty"]
    assert q.numbers_in_text("At 10:30 on 9/11 one of 3.5 million, tens of thousands; G20 in 1850") == [
        "10:30",
        "9",
        "11",
        "3.5 million",
        "tens",
        "thousands",
        "1850",
    ]
    assert q.numbers_in_text("From 1999 to 2099, often") == []


def test_verbatim_check() -> None:
    text = "He said: “We  will\nwin.” Then 6,266 people left."
    start = text.index("6,266")
    checked, bad = q.not_verbatim(
        text,
        [
            ("quotes[0].text", '"We will win."'),
            ("quotes[1].text", "We shall win."),
            ("figures[0].text", None),
        ],
        [
            {"field": "key_figures[0].text", "value": "6,266", "span": {"start": start, "end": start + 5}},
            {"field": "events[0].when.text", "value": "Then", "span": {"start": start, "end": start + 5}},
            {"field": "broken", "value": "x", "span": {"start": 5, "end": 999}},
        ],
    )
    assert checked == 6
    assert bad == ["quotes[1].text", "figures[0].text", "grounding:events[0].when.text", "grounding:broken"]
    assert q.locate("we will win", text) is None  # case is kept
    assert q.locate("We will win.", text) == (text.index("We"), text.index(".”") + 1)


def test_totals_of_a_product_record() -> None:
    record = {
        "article": {"text": ARTICLE, "truncated": False},
        "summary": {
            "headline": "Mayor promises bridge",
            "events": [
                {"what": "Mayor promises bridge", "actors": ["The mayor"], "where": {"place": "Lagos"}}
            ],
            "key_figures": [{"text": "6,266"}],
            "quotes": [{"text": "We have heard this promise before.", "speaker": "Mr Okafor"}],
            "claims": [{"claimant": "Critics"}],
        },
        "grounding": [],
        "rejected": [{"reason": "not found; copy it"}, {"reason": "not found: x"}, {"reason": "other"}],
        "needs_review": True,
        "provenance": {"usage": {"prompt_tokens": 10, "completion_tokens": 5}},
    }
    row, answers = q.score_product(record, ARTICLE)
    assert answers["who"] == ["The mayor", "Mr Okafor", "Critics"]
    assert answers["what"] == ["Mayor promises bridge", "Mayor promises bridge"]
    assert row["rejected"] == {"not found": 2, "other": 1}
    assert row["not_verbatim"] == 0
    assert row["empty_brief"]  # the record has no brief line
    row = {"id": "x", **row, "seconds": 2.0, "w4": q.score_4w(answers, {"where": ["in Lagos"]})}
    t = q.totals([row, {"id": "y", "error": "boom", "quotations": 2, "seconds": 4.0, "rejected": {}}])
    assert (t["articles"], t["errors"], t["quotations"]) == (2, 1, 6)
    assert t["quote_recall"] == pytest.approx(1 / 6)
    assert t["median_seconds"] == pytest.approx(3.0)
    assert t["w4"]["where"]["coverage"] == 1.0
    assert t["w4_macro_coverage"] == 1.0
    assert t["rejected_by_reason"] == {"not found": 2, "other": 1}
    assert t["empty_brief"] == 1
    saved_before = {k: v for k, v in row.items() if k != "empty_brief"}  # results from older runs
    assert q.totals([saved_before])["empty_brief"] is None


def test_regrade_grounds_a_kept_answer_again_without_a_model(tmp_path: Path) -> None:
    """--regrade rebuilds the record from the answer a --keep-outputs run kept, with the
    current grounding: here the event's wording fails (a number of its own), and today's
    rules let the cited sentence stand in, where the kept record had no event."""
    import json

    from summarizer.articles import normalize_text
    from summarizer.units import analyse

    text = normalize_text(
        "Seven people died when a tram derailed in Croydon on Wednesday.\n\n"
        "Martin Bamford, 30, was travelling on the tram when it flipped."
    )
    devset = tmp_path / "devset"
    (devset / "articles").mkdir(parents=True)
    (devset / "articles" / "t1.json").write_text(
        json.dumps({"id": "t1", "title": "Tram crash", "text": text})
    )
    gold = {"id": "t1", "who": [], "what": ["tram derailed"], "when": ["Wednesday"], "where": ["Croydon"]}
    (devset / "gold_5w1h.jsonl").write_text(json.dumps(gold) + "\n")
    first = analyse(text).citable[0].id
    draft = {
        "headline": "Tram crash in Croydon",
        "brief": "Seven people died in Croydon.",
        "topics": ["disaster, accident and emergency incident"],
        "events": [
            {
                "sentence": first,
                "what": "Eight people died when a tram derailed in Croydon",
                "category": "disaster, accident and emergency incident",
                "modality": "reported",
            }
        ],
        "quotes": {},
        "figures": [],
    }
    kept = {
        "summary": {"headline": "Tram crash in Croydon", "events": []},
        "article": {"truncated": False},
        "provenance": {"usage": {"prompt_tokens": 900, "completion_tokens": 120}, "attempts": 3},
        q.ANSWER_KEY: {"draft": draft, "fitted_chars": len(text), "failed_validation": True},
    }
    changed = {**kept, "article": {"sha256": "0" * 64}}  # the article changed since the run
    (devset / "articles" / "t2.json").write_text(json.dumps({"id": "t2", "text": text}))
    product = [
        {"id": "t1", "seconds": 300.0, "output": kept},
        {"id": "gone", "error": "boom", "seconds": 1.0},  # a failed article is copied as it was
        {"id": "t2", "seconds": 9.0, "output": changed},
    ]
    results = {
        "run": {"label": "old", "complete": True, "endpoint": {"model": "m"}},
        "systems": {
            q.PRODUCT: {"meta": {"prompt_version": "v"}, "articles": product},
            q.BASELINE: {"meta": {"mode": "JSON_SCHEMA"}, "articles": [{"id": "t1", "seconds": 5.0}]},
        },
    }
    source, out = tmp_path / "old.json", tmp_path / "new.json"
    source.write_text(json.dumps(results))
    assert q.main([str(devset), "--regrade", str(source), "--out", str(out), "--keep-outputs"]) == 0
    regraded = json.loads(out.read_text())
    rows = regraded["systems"][q.PRODUCT]["articles"]
    assert [r["id"] for r in rows] == ["t1", "gone", "t2"] and rows[1]["error"] == "boom"
    assert rows[2] == product[2]  # changed since the run: not regraded
    assert regraded["systems"][q.BASELINE]["articles"] == results["systems"][q.BASELINE]["articles"]
    assert regraded["systems"][q.PRODUCT]["meta"] == {"prompt_version": "v"}
    assert regraded["run"]["endpoint"] == {"model": "m"}
    row = rows[0]
    assert row["events"] == 1 and row["seconds"] == 300.0 and row["completion_tokens"] == 120
    [event] = row["output"]["summary"]["events"]
    assert (
        event["what"]
        == event["evidence"]
        == "Seven people died when a tram derailed in Croydon on Wednesday."
    )
    assert event["when"]["text"] == "on Wednesday" and event["where"]["place"] == "Croydon"
    assert row["w4"]["when"]["covered"] and row["w4"]["where"]["covered"] and row["w4"]["what"]["covered"]
    assert "text" not in row["output"]["article"] and row["output"][q.ANSWER_KEY]["draft"] == draft
