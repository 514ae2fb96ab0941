"""The desk's HTTP API and page: a Starlette app over one ``work.Desk``.

    GET  /                      the desk page
    GET  /openapi.json          the OpenAPI document (openapi.py)
    GET  /healthz               the desk and its model
    POST /v1/briefs             JSON, a file upload or raw text -> 202 {id, status, ...} + Location
    GET  /v1/briefs?limit=&q=   recent briefs
    GET  /v1/briefs/{id}        status (queued + position, running, done + record, failed + reason);
                                with ?wait=S and If-None-Match: the ETag it gave, a long poll that
                                answers at the desk's next change (or 304 after S seconds)
    POST /v1/briefs/{id}/retry       a failed brief queued again
    POST /v1/briefs/{id}/regenerate  a done (or failed) brief asked of the model anew
    DELETE /v1/briefs/{id}      delete a brief
    GET  /v1/briefs/{id}.json   the record as `summarizer brief --format json` prints it
    GET  /v1/briefs/{id}.md     the Markdown brief
    GET  /v1/briefs/{id}.html   the HTML review page

Every error is ``{"error": {"status", "kind", "message"}}`` with a one-line message; bad articles
get the CLI's own messages (``intake``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from summarizer.articles import article_from_mapping
from summarizer.desk import openapi, page
from summarizer.desk.bodies import MAX_WAIT_S, BriefList, Health, status_json, status_of
from summarizer.desk.guard import BodyTooLarge, Guard, GuardOptions, error_body
from summarizer.desk.intake import BODY_NAME, Intake, from_body, from_upload, media_type
from summarizer.desk.work import AlreadyDone, Desk, QueueFull, Submission
from summarizer.errors import InputError, SummarizerError
from summarizer.html import content_security_policy as brief_policy
from summarizer.html import to_html
from summarizer.render import to_json, to_markdown
from summarizer.schema import EventSummary

log = logging.getLogger(__name__)
MAX_LIST = 200
FORM_TYPES = frozenset({"multipart/form-data", "application/x-www-form-urlencoded"})
NO_STORE = {"cache-control": "no-store"}
SECURITY_HEADERS = {"x-content-type-options": "nosniff", "referrer-policy": "no-referrer"}


META_FIELDS = ("title", "url", "published_at", "publisher")  # form fields beside an uploaded file
POLL_SECONDS = 2  # Retry-After on a 202: a brief's status changes at most this often for a reader


class RenderedPages:
    """HTML briefs rendered once (a 3.4 MB brief took 6.4 s on every GET), newest kept, up to
    ``max_bytes`` in all. A done brief's page never changes; a re-run has a new finish time."""

    def __init__(self, max_bytes: int = 64 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self._pages: OrderedDict[tuple[str, float | None], str] = OrderedDict()
        self._bytes = 0

    def get(self, key: tuple[str, float | None]) -> str | None:
        page = self._pages.get(key)
        if page is not None:
            self._pages.move_to_end(key)
        return page

    def put(self, key: tuple[str, float | None], page: str) -> None:
        if len(page) > self.max_bytes or key in self._pages:
            return
        self._pages[key] = page
        self._bytes += len(page)
        while self._bytes > self.max_bytes:
            _, old = self._pages.popitem(last=False)
            self._bytes -= len(old)

    def forget(self, bid: str) -> None:
        for key in [k for k in self._pages if k[0] == bid]:
            self._bytes -= len(self._pages.pop(key))


def error(status: int, kind: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return Response(
        error_body(status, kind, " ".join(message.split())), status_code=status,
        media_type="application/json", headers={**NO_STORE, **SECURITY_HEADERS, **(headers or {})},
    )  # fmt: skip


def _json(body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        body, status_code=status, media_type="application/json",
        headers={**NO_STORE, **SECURITY_HEADERS, **(headers or {})},
    )  # fmt: skip


class DeskApp:
    """Routes over one desk. ``app`` is the ASGI app (Guard around Starlette)."""

    def __init__(self, desk: Desk, guard: GuardOptions, *, manage_desk: bool = True) -> None:
        self.desk = desk
        self.guard = guard
        self.token_required = guard.token is not None
        self._pages = RenderedPages()
        self._openapi = orjson.dumps(openapi.document(token_required=self.token_required))
        # ETags of this process only: a page that saw change N of the last run is never told
        # "not modified" by this one.
        self._epoch = secrets.token_hex(4)
        routes = [
            Route("/", self.page, methods=["GET"]),
            Route("/favicon.ico", self.favicon, methods=["GET"]),
            Route("/openapi.json", self.openapi, methods=["GET"]),
            Route("/healthz", self.health, methods=["GET"]),
            Route("/v1/briefs", self.submit, methods=["POST"]),
            Route("/v1/briefs", self.recent, methods=["GET"]),
            Route("/v1/briefs/{brief_id}.json", self.as_json, methods=["GET"]),
            Route("/v1/briefs/{brief_id}.md", self.as_markdown, methods=["GET"]),
            Route("/v1/briefs/{brief_id}.html", self.as_html, methods=["GET"]),
            Route("/v1/briefs/{brief_id}", self.status, methods=["GET"]),
            Route("/v1/briefs/{brief_id}/retry", self.retry, methods=["POST"]),
            Route("/v1/briefs/{brief_id}/regenerate", self.regenerate, methods=["POST"]),
            Route("/v1/briefs/{brief_id}", self.delete, methods=["DELETE"]),
        ]
        self.starlette = Starlette(
            routes=routes,
            exception_handlers={
                HTTPException: self._http_error,
                BodyTooLarge: self._too_large,
                Exception: self._internal,
            },
            lifespan=self._lifespan if manage_desk else None,
        )
        self.app = Guard(self.starlette, guard)

    @contextlib.asynccontextmanager
    async def _lifespan(self, _app: Starlette) -> AsyncIterator[None]:
        async with self.desk.running():
            yield

    # -- errors ---------------------------------------------------------------------------

    async def _http_error(self, _request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 404:
            return error(404, "not_found", "no such page; the API is under /v1/briefs (see /openapi.json)")
        if exc.status_code == 405:
            return error(405, "method_not_allowed", "method not allowed here (see /openapi.json)")
        return error(exc.status_code, "input", f"{BODY_NAME}: {exc.detail}")

    async def _too_large(self, _request: Request, exc: Exception) -> Response:
        assert isinstance(exc, BodyTooLarge)
        return error(
            413, "input", f"{BODY_NAME}: over the {exc.limit:,}-byte request limit; send a smaller article"
        )

    async def _internal(self, _request: Request, exc: Exception) -> Response:
        log.error("internal error", exc_info=exc)
        return error(500, "internal", f"internal error: {type(exc).__name__}: {exc}; please report it")

    # -- page and documents ---------------------------------------------------------------

    async def page(self, _request: Request) -> Response:
        return Response(
            page.render(token_required=self.token_required), media_type="text/html",
            headers={"content-security-policy": page.content_security_policy(), **SECURITY_HEADERS,
                     "cache-control": "no-cache"},
        )  # fmt: skip

    async def favicon(self, _request: Request) -> Response:
        return Response(status_code=204)

    async def openapi(self, _request: Request) -> Response:
        return _json(self._openapi)

    async def health(self, _request: Request) -> Response:
        endpoint = self.desk.endpoint
        body = Health(
            ok=self.desk.model_error is None, model=self.desk.model,
            backend=endpoint.backend if endpoint else None, model_error=self.desk.model_error,
            queued=self.desk.queued, running=self.desk.in_flight, token_required=self.token_required,
        )  # fmt: skip
        return _json(body.model_dump_json().encode())

    # -- briefs ---------------------------------------------------------------------------

    async def _article(self, request: Request) -> tuple[Any, str]:
        max_bytes = self.desk.settings.max_bytes
        kind = media_type(request.headers.get("content-type"))
        if kind in FORM_TYPES:
            form = await request.form(max_files=1, max_fields=20, max_part_size=self.guard.max_body)
            try:
                upload = form.get("file")
                if isinstance(upload, UploadFile):
                    data = await upload.read()
                    article = await asyncio.to_thread(from_upload, data, upload.filename, max_bytes=max_bytes)
                    # Story details given beside the file win over what the file says.
                    given = {
                        k: v.strip() for k in META_FIELDS if isinstance(v := form.get(k), str) and v.strip()
                    }
                    return replace(article, **given), article.source_path or "upload"
                fields = {k: v for k, v in form.items() if isinstance(v, str)}
                if "text" not in fields:
                    raise Intake("request body: a form needs a 'file' (an article file) or a 'text' field")
                if len(fields["text"].encode("utf-8")) > max_bytes:
                    raise Intake(
                        f"{BODY_NAME}: over the {max_bytes:,}-byte limit; split it or raise --max-bytes", 413
                    )
                return article_from_mapping(fields, name=BODY_NAME, default_id="desk"), BODY_NAME
            finally:
                await form.close()
        data = await request.body()
        article = await asyncio.to_thread(
            from_body, data, request.headers.get("content-type"), max_bytes=max_bytes
        )
        return article, BODY_NAME

    async def submit(self, request: Request) -> Response:
        received = time.time()
        try:
            article, source = await self._article(request)
            submission = await self.desk.submit(article, source=source, received_at=received)
        except Intake as err:
            return error(err.status, err.kind, str(err))
        except InputError as err:
            return error(422, err.kind, str(err))
        except QueueFull as err:
            return error(429, err.kind, str(err), {"retry-after": str(err.retry_after)})
        except SummarizerError as err:  # e.g. HTML given and its extractor not installed
            return error(500, err.kind, str(err))
        return await self._submitted(submission)

    async def _submitted(self, submission: Submission) -> Response:
        row = submission.row
        status = status_of(row, submission.position)
        location = status.links.status
        record = await self.desk.record(row.id) if row.status == "done" else None
        if row.status == "done":
            return _json(status_json(status, record), 200, {"location": location})
        # Accepted: a hint for API clients of when to look again (a brief takes seconds to minutes).
        headers = {"location": location, "retry-after": str(POLL_SECONDS)}
        return _json(status_json(status, record), 202, headers)

    async def retry(self, request: Request) -> Response:
        return await self._rerun(request, fresh=False)

    async def regenerate(self, request: Request) -> Response:
        return await self._rerun(request, fresh=True)

    async def _rerun(self, request: Request, *, fresh: bool) -> Response:
        bid = request.path_params["brief_id"]
        try:
            submission = await self.desk.rerun(bid, fresh=fresh)
        except AlreadyDone as err:
            return error(409, err.kind, str(err))
        if submission is None:
            return self._missing(bid)
        self._pages.forget(bid)
        return await self._submitted(submission)

    async def recent(self, request: Request) -> Response:
        raw_limit = request.query_params.get("limit") or "20"
        if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_LIST:
            return error(
                400, "input", f"limit must be a whole number from 1 to {MAX_LIST}, not {raw_limit!r}"
            )
        raw_offset = request.query_params.get("offset") or "0"
        if not raw_offset.isdigit():
            return error(400, "input", f"offset must be a whole number (0 or more), not {raw_offset!r}")
        query = request.query_params.get("q") or None
        rows, total = await self.desk.recent(int(raw_limit), query, int(raw_offset))
        now = time.time()
        body = BriefList(
            items=[status_of(r, self.desk.position(r.id), now) for r in rows], total=total,
            offset=int(raw_offset), queued=self.desk.queued, running=self.desk.in_flight,
        )  # fmt: skip
        return _json(body.model_dump_json(by_alias=True, exclude={"items": {"__all__": {"record"}}}).encode())

    def _etag(self, changes: int) -> str:
        return f'W/"{self._epoch}-{changes}"'

    async def status(self, request: Request) -> Response:
        bid = request.path_params["brief_id"]
        raw_wait = request.query_params.get("wait") or "0"
        if not raw_wait.isdigit() or int(raw_wait) > MAX_WAIT_S:
            return error(400, "input", f"wait must be whole seconds from 0 to {MAX_WAIT_S}, not {raw_wait!r}")
        seen = self.desk.changes
        if request.headers.get("if-none-match") == self._etag(seen):  # the caller has this state
            await self.desk.changed_since(seen, int(raw_wait))  # a long poll; wait=0 returns now
            if self.desk.changes == seen:
                return Response(status_code=304, headers={"etag": self._etag(seen), **NO_STORE})
        changes = self.desk.changes  # read before the row: a change meanwhile makes this ETag stale
        row = await self.desk.get(bid)
        if row is None:
            return self._missing(bid)
        record = await self.desk.record(bid) if row.status == "done" else None
        body = status_json(status_of(row, self.desk.position(bid)), record)
        return _json(body, headers={"etag": self._etag(changes)})

    async def delete(self, request: Request) -> Response:
        bid = request.path_params["brief_id"]
        deleted = await self.desk.delete(bid)
        self._pages.forget(bid)
        if deleted is None:
            return error(409, "running", f"brief {bid} is running; delete it once it is done or failed")
        if not deleted:
            return self._missing(bid)
        return Response(status_code=204, headers={**NO_STORE, **SECURITY_HEADERS})

    def _missing(self, bid: str) -> Response:
        return error(404, "not_found", f"no brief {bid!r} here; list them with GET /v1/briefs")

    async def _done(self, bid: str) -> EventSummary | Response:
        row = await self.desk.get(bid)
        if row is None:
            return self._missing(bid)
        if row.status == "failed":
            return error(409, "failed", f"brief {bid} failed: {row.error}")
        if row.status != "done":
            return error(
                409, "not_done", f"brief {bid} is {row.status}; wait until GET /v1/briefs/{bid} says done"
            )
        stored = await self.desk.record(bid)
        assert stored is not None
        return await asyncio.to_thread(EventSummary.model_validate_json, stored)

    async def as_json(self, request: Request) -> Response:
        record = await self._done(request.path_params["brief_id"])
        if isinstance(record, Response):
            return record
        return _json((to_json(record) + "\n").encode("utf-8"))

    async def as_markdown(self, request: Request) -> Response:
        record = await self._done(request.path_params["brief_id"])
        if isinstance(record, Response):
            return record
        return Response(
            to_markdown(record), media_type="text/markdown", headers={**NO_STORE, **SECURITY_HEADERS}
        )

    async def as_html(self, request: Request) -> Response:
        bid = request.path_params["brief_id"]
        row = await self.desk.get(bid)
        key = (bid, row.finished_at if row is not None else None)
        text = self._pages.get(key) if row is not None and row.status == "done" else None
        if text is None:
            record = await self._done(bid)
            if isinstance(record, Response):
                return record
            text = await asyncio.to_thread(to_html, record)
            self._pages.put(key, text)
        return Response(
            text, media_type="text/html",
            headers={"content-security-policy": brief_policy(), **NO_STORE, **SECURITY_HEADERS},
        )  # fmt: skip
