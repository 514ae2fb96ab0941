"""Structured-output forms: which form each request takes (tools, JSON schema, llama.cpp's
``json_object`` or grammar), the endpoint's form shared by a run (``StructuredOutputState``),
and the request's arguments in that form (``Call``)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextvars import ContextVar
from typing import Any, TypeVar

import httpx2
import instructor
import openai
import orjson
from instructor.v2.providers.openai.schema import generate_openai_schema
from pydantic import BaseModel

from summarizer.errors import ConfigurationError
from summarizer.llm.replies import Endpoint
from summarizer.settings import Settings, StructuredOutput
from summarizer.transport import RetryPolicy, refuses_structured_output

T = TypeVar("T", bound=BaseModel)
log = logging.getLogger(__name__)

MODES: dict[StructuredOutput, instructor.Mode] = {
    "tools": instructor.Mode.TOOLS,
    "json_schema": instructor.Mode.JSON_SCHEMA,
    # llama.cpp: instructor's JSON_SCHEMA handling (no schema pasted into the prompt), with the
    # request's response_format replaced in ``Call.kwargs`` by the form llama.cpp accepts.
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
# llguidance (llama.cpp's grammar engine for JSON schemas): JSON on one line, so the model cannot
# spend tokens on indentation; the answer parses the same. The separators are Python's
# json.dumps default (", " and ": "), the one-line form models have read most: with bare "," and
# ":" the 1.5B model lost its way on the seed (one figure of six, a Chinese word, an event twice;
# see CHANGELOG), with these it kept all six figures.
_COMPACT_JSON = {"whitespace_flexible": False, "item_separator": ", ", "key_separator": ": "}
# Sampling other than the run's for the requests made in this context: (temperature, seed). The
# desk's "regenerate" sets it, so the model can answer differently from its first, greedy answer.
sampling: ContextVar[tuple[float, int] | None] = ContextVar("summarizer_sampling", default=None)


def compact_grammar(schema: dict[str, Any]) -> str:
    """``schema`` as a llama.cpp llguidance grammar that admits compact JSON only."""
    return "%llguidance {}\nstart: %json " + orjson.dumps({**schema, "x-guidance": _COMPACT_JSON}).decode()


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


class FormChanged(Exception):
    """A request shaped for a form the endpoint refused meanwhile (another request found out
    first): it is not sent; the loop shapes it again in the endpoint's current form."""


def refusal(exc: BaseException | None) -> openai.APIStatusError | None:
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
    old form meanwhile are not sent (``FormChanged``). Once settled, no lock is taken; a refusal
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
            raise FormChanged(f"not sent: {self.endpoint.base_url} refused {form}; now {self.form}")
        try:
            yield
        except Exception as exc:  # Ctrl-C or a cancelled task teaches nothing
            self._learn(form, refused=refusal(exc) is not None)
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


class Call:
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
        schema: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """instructor's arguments for one request in ``form``. ``schema``, when given, is the
        answer's JSON Schema on the wire in place of ``response_model``'s own (which instructor
        writes into the request; ``extra_body`` keys replace the request's keys of that name)."""
        kw: dict[str, Any] = {
            "model": self.endpoint.model,
            "messages": messages,
            "response_model": response_model,
            "max_retries": self.settings.max_reasks,
            "max_tokens": max_tokens,
        }
        temperature, seed = sampling.get() or (self.settings.temperature, self.settings.seed)
        kw["temperature"] = temperature
        if seed is not None:
            kw["seed"] = seed
        if schema is None and form in ("json_schema", "tools"):
            return kw  # instructor writes the model's own schema
        wire = schema if schema is not None else response_model.model_json_schema()
        if form == "json_object":
            # llama.cpp constrains decoding to this schema; plain json_object would not.
            kw["extra_body"] = {"response_format": {"type": "json_object", "schema": wire}}
        elif form == "grammar":
            # llama.cpp takes a grammar or a response_format, never both: the null drops the
            # response_format instructor set (the server reads null as absent).
            kw["extra_body"] = {"response_format": None, "grammar": compact_grammar(wire)}
        elif form == "json_schema":
            kw["extra_body"] = {
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": response_model.__name__, "schema": wire},
                }
            }
        else:  # tools: instructor's function for the model, with these parameters
            function = {**generate_openai_schema(response_model), "parameters": _parameters(wire)}
            kw["extra_body"] = {"tools": [{"type": "function", "function": function}]}
        return kw

    def body(
        self,
        messages: list[dict[str, str]],
        response_model: type[BaseModel],
        max_tokens: int,
        schema: dict[str, Any],
    ) -> dict[str, Any]:
        """The JSON body of one chat request in the ``json_schema`` form, as a Batch API line
        carries it: the request the sync path sends through instructor, written out."""
        kw = self.kwargs(messages, response_model, max_tokens, "json_schema", schema)
        sent = {k: v for k, v in kw.items() if k not in ("response_model", "max_retries", "extra_body")}
        return {**sent, **kw["extra_body"]}


def untyped(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The SDK's arguments with what it would only walk and send as it is moved to
    ``extra_body``: keys ``extra_body`` replaces anyway (instructor's copy of the schema), and
    the messages (the SDK's typed transform walks every message, about a millisecond an
    article, to send the same JSON). The body on the wire is the same object."""
    extra = dict(kwargs.get("extra_body") or {})
    out = {k: v for k, v in kwargs.items() if k not in extra}
    if isinstance(out.get("messages"), list):
        extra["messages"], out["messages"] = out["messages"], []
    out["extra_body"] = extra
    return out


def _parameters(schema: dict[str, Any]) -> dict[str, Any]:
    """A JSON Schema as a tool's parameters, the way instructor writes them."""
    out = {k: v for k, v in schema.items() if k not in ("title", "description")}
    out["required"] = sorted(schema.get("required", []))
    return out
