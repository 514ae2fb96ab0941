from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from summarizer.answer import answer_model, quote_choices
from summarizer.schema import (
    SCHEMA_VERSION,
    PointerDraft,
    Summary,
    active_check,
    record_json_schema,
)
from summarizer.units import analyse

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "schemas" / "event_summary.schema.json"

MINIMAL: dict[str, Any] = {
    "headline": "Council approves tram plan",
    "brief": "The council approved it.",
    "topics": ["politics", "politics"],
    "events": [
        {
            "sentence": "S1",
            "what": "The council approved a plan.",
            "category": "politics",
            "modality": "reported",
        }
    ],
}

ARTICLE = (
    "Council approves tram plan\n\n"
    "The council approved a plan for 14 kilometres of track on Wednesday. Councillor Anna Meier "
    'spoke after the vote.\n\n"We waited ten years for this, and now it is here."'
)


def test_exported_schema_is_current() -> None:
    on_disk = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert on_disk == record_json_schema(), (
        "schemas/event_summary.schema.json is stale: run "
        "`summarizer schema > schemas/event_summary.schema.json`"
    )
    assert SCHEMA_VERSION in str(on_disk["$id"])


def test_draft_accepts_minimal_answer_and_dedupes_topics() -> None:
    draft = PointerDraft.model_validate(MINIMAL)
    assert draft.topics == ["politics"]
    assert (draft.quotes, draft.figures, draft.claims, draft.sources) == ({}, [], [], [])


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"topics": ["not a topic"]}, "topics"),
        ({"events": []}, "events"),
        ({"notes_to_user": "hi"}, "notes_to_user"),  # no free-form channel to the reader
        # v1 shapes: the model no longer copies text, it points at ids
        ({"events": [{**MINIMAL["events"][0], "evidence": "The council approved a plan."}]}, "evidence"),
        ({"quotes": [{"text": "x", "speaker": "y", "kind": "direct"}]}, "quotes"),
        ({"key_figures": [{"text": "14", "counts": "km"}]}, "key_figures"),
        ({"figures": [{"number": "N1", "counts": "km", "text": "14"}]}, "figures"),
        ({"events": [{**MINIMAL["events"][0], "modality": "rumoured"}]}, "modality"),
    ],
)
def test_draft_rejects_off_schema_answers(patch: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        PointerDraft.model_validate({**MINIMAL, **patch})
    assert field in str(info.value)


def test_validation_context_check_is_called() -> None:
    seen: list[PointerDraft] = []
    PointerDraft.model_validate(MINIMAL, context={"check": seen.append})
    assert len(seen) == 1 and seen[0].headline == MINIMAL["headline"]
    token = active_check.set(seen.append)  # how summarizer.llm hands the check over, without context=
    try:
        PointerDraft.model_validate(MINIMAL)
    finally:
        active_check.reset(token)
    assert len(seen) == 2


def test_the_answer_model_closes_every_choice_to_this_article() -> None:
    units = analyse(ARTICLE)
    model = answer_model(units)
    [q] = units.quotations
    n = units.numbers[0]  # 14 kilometres ("ten years" is N2)
    assert len(units.numbers) < 7
    good = {
        **MINIMAL,
        "events": [{**MINIMAL["events"][0], "sentence": "S2"}],
        "figures": [{"number": n.id, "counts": "kilometres of track"}],
        "quotes": {q.id: "Anna Meier"},
    }
    answer = model.model_validate(good)
    assert isinstance(answer, PointerDraft)
    assert quote_choices(answer) == {q.id: "Anna Meier"}
    bad: list[tuple[dict[str, Any], str]] = [
        ({"events": [{**MINIMAL["events"][0], "sentence": "S9"}]}, "sentence"),
        ({"figures": [{"number": "N7", "counts": "x"}]}, "number"),
        ({"quotes": {q.id: "Somebody Else"}}, q.id),  # only a name offered for it
        ({"quotes": {}}, q.id),  # every quotation must be answered
    ]
    # other keys: the schema (what constrained decoding follows) forbids them; validation drops them
    assert model.model_json_schema()["$defs"]["QuoteSpeakers"]["additionalProperties"] is False
    extra = model.model_validate({**good, "quotes": {q.id: "unnamed", "Q9": "unnamed"}})
    assert quote_choices(extra) == {q.id: "unnamed"}
    for patch, field in bad:
        with pytest.raises(ValidationError) as info:
            model.model_validate({**good, **patch})
        assert field in str(info.value), patch


def test_a_quotation_the_article_attributes_outright_is_not_asked() -> None:
    text = ARTICLE + ' "It is a good day for the city," said mayor Karl Huber.'
    units = analyse(text)
    said, pronoun = units.quotations[1], units.quotations[0]
    assert said.explicit and not said.asked and pronoun.asked
    schema = answer_model(units).model_json_schema()
    quotes = schema["$defs"]["QuoteSpeakers"]
    assert list(quotes["properties"]) == [pronoun.id] and quotes["additionalProperties"] is False
    # an endpoint that answers it anyway is not re-asked; the article's attribution decides
    answer = answer_model(units).model_validate(
        {**MINIMAL, "events": [{**MINIMAL["events"][0], "sentence": "S2"}], "figures": [],
         "quotes": {pronoun.id: "Anna Meier", said.id: "Anna Meier"}}
    )  # fmt: skip
    assert quote_choices(answer) == {pronoun.id: "Anna Meier"}


def test_an_article_without_quotations_or_numbers_takes_none() -> None:
    model = answer_model(analyse("The council met. Members talked about the park."))
    empty = {**MINIMAL, "quotes": {}, "figures": []}
    assert quote_choices(model.model_validate(empty)) == {}
    # the schema forbids keys (constrained decoding writes {}); keys sent anyway are ignored
    assert model.model_json_schema()["$defs"]["QuoteSpeakers"]["additionalProperties"] is False
    assert quote_choices(model.model_validate({**empty, "quotes": {"Q1": "unnamed"}})) == {}
    for patch in ({"figures": [{"number": "N1", "counts": "x"}]}, {"figures": None}):
        with pytest.raises(ValidationError):
            model.model_validate({**empty, **patch})
    with pytest.raises(ValidationError, match="figures"):  # figures and quotes are required
        model.model_validate(MINIMAL)


def test_stored_records_of_schema_1_still_validate() -> None:
    """v2 added ids (event.sentence, quote.id, key_figure.number) as optional fields only."""
    v1 = {
        "headline": "Council approves tram plan",
        "brief": "The council approved it.",
        "topics": ["politics"],
        "events": [
            {
                "what": "Plan approved",
                "evidence": "The council approved a plan.",
                "category": "politics",
                "modality": "reported",
            }
        ],
        "key_figures": [
            {"text": "14", "value": 14, "counts": "km of track", "source_text": "It adds 14 km of track."}
        ],
        "quotes": [{"text": "We waited ten years for this", "speaker": "Anna Meier", "kind": "direct"}],
    }
    summary = Summary.model_validate(v1)
    assert summary.events[0].sentence is None and summary.quotes[0].id is None
    assert summary.key_figures[0].number is None
