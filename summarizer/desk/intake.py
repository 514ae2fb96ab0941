"""Request bodies -> one ``Article``, by the CLI's rules and with its messages.

``POST /v1/briefs`` takes three kinds of body:

- ``application/json``: an object with ``text`` and optional ``title``, ``url``, ``published_at``,
  ``publisher`` (and ``id``), checked as a ``.json`` article file is;
- ``multipart/form-data`` with one ``file`` (``.txt .md .html .json``): read as that file would be,
  named by its file name; a form without a file (multipart or urlencoded) is read like the JSON;
- raw text: ``text/plain`` (``.txt``), ``text/markdown`` (``.md``), ``text/html`` (``.html``), or no
  type / ``application/octet-stream`` (text, or HTML when it starts with ``<``), as stdin is.

Every refusal is an ``Intake`` error: the CLI's ``InputError`` message and an HTTP status (413
too large, 415 unsupported type, 422 unusable content).
"""

from __future__ import annotations

from pathlib import PurePosixPath, PureWindowsPath

from summarizer.articles import SUPPORTED_SUFFIXES, Article, parse_article
from summarizer.errors import InputError

BODY_NAME = "request body"
RAW_SUFFIX = {
    "text/plain": ".txt",
    "text/markdown": ".md",
    "text/x-markdown": ".md",
    "text/html": ".html",
    "application/json": ".json",
    "application/octet-stream": "",
    "": "",
}


class Intake(InputError):
    """A body the desk cannot take; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def too_large(name: str, size: int, max_bytes: int) -> Intake:
    return Intake(
        f"{name}: {size:,} bytes is over the {max_bytes:,}-byte limit; split the file or raise --max-bytes",
        413,
    )


def _parse(data: bytes, *, name: str, suffix: str, default_id: str, max_bytes: int) -> Article:
    if len(data) > max_bytes:
        raise too_large(name, len(data), max_bytes)
    try:
        return parse_article(data, name=name, suffix=suffix, default_id=default_id)
    except Intake:
        raise
    except InputError as err:
        raise Intake(str(err), 415 if suffix.lower() not in SUPPORTED_SUFFIXES else 422) from None


def from_body(data: bytes, content_type: str | None, *, max_bytes: int) -> Article:
    """A JSON or raw-text body (not multipart; see ``from_upload``)."""
    kind = media_type(content_type)
    if kind not in RAW_SUFFIX:
        raise Intake(
            f"{BODY_NAME}: unsupported content type '{kind}'; send application/json, "
            "multipart/form-data with a file, text/plain, text/markdown or text/html",
            415,
        )
    return _parse(data, name=BODY_NAME, suffix=RAW_SUFFIX[kind], default_id="desk", max_bytes=max_bytes)


def upload_name(filename: str | None) -> str:
    """The file's own name, without any folder a browser or client put in front of it."""
    raw = (filename or "").strip()
    name = PureWindowsPath(PurePosixPath(raw).name).name
    return " ".join(name.split())[:200] or "upload"


def from_upload(data: bytes, filename: str | None, *, max_bytes: int) -> Article:
    name = upload_name(filename)
    path = PurePosixPath(name)
    return _parse(data, name=name, suffix=path.suffix, default_id=path.stem or "upload", max_bytes=max_bytes)
