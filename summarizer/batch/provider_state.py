"""What a Batch API run keeps on disk beside its output, so a killed run resumes by polling and
never submits a request twice: ``OUT.batch-api/state.json`` (every part: its request file, the
provider's file and batch ids, its status) and each part's files.

A part's files: ``part-NNNN.requests.jsonl`` (what is uploaded: one chat request per line,
``custom_id`` = the article's ledger key), ``part-NNNN.articles.jsonl`` (the articles, for
grounding their answers), and once its batch ends ``part-NNNN.output.jsonl`` and
``part-NNNN.errors.jsonl`` (downloaded). A collected part's files are deleted; its entry stays.

A part moves ``built`` -> ``uploaded`` (file id noted) -> the provider's statuses (batch id
noted: ``validating``, ``in_progress``, ``finalizing``, then ``completed``, ``expired``,
``failed`` or ``cancelled``) -> ``downloaded`` -> ``collected``. Each move is saved (written
aside, fsynced, renamed) before the next step starts.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from openai.types.chat import ChatCompletion
from pydantic import ValidationError

from summarizer.articles import Article
from summarizer.batch.request_lines import request_line
from summarizer.errors import BatchError
from summarizer.files import fsync_dir

STATE_VERSION = 1
BUILT, UPLOADED, DOWNLOADED, COLLECTED = "built", "uploaded", "downloaded", "collected"
PROVIDER_TERMINAL = frozenset({"completed", "expired", "failed", "cancelled"})
# OpenAI's limits per input file: 50,000 requests, 200 MB; a margin under the bytes.
MAX_REQUESTS = 50_000
MAX_BYTES = 190 * 1024 * 1024


def state_folder(out: Path) -> Path:
    """``out.jsonl`` -> ``out.jsonl.batch-api`` (beside the output; never read as input)."""
    return out.with_name(f"{out.name}.batch-api")


def write_atomic(path: Path, data: bytes) -> None:
    """``data`` at ``path`` in full or not at all, durable before this returns."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


@dataclass
class Part:
    """One request file and its batch at the provider."""

    name: str
    requests: int
    bytes: int
    status: str = BUILT
    file_id: str | None = None
    batch_id: str | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None
    counts: dict[str, int] | None = None
    errors: list[str] = field(default_factory=list)
    outcome: str | None = None  # the batch's last status at the provider, once it ended

    @property
    def at_provider(self) -> bool:
        """Submitted and not ended: the provider is working on it."""
        return self.batch_id is not None and self.status not in PROVIDER_TERMINAL | {DOWNLOADED, COLLECTED}


@dataclass
class Held:
    """One article of a part, as its ``articles`` file keeps it."""

    key: str
    input: str
    attempt: int
    article: Article
    last_error: str | None = None


class ProviderState:
    """``state.json`` of one run and the part files beside it."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / "state.json"
        self.parts: list[Part] = []
        self.next_part = 1

    def load(self) -> None:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return
        except OSError as exc:
            raise BatchError(f"cannot read {self.path}: {exc.strerror}; check its permissions") from None
        try:
            data = orjson.loads(raw)
            if data.get("version") != STATE_VERSION:
                raise ValueError(f"version {data.get('version')!r}, not {STATE_VERSION}")
            self.parts = [Part(**p) for p in data["parts"]]
            self.next_part = int(data["next_part"])
        except (ValueError, KeyError, TypeError) as exc:
            raise BatchError(
                f"{self.path} is damaged ({exc}); its batches are listed at the provider: "
                "restore the file from a backup, or move the folder away to start over "
                "(what is in the output already is kept)"
            ) from None

    def save(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        data = {
            "version": STATE_VERSION,
            "next_part": self.next_part,
            "parts": [dataclasses.asdict(p) for p in self.parts],
        }
        write_atomic(self.path, orjson.dumps(data, option=orjson.OPT_INDENT_2))

    def live(self) -> list[Part]:
        return [p for p in self.parts if p.status != COLLECTED]

    def file(self, part: Part | str, kind: str) -> Path:
        name = part if isinstance(part, str) else part.name
        return self.folder / f"{name}.{kind}.jsonl"

    def held(self, part: Part) -> Iterator[Held]:
        """The articles of ``part``."""
        with self.file(part, "articles").open("rb") as fh:
            for line in fh:
                obj = orjson.loads(line)
                yield Held(obj["key"], obj["input"], obj["attempt"], Article(**obj["article"]),
                           obj.get("last_error"))  # fmt: skip

    def live_keys(self) -> set[str]:
        """Keys of every part not collected yet: taken by an earlier run, not to be sent again."""
        return {h.key for p in self.live() for h in self.held(p)}

    def forget(self, part: Part) -> None:
        """Delete a collected part's files (its entry stays in the state)."""
        for kind in ("requests", "articles", "output", "errors"):
            self.file(part, kind).unlink(missing_ok=True)


