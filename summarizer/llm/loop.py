"""The extraction loop shared by both clients: ``Run.steps`` yields each call to make and is
sent its answer (or thrown its error); the output budget, re-asks spent, form switches."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx2
import openai
from instructor.core.exceptions import IncompleteOutputException, InstructorRetryException
from pydantic import BaseModel, ValidationError

from summarizer.errors import ModelResponseError, SummarizerError
from summarizer.llm.forms import Call, FormChanged, refusal, wire_model
from summarizer.llm.replies import Extraction, add_usage, completion_text, map_error, usage_dict
from summarizer.schema import active_check
from summarizer.settings import StructuredOutput
from summarizer.transport import CallStats, current_stats


@dataclass
class Request:
    """One call the extraction loop wants made: instructor's arguments, in one form."""

    form: StructuredOutput
    kwargs: dict[str, Any]


class Run:
    """One extraction: the loop (``steps``) and its state: budget, usage, outcome."""

    def __init__(
        self,
        call: Call,
        *,
        messages: list[dict[str, str]],
        response_model: type[BaseModel],
        schema: dict[str, Any] | None = None,
        lenient_context: dict[str, Any] | None,
        max_tokens: int,
        stats: CallStats,
    ) -> None:
        self.call = call
        self.messages = messages
        self.response_model = wire_model(response_model)
        self.schema = schema
        self.lenient_context = lenient_context
        self.budget = max_tokens
        self.widened = False  # docs/ARCHITECTURE.md §4: one retry, larger budget, after "length"
        self.stats = stats
        self.usage: dict[str, int] = {}
        self.form: StructuredOutput = call.forms.form
        self.started = time.monotonic()
        self.answered: Any = None  # the answer to the first request, made already (a Batch API line)
        self._steps = self.steps()

    def steps(self) -> Generator[Request, Any, Extraction]:
        """The extraction loop: yields each call to make; is sent its answer, or thrown its error."""
        while True:
            self.form = self.call.forms.form
            try:
                value = yield Request(self.form, self.kwargs())
            except IncompleteOutputException as exc:
                self.truncated(exc)
            except InstructorRetryException as exc:
                if not self.switched(exc.__cause__, exc.total_usage):
                    return self.exhausted(exc)
            except (openai.OpenAIError, httpx2.HTTPError, FormChanged) as exc:
                if not self.switched(exc, None):
                    raise self.failed(exc) from None
            else:
                return self.done(value)

    def first(self) -> Request:
        return next(self._steps)

    def resume(self, answer: Any, error: Exception | None) -> Request | Extraction:
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
        return self.call.kwargs(self.messages, self.response_model, self.budget, self.form, self.schema)

    def fail(self, err: SummarizerError) -> SummarizerError:
        err.attempts, err.usage = self.stats.requests, self.usage
        err.request_id = err.request_id or (self.stats.request_ids[-1] if self.stats.request_ids else None)
        return err

    def switched(self, exc: BaseException | None, usage: Any) -> bool:
        """True to go again because the endpoint's form changed; a refusal with no form left to
        try is a configuration error; anything else is for the caller (False)."""
        refused = refusal(exc)
        if not isinstance(exc, FormChanged) and refused is None:
            return False
        self.usage = add_usage(self.usage, usage_dict(usage))
        if refused is not None and self.call.forms.form == self.form:
            raise self.fail(self.call.forms.refusal_error(self.form, refused)) from None
        return True

    def truncated(self, exc: IncompleteOutputException) -> None:
        """Widen the output budget once if the context has room; otherwise fail."""
        self.usage = add_usage(self.usage, usage_dict(getattr(exc.last_completion, "usage", None)))
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
        self.usage = add_usage(self.usage, usage_dict(getattr(value, "_total_usage", None)))
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
        self.usage = add_usage(self.usage, usage_dict(exc.total_usage))
        cause = exc.__cause__
        if cause is not None and not isinstance(cause, Exception):
            raise cause  # Ctrl-C or SystemExit inside a call: never turn it into a model error
        if isinstance(cause, SummarizerError):
            self.usage = add_usage(self.usage, cause.usage)
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
