"""A narrowly scoped speed-up for instructor, applied once when ``summarizer.llm`` is imported.

instructor (1.17) checks on *every* request, up to four times, that the response model has no
async validators, by walking every pydantic class in it and every attribute of their MROs. For
our nested schema that walk is about 1.3 ms of client CPU per request: the largest single cost
of a batch request after the SDK itself. The answer depends only on the class, so a class that
passed once is remembered (weakly) and not walked again. Models that fail still fail, every
time; anything that is not a class is passed through untouched. If instructor moves or renames
the function, nothing is patched and nothing breaks. Worth proposing upstream.
"""

from __future__ import annotations

import functools
import importlib
import weakref
from collections.abc import Callable
from typing import Any

_MODULES = ("instructor.v2.validation.async_validators", "instructor.v2.core.patch")
_NAME = "reject_async_validators"


def _memoized(original: Callable[[Any], None]) -> Callable[[Any], None]:
    passed: weakref.WeakSet[type] = weakref.WeakSet()

    @functools.wraps(original)
    def reject_async_validators(response_model: Any) -> None:
        if isinstance(response_model, type) and response_model in passed:
            return
        original(response_model)  # raises for models with async validators
        if isinstance(response_model, type):
            passed.add(response_model)

    reject_async_validators.__summarizer_memoized__ = True  # type: ignore[attr-defined]
    return reject_async_validators


def apply() -> bool:
    """Install the memoized check where instructor looks it up. Returns whether it did."""
    try:
        source = importlib.import_module(_MODULES[0])
    except ImportError:
        return False
    original = getattr(source, _NAME, None)
    if original is None or getattr(original, "__summarizer_memoized__", False):
        return original is not None
    fast = _memoized(original)
    for name in _MODULES:
        module = importlib.import_module(name)
        if getattr(module, _NAME, None) is original:
            setattr(module, _NAME, fast)
    return True