class PartWriter:
    """Writes request and article lines into parts, a new part when one is full (by requests
    or bytes); a full part is sealed (fsynced, entered in the state as ``built``)."""

    def __init__(
        self, state: ProviderState, max_requests: int = MAX_REQUESTS, max_bytes: int = MAX_BYTES, *,
        save: bool = True,
    ) -> None:  # fmt: skip
        self.state = state
        self.save = save  # False: the caller saves the state once it is consistent
        self.max_requests = max_requests
        self.max_bytes = max_bytes
        self._name: str | None = None
        self._files: tuple[Any, Any] | None = None
        self._requests = 0
        self._bytes = 0

    def add(self, held: Held, body: dict[str, Any]) -> Part | None:
        """Add one request; the part sealed to make room for it, if one was."""
        line = request_line(held.key, body) + b"\n"
        sealed = None
        if self._requests and (
            self._requests >= self.max_requests or self._bytes + len(line) > self.max_bytes
        ):
            sealed = self.seal()
        if self._files is None:
            self.state.folder.mkdir(parents=True, exist_ok=True)
            self._name = f"part-{self.state.next_part:04d}"
            self.state.next_part += 1
            self._files = (
                self.state.file(self._name, "requests").open("wb"),
                self.state.file(self._name, "articles").open("wb"),
            )
        requests, articles = self._files
        requests.write(line)
        entry = {"key": held.key, "input": held.input, "attempt": held.attempt,
                 "article": dataclasses.asdict(held.article), "last_error": held.last_error}  # fmt: skip
        articles.write(orjson.dumps(entry) + b"\n")
        self._requests += 1
        self._bytes += len(line)
        return sealed

    def seal(self) -> Part | None:
        """Close the part being written: durable, then entered in the state (saved)."""
        if self._files is None or self._name is None:
            return None
        for fh in self._files:
            fh.flush()
            os.fsync(fh.fileno())
            fh.close()
        fsync_dir(self.state.folder)
        part = Part(self._name, self._requests, self._bytes)
        self.state.parts.append(part)
        if self.save:
            self.state.save()
        self._files, self._name, self._requests, self._bytes = None, None, 0, 0
        return part

    def abandon(self) -> None:
        """Close an unsealed part's files (a stopped run): not in the state, so the next run
        writes that part afresh."""
        if self._files is not None:
            for fh in self._files:
                fh.close()
            self._files = None


def read_results(path: Path) -> dict[str, bytes]:
    """custom_id -> its raw line, from a downloaded output or error file (or a ``vllm
    run-batch`` results file). Lines stay unparsed until used: memory is the file's size."""
    out: dict[str, bytes] = {}
    if not path.exists():
        return out
    with path.open("rb") as fh:
        for raw in fh:
            if not raw.strip():
                continue
            try:
                key = orjson.loads(raw)["custom_id"]
            except (orjson.JSONDecodeError, KeyError, TypeError):
                continue  # a line we cannot join: its article is resubmitted as unanswered
            if isinstance(key, str):
                out[key] = raw
    return out


def parse_result(raw: bytes) -> tuple[int, Any]:
    """(HTTP status, response body) of a result line; (0, the error) for a line not run."""
    line = orjson.loads(raw)
    if line.get("error"):
        return 0, line["error"]
    response = line.get("response") or {}
    return int(response.get("status_code") or 0), response.get("body")


def completion_of(raw: bytes | None) -> tuple[ChatCompletion | None, int, Any]:
    """A result line's answer when it is a usable chat completion, else None with the line's
    status and body, for the reason it is not (``result_reason``)."""
    if raw is None:
        return None, 0, None
    status, body = parse_result(raw)
    if status != 200:
        return None, status, body
    try:
        return ChatCompletion.model_validate(body), status, body
    except ValidationError:
        return None, 0, {"message": "an answer that is not a chat completion"}


def result_reason(status: int, detail: Any) -> str:
    if isinstance(detail, dict):
        inner = detail.get("error", detail)
        if isinstance(inner, dict):
            code, message = inner.get("code"), inner.get("message")
            text = " ".join(str(message or "").split())[:160]
            return f"{code}: {text}" if code else text or "no detail"
    return f"HTTP {status}" if status else "no answer"
