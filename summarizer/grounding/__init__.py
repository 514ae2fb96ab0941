"""Grounding v2: the model's pointers become a record whose every quoted word is the article's.

``resolve(answer, units)`` is pure and deterministic. Ids become text and spans copied from
our own offsets (so quotes, figures and evidence are verbatim by construction); the model's
choices are checked (ids exist and are citable, speakers are offered names, explicit reporting
patterns win over a different choice); the model's prose is held to what it cites
(``summarizer.prose``); names and time words must be words of the cited sentence or its
paragraph. What fails is left out and listed in ``rejected`` with field, value and reason.

``GroundingCheck`` is the validation hook: strict, it raises only when an answer is useless
(no event survives), which instructor turns into a re-ask; lenient, it records. Re-asks cost a
full answer on a CPU, so they are kept for answers worth nothing.

One room a field, each a mixin over ``findings.Findings`` (the result being built and the helpers
that find a cited sentence and its support): ``quotes``, ``figures``, ``labels`` (when, where),
``events``, ``claims`` (and sources), ``headline`` (and the brief), ``topics``; ``check`` puts them together
as ``Resolver`` and holds ``resolve`` and ``GroundingCheck``.
"""

from __future__ import annotations

from summarizer.grounding.check import GroundingCheck, GroundingError, canonical_answer, resolve
from summarizer.grounding.findings import GroundingResult, whole

__all__ = ["GroundingCheck", "GroundingError", "GroundingResult", "canonical_answer", "resolve", "whole"]
