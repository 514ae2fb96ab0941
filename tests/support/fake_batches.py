"""FAKE Files and Batches endpoints for ``FakeOpenAI``: test infrastructure, not product.

Their bodies are HAND-WRITTEN in the shapes of OpenAI's Batch API (docs/ARCHITECTURE.md §7 allows
that only in this fault-injection tier). Each request line of a batch is answered by the fake's own
chat handling (its answers, scripts and ``FAULT:`` marker lines), so a line cued ``500`` lands in
the error file and one cued ``invalid`` comes back as a broken answer.

- ``POST /v1/files`` (multipart, ``purpose=batch``), ``GET /v1/files/{id}``,
  ``GET /v1/files/{id}/content``;
- ``POST /v1/batches``, ``GET /v1/batches/{id}``, ``GET /v1/batches`` (newest first, ``limit``
  and ``after``), ``POST /v1/batches/{id}/cancel``.

A batch is ``validating`` when created, ``in_progress`` at its first retrieve and ends at the
``polls``-th retrieve (default 2): ``completed``, or ``failed`` when its file repeats a
``custom_id`` or is not JSONL. Faults, on cue:

- ``expire(keep)``: the next batch created ends ``expired`` with only its first ``keep`` lines
  run; the rest are ``batch_expired`` lines in its error file (``response`` null);
- ``fail_next(code, message)``: the next batch created fails, running nothing;
- ``fail_downloads(n)``: the next ``n`` content downloads answer 403;
- ``shuffle`` (default on): output lines in a seeded random order, never the input's.

Counters: ``uploads``, ``creates``, ``runs`` (custom_id -> times a line with it was run),
``downloads``, ``refused_downloads``.
"""

from __future__ import annotations

import json
import random
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from email.parser import BytesParser
from email.policy import HTTP
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.support.fake_openai import FakeOpenAI, Reply

