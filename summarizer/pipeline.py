"""The per-article pipeline, shared by ``brief`` and ``batch``.

    Article -> fit to context -> prompt -> model (instructor, re-asks with grounding errors)
            -> ground -> EventSummary

``Summarizer`` owns the endpoint for a run: with nothing configured it starts the embedded
llama.cpp server once and stops it on exit, Ctrl-C or error.
"""

from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx2

from summarizer.answer import answer_schema
from summarizer.articles import Article, load_article
from summarizer.grounding import GroundingCheck, resolve
from summarizer.injections import find_injections
from summarizer.llm import Endpoint, Extraction, ModelClient
from summarizer.local.embedded import EmbeddedServer
from summarizer.local.models import EMBEDDED_CONTEXT_WINDOW
from summarizer.prompts import RenderedPrompt, render_prompt, system_message
from summarizer.schema import (
    ArticleMeta,
    EventSummary,
    Injection,
    PointerDraft,
    Provenance,
    Usage,
)
from summarizer.settings import Settings
from summarizer.tokens import ESTIMATE, TokenCounter, counter_for, cut_to_fit, most_tokens
from summarizer.transport import CallStats
from summarizer.units import Units, analyse

REASK_MESSAGE_TOKENS = 400
ASSUMED_CONTEXT_WINDOW = 128_000  # an endpoint's, when SUMMARIZER_CONTEXT_WINDOW does not say


@functools.lru_cache(maxsize=8)
def _prompt_overhead(counter: TokenCounter) -> int:
    """Tokens of the prompt around the article (instructions, field guide, boundaries)."""
    return counter.count(" ".join(m["content"] for m in render_prompt(Article(id="x", text="")).messages))


def fit_article(
    article: Article, settings: Settings, context_window: int | None, counter: TokenCounter = ESTIMATE
) -> tuple[Article, bool]:
    """Cut the article at a paragraph boundary so prompt + answers fit the model's context.

    Re-asks resend earlier answers, so room for ``max_reasks + 1`` answers is kept.
    Returns the (possibly shorter) article and whether it was truncated; never silent.
    """
    if context_window is None:
        return article, False
    answers = settings.max_output_tokens * (settings.max_reasks + 1)
    overhead = _prompt_overhead(counter) + settings.max_reasks * REASK_MESSAGE_TOKENS
    room = context_window - answers - overhead
    if most_tokens(article.text) <= room or counter.count(article.text) <= room:
        return article, False
    if room < 200:
        from summarizer.errors import ConfigurationError

        raise ConfigurationError(
            f"a context window of {context_window} tokens leaves no room for the article; "
            "lower SUMMARIZER_MAX_OUTPUT_TOKENS or SUMMARIZER_MAX_REASKS"
        )
    return Article(**{**article.__dict__, "text": cut_to_fit(article.text, room, counter)}), True


@dataclass
class Prepared:
    """Everything about one article that is known before the model is called."""

    article: Article
    original_chars: int
    truncated: bool
    prompt: RenderedPrompt
    units: Units
    response_model: type[PointerDraft]
    schema: dict[str, Any]  # the answer's JSON Schema for this article (``answer_schema``)
    context: dict[str, Any]
    lenient: dict[str, Any]
    injections: list[Injection]  # suspected passages addressed to an AI, shown in the record

    def request(self, settings: Settings) -> dict[str, Any]:
        """Arguments of ``extract`` (sync or async client) for this article, ``stats`` aside."""
        return {
            "messages": self.prompt.messages,
            "response_model": self.response_model,
            "schema": self.schema,
            "context": self.context,
            "lenient_context": self.lenient,
            "max_tokens": settings.max_output_tokens,
        }


def prepare(article: Article, settings: Settings, endpoint: Endpoint) -> Prepared:
    fitted, truncated = fit_article(article, settings, endpoint.context_window, endpoint.tokens)
    units = analyse(fitted.text)
    if not asks_speakers(endpoint):
        units = units.without_speaker_questions()
    checks = {
        strict: GroundingCheck(
            units,
            strict=strict,
            published_at=fitted.published_at,
            title=fitted.title,
            publisher=fitted.publisher,
        )
        for strict in (True, False)
    }
    return Prepared(
        article=fitted,
        original_chars=len(article.text),
        truncated=truncated,
        prompt=render_prompt(fitted, units=units),
        units=units,
        response_model=PointerDraft,
        schema=answer_schema(units),
        context={"check": checks[reasks_on_no_event(endpoint)]},
        lenient={"check": checks[False]},
        injections=find_injections(fitted.text),  # found once with the units (cached), kept here
    )


def reasks_on_no_event(endpoint: Endpoint) -> bool:
    """Whether an answer with no event that holds is asked again (the strict check) or its
    article's lead stands in at once. On the embedded default model no such re-ask ever found
    an event: seven of seven on the dev set (stop 13 and this one) answered again with none,
    each at the cost of a whole answer (308 s against about 100 s for the article). Other
    endpoints, usually larger models, keep the re-ask."""
    return endpoint.backend != "embedded"


TRUNCATED_REVIEW = "the model saw only the first part of the article"
INJECTION_REVIEW = "a passage addressed to an AI was withheld from the model"


def review_reasons(review: list[str], prep: Prepared, injections: list[Any]) -> list[str]:
    """What the brief shows that an editor must check: grounding's reasons, a truncated
    article, a withheld passage."""
    out = list(review)
    if prep.truncated:
        out.append(TRUNCATED_REVIEW)
    if injections:
        out.append(INJECTION_REVIEW)
    return out


