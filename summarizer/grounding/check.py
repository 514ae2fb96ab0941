"""Grounding as one call: ``resolve`` runs every field's grounding over one answer, and
``GroundingCheck`` is instructor's validation hook."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from summarizer.answer import closed_choice_problems
from summarizer.canonical import canonical
from summarizer.grounding.claims import Claims
from summarizer.grounding.events import Events
from summarizer.grounding.figures import Figures
from summarizer.grounding.findings import GroundingResult
from summarizer.grounding.headline import Headline
from summarizer.grounding.quotes import Quotes
from summarizer.grounding.topics import Topics
from summarizer.schema import PointerDraft, Summary
from summarizer.units import Units


class Resolver(Quotes, Figures, Events, Claims, Headline, Topics):
    """Every field's grounding over one answer."""


def resolve(
    answer: PointerDraft,
    units: Units,
    *,
    published_at: str | None = None,
    title: str | None = None,
    lead: bool = True,
    publisher: str | None = None,
) -> GroundingResult:
    """Turn the model's pointers into a grounded ``Summary``; never raises on any text.

    ``lead``: when none of the answer's events holds, the article's lead stands in as its one
    event (the strict check asks again first). ``publisher``: the outlet the prompt names; the
    model's naming it as a source is dropped, not rejected (the dev set's "dailymail")."""
    answer = canonical_answer(answer)
    r = Resolver(units, published_at, title, lead=lead, publisher=publisher)
    quotes = r.quotes(answer)
    figures = r.figures(answer)
    events = r.labelled(r.events(answer))
    claims = r.claims(answer)
    sources = r.sources(answer)
    headline, brief = r.headline(answer, title)
    cited = [r.text[s.start : s.end] for prose in (headline, brief) for s in r.best_support(prose, 3)]
    summary = Summary(
        headline=headline,
        brief=brief,
        topics=r.topics(list(answer.topics), events, cited),
        events=events,
        key_figures=figures,
        quotes=quotes,
        claims=claims,
        sources=sources,
    )
    return GroundingResult(summary, r.grounded, r.rejected, r.notes, r.review)


def canonical_answer(answer: PointerDraft) -> PointerDraft:
    """The answer with every string canonical, as the article is (``summarizer.canonical``):
    a zero-width space in "8\u200b6,266" or a Cyrillic letter in a name cannot slip past.
    Copied, not validated again (validation is where grounding runs)."""
    copy: PointerDraft = _canonical_model(answer)
    return copy


def _canonical_model(model: Any) -> Any:
    if isinstance(model, BaseModel):
        update = {name: _canonical_model(getattr(model, name)) for name in type(model).model_fields}
        return model.model_copy(update=update)
    if isinstance(model, list):
        return [_canonical_model(v) for v in model]
    if isinstance(model, dict):
        return {_canonical_model(k): _canonical_model(v) for k, v in model.items()}
    return canonical(model) if isinstance(model, str) else model


class GroundingError(ValueError):
    """Raised inside validation so instructor re-asks with these specific problems."""


@dataclass
class GroundingCheck:
    """Validation hook. Strict: raise (so instructor re-asks) when no event survives.
    Lenient: record. Remembers its last result, so the record is built from the very grounding
    the answer passed."""

    units: Units
    strict: bool = True
    published_at: str | None = None
    title: str | None = None
    publisher: str | None = None
    _last: tuple[Any, GroundingResult] | None = field(default=None, repr=False)

    def __call__(self, answer: PointerDraft) -> None:
        outside = closed_choice_problems(answer, self.units)
        if outside:
            # What a schema error would say on an endpoint that does not constrain decoding to
            # the article's schema: asked again, strict or lenient alike.
            raise GroundingError(
                "The answer names ids or speakers the article does not offer:\n"
                + "\n".join(f"- {line}" for line in outside[:8])
            )
        result = resolve(
            answer,
            self.units,
            published_at=self.published_at,
            title=self.title,
            lead=not self.strict,
            publisher=self.publisher,
        )
        self._last = (answer, result)
        if self.strict and not result.draft.events:
            lines = [f"- {r.field}: {r.reason}" for r in result.rejected[:6]]
            raise GroundingError(
                "No event is supported by its cited sentence. Cite the sentence id that reports "
                "each event and describe it with that sentence's own names and numbers:\n" + "\n".join(lines)
            )

    def result_for(self, answer: PointerDraft) -> GroundingResult | None:
        if self._last is not None and self._last[0] is answer:
            return self._last[1]
        return None