EXPIRED_MESSAGE = "This request could not be executed before the completion window expired."


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def multipart_fields(content_type: str, body: bytes) -> dict[str, tuple[str | None, bytes]]:
    """name -> (file name, bytes) of a multipart/form-data body."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + body)
    out: dict[str, tuple[str | None, bytes]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):
            out[name] = (part.get_filename(), payload)
    return out


class FakeBatches:
    """State of the fake's Files and Batches APIs; ``FakeOpenAI.batches``."""

    def __init__(self, owner: FakeOpenAI, *, polls: int = 2, shuffle: bool = True, seed: int = 7) -> None:
        # The owner's own reply types: run as ``python -m``, its module is ``__main__``, and a
        # ``Reply`` imported from ``tests.support.fake_openai`` would be another class.
        module = sys.modules[type(owner).__module__]
        self._reply: Callable[[int, bytes], Reply] = module.Reply
        self._error: Callable[[int, str], Reply] = module.error_reply
        self.owner = owner
        self.polls = polls
        self.shuffle = shuffle
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self.files: dict[str, dict[str, Any]] = {}
        self.content: dict[str, bytes] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self._order: list[str] = []  # batch ids, oldest first
        self._retrieves: Counter[str] = Counter()
        self._expire: deque[int] = deque()
        self._fail: deque[dict[str, Any]] = deque()
        self._refuse_downloads = 0
        self.uploads = 0
        self.creates = 0
        self.downloads = 0
        self.refused_downloads = 0
        self.runs: Counter[str] = Counter()

    # ---- cues

    def expire(self, keep: int) -> None:
        """The next batch created expires with only its first ``keep`` lines run."""
        with self._lock:
            self._expire.append(keep)

    def fail_next(self, code: str, message: str) -> None:
        """The next batch created fails at its first look, running nothing, with this error
        (OpenAI's ``token_limit_exceeded`` when a model's queue is full, say)."""
        with self._lock:
            self._fail.append({"code": code, "message": message, "line": None})

    def fail_downloads(self, n: int) -> None:
        with self._lock:
            self._refuse_downloads += n

    # ---- routes

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply | None:
        """The reply for a Files or Batches route, or None if ``path`` is not one."""

        parts = path.strip("/").split("/")[1:]  # after "v1"
        if not parts or parts[0] not in ("files", "batches"):
            return None
        query = dict(p.partition("=")[::2] for p in headers.get(":query", "").split("&") if p)
        if parts == ["files"] and method == "POST":
            return self._upload(headers, body)
        if parts[0] == "files" and len(parts) == 2 and method == "GET":
            found = self.files.get(parts[1])
            return self._reply(200, _dumps(found)) if found else self._error(404, f"no file {parts[1]}")
        if parts[0] == "files" and len(parts) == 3 and parts[2] == "content" and method == "GET":
            return self._download(parts[1])
        if parts == ["batches"] and method == "POST":
            return self._create(body)
        if parts == ["batches"] and method == "GET":
            return self._list(query)
        if parts[0] == "batches" and len(parts) == 2 and method == "GET":
            return self._retrieve(parts[1])
        if parts[0] == "batches" and len(parts) == 3 and parts[2] == "cancel" and method == "POST":
            batch = self.batches.get(parts[1])
            if batch is None:
                return self._error(404, f"no batch {parts[1]}")
            self._end(batch, "cancelled", keep=0)
            return self._reply(200, _dumps(batch))
        return self._error(404, f"no route {method} {path} on the fake server")

    def _new_file(self, data: bytes, filename: str, purpose: str) -> dict[str, Any]:
        with self._lock:
            file_id = f"file-fake{len(self.files) + 1:06d}"
            obj = {
                "id": file_id,
                "object": "file",
                "bytes": len(data),
                "created_at": int(time.time()),
                "filename": filename,
                "purpose": purpose,
                "status": "processed",
            }
            self.files[file_id] = obj
            self.content[file_id] = data
        return obj

    def _upload(self, headers: dict[str, str], body: bytes) -> Reply:

        fields = multipart_fields(headers.get("content-type", ""), body)
        if "file" not in fields:
            return self._error(400, "a multipart 'file' field is required")
        purpose = fields.get("purpose", (None, b""))[1].decode()
        if purpose != "batch":
            return self._error(400, f"purpose must be 'batch', not {purpose!r}")
        filename, data = fields["file"]
        self.uploads += 1
        return self._reply(200, _dumps(self._new_file(data, filename or "upload.jsonl", "batch")))

    def _download(self, file_id: str) -> Reply:

        with self._lock:
            if self._refuse_downloads > 0:
                self._refuse_downloads -= 1
                self.refused_downloads += 1
                return self._error(403, "the file is not ready for download yet (fake)")
            self.downloads += 1
        if file_id not in self.content:
            return self._error(404, f"no file {file_id}")
        reply = self._reply(200, self.content[file_id])
        return reply

    def _create(self, body: bytes) -> Reply:

        try:
            payload = json.loads(body)
            file_id = payload["input_file_id"]
        except (ValueError, KeyError, TypeError):
            return self._error(400, "input_file_id is required")
        if file_id not in self.files:
            return self._error(400, f"no file {file_id}")
        if payload.get("endpoint") != "/v1/chat/completions" or payload.get("completion_window") != "24h":
            return self._error(400, "endpoint must be /v1/chat/completions and completion_window 24h")
        with self._lock:
            self.creates += 1
            batch_id = f"batch_fake{len(self.batches) + 1:06d}"
            batch = {
                "id": batch_id,
                "object": "batch",
                "endpoint": payload["endpoint"],
                "errors": None,
                "input_file_id": file_id,
                "completion_window": "24h",
                "status": "validating",
                "output_file_id": None,
                "error_file_id": None,
                "created_at": int(time.time()),
                "request_counts": {"total": 0, "completed": 0, "failed": 0},
                "metadata": payload.get("metadata"),
                "_expire": self._expire.popleft() if self._expire else None,
                "_fail": self._fail.popleft() if self._fail else None,
            }
            self.batches[batch_id] = batch
            self._order.append(batch_id)
        return self._reply(200, _dumps(_public(batch)))

    def _list(self, query: dict[str, str]) -> Reply:

        limit = int(query.get("limit") or 20)
        newest = list(reversed(self._order))
        if after := query.get("after"):
            newest = newest[newest.index(after) + 1 :] if after in newest else []
        page = [_public(self.batches[b]) for b in newest[:limit]]
        data = {
            "object": "list",
            "data": page,
            "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None,
            "has_more": len(newest) > limit,
        }
        return self._reply(200, _dumps(data))

    def _retrieve(self, batch_id: str) -> Reply:

        batch = self.batches.get(batch_id)
        if batch is None:
            return self._error(404, f"no batch {batch_id}")
        with self._lock:
            self._retrieves[batch_id] += 1
            seen = self._retrieves[batch_id]
        if batch["status"] == "validating":
            problem = batch["_fail"] or self._invalid(self.content[batch["input_file_id"]])
            if problem is not None:
                batch["status"] = "failed"
                batch["errors"] = {"object": "list", "data": [problem]}
            else:
                batch["status"] = "in_progress"
        if batch["status"] == "in_progress" and seen >= self.polls:
            if batch["_expire"] is not None:
                self._end(batch, "expired", keep=batch["_expire"])
            else:
                self._end(batch, "completed", keep=None)
        return self._reply(200, _dumps(_public(batch)))

    @staticmethod
    def _invalid(data: bytes) -> dict[str, Any] | None:
        seen: set[str] = set()
        for n, raw in enumerate(data.splitlines(), 1):
            if not raw.strip():
                continue
            try:
                custom_id = json.loads(raw)["custom_id"]
            except (ValueError, KeyError, TypeError):
                return {"code": "invalid_json_line", "message": f"line {n} is not a request", "line": n}
            if custom_id in seen:
                return {
                    "code": "duplicate_custom_id",
                    "message": f"The custom_id for this request is a duplicate of another request: {custom_id}",
                    "line": n,
                }
            seen.add(custom_id)
        return None

    def _end(self, batch: dict[str, Any], status: str, keep: int | None) -> None:
        """Run the batch's lines (the first ``keep``, or all) and write its files."""
        lines = [json.loads(r) for r in self.content[batch["input_file_id"]].splitlines() if r.strip()]
        run = lines if keep is None else lines[:keep]
        output: list[bytes] = []
        errors: list[bytes] = []
        for n, line in enumerate(run):
            status_code, response = self._answer(line)
            self.runs[line["custom_id"]] += 1
            result = {
                "id": f"batch_req_{batch['id']}_{n}",
                "custom_id": line["custom_id"],
                "response": {"status_code": status_code, "request_id": f"req_{n}", "body": response},
                "error": None,
            }
            (output if status_code == 200 else errors).append(_dumps(result))
        for n, line in enumerate(lines[len(run) :], len(run)):
            errors.append(_dumps({
                "id": f"batch_req_{batch['id']}_{n}",
                "custom_id": line["custom_id"],
                "response": None,
                "error": {"code": "batch_expired", "message": EXPIRED_MESSAGE},
            }))  # fmt: skip
        if self.shuffle:
            self._random.shuffle(output)
            self._random.shuffle(errors)
        if output:
            batch["output_file_id"] = self._new_file(b"\n".join(output) + b"\n", "out.jsonl", "batch_output")[
                "id"
            ]
        if errors:
            batch["error_file_id"] = self._new_file(b"\n".join(errors) + b"\n", "err.jsonl", "batch_output")[
                "id"
            ]
        failed = len(lines) - len(output)
        batch["request_counts"] = {"total": len(lines), "completed": len(output), "failed": failed}
        batch["status"] = status

    def _answer(self, line: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """One request line answered by the fake's chat handling (scripts and markers apply)."""
        owner = self.owner
        payload = line.get("body") or {}
        seen = owner._seen("POST", "/v1/chat/completions")
        article, subject, key = owner.subject_of(seen, payload.get("messages") or [])
        step = owner._next_step(subject, key, article)
        owner._fault(seen, step.kind)
        kind = step.kind
        if kind.isdigit():
            return int(kind), {"error": {"message": f"fake fault {kind} (cued)", "type": "server_error",
                                         "code": None}}  # fmt: skip
        if kind in ("timeout", "reset", "reject_json_schema"):
            return 500, {
                "error": {"message": f"fake fault {kind} (cued)", "type": "server_error", "code": None}
            }
        body = json.dumps(payload).encode()
        reply = owner._completion(kind, payload, seen, max(1, len(body) // 4))
        owner.note_sent(seen, reply.status)
        return reply.status, json.loads(reply.body)


def _public(batch: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in batch.items() if not k.startswith("_")}
