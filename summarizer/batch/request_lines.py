"""Batch API request lines: the chat request of an article as a provider's Batch API (or
``vllm run-batch``) reads it, one JSON line with ``custom_id`` = the article's ledger key, and
what a run of them would send (``--dry-run``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from summarizer.articles import Article
from summarizer.batch.keys import item_key
from summarizer.errors import ConfigurationError
from summarizer.inputs import InputItem, Loaded
from summarizer.llm import Endpoint
from summarizer.llm.forms import Call, wire_model
from summarizer.pipeline import prepare, resolve_endpoint
from summarizer.schema import PointerDraft
from summarizer.settings import Settings
from summarizer.tokens import counter_for

CHAT_URL = "/v1/chat/completions"
# ``--export``/``--import`` without ``--base-url``: no server to re-ask; answers are checked as
# they are (nothing is sent here unless a cut-off answer asks for a longer one, which then fails).
OFFLINE_URL = "http://vllm-run-batch.invalid/v1"  # .invalid: never resolves (RFC 2606)


def batch_endpoint(settings: Settings) -> Endpoint:
    """The provider's endpoint: answers in the ``json_schema`` form, the one Batch APIs take."""
    if settings.embedded:
        raise ConfigurationError(
            "--via batch-api needs a provider: pass --base-url (and --api-key) of an endpoint with "
            "a Batch API (OpenAI, Azure OpenAI, Groq, Together), or use --export for vllm run-batch"
        )
    return _json_schema(settings, resolve_endpoint(settings, None))


def file_endpoint(settings: Settings) -> Endpoint:
    """The endpoint of ``--export``/``--import``: ``--base-url`` for re-asks if given, else none."""
    if not settings.embedded:
        return batch_endpoint(settings)
    model = settings.model
    if not model:
        raise ConfigurationError(
            "--export/--import need --model: the name vllm run-batch serves (e.g. "
            "Qwen/Qwen2.5-7B-Instruct); it is part of every article's key"
        )
    endpoint = Endpoint(
        base_url=OFFLINE_URL,
        api_key="no-key",
        model=model,
        structured_output="json_schema",
        backend="vllm-run-batch.invalid",
        context_window=settings.context_window,
        tokens=counter_for(model),
    )
    return _json_schema(settings, endpoint)


def _json_schema(settings: Settings, endpoint: Endpoint) -> Endpoint:
    form = settings.resolved_structured_output() if not settings.embedded else "json_schema"
    if not settings.structured_output_auto and form != "json_schema":
        raise ConfigurationError(
            f"Batch API requests carry json_schema answers; drop --structured-output {form} "
            "or use --via local"
        )
    endpoint.structured_output = "json_schema"
    return endpoint


def as_sent(settings: Settings, endpoint: Endpoint) -> Settings:
    """The settings an engine needs to check (and re-ask) answers to these request lines: the
    ``json_schema`` form they were sent in (auto would pick ``tools`` for OpenAI, and read a
    stored answer as one without a tool call), and, with no endpoint to re-ask, none."""
    update: dict[str, Any] = {"structured_output": "json_schema"}
    if settings.embedded:  # --import without --base-url: nowhere to re-ask
        update.update(max_reasks=0, base_url=endpoint.base_url, api_key=endpoint.api_key)
    return settings.model_copy(update=update)


def request_line(key: str, body: dict[str, Any]) -> bytes:
    return orjson.dumps({"custom_id": key, "method": "POST", "url": CHAT_URL, "body": body})


class RequestBodies:
    """The chat request of an article, as a Batch API line carries it."""

    def __init__(self, settings: Settings, endpoint: Endpoint) -> None:
        self.settings = settings
        self.endpoint = endpoint
        self._call = Call(endpoint, settings)
        self._model = wire_model(PointerDraft)

    def body(self, article: Article) -> dict[str, Any]:
        prep = prepare(article, self.settings, self.endpoint)
        budget = self.settings.max_output_tokens
        return self._call.body(prep.prompt.messages, self._model, budget, prep.schema)


def estimate_requests(
    items: Iterable[InputItem], settings: Settings, endpoint: Endpoint, max_requests: int, max_bytes: int
) -> dict[str, Any]:
    """``--via batch-api --dry-run``: the request lines a run would upload, counted (each one
    built as it would be sent), and the files they fill."""
    bodies = RequestBodies(settings, endpoint)
    counter = endpoint.tokens
    articles = tokens = files = in_file = size = total = 0
    keys: set[str] = set()
    loaded = Loaded(items)
    for article in loaded:
        articles += 1
        key = item_key(article.text, endpoint.model)
        if key in keys:
            continue
        keys.add(key)
        body = bodies.body(article)
        line = len(request_line(key, body)) + 1
        if not files or in_file >= max_requests or size + line > max_bytes:
            files, in_file, size = files + 1, 0, 0
        in_file, size, total = in_file + 1, size + line, total + line
        tokens += sum(counter.count(m["content"]) for m in body["messages"])
    bad = loaded.unreadable
    return {"articles": articles, "unreadable": bad, "requests": len(keys), "files": files, "bytes": total,
            "prompt_tokens": tokens, "counted_by": counter.name,
            "completion_tokens_max": len(keys) * settings.max_output_tokens}  # fmt: skip
