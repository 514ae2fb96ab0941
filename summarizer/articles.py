"""Loading articles: files and stdin in, one normalised ``Article`` out, or one clear ``InputError``.

Formats: ``.txt``/``.md`` (first non-empty line is the title), ``.html``/``.htm`` (visible article
text extracted by trafilatura: scripts, comments and hidden elements never reach the model), and
``.json`` (an object with ``text`` and optional ``id``, ``title``, ``url``, ``published_at``,
``publisher``).
"""

from __future__ import annotations

import hashlib
import json
import re
import stat
import sys
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from summarizer.errors import InputError

TEXT_SUFFIXES = {".txt", ".md", ".markdown", ""}
HTML_SUFFIXES = {".html", ".htm"}
JSON_SUFFIXES = {".json"}
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | JSON_SUFFIXES
DEFAULT_MAX_BYTES = 2_000_000


@dataclass(frozen=True)
class Article:
    """A loaded article. ``text`` is normalised; every span in a record refers to it."""

    id: str
    text: str
    title: str | None = None
    url: str | None = None
    published_at: str | None = None
    publisher: str | None = None
    source_path: str | None = None

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


def normalize_text(text: str) -> str:
    """Canonical article text: NFC, Unix newlines, no trailing spaces, at most one blank line.

    NFC (not NFKC) keeps what the article printed; the grounding layer compares under NFKC.
    """
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\u00a0", " ").replace("\ufeff", "")
    lines = [line.rstrip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _decode(data: bytes, name: str) -> str:
    if not data.strip():
        raise InputError(f"{name}: the file is empty; give an article with some text in it")
    head = data[:8192]
    if b"\x00" in head or sum(b < 9 or 13 < b < 32 for b in head) > len(head) * 0.05:
        raise InputError(
            f"{name}: this looks like a binary file, not an article; give a .txt, .md, .html or .json file"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{name}: not valid UTF-8 (byte {exc.start}); re-save the file as UTF-8, "
            "e.g. iconv -f latin1 -t utf-8"
        ) from None


def _read_limited(path: Path, max_bytes: int) -> bytes:
    name = str(path)
    try:
        info = path.stat()
    except FileNotFoundError:
        raise InputError(f"{name}: no such file; check the path") from None
    except OSError as exc:
        raise InputError(f"{name}: cannot read ({exc.strerror}); check the path and permissions") from None
    if stat.S_ISDIR(info.st_mode):
        raise InputError(f"{name}: is a directory; use `summarizer batch` for folders")
    if stat.S_ISFIFO(info.st_mode) or stat.S_ISSOCK(info.st_mode):
        raise InputError(
            f"{name}: not a regular file (a pipe or socket); give an article file, or - for stdin"
        )
    if info.st_size > max_bytes:
        raise InputError(
            f"{name}: {info.st_size:,} bytes is over the {max_bytes:,}-byte limit; "
            "split the file or raise --max-bytes"
        )
    try:
        with path.open("rb") as fh:
            # Character devices report size 0: read at most the limit plus one byte.
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise InputError(f"{name}: cannot read ({exc.strerror}); check the path and permissions") from None
    if len(data) > max_bytes:
        raise InputError(f"{name}: over the {max_bytes:,}-byte limit; split it or raise --max-bytes")
    return data


def _html_to_text(html: str, name: str) -> tuple[str, dict[str, str | None]]:
    import trafilatura  # slow import: only when HTML is actually given

    try:
        doc = trafilatura.bare_extraction(
            html, include_comments=False, include_tables=False, with_metadata=True, favor_precision=True
        )
    except Exception as exc:  # lxml and friends raise many kinds on broken markup
        raise InputError(
            f"{name}: cannot parse this HTML ({type(exc).__name__}); save the page again or give its text"
        ) from None
    body = getattr(doc, "text", None) if doc is not None else None
    if not body or not str(body).strip():
        raise InputError(
            f"{name}: no article text found in this HTML; save the article page itself, "
            "or paste its text into a .txt file"
        )
    meta = {k: getattr(doc, k, None) for k in ("title", "url", "date", "sitename")}
    # trafilatura separates paragraphs with one newline; a blank line is our paragraph mark.
    return str(body).replace("\n", "\n\n"), {
        "title": meta["title"],
        "url": meta["url"],
        "published_at": meta["date"],
        "publisher": meta["sitename"],
    }


def _str_field(obj: dict[str, Any], key: str, name: str) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str | int | float):
        raise InputError(f"{name}: field '{key}' must be a string; fix the JSON")
    return str(value)


def article_from_mapping(obj: Any, *, name: str, default_id: str) -> Article:
    """Build an article from a JSON object (a .json file or one JSONL line)."""
    if not isinstance(obj, dict):
        raise InputError(f"{name}: expected a JSON object with a 'text' field; fix the JSON")
    text = obj.get("text")
    if not isinstance(text, str) or not text.strip():
        raise InputError(f"{name}: the JSON has no non-empty 'text' field; add the article text")
    title = _str_field(obj, "title", name)
    body = normalize_text(text)
    return Article(
        id=_str_field(obj, "id", name) or default_id,
        text=body,
        title=title.strip() if title else _first_line(body),
        url=_str_field(obj, "url", name),
        published_at=_str_field(obj, "published_at", name),
        publisher=_str_field(obj, "publisher", name),
        source_path=name,
    )


def _first_line(text: str) -> str | None:
    first = text.split("\n", 1)[0].strip()
    return first[:300] or None


def parse_article(data: bytes, *, name: str, suffix: str, default_id: str) -> Article:
    """Turn raw bytes into an ``Article`` according to ``suffix``; raise ``InputError`` if unfit."""
    suffix = suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise InputError(f"{name}: unsupported file type '{suffix}'; give .txt, .md, .html or .json")
    raw = _decode(data, name)
    if suffix in JSON_SUFFIXES:
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise InputError(
                f"{name}: malformed JSON at line {exc.lineno} column {exc.colno}; fix the JSON"
            ) from None
        except RecursionError:
            raise InputError(f"{name}: JSON nested too deeply; fix the JSON") from None
        return article_from_mapping(obj, name=name, default_id=default_id)
    meta: dict[str, str | None] = {}
    if suffix in HTML_SUFFIXES or (suffix == "" and raw.lstrip()[:1] == "<"):
        raw, meta = _html_to_text(raw, name)
    text = normalize_text(raw)
    if not text:
        raise InputError(f"{name}: the file has no text; give an article with some text in it")
    return Article(
        id=default_id,
        text=text,
        title=meta.get("title") or _first_line(text),
        url=meta.get("url"),
        published_at=meta.get("published_at"),
        publisher=meta.get("publisher"),
        source_path=name,
    )


def load_article(path: str | Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Article:
    """Load one article from ``path`` (``-`` reads stdin as text, or HTML when it starts with '<')."""
    if str(path) == "-":
        data = sys.stdin.buffer.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise InputError(f"stdin: over the {max_bytes:,}-byte limit; raise --max-bytes")
        return parse_article(data, name="stdin", suffix="", default_id="stdin")
    p = Path(path)
    data = _read_limited(p, max_bytes)
    return parse_article(data, name=str(p), suffix=p.suffix, default_id=p.stem)
