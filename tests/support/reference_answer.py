"""The per-article answer as pydantic models: the oracle that ``summarizer.answer.answer_schema``
is compared with (tests/test_answer_schema.py). The product writes the schema as data instead
(building these models cost ~4.5 ms of client CPU per article); if a field of
``summarizer.schema`` changes, this is the form pydantic gives it, and the test says where the
written schema drifted."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field, create_model

from summarizer.answer import MAX_EVENTS
from summarizer.schema import ClaimPick, EventPick, PointerDraft
from summarizer.units import Units


def _enum(values: tuple[str, ...]) -> Any:
    return Literal[values]


def answer_model(units: Units) -> type[PointerDraft]:
    """``PointerDraft`` for this article, every id and speaker a closed choice.

    ``figures`` and ``quotes`` are required (possibly empty): llama.cpp's grammar lets a model
    skip optional properties, and these are the items an editor checks first."""
    sids = tuple(s.id for s in units.citable) or ("S1",)
    ids = _enum(sids)
    event = create_model(
        "EventPick",
        __base__=EventPick,
        sentence=(ids, Field(description=EventPick.model_fields["sentence"].description)),
    )
    claim = create_model(
        "ClaimPick",
        __base__=ClaimPick,
        sentence=(ids, Field(description=ClaimPick.model_fields["sentence"].description)),
    )
    fields: dict[str, Any] = {
        "events": (list[event], Field(min_length=1, max_length=MAX_EVENTS)),
        "claims": (list[claim], Field(default_factory=list, max_length=3)),
    }
    if units.numbers:
        fields["figures"] = (list[_enum(tuple(n.id for n in units.numbers))], Field(max_length=6))
    else:
        fields["figures"] = (list[str], Field(max_length=0))
    asked = [q for q in units.quotations if q.asked]
    if asked:
        speakers: dict[str, Any] = {q.id: (_enum(q.candidates), ...) for q in asked}
        # The schema forbids other keys (constrained decoding writes only these); an
        # unconstrained endpoint that also answers a quotation we did not ask about is ignored,
        # not re-asked: the article's own "X said" decides those.
        config = ConfigDict(extra="ignore", json_schema_extra={"additionalProperties": False})
        quotes = create_model("QuoteSpeakers", __config__=config, **speakers)
        fields["quotes"] = (quotes, ...)
    else:
        # No quotation to ask about: an object with no keys. The schema forbids keys, so constrained decoding
        # writes {}; what an unconstrained endpoint adds anyway is ignored, not a re-ask.
        none = create_model(
            "QuoteSpeakers",
            __config__=ConfigDict(extra="ignore", json_schema_extra={"additionalProperties": False}),
        )
        fields["quotes"] = (none, ...)
    return create_model("PointerDraft", __base__=PointerDraft, **fields)
