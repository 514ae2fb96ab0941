"""The one model path: the openai SDK wrapped by instructor, pointed at a base URL.

Layers, each owning one concern (see docs/ARCHITECTURE.md §4 "Retries"):
- ``transport.RetryingTransport``: 429 / 408 / 409 / 5xx / timeouts, with tenacity;
- the SDK: ``max_retries=0``, so it never retries on its own;
- instructor: re-asks after schema or grounding validation errors, at most ``max_reasks`` times;
- ``_guard`` below: refusals, content filters and empty ``choices`` are terminal, not re-asked;
- ``StructuredOutputState``: which structured-output form the endpoint accepts (detected once
  per endpoint in ``auto`` mode, shared by every request of a run).

A ``finish_reason == "length"`` answer is retried once with a doubled output budget when the
context has room, never with the same request.

One extraction loop serves both clients: ``_Run.steps`` is a generator that yields each call to
make and is sent its answer (or thrown its error); ``ModelClient`` and ``AsyncModelClient`` only
differ in how they make the call (a plain call, or an ``await``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Generator, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import httpx2
import instructor
import openai
import orjson
from instructor.core.exceptions import IncompleteOutputException, InstructorRetryException
from pydantic import BaseModel, ValidationError

from summarizer import instructor_shims
from summarizer.errors import (
    AuthenticationError,
    ConfigurationError,
    EndpointError,
    ModelResponseError,
    SummarizerError,
)
from summarizer.schema import active_check
from summarizer.settings import Settings, StructuredOutput
from summarizer.tokens import ESTIMATE, TokenCounter
from summarizer.transport import (
    AsyncRetryingTransport,
    CallStats,
    Gate,
    RetryingTransport,
    RetryPolicy,
    Throttle,
    current_stats,
    refuses_structured_output,
)

T = TypeVar("T", bound=BaseModel)
R = TypeVar("R")
instructor_shims.apply()
log = logging.getLogger("summarizer")

_MODES: dict[StructuredOutput, instructor.Mode] = {
    "tools": instructor.Mode.TOOLS,
    "json_schema": instructor.Mode.JSON_SCHEMA,
    # llama.cpp: instructor's JSON_SCHEMA handling (no schema pasted into the prompt), with the
    # request's response_format replaced in ``_Call.kwargs`` by the form llama.cpp accepts.
    "json_object": instructor.Mode.JSON_SCHEMA,
    # llama.cpp's own server: the schema as a compact grammar (``compact_grammar``) in the
    # request's ``grammar`` field instead of ``response_format``; instructor parses the content.
    "grammar": instructor.Mode.JSON_SCHEMA,
}
# ``auto`` mode: the form to try after the server refused one (tools, the last, has none).
_FALLBACK: dict[StructuredOutput, StructuredOutput] = {
    "grammar": "json_schema",
    "json_schema": "json_object",
    "json_object": "tools",
}
# A forced form the server refused: the form the one-line error suggests instead.
_SUGGEST: dict[StructuredOutput, StructuredOutput] = {"grammar": "json_schema", "json_schema": "json_object"}
# llguidance (llama.cpp's grammar engine for JSON schemas): no whitespace between tokens, so the
# model cannot pretty-print; the answer parses the same.
_COMPACT_JSON = {"whitespace_flexible": False, "item_separator": ",", "key_separator": ":"}


def compact_grammar(schema: dict[str, Any]) -> str:
    """``schema`` as a llama.cpp llguidance grammar that admits compact JSON only."""
    return "%llguidance {}\nstart: %json " + orjson.dumps({**schema, "x-guidance": _COMPACT_JSON}).decode()


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


def _usage_dict(usage: Any) -> dict[str, int]:
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


def _add_usage(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    return {k: a.get(k, 0) + b.get(k, 0) for k in _USAGE_KEYS}


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


@functools.lru_cache(maxsize=64)  # per-article answer models (v2): bounded, never grows with a batch
def wire_model(model: type[T]) -> type[T]:
    """``model`` prepared for instructor once, not on every request.

    instructor wraps a plain pydantic model into its ``OpenAISchema`` with ``create_model`` and
    regenerates its JSON Schema on every call: for our nested schema that is most of the
    client's CPU per article. A class that already is an ``OpenAISchema`` is used as is, and
    its schema is computed once here (returned as a fresh copy, so callers may mutate it).
    """
    wrapped = instructor.openai_schema(model)
    generate = wrapped.model_json_schema
    frozen = orjson.dumps(generate())

    def model_json_schema(cls: type[BaseModel], *args: Any, **kwargs: Any) -> dict[str, Any]:
        if args or kwargs:
            return generate(*args, **kwargs)
        schema: dict[str, Any] = orjson.loads(frozen)
        return schema

    wrapped.model_json_schema = classmethod(model_json_schema)  # type: ignore[method-assign,assignment]
    return wrapped


class _FormChanged(Exception):
    """A request shaped for a form the endpoint refused meanwhile (another request found out
    first): it is not sent; the loop shapes it again in the endpoint's current form."""


