"""Records for rendering tests, built the way the pipeline builds them, from a hand-written
v2 answer (ids and choices, as a model would send them) instead of a model call.

``record_for`` runs the real ``prepare`` (units, prompt, per-article answer model) and
``build_record`` (grounding, injections, provenance); only the model's answer is hand-written,
and it must fit the article's own answer model, as a constrained model's answer would.
"""

from __future__ import annotations

from typing import Any

from summarizer.articles import Article
from summarizer.llm import Endpoint, Extraction
from summarizer.pipeline import build_record, prepare
from summarizer.schema import EventSummary
from summarizer.settings import Settings

USAGE = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}


def record_for(
    article: Article,
    answer: dict[str, Any],
    *,
    backend: str = "test",
    model: str = "hand-written",
    attempts: int = 1,
    latency_s: float = 1.5,
) -> EventSummary:
    """The record the pipeline makes of ``article`` when the model answers ``answer``."""
    endpoint = Endpoint(
        base_url="http://127.0.0.1:1/v1",
        api_key="none",
        model=model,
        structured_output="json_schema",
        backend=backend,
        context_window=None,
    )
    prep = prepare(article, Settings(), endpoint)
    value = prep.response_model.model_validate({"figures": [], "quotes": {}, **answer})
    extraction = Extraction(value=value, usage=dict(USAGE), attempts=attempts, latency_s=latency_s)
    return build_record(prep, extraction, endpoint)
