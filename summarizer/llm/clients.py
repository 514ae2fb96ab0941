"""The sync and async clients: the openai SDK (no retries of its own) over our retrying
transport, wrapped by instructor per form; both drive the one loop of ``summarizer.llm.loop``."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Generic, Protocol, TypeVar

import httpx2
import instructor
import openai
from pydantic import BaseModel

from summarizer.llm.forms import MODES, Call, untyped
from summarizer.llm.loop import Request, Run
from summarizer.llm.replies import Endpoint, Extraction, guard
from summarizer.settings import Settings, StructuredOutput
from summarizer.transport import AsyncRetryingTransport, CallStats, Gate, RetryingTransport, Throttle

T = TypeVar("T", bound=BaseModel)
R = TypeVar("R")

# An answer the model gave already (a Batch API output line): the extraction's first call
# takes it instead of a request; re-asks after it are real calls. Per task, never shared.
_answered: ContextVar[list[Any] | None] = ContextVar("summarizer_answered", default=None)


@contextmanager
def _answered_first(answer: Any) -> Iterator[None]:
    token = _answered.set(None if answer is None else [answer])
    try:
        yield
    finally:
        _answered.reset(token)


class Keeper(Protocol):
    """Told of each call before it is sent, and given each answer (the raw ``ChatCompletion``)
    before anything checks it: the desk keeps both, so a stop or kill loses neither the count
    of calls made nor an answer paid for."""

    async def sending(self) -> None: ...

    async def received(self, response: Any) -> None: ...


keeper: ContextVar[Keeper | None] = ContextVar("summarizer_keeper", default=None)


def _take_answered() -> Any:
    """The stored answer for this extraction's first call, once; None: make the call."""
    waiting = _answered.get()
    return waiting.pop() if waiting else None


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
        self._call = Call(endpoint, settings, notify)
        self._creates: dict[StructuredOutput, Callable[..., Any]] = {}

    @property
    def endpoint(self) -> Endpoint:
        return self._call.endpoint

    def _create(self, form: StructuredOutput) -> Callable[..., Any]:
        """instructor's patched create for ``form`` (instructor's mode differs per form)."""
        if form not in self._creates:
            self._creates[form] = instructor.patch(create=self._send(form), mode=MODES[form])
        return self._creates[form]

    def _send(self, form: StructuredOutput) -> Callable[..., Any]:
        raise NotImplementedError

    def _drive(self, run: Run, context: dict[str, Any] | None) -> R:
        raise NotImplementedError

    def extract(
        self,
        messages: list[dict[str, str]],
        response_model: type[T],
        *,
        schema: dict[str, Any] | None = None,
        context: dict[str, Any] | None = None,
        lenient_context: dict[str, Any] | None = None,
        max_tokens: int,
        stats: CallStats,
        answered: Any = None,
    ) -> R:
        """One structured extraction (awaitable on ``AsyncModelClient``). ``schema``: the JSON
        Schema sent for the answer when it is narrower than ``response_model``'s own (one
        article's ids as closed choices, ``summarizer.answer``); ``response_model`` validates.
        ``answered``: the model's answer to this very request, already made (a Batch API output
        line, a ``ChatCompletion``): validated and grounded like a fresh one; only re-asks call."""
        run = Run(
            self._call,
            messages=messages,
            response_model=response_model,
            schema=schema,
            lenient_context=lenient_context,
            max_tokens=max_tokens,
            stats=stats,
        )
        run.answered = answered
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
            if (response := _take_answered()) is None:
                with forms.gate(), forms.observe(form):
                    response = sdk.chat.completions.create(*args, **untyped(kwargs))
            return guard(response)

        return create

    def _drive(self, run: Run, context: dict[str, Any] | None) -> Extraction:
        with run.bound(context), _answered_first(run.answered):
            step: Request | Extraction = run.first()
            while isinstance(step, Request):
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
        calls: asyncio.Semaphore | None = None,
    ) -> None:
        super().__init__(endpoint, settings, notify)
        limits = httpx2.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        inner = transport or httpx2.AsyncHTTPTransport(limits=limits)
        http = httpx2.AsyncClient(
            transport=AsyncRetryingTransport(inner, self._call.policy, throttle, gate, calls),
            timeout=self._call.timeout,
        )
        self._sdk = openai.AsyncOpenAI(
            base_url=endpoint.base_url, api_key=endpoint.api_key, max_retries=0, http_client=http
        )

    def _send(self, form: StructuredOutput) -> Callable[..., Awaitable[Any]]:
        forms, sdk = self._call.forms, self._sdk

        async def create(*args: Any, **kwargs: Any) -> Any:
            if (response := _take_answered()) is None:
                keep = keeper.get()
                async with forms.agate():
                    if keep is not None:
                        await keep.sending()
                    with forms.observe(form):
                        response = await sdk.chat.completions.create(*args, **untyped(kwargs))
                if keep is not None:
                    await keep.received(response)
            return guard(response)

        return create

    async def _drive(self, run: Run, context: dict[str, Any] | None) -> Extraction:
        with run.bound(context), _answered_first(run.answered):
            step: Request | Extraction = run.first()
            while isinstance(step, Request):
                step = run.resume(*await _aoutcome(self._create(step.form), step.kwargs))
            return step

    async def aclose(self) -> None:
        await self._sdk.close()