def _refusal(exc: BaseException | None) -> openai.APIStatusError | None:
    """``exc`` if it is the server refusing the request's structured-output form."""
    if not isinstance(exc, openai.APIStatusError):
        return None
    try:
        body = exc.response.text
    except httpx2.ResponseNotRead:
        body = f"{exc.message} {exc.body}"
    return exc if refuses_structured_output(exc.status_code, body) else None


def _notice(message: str) -> None:
    log.warning("summarizer: %s", message)


class StructuredOutputState:
    """The structured-output form of one endpoint, shared by every request of a run.

    Forced by the user (``--structured-output``): fixed, and a refusal is a configuration error
    naming the fix. In ``auto`` mode the form is detected once: until a request in the current
    form has had an outcome other than a refusal (an answer, or another error, which says nothing
    against the form), requests go one at a time, so a batch's concurrent workers pay for one
    refused request, not one each. A refusal (``transport.refuses_structured_output``) moves to
    the next form of ``_FALLBACK`` and says so once through ``notify``; requests shaped for the
    old form meanwhile are not sent (``_FormChanged``). Once settled, no lock is taken; a refusal
    even then (a server swapped behind a load balancer) still moves on.

    One sync lock or one asyncio lock guards the probing, depending on the client; a state
    belongs to one client, so the two never mix.
    """

    def __init__(
        self, endpoint: Endpoint, *, auto: bool, notify: Callable[[str], None] | None = None
    ) -> None:
        self.endpoint = endpoint
        self.auto = auto
        self.settled = not auto
        self.refused_forms: list[StructuredOutput] = []  # in the order the endpoint refused them
        self._notify = notify or _notice
        self._mutex = threading.Lock()  # state changes only; never held across a request
        self._probe = threading.Lock()
        self._aprobe = asyncio.Lock()

    @property
    def form(self) -> StructuredOutput:
        return self.endpoint.structured_output

    @contextlib.contextmanager
    def gate(self) -> Iterator[None]:
        """Around one request of the sync client: one at a time while the form is not settled."""
        if not self.settled:
            with self._probe:
                if not self.settled:
                    yield
                    return
        yield  # settled (perhaps while waiting): no lock, requests run side by side

    @contextlib.asynccontextmanager
    async def agate(self) -> AsyncIterator[None]:
        """Around one request of the async client: one at a time while the form is not settled."""
        if not self.settled:
            async with self._aprobe:
                if not self.settled:
                    yield
                    return
        yield  # settled (perhaps while waiting): no lock, requests run side by side

    @contextlib.contextmanager
    def observe(self, form: StructuredOutput) -> Iterator[None]:
        """Around one request shaped for ``form``: learn from its outcome."""
        if form != self.form:
            raise _FormChanged(f"not sent: {self.endpoint.base_url} refused {form}; now {self.form}")
        try:
            yield
        except Exception as exc:  # Ctrl-C or a cancelled task teaches nothing
            self._learn(form, refused=_refusal(exc) is not None)
            raise
        self._learn(form, refused=False)

    def _learn(self, form: StructuredOutput, *, refused: bool) -> None:
        with self._mutex:
            if form != self.form:
                return  # another request moved on already
            if not refused:
                self.settled = True
                return
            after = _FALLBACK.get(form) if self.auto else None
            if after is None:
                return  # nowhere to go: the loop makes it a configuration error
            self.refused_forms.append(form)
            self.endpoint.structured_output, self.settled = after, False
        self._notify(f"{form} refused by {self.endpoint.base_url}; using {after}")

    def refusal_error(self, form: StructuredOutput, exc: openai.APIStatusError) -> ConfigurationError:
        """The one-line error for a refusal with no form left to try."""
        where = self.endpoint.base_url
        detail = f"HTTP {exc.status_code}: {' '.join(str(exc.message).split())[:160]}"
        if not self.auto:
            instead = _SUGGEST.get(form, "json_schema")
            return ConfigurationError(
                f"{where} refused --structured-output {form} ({detail}); use "
                f"--structured-output {instead} or auto (SUMMARIZER_STRUCTURED_OUTPUT)"
            )
        tried = ", ".join([*self.refused_forms, form])
        return ConfigurationError(
            f"{where} refused every structured-output form it was offered ({tried}; {detail}); "
            "it cannot hold answers to a schema: use another server or model (--base-url/--model)"
        )