def asks_speakers(endpoint: Endpoint) -> bool:
    """Whether a quotation no reporting clause attributes is put to the model, with the names
    near it as choices. Not on the embedded default model: its picks were right 18 of 34 times
    on the whole dev set at 8901a46, and 3 of 7 checkable at this change (4 wrong), while the
    clauses were right 146 of 148; an unnamed speaker is a gap, a wrong one an error. Other
    endpoints, usually larger models, are asked; the brief says "the model's pick"."""
    return endpoint.backend != "embedded"


def build_record(prep: Prepared, extraction: Extraction, endpoint: Endpoint) -> EventSummary:
    answer = extraction.value
    assert isinstance(answer, PointerDraft)
    article = prep.article
    result = next(
        (r for c in (prep.context["check"], prep.lenient["check"]) if (r := c.result_for(answer))),
        None,
    ) or resolve(
        answer,
        prep.units,
        published_at=article.published_at,
        title=article.title,
        publisher=article.publisher,
    )
    injections = prep.injections
    review = review_reasons(result.review, prep, injections)
    return EventSummary(
        article=ArticleMeta(
            id=article.id,
            source_path=article.source_path,
            title=article.title,
            url=article.url,
            published_at=article.published_at,
            publisher=article.publisher,
            sha256=article.sha256,
            chars=prep.original_chars,
            truncated=prep.truncated,
            text=article.text,
        ),
        summary=result.draft,
        grounding=result.grounded,
        rejected=result.rejected,
        stats=result.stats,
        suspected_injection=injections,
        needs_review=bool(review),
        review=review,
        provenance=Provenance(
            backend=endpoint.backend,
            base_url=endpoint.base_url,
            model=endpoint.model,
            structured_output=endpoint.structured_output,
            prompt_version=prep.prompt.version,
            attempts=extraction.attempts,
            usage=Usage(**extraction.usage),
            latency_s=extraction.latency_s,
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        ),
    )


def resolve_endpoint(settings: Settings, server: EmbeddedServer | None) -> Endpoint:
    if server is not None:
        return Endpoint(
            base_url=server.base_url,
            api_key=settings.resolved_api_key(),
            model=settings.resolved_model(),
            structured_output=settings.resolved_structured_output(),
            backend="embedded",
            context_window=server.context_window or EMBEDDED_CONTEXT_WINDOW,  # what it allocated
            tokens=counter_for(None, tokenize_url=server.tokenize_url),
        )
    base_url = str(settings.base_url)
    return Endpoint(
        base_url=base_url,
        api_key=settings.resolved_api_key(),
        model=settings.resolved_model(),
        structured_output=settings.resolved_structured_output(),
        backend=urlsplit(base_url).hostname or base_url,
        # Unknown: the largest window common today, so a 2 MB paste is cut at a paragraph (and
        # says so) instead of sent whole to be refused, or billed, at 600k tokens.
        context_window=settings.context_window or ASSUMED_CONTEXT_WINDOW,
        tokens=counter_for(settings.resolved_model()),
    )


def open_endpoint(settings: Settings) -> tuple[EmbeddedServer | None, Endpoint]:
    """Where this run's requests go: the embedded server, started (blocking; its caller
    ``close``s it), or the configured endpoint. Configuration is checked before anything starts."""
    settings.resolved_model()
    settings.resolved_api_key()
    server = None
    if settings.embedded:
        server = EmbeddedServer.from_settings(settings, prefix=system_message())
        server.start()
    return server, resolve_endpoint(settings, server)


class Summarizer:
    """One run against one endpoint, synchronously: the engine's sync face (``brief``), on the
    same ``open_endpoint`` and steps. Use as a context manager; it cleans up what it started."""

    def __init__(
        self, settings: Settings | None = None, *, transport: httpx2.BaseTransport | None = None
    ) -> None:
        self.settings = settings or Settings()
        self._transport = transport
        self._stack = contextlib.ExitStack()
        self._client: ModelClient | None = None
        self.server: EmbeddedServer | None = None

    def __enter__(self) -> Summarizer:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        s = self.settings
        self.server, endpoint = open_endpoint(s)
        if self.server is not None:
            self._stack.callback(self.server.close)
        self._client = ModelClient(endpoint, s, transport=self._transport)
        self._stack.callback(self._client.close)

    @property
    def endpoint(self) -> Endpoint:
        assert self._client is not None, "use Summarizer as a context manager"
        return self._client.endpoint

    def extract(self, article: Article) -> tuple[Prepared, Extraction]:
        """The model's answer for ``article``, before grounding builds the record from it."""
        assert self._client is not None, "use Summarizer as a context manager"
        prep = prepare(article, self.settings, self.endpoint)
        extraction = self._client.extract(**prep.request(self.settings), stats=CallStats())
        if self.server is not None:
            self.server.answered()
        return prep, extraction

    def summarize(self, article: Article) -> EventSummary:
        return build_record(*self.extract(article), self.endpoint)

    def close(self) -> None:
        self._stack.close()


def summarize(source: Article | str | Path, settings: Settings | None = None) -> EventSummary:
    """Summarise one article (an ``Article`` or a path, ``-`` for stdin) into an ``EventSummary``."""
    settings = settings or Settings()
    article = source if isinstance(source, Article) else load_article(source, max_bytes=settings.max_bytes)
    with Summarizer(settings) as run:
        return run.summarize(article)
