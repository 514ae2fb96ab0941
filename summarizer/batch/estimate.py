"""``--dry-run``: what a batch would send, counted without any model."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from summarizer.inputs import InputItem, Loaded
from summarizer.settings import Settings
from summarizer.tokens import counter_for


def estimate(items: Iterable[InputItem], settings: Settings) -> dict[str, Any]:
    """``--dry-run``: count articles and prompt tokens without calling any model or starting the
    embedded one (its tokenizer is the server's: the estimate stands in for it)."""
    from summarizer.prompts import render_prompt

    counter = counter_for(None if settings.embedded else settings.resolved_model())
    loaded = Loaded(items)
    articles = tokens = 0
    for article in loaded:
        articles += 1
        tokens += sum(counter.count(m["content"]) for m in render_prompt(article).messages)
    bad = loaded.unreadable
    return {"articles": articles, "unreadable": bad, "prompt_tokens": tokens, "counted_by": counter.name,
            "completion_tokens_max": articles * settings.max_output_tokens}  # fmt: skip