class _Call:
    """Request shaping shared by the sync and async clients."""

    def __init__(
        self, endpoint: Endpoint, settings: Settings, notify: Callable[[str], None] | None = None
    ) -> None:
        self.endpoint = endpoint
        self.settings = settings
        self.forms = StructuredOutputState(endpoint, auto=settings.structured_output_auto, notify=notify)
        self.policy = RetryPolicy(max_retries=settings.max_retries, max_wait=settings.max_retry_wait)
        self.timeout = httpx2.Timeout(settings.timeout, connect=settings.connect_timeout)

    def kwargs(
        self,
        messages: list[dict[str, str]],
        response_model: type[BaseModel],
        max_tokens: int,
        form: StructuredOutput,
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
        if form == "json_object":
            # llama.cpp constrains decoding to this schema; plain json_object would not.
            kw["extra_body"] = {
                "response_format": {"type": "json_object", "schema": response_model.model_json_schema()}
            }
        elif form == "grammar":
            # llama.cpp takes a grammar or a response_format, never both: the null drops the
            # response_format instructor set (the server reads null as absent).
            grammar = compact_grammar(response_model.model_json_schema())
            kw["extra_body"] = {"response_format": None, "grammar": grammar}
        return kw


@dataclass
class _Request:
    """One call the extraction loop wants made: instructor's arguments, in one form."""

    form: StructuredOutput
    kwargs: dict[str, Any]


class _Run:
    """One extraction: the loop (``steps``) and its state: budget, usage, outcome."""

    def __init__(
        self,
        call: _Call,
        *,
        messages: list[dict[str, str]],
        response_model: type[BaseModel],
        lenient_context: dict[str, Any] | None,
        max_tokens: int,
        stats: CallStats,
    ) -> None:
        self.call = call
        self.messages = messages
        self.response_model = wire_model(response_model)
        self.lenient_context = lenient_context
        self.budget = max_tokens
        self.widened = False  # docs/ARCHITECTURE.md §4: one retry, larger budget, after "length"
        self.stats = stats
        self.usage: dict[str, int] = {}
        self.form: StructuredOutput = call.forms.form
        self.started = time.monotonic()
        self._steps = self.steps()

    def steps(self) -> Generator[_Request, Any, Extraction]:
        """The extraction loop: yields each call to make; is sent its answer, or thrown its error."""
        while True:
            self.form = self.call.forms.form
            try:
                value = yield _Request(self.form, self.kwargs())
            except IncompleteOutputException as exc:
                self.truncated(exc)
            except InstructorRetryException as exc:
                if not self.switched(exc.__cause__, exc.total_usage):
                    return self.exhausted(exc)
            except (openai.OpenAIError, httpx2.HTTPError, _FormChanged) as exc:
                if not self.switched(exc, None):
                    raise self.failed(exc) from None
            else:
                return self.done(value)

    def first(self) -> _Request:
        return next(self._steps)

    def resume(self, answer: Any, error: Exception | None) -> _Request | Extraction:
        """Hand the loop the outcome of its last call: the next call, or the extraction."""
        try:
            return self._steps.send(answer) if error is None else self._steps.throw(error)
        except StopIteration as stop:
            result: Extraction = stop.value
            return result

    @contextlib.contextmanager
    def bound(self, context: dict[str, Any] | None) -> Iterator[None]:
        """Bind this run's ``stats`` (the transport counts requests into it) and its
        validation check (never passed to instructor as ``context``: see ``active_check``)."""
        token = current_stats.set(self.stats)
        check = active_check.set((context or {}).get("check"))
        try:
            yield
        finally:
            active_check.reset(check)
            current_stats.reset(token)

    def kwargs(self) -> dict[str, Any]:
        return self.call.kwargs(self.messages, self.response_model, self.budget, self.form)

    def fail(self, err: SummarizerError) -> SummarizerError:
        err.attempts, err.usage = self.stats.requests, self.usage
        err.request_id = err.request_id or (self.stats.request_ids[-1] if self.stats.request_ids else None)
        return err

    def switched(self, exc: BaseException | None, usage: Any) -> bool:
        """True to go again because the endpoint's form changed; a refusal with no form left to
        try is a configuration error; anything else is for the caller (False)."""
        refused = _refusal(exc)
        if not isinstance(exc, _FormChanged) and refused is None:
            return False
        self.usage = _add_usage(self.usage, _usage_dict(usage))
        if refused is not None and self.call.forms.form == self.form:
            raise self.fail(self.call.forms.refusal_error(self.form, refused)) from None
        return True

    def truncated(self, exc: IncompleteOutputException) -> None:
        """Widen the output budget once if the context has room; otherwise fail."""
        self.usage = _add_usage(self.usage, _usage_dict(getattr(exc.last_completion, "usage", None)))
        wanted = self.budget * 2
        window = self.call.endpoint.context_window
        if window is not None:
            # The retry resends our own messages; instructor's usage is a running total over
            # re-asks, so estimate the prompt from the messages themselves.
            prompt = sum(self.call.endpoint.tokens.count(m["content"]) for m in self.messages)
            wanted = min(wanted, window - prompt)
        if self.widened or wanted <= self.budget:
            raise self.fail(map_error(exc, self.call.endpoint)) from None
        self.budget, self.widened = wanted, True

    def failed(self, exc: BaseException) -> SummarizerError:
        # A Ctrl-C that lands inside a lazy import comes back wrapped (Python turns it into
        # "RuntimeError: Error calling __set_name__ ..."): it is still the user's Ctrl-C.
        cause: BaseException | None = exc
        while cause is not None:
            if isinstance(cause, KeyboardInterrupt):
                raise cause
            cause = cause.__cause__ or cause.__context__
        return self.fail(map_error(exc, self.call.endpoint))

    def done(self, value: Any, *, failed_validation: bool = False) -> Extraction:
        self.usage = _add_usage(self.usage, _usage_dict(getattr(value, "_total_usage", None)))
        return Extraction(
            value=value,
            usage=self.usage,
            attempts=self.stats.requests,
            latency_s=round(time.monotonic() - self.started, 3),
            request_ids=list(self.stats.request_ids),
            failed_validation=failed_validation,
            structured_output=self.form,
        )

    def exhausted(self, exc: InstructorRetryException) -> Extraction:
        """Re-asks spent: keep the last answer if only grounding failed, else fail."""
        self.usage = _add_usage(self.usage, _usage_dict(exc.total_usage))
        cause = exc.__cause__
        if cause is not None and not isinstance(cause, Exception):
            raise cause  # Ctrl-C or SystemExit inside a call: never turn it into a model error
        if isinstance(cause, SummarizerError):
            self.usage = _add_usage(self.usage, cause.usage)
        if not isinstance(cause, ValidationError | ValueError):
            raise self.failed(cause or exc) from None
        text = completion_text(exc.last_completion)
        if text is not None and self.lenient_context is not None:
            try:
                value = self.response_model.model_validate_json(text, context=self.lenient_context)
            except ValidationError:
                pass
            else:
                return self.done(value, failed_validation=True)
        first = str(cause).strip().splitlines()
        raise self.fail(
            ModelResponseError(
                f"the model's answer did not fit the schema after {exc.n_attempts} attempts "
                f"({first[0] if first else type(cause).__name__}); use a stronger model "
                "(--base-url/--model)"
            )
        ) from None


def _outcome(create: Callable[..., Any], kwargs: dict[str, Any]) -> tuple[Any, Exception | None]:
    try:
        return create(**kwargs), None
    except Exception as exc:  # handed to the loop, which decides (Ctrl-C is not an Exception)
        return None, exc


async def _aoutcome(
    create: Callable[..., Awaitable[Any]], kwargs: dict[str, Any]
) -> tuple[Any, Exception | None]:
    try:
        return await create(**kwargs), None
    except Exception as exc:  # handed to the loop, which decides (Ctrl-C is not an Exception)
        return None, exc


class _Client(Generic[R]):
    """What the sync and async clients share. ``R`` is what ``extract`` returns: an
    ``Extraction``, or a coroutine of one."""

    def __init__(self, endpoint: Endpoint, settings: Settings, notify: Callable[[str], None] | None) -> None:
        self._call = _Call(endpoint, settings, notify)
        self._creates: dict[StructuredOutput, Callable[..., Any]] = {}

    @property
    def endpoint(self) -> Endpoint:
        return self._call.endpoint

    def _create(self, form: StructuredOutput) -> Callable[..., Any]:
        """instructor's patched create for ``form`` (instructor's mode differs per form)."""
        if form not in self._creates:
            self._creates[form] = instructor.patch(create=self._send(form), mode=_MODES[form])
        return self._creates[form]

    def _send(self, form: StructuredOutput) -> Callable[..., Any]:
        raise NotImplementedError

    def _drive(self, run: _Run, context: dict[str, Any] | None) -> R:
        raise NotImplementedError

    def extract(
        self,
        messages: list[dict[str, str]],
        response_model: type[T],
        *,
        context: dict[str, Any] | None = None,
        lenient_context: dict[str, Any] | None = None,
        max_tokens: int,
        stats: CallStats,
    ) -> R:
        """One structured extraction (awaitable on ``AsyncModelClient``)."""
        run = _Run(
            self._call,
            messages=messages,
            response_model=response_model,
            lenient_context=lenient_context,
            max_tokens=max_tokens,
            stats=stats,
        )
        return self._drive(run, context)


class ModelClient(_Client[Extraction]):
    """Synchronous client: one structured extraction per call."""

    def __init__(
        self,
        endpoint: Endpoint,
        settings: Settings,
        *,
        transport: httpx2.BaseTransport | None = None,
        notify: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(endpoint, settings, notify)
        http = httpx2.Client(
            transport=RetryingTransport(transport or httpx2.HTTPTransport(), self._call.policy),
            timeout=self._call.timeout,
        )
        self._sdk = openai.OpenAI(
            base_url=endpoint.base_url, api_key=endpoint.api_key, max_retries=0, http_client=http
        )

    def _send(self, form: StructuredOutput) -> Callable[..., Any]:
        forms, sdk = self._call.forms, self._sdk

        def create(*args: Any, **kwargs: Any) -> Any:
            with forms.gate(), forms.observe(form):
                response = sdk.chat.completions.create(*args, **kwargs)
            return _guard(response)

        return create

    def _drive(self, run: _Run, context: dict[str, Any] | None) -> Extraction:
        with run.bound(context):
            step: _Request | Extraction = run.first()
            while isinstance(step, _Request):
                step = run.resume(*_outcome(self._create(step.form), step.kwargs))
            return step

    def close(self) -> None:
        self._sdk.close()


class AsyncModelClient(_Client[Coroutine[Any, Any, Extraction]]):
    """Asynchronous client for the batch runner (AsyncOpenAI + instructor), same loop."""

    def __init__(
        self,
        endpoint: Endpoint,
        settings: Settings,
        *,
        transport: httpx2.AsyncBaseTransport | None = None,
        throttle: Throttle | None = None,
        gate: Gate | None = None,
        max_connections: int = 100,
        notify: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(endpoint, settings, notify)
        limits = httpx2.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        inner = transport or httpx2.AsyncHTTPTransport(limits=limits)
        http = httpx2.AsyncClient(
            transport=AsyncRetryingTransport(inner, self._call.policy, throttle, gate),
            timeout=self._call.timeout,
        )
        self._sdk = openai.AsyncOpenAI(
            base_url=endpoint.base_url, api_key=endpoint.api_key, max_retries=0, http_client=http
        )

    def _send(self, form: StructuredOutput) -> Callable[..., Awaitable[Any]]:
        forms, sdk = self._call.forms, self._sdk

        async def create(*args: Any, **kwargs: Any) -> Any:
            async with forms.agate():
                with forms.observe(form):
                    response = await sdk.chat.completions.create(*args, **kwargs)
            return _guard(response)

        return create

    async def _drive(self, run: _Run, context: dict[str, Any] | None) -> Extraction:
        with run.bound(context):
            step: _Request | Extraction = run.first()
            while isinstance(step, _Request):
                step = run.resume(*await _aoutcome(self._create(step.form), step.kwargs))
            return step

    async def aclose(self) -> None:
        await self._sdk.close()
