"""The one model path: the openai SDK wrapped by instructor, pointed at a base URL.

Layers, each owning one concern (see DESIGN.md "Retries"):
- ``transport.RetryingTransport``: 429 / 408 / 409 / 5xx / timeouts, with tenacity;
- the SDK: ``max_retries=0``, so it never retries on its own;
- instructor: re-asks after schema or grounding validation errors, at most ``max_reasks`` times;
- ``_guard`` below: refusals, content filters and empty ``choices`` are terminal, not re-asked.

A ``finish_reason == "length"`` answer is retried once with a doubled output budget when the
context has room, never with the same request.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx2
import instructor
import openai
from instructor.core.exceptions import IncompleteOutputException, InstructorRetryException
from pydantic import BaseModel, ValidationError

from summarizer.errors import (
    AuthenticationError,
    EndpointError,
    ModelResponseError,
    SummarizerError,
)
from summarizer.settings import Settings, StructuredOutput
from summarizer.transport import (
    AsyncRetryingTransport,
    CallStats,
    RetryingTransport,
    RetryPolicy,
    Throttle,
)

T = TypeVar("T", bound=BaseModel)

_MODES: dict[StructuredOutput, instructor.Mode] = {
    "tools": instructor.Mode.TOOLS,
    "json_schema": instructor.Mode.JSON_SCHEMA,
    # llama.cpp: instructor's JSON_SCHEMA handling (no schema pasted into the prompt), with the
    # request's response_format replaced in ``_Call.kwargs`` by the form llama.cpp accepts.
    "json_object": instructor.Mode.JSON_SCHEMA,
}


@dataclass
class Endpoint:
    """Where requests go, resolved from settings (and the embedded server's port)."""

    base_url: str
    api_key: str
    model: str
    structured_output: StructuredOutput
    backend: str
    context_window: int | None


@dataclass
class Extraction:
    """A validated model answer with what it cost."""

    value: BaseModel
    usage: dict[str, int]
    attempts: int
    latency_s: float
    request_ids: list[str] = field(default_factory=list)
    failed_validation: bool = False


def _usage_dict(usage: Any) -> dict[str, int]:
    out = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    for key in out:
        value = getattr(usage, key, None)
        if isinstance(value, int):
            out[key] = value
    return out


def _add_usage(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    return {k: a.get(k, 0) + b.get(k, 0) for k in ("prompt_tokens", "completion_tokens", "total_tokens")}


def _guard(response: Any) -> Any:
    """Terminal answers that a re-ask would only repeat (and pay for) again."""
    choices = getattr(response, "choices", None)
    if not choices:
        raise ModelResponseError(
            "the endpoint returned no choices; check the model name and server logs",
            usage=_usage_dict(getattr(response, "usage", None)),
        )
    choice = choices[0]
    if choice.finish_reason == "content_filter":
        raise ModelResponseError(
            "the endpoint's content filter blocked the answer; this article needs a human",
            usage=_usage_dict(getattr(response, "usage", None)),
        )
    refusal = getattr(choice.message, "refusal", None)
    if refusal:
        raise ModelResponseError(
            f"the model refused: {refusal[:200]}; this article needs a human",
            usage=_usage_dict(getattr(response, "usage", None)),
        )
    return response


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


class _Call:
    """Request shaping shared by the sync and async clients."""

    def __init__(self, endpoint: Endpoint, settings: Settings) -> None:
        self.endpoint = endpoint
        self.settings = settings
        self.mode = _MODES[endpoint.structured_output]
        self.policy = RetryPolicy(max_retries=settings.max_retries, max_wait=settings.max_retry_wait)
        self.timeout = httpx2.Timeout(settings.timeout, connect=settings.connect_timeout)

    def kwargs(
        self, messages: list[dict[str, str]], response_model: type[BaseModel], max_tokens: int
    ) -> dict[str, Any]:
        kw: dict[str, Any] = {
            "model": self.endpoint.model,
            "messages": messages,
            "response_model": response_model,
            "max_retries": self.settings.max_reasks,
            "max_tokens": max_tokens,
            "temperature": self.settings.temperature,
        }
        if self.settings.seed is not None:
            kw["seed"] = self.settings.seed
        if self.endpoint.structured_output == "json_object":
            # llama.cpp constrains decoding to this schema; plain json_object would not.
            kw["extra_body"] = {
                "response_format": {
                    "type": "json_object",
                    "schema": response_model.model_json_schema(),
                }
            }
        return kw

    def bigger_budget(self, max_tokens: int, prompt_tokens: int) -> int | None:
        """The one retry after truncation: double the budget if the context has room."""
        wanted = max_tokens * 2
        window = self.endpoint.context_window
        if window is not None and prompt_tokens + wanted > window:
            wanted = window - prompt_tokens
        return wanted if wanted > max_tokens else None

    def finish(self, value: Any, stats: CallStats, started: float, usage: dict[str, int]) -> Extraction:
        usage = _add_usage(usage, _usage_dict(getattr(value, "_total_usage", None)))
        return Extraction(
            value=value,
            usage=usage,
            attempts=stats.requests,
            latency_s=round(time.monotonic() - started, 3),
            request_ids=list(stats.request_ids),
        )

    def salvage(
        self,
        exc: InstructorRetryException,
        *,
        response_model: type[T],
        lenient_context: dict[str, Any] | None,
        stats: CallStats,
        started: float,
        usage: dict[str, int],
    ) -> Extraction:
        """Re-asks exhausted: keep the last answer if only grounding failed, else fail."""
        usage = _add_usage(usage, _usage_dict(exc.total_usage))
        cause = exc.__cause__
        if isinstance(cause, SummarizerError):
            usage = _add_usage(usage, cause.usage)
        if not isinstance(cause, ValidationError | ValueError):
            err = map_error(cause or exc, self.endpoint)
        else:
            text = completion_text(exc.last_completion)
            if text is not None and lenient_context is not None:
                try:
                    value = response_model.model_validate_json(text, context=lenient_context)
                except ValidationError:
                    pass
                else:
                    out = self.finish(value, stats, started, usage)
                    out.failed_validation = True
                    return out
            first = str(cause).strip().splitlines()
            err = ModelResponseError(
                f"the model's answer did not fit the schema after {exc.n_attempts} attempts "
                f"({first[0] if first else type(cause).__name__}); use a stronger model "
                "(--base-url/--model)"
            )
        err.attempts, err.usage = stats.requests, usage
        err.request_id = err.request_id or (stats.request_ids[-1] if stats.request_ids else None)
        return _raise(err)


def _raise(err: SummarizerError) -> Extraction:
    raise err


class ModelClient:
    """Synchronous client: one structured extraction per call."""

    def __init__(
        self,
        endpoint: Endpoint,
        settings: Settings,
        *,
        transport: httpx2.BaseTransport | None = None,
    ) -> None:
        self._call = _Call(endpoint, settings)
        http = httpx2.Client(
            transport=RetryingTransport(transport or httpx2.HTTPTransport(), self._call.policy),
            timeout=self._call.timeout,
        )
        self._sdk = openai.OpenAI(
            base_url=endpoint.base_url, api_key=endpoint.api_key, max_retries=0, http_client=http
        )
        sdk = self._sdk

        def create(*args: Any, **kwargs: Any) -> Any:
            return _guard(sdk.chat.completions.create(*args, **kwargs))

        self._create: Callable[..., Any] = instructor.patch(create=create, mode=self._call.mode)

    @property
    def endpoint(self) -> Endpoint:
        return self._call.endpoint

    def extract(
        self,
        messages: list[dict[str, str]],
        response_model: type[T],
        *,
        context: dict[str, Any] | None = None,
        lenient_context: dict[str, Any] | None = None,
        max_tokens: int,
        stats: CallStats,
    ) -> Extraction:
        started = time.monotonic()
        usage: dict[str, int] = {}
        budget: int | None = max_tokens
        while budget is not None:
            kw = self._call.kwargs(messages, response_model, budget)
            try:
                value = self._create(context=context, **kw)
            except IncompleteOutputException as exc:
                last = _usage_dict(getattr(exc.last_completion, "usage", None))
                usage = _add_usage(usage, last)
                budget = self._call.bigger_budget(budget, last["prompt_tokens"])
                if budget is None:
                    err = map_error(exc, self.endpoint)
                    err.attempts, err.usage = stats.requests, usage
                    raise err from None
                continue
            except InstructorRetryException as exc:
                return self._call.salvage(
                    exc,
                    response_model=response_model,
                    lenient_context=lenient_context,
                    stats=stats,
                    started=started,
                    usage=usage,
                )
            except (openai.OpenAIError, httpx2.HTTPError) as exc:
                err = map_error(exc, self.endpoint)
                err.attempts, err.usage = stats.requests, usage
                raise err from None
            return self._call.finish(value, stats, started, usage)
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        self._sdk.close()


class AsyncModelClient:
    """Asynchronous twin of ``ModelClient`` for the batch runner (AsyncOpenAI + instructor)."""

    def __init__(
        self,
        endpoint: Endpoint,
        settings: Settings,
        *,
        transport: httpx2.AsyncBaseTransport | None = None,
        throttle: Throttle | None = None,
        max_connections: int = 100,
    ) -> None:
        self._call = _Call(endpoint, settings)
        limits = httpx2.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        inner = transport or httpx2.AsyncHTTPTransport(limits=limits)
        http = httpx2.AsyncClient(
            transport=AsyncRetryingTransport(inner, self._call.policy, throttle),
            timeout=self._call.timeout,
        )
        self._sdk = openai.AsyncOpenAI(
            base_url=endpoint.base_url, api_key=endpoint.api_key, max_retries=0, http_client=http
        )
        sdk = self._sdk

        async def create(*args: Any, **kwargs: Any) -> Any:
            return _guard(await sdk.chat.completions.create(*args, **kwargs))

        self._create: Callable[..., Awaitable[Any]] = instructor.patch(create=create, mode=self._call.mode)

    @property
    def endpoint(self) -> Endpoint:
        return self._call.endpoint

    async def extract(
        self,
        messages: list[dict[str, str]],
        response_model: type[T],
        *,
        context: dict[str, Any] | None = None,
        lenient_context: dict[str, Any] | None = None,
        max_tokens: int,
        stats: CallStats,
    ) -> Extraction:
        started = time.monotonic()
        usage: dict[str, int] = {}
        budget: int | None = max_tokens
        while budget is not None:
            kw = self._call.kwargs(messages, response_model, budget)
            try:
                value = await self._create(context=context, **kw)
            except IncompleteOutputException as exc:
                last = _usage_dict(getattr(exc.last_completion, "usage", None))
                usage = _add_usage(usage, last)
                budget = self._call.bigger_budget(budget, last["prompt_tokens"])
                if budget is None:
                    err = map_error(exc, self.endpoint)
                    err.attempts, err.usage = stats.requests, usage
                    raise err from None
                continue
            except InstructorRetryException as exc:
                return self._call.salvage(
                    exc,
                    response_model=response_model,
                    lenient_context=lenient_context,
                    stats=stats,
                    started=started,
                    usage=usage,
                )
            except (openai.OpenAIError, httpx2.HTTPError) as exc:
                err = map_error(exc, self.endpoint)
                err.attempts, err.usage = stats.requests, usage
                raise err from None
            return self._call.finish(value, stats, started, usage)
        raise AssertionError("unreachable")  # pragma: no cover

    async def aclose(self) -> None:
        await self._sdk.close()
