"""The JSON bodies of the desk's API, as pydantic models: answers are built from them and the
OpenAPI document (``openapi.py``) is generated from them, so the two cannot drift apart."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from summarizer.desk.store import Row
from summarizer.schema import EventSummary

Status = Literal["queued", "running", "done", "failed"]
MAX_WAIT_S = 60  # longest long poll (?wait=): under proxies' usual 60-120 s idle timeouts
REGENERATE_TEMPERATURE = 0.7  # a regenerated brief's sampling: another answer, grounded the same


class ArticleIn(BaseModel):
    """``POST /v1/briefs`` as JSON: the same fields as a ``.json`` article file."""

    model_config = ConfigDict(extra="allow")

    text: str = Field(description="The article text (plain text; paragraphs separated by a blank line).")
    title: str | None = Field(default=None, description="Defaults to the first line of the text.")
    url: str | None = None
    published_at: str | None = Field(default=None, description="Dateline, e.g. 2022-04-02.")
    publisher: str | None = None
    id: str | None = Field(default=None, description="Your id for the article; defaults to the brief id.")


class Links(BaseModel):
    status: str = Field(description="This brief's status (GET).")
    json_: str = Field(alias="json", description="The record alone, as `summarizer brief --format json`.")
    markdown: str
    html: str = Field(description="The review page: the brief beside the article, every item linked.")


class Timings(BaseModel):
    """Seconds, once the brief is finished. ``overhead_s`` = total - queued - model: the desk's own
    work (intake, store writes, prompt, parsing, validation, grounding)."""

    queued_s: float = Field(description="Waiting in the queue for a free worker.")
    model_s: float = Field(description="Waiting for the model's HTTP answers (all attempts).")
    extract_s: float | None = Field(
        description="The extraction as a whole: model answers, parsing, validation."
    )
    total_s: float
    overhead_s: float


class BriefStatus(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    id: str
    status: Status
    position: int | None = Field(default=None, description="1-based place in the queue (queued only).")
    title: str | None = None
    source: str | None = Field(
        default=None, description="Where the article came from: a file name or 'request body'."
    )
    headline: str | None = None
    needs_review: bool | None = None
    error: str | None = Field(default=None, description="Failed: the one-line reason.")
    error_kind: str | None = None
    submitted_at: str
    started_at: str | None = None
    finished_at: str | None = None
    elapsed_s: float = Field(description="Since it was submitted; when finished, how long it took.")
    model_calls: int = Field(description="Model requests this brief has cost (re-asks, retries, reruns).")
    timings: Timings | None = None
    links: Links
    record: EventSummary | None = Field(default=None, description="Done: the stored record.")


class BriefList(BaseModel):
    items: list[BriefStatus] = Field(description="Most recent first, without their records.")
    total: int = Field(description="Briefs that match (``q``) in all; page with ``offset``.")
    offset: int = Field(description="How many newer matching briefs come before ``items``.")
    queued: int
    running: int


class Health(BaseModel):
    ok: bool
    model: str
    backend: str | None = Field(description="The endpoint's host, 'embedded', or null while starting.")
    model_error: str | None = None
    queued: int
    running: int
    token_required: bool


class ErrorDetail(BaseModel):
    status: int
    kind: str = Field(description="input, authentication, not_found, rate_limited, queue_full, ...")
    message: str = Field(description="One line that names the fix (the CLI's own message for bad input).")


class ErrorBody(BaseModel):
    error: ErrorDetail


def _iso(at: float | None) -> str | None:
    return None if at is None else datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds")


def links_for(bid: str) -> Links:
    base = f"/v1/briefs/{bid}"
    return Links(status=base, json=f"{base}.json", markdown=f"{base}.md", html=f"{base}.html")


def status_of(row: Row, position: int | None, now: float | None = None) -> BriefStatus:
    now = time.time() if now is None else now
    finished = row.status in {"done", "failed"} and row.finished_at is not None
    timings = None
    if finished and row.finished_at is not None:
        entered = row.queued_at if row.queued_at is not None else row.submitted_at
        started = row.started_at if row.started_at is not None else entered
        total = row.finished_at - row.submitted_at
        queued = max(0.0, started - entered)
        model = row.model_s or 0.0
        timings = Timings(
            queued_s=round(queued, 4), model_s=round(model, 4), extract_s=row.extract_s,
            total_s=round(total, 4), overhead_s=round(total - queued - model, 4),
        )  # fmt: skip
    end = row.finished_at if finished and row.finished_at is not None else now
    return BriefStatus(
        id=row.id,
        status=row.status,
        position=position if row.status == "queued" else None,
        title=row.title,
        source=row.source,
        headline=row.headline,
        needs_review=row.needs_review,
        error=row.error if row.status == "failed" else None,
        error_kind=row.error_kind if row.status == "failed" else None,
        submitted_at=_iso(row.submitted_at) or "",
        started_at=_iso(row.started_at),
        finished_at=_iso(row.finished_at) if finished else None,
        elapsed_s=round(max(0.0, end - row.submitted_at), 3),
        model_calls=row.model_calls,
        timings=timings,
        links=links_for(row.id),
    )


def status_json(status: BriefStatus, record: str | None = None) -> bytes:
    """The status as JSON; ``record`` (the stored JSON text) is spliced in as is, not re-parsed."""
    body = status.model_dump_json(by_alias=True, exclude={"record"})
    if record is None:
        return body.encode("utf-8")
    return (body[:-1] + ',"record":' + record + "}").encode("utf-8")
