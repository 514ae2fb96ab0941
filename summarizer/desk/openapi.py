"""The OpenAPI 3.1 document of the desk's API (``GET /openapi.json``).

Schemas come from the pydantic models of ``bodies`` (and the record's own ``EventSummary``), so
they are what the answers are made of; ``tests/test_serve.py`` checks that every route of the app
is documented here and that answers validate against these schemas.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from pydantic.json_schema import models_json_schema

from summarizer.desk.bodies import (
    MAX_WAIT_S,
    REGENERATE_TEMPERATURE,
    ArticleIn,
    BriefList,
    BriefStatus,
    ErrorBody,
    Health,
)
from summarizer.schema import EventSummary

REF = "#/components/schemas/{model}"


def _version() -> str:
    from summarizer import __version__

    return __version__


@lru_cache(maxsize=1)
def _schemas() -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    keys, top = models_json_schema(
        [(ArticleIn, "validation"), (BriefStatus, "serialization"), (BriefList, "serialization"),
         (ErrorBody, "serialization"), (Health, "serialization"), (EventSummary, "serialization")],
        ref_template=REF,
    )  # fmt: skip
    refs = {model.__name__: schema for (model, _mode), schema in keys.items()}
    return refs, top.get("$defs", {})


def _json(ref: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ref}}}


def _errors(*codes: int) -> dict[str, Any]:
    refs, _ = _schemas()
    what = {
        400: "A bad query parameter.",
        401: "No token, or the wrong one (only when the desk was started with --token).",
        404: "No such brief.",
        403: "Refused by the desk's guard: a Host name it does not serve, or another site's Origin.",
        409: "The brief is not done (yet, or it failed: the body says which), it is running, or "
        "(retry) it is done.",
        413: "The article or the request body is over the limit.",
        415: "Unsupported content type or file type.",
        422: "Not a usable article (empty, binary, not UTF-8, malformed JSON, no 'text'): the CLI's message.",
        429: "Too many briefs from this client, or the queue is full; see Retry-After.",
        500: "The desk failed on this request (its log has the details).",
    }
    # Every route can meet the guard (403) and an internal error (500).
    out = {str(c): _json(refs["ErrorBody"], what[c]) for c in sorted({*codes, 403, 500})}
    if 429 in codes:
        out["429"]["headers"] = {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds."}}
    return out


def document(*, token_required: bool) -> dict[str, Any]:
    refs, defs = _schemas()
    secured: dict[str, Any] = {"security": [{"bearer": []}]} if token_required else {}
    auth = (401,) if token_required else ()
    brief_id = {"name": "brief_id", "in": "path", "required": True, "schema": {"type": "string"},
                "description": "The brief's id (24 hex digits of its key: text and metadata)."}  # fmt: skip
    status = _json(refs["BriefStatus"], "The brief's status; when done, with its record.")
    location = {"Location": {"schema": {"type": "string"}, "description": "The brief's status URL."}}
    poll = {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds before asking again."}}

    wait = {
        "name": "wait",
        "in": "query",
        "schema": {"type": "integer", "minimum": 0, "maximum": MAX_WAIT_S, "default": 0},
        "description": "Seconds to wait for a change when If-None-Match is sent.",
    }
    if_none_match = {
        "name": "If-None-Match",
        "in": "header",
        "schema": {"type": "string"},
        "description": "The ETag of the status you have.",
    }
    etag = {"ETag": {"schema": {"type": "string"}, "description": "The desk's state this answer saw."}}

    def rerun(summary: str, *, conflict: bool) -> dict[str, Any]:
        codes = (404, 409, 429) if conflict else (404, 429)  # 409: retry of a brief that is done
        responses = {
            "202": {
                **status,
                "description": "Queued (or already queued or running).",
                "headers": {**location, **poll},
            },
            **_errors(*auth, *codes),
        }
        return {"post": {"summary": summary, "parameters": [brief_id], **secured, "responses": responses}}

    def rendering(media: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
        return {
            "get": {
                "summary": description, "parameters": [brief_id], **secured,
                "responses": {"200": {"description": description, "content": {media: {"schema": schema}}},
                              **_errors(*auth, 404, 409)},
            }
        }  # fmt: skip

    paths: dict[str, Any] = {
        "/": {"get": {"summary": "The desk page (holds no data; asks for the token when one is set).",
                      "responses": {"200": {"description": "HTML", "content": {"text/html": {}}}}}},
        "/openapi.json": {"get": {"summary": "This document.", **secured, "responses": {
            "200": {"description": "OpenAPI 3.1", "content": {"application/json": {}}}, **_errors(*auth)}}},
        "/healthz": {"get": {"summary": "Whether the desk and its model are up.", **secured,
                             "responses": {"200": _json(refs["Health"], "Health"), **_errors(*auth)}}},
        "/v1/briefs": {
            "post": {
                "summary": "Submit an article for a brief.",
                "description": "JSON, a file upload (.txt .md .html .json) or raw text. A new article is "
                "queued (202). The same text under the same prompt, schema and model is the same brief: "
                "answered from the store when done (200), joined when queued or running (202), queued "
                "again when it failed (202).",
                **secured,
                "requestBody": {"required": True, "content": {
                    "application/json": {"schema": refs["ArticleIn"]},
                    "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
                        "file": {"type": "string", "format": "binary",
                                 "description": "An article file: .txt, .md, .html or .json."}}}},
                    "application/x-www-form-urlencoded": {"schema": refs["ArticleIn"]},
                    "text/plain": {"schema": {"type": "string"}},
                    "text/markdown": {"schema": {"type": "string"}},
                    "text/html": {"schema": {"type": "string"}},
                }},
                "responses": {
                    "202": {**status, "description": "Accepted: queued (or already queued or running).",
                            "headers": {**location, **poll}},
                    "200": {**status, "description": "Already done: served from the store, no model call.",
                            "headers": location},
                    **_errors(*auth, 413, 415, 422, 429),
                },
            },
            "get": {
                "summary": "Recent briefs, newest first.", **secured,
                "parameters": [
                    {"name": "limit", "in": "query",
                     "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 20}},
                    {"name": "q", "in": "query", "schema": {"type": "string"},
                     "description": "Only briefs whose title, headline, source or id contains this."},
                    {"name": "offset", "in": "query",
                     "schema": {"type": "integer", "minimum": 0, "default": 0},
                     "description": "Skip this many newer briefs (the list's total says how many match)."},
                ],
                "responses": {"200": _json(refs["BriefList"], "Briefs"), **_errors(*auth, 400)},
            },
        },
        "/v1/briefs/{brief_id}": {
            "get": {"summary": "A brief's status, and its record when done.",
                    "description": "A long poll: send the ETag of the last answer as If-None-Match, "
                    "with wait=S; the answer comes at the desk's next change, or 304 after S seconds.",
                    "parameters": [brief_id, wait, if_none_match], **secured,
                    "responses": {"200": {**status, "headers": etag},
                                  "304": {"description": "No change within wait seconds.", "headers": etag},
                                  **_errors(*auth, 400, 404)}},
            "delete": {"summary": "Delete a brief and its article for good (not while it runs).",
                       "parameters": [brief_id], **secured,
                       "responses": {"204": {"description": "Deleted."}, **_errors(*auth, 404, 409)}},
        },
        "/v1/briefs/{brief_id}/retry": rerun(
            "Queue a failed brief again (a kept model answer is grounded again, no new call).",
            conflict=True),
        "/v1/briefs/{brief_id}/regenerate": rerun(
            f"Ask the model again for a done or failed brief (another seed at temperature "
            f"{REGENERATE_TEMPERATURE}; the answer is grounded as every answer is). Costs a model call.",
            conflict=False),
        "/v1/briefs/{brief_id}.json": rendering("application/json", "The record (`--format json`).",
                                                refs["EventSummary"]),
        "/v1/briefs/{brief_id}.md": rendering("text/markdown", "The Markdown brief.", {"type": "string"}),
        "/v1/briefs/{brief_id}.html": rendering("text/html", "The HTML review page.", {"type": "string"}),
    }  # fmt: skip
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "summarizer desk",
            "version": _version(),
            "description": "Briefs of news articles: every quote, figure and claim tied to the "
            "article's words, or listed as rejected.",
        },
        "paths": paths,
        "components": {"schemas": defs},
    }
    if token_required:
        doc["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
    return doc
