"""One article's outcome, decided the same way wherever it ran (this process, a Ray actor): a
record line, a dead letter with its reason, a stop for the whole run (a bad key, a model that
cannot start), or nothing yet (the run is stopping: the article stays pending). What crosses a
process boundary (a Ray actor, a worker process) goes as plain values: ``Outcome.to_row`` and
``article_json``."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from summarizer import errors
from summarizer.articles import Article
from summarizer.batch.books import failure_line
from summarizer.batch.executor import Executor
from summarizer.errors import AuthenticationError, ConfigurationError, SummarizerError, internal_error
from summarizer.transport import CallStats


@dataclass
class Outcome:
    key: str
    line: bytes | None = None  # the ledger line; None: nothing to write
    failed: bool = False  # ``line`` is a dead letter
    fatal: SummarizerError | None = None  # wrong for every article: stop the run
    note: str | None = None  # what the progress shows
    requests: int = 0
    throttled: int = 0
    usage: dict[str, int] = field(default_factory=dict)

    def to_row(self) -> dict[str, Any]:
        """The outcome as plain values (str, bool, int), for a process boundary: a Ray actor's
        batch, a worker process's line (``from_row`` reads it back)."""
        return {
            "key": self.key,
            "line": self.line.decode("utf-8") if self.line is not None else "",
            "failed": self.failed,
            "fatal": f"{type(self.fatal).__name__}\x00{self.fatal}" if self.fatal else "",
            "note": self.note or "",
            "requests": self.requests,
            "throttled": self.throttled,
            "prompt_tokens": self.usage.get("prompt_tokens", 0),
            "completion_tokens": self.usage.get("completion_tokens", 0),
        }

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Outcome:
        return cls(
            key=str(row["key"]),
            line=str(row["line"]).encode("utf-8") or None,
            failed=bool(row["failed"]),
            fatal=_fatal(str(row["fatal"])) if row["fatal"] else None,
            note=str(row["note"]) or None,
            requests=int(row["requests"]),
            throttled=int(row["throttled"]),
            usage={
                "prompt_tokens": int(row["prompt_tokens"]),
                "completion_tokens": int(row["completion_tokens"]),
            },
        )


ROW_FIELDS = tuple(Outcome("").to_row())


def _fatal(text: str) -> SummarizerError:
    """A run-stopping error from its row form: the same class where it is one of ours."""
    name, _, message = text.partition("\x00")
    cls = getattr(errors, name, ConfigurationError)
    if not (isinstance(cls, type) and issubclass(cls, SummarizerError)):
        cls = ConfigurationError
    err: SummarizerError = cls(message)
    return err


async def attempt(
    models: Executor,
    name: str,
    article: Article,
    key: str,
    *,
    answered: Any = None,
    stopping: Callable[[], bool] = lambda: False,
) -> Outcome:
    """``article`` through the engine to its ``Outcome``. ``answered``: its model answer, made
    already (a Batch API result line): validated and grounded like a fresh one."""
    stats = CallStats(requests=int(answered is not None))
    out = Outcome(key)
    try:
        record = await models.summarize(article, stats, answered=answered)
        record.key = key
        out.line = record.model_dump_json().encode("utf-8")
        out.usage = record.provenance.usage.model_dump()
    except (AuthenticationError, ConfigurationError) as err:
        # Wrong for every article (a bad key, a structured-output form the server refuses, a
        # model that cannot start): the run stops; nothing is dead-lettered.
        out.fatal, out.usage = err, err.usage
    except SummarizerError as err:
        out.usage = err.usage
        if not stopping():  # stopping: the article stays pending, not failed
            _dead(out, name, article, err)
    except Exception as exc:  # one article never takes the run down
        _dead(out, name, article, internal_error(exc))
    out.requests, out.throttled = stats.requests, stats.throttled
    return out


def _dead(out: Outcome, name: str, article: Article, err: SummarizerError) -> None:
    out.line = failure_line(out.key, name, article.id, err)
    out.failed = True
    out.note = f"{name}: failed: {err}"


def article_json(article: Article) -> str:
    """An article as JSON text, to hand to another process (``article_from_json`` reads it). The
    standard library's JSON, both ways: it carries what orjson refuses (a lone surrogate a JSONL
    input may hold), so such an article fails in the pipeline, alone, as it does in one process."""
    return json.dumps(asdict(article))


def article_from_json(text: str | bytes) -> Article:
    return Article(**json.loads(text))
