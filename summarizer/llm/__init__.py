"""The one model path: the openai SDK wrapped by instructor, pointed at a base URL.

Modules, bottom up: ``replies`` (the endpoint, answers, usage, errors), ``forms`` (structured
output forms and request shaping), ``loop`` (the extraction loop), ``clients`` (sync and async).

Layers, each owning one concern (see docs/ARCHITECTURE.md §4 "Retries"):
- ``transport.RetryingTransport``: 429 / 408 / 409 / 5xx / timeouts, with tenacity;
- the SDK: ``max_retries=0``, so it never retries on its own;
- instructor: re-asks after schema or grounding validation errors, at most ``max_reasks`` times;
- ``replies.guard``: refusals, content filters and empty ``choices`` are terminal, not re-asked;
- ``forms.StructuredOutputState``: which structured-output form the endpoint accepts (detected once
  per endpoint in ``auto`` mode, shared by every request of a run).

A ``finish_reason == "length"`` answer is retried once with a doubled output budget when the
context has room, never with the same request.

One extraction loop serves both clients: ``loop.Run.steps`` is a generator that yields each call to
make and is sent its answer (or thrown its error); ``ModelClient`` and ``AsyncModelClient`` only
differ in how they make the call (a plain call, or an ``await``).
"""

from summarizer import instructor_shims

instructor_shims.apply()  # before any module of the package uses instructor

from summarizer.llm.clients import AsyncModelClient, ModelClient  # noqa: E402
from summarizer.llm.forms import StructuredOutputState, compact_grammar, wire_model  # noqa: E402
from summarizer.llm.replies import Endpoint, Extraction, completion_text, map_error  # noqa: E402

__all__ = [
    "AsyncModelClient",
    "Endpoint",
    "Extraction",
    "ModelClient",
    "StructuredOutputState",
    "compact_grammar",
    "completion_text",
    "map_error",
    "wire_model",
]
