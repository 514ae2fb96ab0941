"""What comes back from the endpoint: the endpoint's description, a validated answer with
its cost, token usage, terminal answers (``guard``) and the one-line errors that name the fix."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import openai
from instructor.core.exceptions import IncompleteOutputException
from pydantic import BaseModel

from summarizer.errors import (
    AuthenticationError,
    EndpointError,
    ModelResponseError,
    SummarizerError,
)
from summarizer.settings import StructuredOutput
from summarizer.tokens import ESTIMATE, TokenCounter


@dataclass
class Endpoint:
    """Where requests go, resolved from settings (and the embedded server's port).

    ``structured_output`` is the form in use: in ``auto`` mode the client moves it on when the
    server refuses a form, so a record's provenance names the form that was really used.
    """

    base_url: str
    api_key: str
    model: str
    structured_output: StructuredOutput
    backend: str
    context_window: int | None
    tokens: TokenCounter = ESTIMATE  # the model's tokenizer where at hand (tokens.counter_for)


@dataclass
class Extraction:
    """A validated model answer with what it cost."""

    value: BaseModel
    usage: dict[str, int]
    attempts: int
    latency_s: float
    request_ids: list[str] = field(default_factory=list)
    failed_validation: bool = False
    structured_output: StructuredOutput | None = None  # the form of the answer's request


_USAGE_KEYS = ("prompt_tokens", "completion_tokens", "total_tokens", "cached_tokens")


def usage_dict(usage: Any) -> dict[str, int]:
    """Token counts of an OpenAI usage object; ``cached_tokens`` are prompt tokens the server
    did not evaluate again (a reused prefix), from ``prompt_tokens_details``."""
    out = dict.fromkeys(_USAGE_KEYS, 0)
    for key in out:
        value = getattr(usage, key, None)
        if isinstance(value, int):
            out[key] = value
    cached = getattr(getattr(usage, "prompt_tokens_details", None), "cached_tokens", None)
    if isinstance(cached, int):
        out["cached_tokens"] = cached
    return out


def add_usage(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    return {k: a.get(k, 0) + b.get(k, 0) for k in _USAGE_KEYS}


def guard(response: Any) -> Any:
    """Terminal answers that a re-ask would only repeat (and pay for) again."""
    choices = getattr(response, "choices", None)
    if not choices:
        raise ModelResponseError(
            "the endpoint returned no choices; check the model name and server logs",
            usage=usage_dict(getattr(response, "usage", None)),
        )
    choice = choices[0]
    if choice.finish_reason == "content_filter":
        raise ModelResponseError(
            "the endpoint's content filter blocked the answer; this article needs a human",
            usage=usage_dict(getattr(response, "usage", None)),
        )
    refusal = getattr(choice.message, "refusal", None)
    if refusal:
        raise ModelResponseError(
            f"the model refused: {refusal[:200]}; this article needs a human",
            usage=usage_dict(getattr(response, "usage", None)),
        )
    _repair_control_characters(choice.message)
    return response


def _repair_control_characters(message: Any) -> None:
    """Re-encode JSON whose strings hold raw newlines or tabs.

    llama.cpp's schema grammar lets raw control characters into strings, which strict JSON
    (and so pydantic) refuses; Python's lenient decoder reads them, and re-encoding escapes
    them. Anything else that fails to parse is left alone for validation and re-asks.
    """
    text = message.content
    if not isinstance(text, str):
        return
    try:
        json.loads(text)
    except ValueError:
        try:
            message.content = json.dumps(json.loads(text, strict=False), ensure_ascii=False)
        except ValueError:
            return


def completion_text(response: Any) -> str | None:
    """The structured payload of a raw completion, whichever mode produced it."""
    try:
        message = response.choices[0].message
    except (AttributeError, IndexError):
        return None
    calls = getattr(message, "tool_calls", None)
    if calls:
        return str(calls[0].function.arguments)
    return message.content if isinstance(message.content, str) else None


def map_error(exc: BaseException, endpoint: Endpoint) -> SummarizerError:
    """Turn SDK/transport errors into our one-line errors that name the fix."""
    if isinstance(exc, SummarizerError):
        return exc
    where = endpoint.base_url
    rid = getattr(exc, "request_id", None)
    if isinstance(exc, openai.AuthenticationError):
        return AuthenticationError(
            f"{where} rejected the API key (401): pass the right --api-key or set OPENAI_API_KEY",
            request_id=rid,
        )
    if isinstance(exc, openai.APITimeoutError):
        return EndpointError(
            f"{where} did not answer in time after retries; raise SUMMARIZER_TIMEOUT or check the server"
        )
    if isinstance(exc, openai.APIConnectionError):
        return EndpointError(
            f"cannot reach {where}: connection failed after retries; check --base-url / "
            "OPENAI_BASE_URL and that the server is running"
        )
    if isinstance(exc, openai.RateLimitError):
        return EndpointError(
            f"{where} kept answering 429 (rate limited) after retries; lower --concurrency "
            "or --rpm, or try later",
            request_id=rid,
        )
    if isinstance(exc, openai.NotFoundError):
        return EndpointError(
            f"{where} answered 404 for model '{endpoint.model}'; check --model / SUMMARIZER_MODEL",
            request_id=rid,
        )
    if isinstance(exc, openai.APIStatusError):
        detail = " ".join(str(exc.message).split())[:200]
        hint = (
            "the server failed; try again later"
            if exc.status_code >= 500
            else "the request was refused; try --structured-output json_object or another model"
        )
        return EndpointError(f"{where} answered {exc.status_code}: {detail}; {hint}", request_id=rid)
    if isinstance(exc, IncompleteOutputException):
        return ModelResponseError(
            "the model's answer was cut off at the output limit; raise "
            "SUMMARIZER_MAX_OUTPUT_TOKENS or use a model with a larger context"
        )
    return ModelResponseError(f"unexpected model error: {type(exc).__name__}: {exc}")
