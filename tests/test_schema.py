from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from summarizer.answer import answer_schema, closed_choice_problems, quote_choices, validate_answer
from summarizer.grounding.check import GroundingCheck, GroundingError, resolve
from summarizer.llm import wire_model
from summarizer.schema import (
    SCHEMA_VERSION,
    PointerDraft,
    Summary,
    active_check,
    record_json_schema,
)
from summarizer.units import analyse
from tests.support.reference_answer import answer_model as reference_answer_model

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


def test_the_answer_is_held_to_every_choice_of_this_article() -> None:
    units = analyse(ARTICLE)
    [q] = units.quotations
    n = units.numbers[0]  # 14 kilometres ("ten years" is N2)
    assert len(units.numbers) < 7
    good = {
        **MINIMAL,
        "events": [{**MINIMAL["events"][0], "sentence": "S2"}],
        "figures": [n.id],
        "quotes": {q.id: "Anna Meier"},
    }
    answer = validate_answer(good, units)
    assert isinstance(answer, PointerDraft)
    assert quote_choices(answer) == {q.id: "Anna Meier"}
    bad: list[tuple[dict[str, Any], str]] = [
        ({"events": [{**MINIMAL["events"][0], "sentence": "S9"}]}, "events[0].sentence: 'S9'"),
        ({"claims": [{"statement": "x", "sentence": "S99", "claimant": "x", "status": "claimed"}]},
         "claims[0].sentence: 'S99'"),
        ({"figures": ["N7"]}, "figures[0]: 'N7'"),
        ({"quotes": {q.id: "Somebody Else"}}, f"quotes.{q.id}: 'Somebody Else' is not one of"),
        ({"quotes": {}}, f"quotes.{q.id}: required"),  # every quotation asked must be answered
    ]  # fmt: skip
    # other keys: the schema (what constrained decoding follows) forbids them; grounding ignores them
    assert answer_schema(units)["$defs"]["QuoteSpeakers"]["additionalProperties"] is False
    extra = validate_answer({**good, "quotes": {q.id: "unnamed", "Q9": "unnamed"}}, units)
    assert [r for r in resolve(extra, units).rejected if r.field.startswith("quotes")] == []
    for patch, problem in bad:
        assert problem in "\n".join(
            closed_choice_problems(PointerDraft.model_validate({**good, **patch}), units)
        )
        with pytest.raises(ValueError, match=re.escape(problem)):
            validate_answer({**good, **patch}, units)
    # inside a model call the same problems are a re-ask, strict or lenient
    for strict in (True, False):
        with pytest.raises(GroundingError, match="does not offer"):
            GroundingCheck(units, strict=strict)(PointerDraft.model_validate({**good, **bad[0][0]}))


def test_answers_stored_under_prompt_v4_still_validate_with_their_figures_as_ids() -> None:
    # Records and ledgers keep the model's answer; up to summarize-v4 a figure was an object
    # with the model's own words for what it counts. Regrading them reads the ids only.
    units = analyse(ARTICLE)
    n = units.numbers[0]
    base = {**MINIMAL, "events": [{**MINIMAL["events"][0], "sentence": "S2"}],
            "quotes": {q.id: "unnamed" for q in units.quotations if q.asked}}  # fmt: skip
    old = validate_answer({**base, "figures": [{"number": n.id, "counts": "anything at all"}]}, units)
    assert old.figures == [n.id] == validate_answer({**base, "figures": [n.id]}, units).figures
    with pytest.raises(ValidationError):  # any other object is no figure
        PointerDraft.model_validate({**base, "figures": [{"number": n.id, "counts": "x", "value": 14}]})


def test_a_quotation_the_article_attributes_outright_is_not_asked() -> None:
    text = ARTICLE + ' "It is a good day for the city," said mayor Karl Huber.'
    units = analyse(text)
    said, pronoun = units.quotations[1], units.quotations[0]
    assert said.explicit and not said.asked and pronoun.asked
    schema = answer_schema(units)
    quotes = schema["$defs"]["QuoteSpeakers"]
    assert list(quotes["properties"]) == [pronoun.id] and quotes["additionalProperties"] is False
    # an endpoint that answers it anyway is not re-asked; the article's attribution decides,
    # and a pick that contradicts it is rejected
    answer = validate_answer(
        {**MINIMAL, "events": [{**MINIMAL["events"][0], "sentence": "S2"}], "figures": [],
         "quotes": {pronoun.id: "Anna Meier", said.id: "Anna Meier"}},
        units,
    )  # fmt: skip
    result = resolve(answer, units)
    assert [q.speaker for q in result.draft.quotes] == ["Anna Meier", "Karl Huber"]
    assert [r.field for r in result.rejected if r.field.startswith("quotes")] == [f"quotes.{said.id}"]


def test_an_article_without_quotations_or_numbers_takes_none() -> None:
    units = analyse("The council met. Members talked about the park.")
    empty = {**MINIMAL, "quotes": {}, "figures": []}
    assert quote_choices(validate_answer(empty, units)) == {}
    # the schema forbids keys (constrained decoding writes {}); keys sent anyway are ignored
    schema = answer_schema(units)
    assert schema["$defs"]["QuoteSpeakers"]["additionalProperties"] is False
    assert schema["properties"]["figures"]["maxItems"] == 0
    ignored = resolve(validate_answer({**empty, "quotes": {"Q1": "Anna"}}, units), units)
    assert ignored.draft.quotes == [] and not [r for r in ignored.rejected if r.field.startswith("quotes")]
    with pytest.raises(ValueError, match="not a number id"):
        validate_answer({**empty, "figures": ["N1"]}, units)
    with pytest.raises(ValidationError):
        validate_answer({**empty, "figures": None}, units)
    with pytest.raises(ValueError, match="figures: required"):  # figures and quotes are required
        validate_answer(MINIMAL, units)
    assert schema["required"] == ["headline", "brief", "topics", "figures", "quotes", "events"]


def test_the_answer_asks_no_time_words_and_two_events_yet_stored_answers_of_v5_still_validate() -> None:
    """Prompt v6: our code reads an event's time words, and a third event rarely held; answers
    up to summarize-v5 (in records and ledgers) wrote up to three events, each with `when`."""
    units = analyse(ARTICLE)
    schema = answer_schema(units)
    event = schema["$defs"]["EventPick"]["properties"]
    assert "when" not in event and "where" in event
    assert schema["properties"]["events"]["maxItems"] == 2
    old = {**MINIMAL, "quotes": {}, "figures": []}
    old["events"] = [{**old["events"][0], "when": "on Friday"}] * 3
    stored = PointerDraft.model_validate(old)
    assert [e.when for e in stored.events] == ["on Friday"] * 3


@pytest.mark.parametrize(
    "text",
    [
        ARTICLE,
        ARTICLE + ' "It is a good day," said mayor Karl Huber.',
        "One line.",
        "",
        "The council met. Members talked about the park.",
    ],
)
def test_the_written_schema_is_the_one_pydantic_gives_the_per_article_model(text: str) -> None:
    """The schema is written as data (fast); pydantic's per-article model is the oracle, so a
    field changed in summarizer.schema cannot leave the wire schema behind."""
    for units in (analyse(text), analyse(text).without_speaker_questions()):
        oracle = wire_model(reference_answer_model(units)).model_json_schema()
        assert answer_schema(units) == oracle


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
