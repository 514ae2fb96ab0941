from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from summarizer.schema import SCHEMA_VERSION, SummaryDraft, record_json_schema

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "schemas" / "event_summary.schema.json"

MINIMAL = {
    "headline": "Council approves tram plan",
    "brief": "The council approved it.",
    "topics": ["politics", "politics"],
    "events": [
        {
            "what": "The council approved a plan.",
            "evidence": "The council approved a plan.",
            "category": "politics",
            "modality": "reported",
        }
    ],
}


def test_exported_schema_is_current() -> None:
    on_disk = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert on_disk == record_json_schema(), (
        "schemas/event_summary.schema.json is stale: run "
        "`summarizer schema > schemas/event_summary.schema.json`"
    )
    assert SCHEMA_VERSION in str(on_disk["$id"])


def test_draft_accepts_minimal_answer_and_dedupes_topics() -> None:
    draft = SummaryDraft.model_validate(MINIMAL)
    assert draft.topics == ["politics"]
    assert draft.quotes == []


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"topics": ["not a topic"]}, "topics"),
        ({"events": []}, "events"),
        ({"notes_to_user": "hi"}, "notes_to_user"),  # no free-form channel to the reader
        ({"quotes": [{"text": "x", "speaker": "y", "kind": "shouted"}]}, "quotes"),
    ],
)
def test_draft_rejects_off_schema_answers(patch: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        SummaryDraft.model_validate({**MINIMAL, **patch})
    assert field in str(info.value)


def test_validation_context_check_is_called() -> None:
    seen: list[SummaryDraft] = []
    SummaryDraft.model_validate(MINIMAL, context={"check": seen.append})
    assert len(seen) == 1 and seen[0].headline == MINIMAL["headline"]
