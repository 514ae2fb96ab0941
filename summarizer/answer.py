"""The model's answer for one article: validated by the static ``PointerDraft``, asked for with
a JSON Schema written for the article (``answer_schema``), and held to that article's closed
choices (``closed_choice_problems``).

Sentence ids are the article's citable sentences (withheld passages left out), number ids its
numbers, and ``quotes`` an object with one required key per quotation whose value is one of
the names offered for it or "unnamed". Sent as a JSON Schema (``json_schema`` structured
output), llama.cpp and OpenAI turn it into a grammar, so an answer cannot name an id that does
not exist or a speaker the article does not name near the quotation. An endpoint that does not
constrain decoding is held to the same choices by ``closed_choice_problems``: an answer outside
them is asked again, as a schema error would be. The number of events is not such a choice: the
schema asks for at most ``MAX_EVENTS``, and a third event from such an endpoint is kept, as in
answers stored up to summarize-v5 (a re-ask would pay for a whole answer). The field guide in
the prompt comes from the static ``PointerDraft``, so the instructions stay a stable prefix.

The schema is data written on a template computed once, not a pydantic model per article:
building and wiring four models for each article cost about 4.5 ms of client CPU, most of what
a batch spent per article. ``tests/support/reference_answer.py`` keeps the pydantic form as the
oracle the tests compare this schema with.
"""

from __future__ import annotations

import functools
from typing import Any

import orjson

from summarizer.schema import PointerDraft
from summarizer.units import Units

# The fields every answer must write, though the static model has defaults for them:
# llama.cpp's grammar lets a model skip optional properties, and these are the items an editor
# checks first.
REQUIRED = ("figures", "quotes")
# Events an answer may give (the static model takes up to 3, as answers up to summarize-v5
# wrote): on the dev set a third event held to its sentence in 3 of 32 answers, at ~60 tokens.
MAX_EVENTS = 2
# Array fields whose per-article items are the article's own picks: their schema is the item
# type and the bounds, without the static field's description (the prompt's field guide has it).
_PICKS = ("figures", "events", "claims")
_DEF_PICKS = {"EventPick": "sentence", "ClaimPick": "sentence"}


@functools.cache
def _template() -> bytes:
    """``PointerDraft``'s JSON Schema in the per-article shape, ids still open."""
    schema = PointerDraft.model_json_schema()
    schema.pop("description", None)
    for name in _DEF_PICKS:
        schema["$defs"][name].pop("description", None)
    props = schema["properties"]
    for name in _PICKS:
        props[name].pop("description", None)
    props["quotes"] = {"$ref": "#/$defs/QuoteSpeakers"}
    props["events"]["maxItems"] = MAX_EVENTS
    schema["required"] = [k for k in props if k in schema["required"] or k in REQUIRED]
    return orjson.dumps(schema)


def _choice(prop: dict[str, Any], values: tuple[str, ...]) -> None:
    """Narrow a string property to ``values`` (pydantic's form of a ``Literal``)."""
    if len(values) == 1:
        prop["const"] = values[0]
    else:
        prop["enum"] = list(values)


def answer_schema(units: Units) -> dict[str, Any]:
    """The JSON Schema of an answer for this article: every id and speaker a closed choice."""
    schema: dict[str, Any] = orjson.loads(_template())
    defs, props = schema["$defs"], schema["properties"]
    sids = tuple(s.id for s in units.citable) or ("S1",)
    _choice(defs["EventPick"]["properties"]["sentence"], sids)
    _choice(defs["ClaimPick"]["properties"]["sentence"], sids)
    if units.numbers:
        _choice(props["figures"]["items"], tuple(n.id for n in units.numbers))
    else:
        props["figures"]["maxItems"] = 0
    speakers: dict[str, Any] = {}
    for q in units.quotations:
        if q.asked:
            speakers[q.id] = {"title": q.id.title(), "type": "string"}
            _choice(speakers[q.id], q.candidates)
    # The schema forbids other keys (constrained decoding writes only these); what an
    # unconstrained endpoint says of a quotation we did not ask about is not re-asked: the
    # article's own attribution stands (``grounding.quotes``).
    quotes: dict[str, Any] = {"additionalProperties": False, "properties": speakers}
    if speakers:
        quotes["required"] = list(speakers)
    defs["QuoteSpeakers"] = {**quotes, "title": "QuoteSpeakers", "type": "object"}
    return schema


def closed_choice_problems(answer: PointerDraft, units: Units) -> list[str]:
    """Where ``answer`` steps outside the article's choices: an id it does not have, a
    speaker not offered for a quotation it was asked about, a required field left out."""
    sids = {s.id for s in units.citable} or {"S1"}
    nids = {n.id for n in units.numbers}
    out = [f"{name}: required" for name in REQUIRED if name not in answer.model_fields_set]
    cited = [("events", k, p.sentence) for k, p in enumerate(answer.events)]
    cited += [("claims", k, p.sentence) for k, p in enumerate(answer.claims)]
    out += [
        f"{f}[{k}].sentence: {sid!r} is not a sentence id of the article"
        for f, k, sid in cited
        if sid not in sids
    ]
    out += [
        f"figures[{k}]: {nid!r} is not a number id of the article"
        for k, nid in enumerate(answer.figures)
        if nid not in nids
    ]
    given = quote_choices(answer)
    for q in units.quotations:
        if not q.asked:
            continue
        if q.id not in given:
            out.append(f"quotes.{q.id}: required")
        elif given[q.id] not in q.candidates:
            offered = ", ".join(repr(c) for c in q.candidates)
            out.append(f"quotes.{q.id}: {given[q.id]!r} is not one of {offered}")
    return out


def quote_choices(answer: PointerDraft) -> dict[str, str]:
    """The answer's quotation -> speaker map, every key as written. Grounding takes a pick
    only for a quotation put to the model; one that contradicts the article's own clause is
    rejected (an unconstrained endpoint may write keys the schema did not offer)."""
    return {str(k): str(v) for k, v in answer.quotes.items()}


def validate_answer(data: Any, units: Units) -> PointerDraft:
    """``data`` as an answer for this article, held to its closed choices: what validation
    does inside a model call, grounding aside (regrading stored answers, tests)."""
    answer = PointerDraft.model_validate(data)
    outside = closed_choice_problems(answer, units)
    if outside:
        raise ValueError("; ".join(outside))
    return answer
