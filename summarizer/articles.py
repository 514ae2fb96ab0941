"""Loading articles: files and stdin in, one normalised ``Article`` out, or one clear ``InputError``.

Formats: ``.txt``/``.md`` (first non-empty line is the title; a Markdown title loses its ``#``
marks), ``.html``/``.htm`` (visible article text extracted by trafilatura: scripts, comments and
hidden elements never reach the model), and ``.json`` (an object with ``text`` and optional ``id``,
``title``, ``url``, ``published_at``, ``publisher``).

Encodings: UTF-8, with or without a byte-order mark; UTF-16 and UTF-32 when the file starts with
their byte-order mark (what Windows editors write for "Unicode"). Anything else must be UTF-8.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import re
import stat
import sys
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from summarizer.canonical import canonical
from summarizer.errors import ConfigurationError, InputError

TEXT_SUFFIXES = {".txt", ".md", ".markdown", ""}
HTML_SUFFIXES = {".html", ".htm"}
JSON_SUFFIXES = {".json"}
MARKDOWN_SUFFIXES = {".md", ".markdown"}
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | JSON_SUFFIXES
DEFAULT_MAX_BYTES = 2_000_000
# UTF-32 first: its little-endian mark begins with UTF-16's (FF FE).
WIDE_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
HTML_EXTRA_FIX = "pip install 'lxml[html_clean]'"


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
    """Canonical article text: NFC, Unix newlines, no trailing spaces, at most one blank line,
    and nothing that hides from the checks (``summarizer.canonical``: zero-width and bidi
    characters removed, look-alike letters and compatibility digits folded).

    NFC (not NFKC) keeps what the article printed (quotation marks, "…", "½"); the grounding
    layer compares under NFKC.
    """
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    text = canonical(text)
    lines = [line.rstrip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def wide_encoding(data: bytes) -> str | None:
    """``"utf-16"`` or ``"utf-32"`` when ``data`` starts with that encoding's byte-order mark."""
    for bom, encoding in WIDE_BOMS:
        if data.startswith(bom):
            return encoding
    return None


def _looks_binary(head: str | bytes) -> bool:
    codes = head.encode("latin-1", "replace") if isinstance(head, str) else head
    return b"\x00" in codes or sum(b < 9 or 13 < b < 32 for b in codes) > len(codes) * 0.05


def _binary_error(name: str) -> InputError:
    return InputError(
        f"{name}: this looks like a binary file, not an article; give a .txt, .md, .html or .json file"
    )


MIN_WIDE_CHARS = 20  # non-space characters a UTF-16/32 file must decode to


def _empty_error(name: str) -> InputError:
    return InputError(f"{name}: the file is empty; give an article with some text in it")


def _decode(data: bytes, name: str) -> str:
    wide = wide_encoding(data)
    if wide is not None:
        # Decoded by its byte-order mark (which the codec drops); checked like UTF-8 after.
        try:
            text = data.decode(wide)
        except UnicodeDecodeError as exc:
            label = wide.upper()
            raise InputError(
                f"{name}: starts like {label} but is not valid {label} (byte {exc.start}); "
                f"re-save the file as UTF-8, e.g. iconv -f {wide} -t utf-8"
            ) from None
        if not text.strip():
            raise _empty_error(name)
        if _looks_binary(text[:8192]):
            raise _binary_error(name)
        if (n := len("".join(text.split()))) < MIN_WIDE_CHARS:
            # six bytes after a UTF-16 byte-order mark decoded to two CJK characters, and the
            # model was asked three times to summarize them
            label = wide.upper()
            raise InputError(
                f"{name}: starts like {label} but decodes to only {n} characters; "
                f"re-save the file as UTF-8, e.g. iconv -f {wide} -t utf-8"
            )
        return text
    if not data.removeprefix(codecs.BOM_UTF8).strip():
        raise _empty_error(name)
    if _looks_binary(data[:8192]):
        raise _binary_error(name)
    try:
        # utf-8-sig: a leading byte-order mark (Notepad writes one) is not part of the text.
        return data.decode("utf-8-sig")
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


def _missing_html_part(exc: ImportError, name: str) -> ConfigurationError:
    """A part of the HTML extractor is not installed: one line naming the fix, no traceback.

    The usual case: lxml 5.2 moved ``lxml.html.clean`` out into ``lxml_html_clean`` (the
    ``lxml[html_clean]`` extra), which justext (under trafilatura) imports; a pip that resolved
    lxml without the extra leaves it out.
    """
    said = " ".join(str(exc).split())
    if "html_clean" in said or "html-clean" in said or (exc.name or "").startswith("lxml"):
        what, fix = exc.name or "lxml_html_clean", HTML_EXTRA_FIX
    else:
        what, fix = exc.name or said, "pip install trafilatura 'lxml[html_clean]'"
    return ConfigurationError(f"{name}: reading HTML needs {what}, which is not installed; run: {fix}")


_DATELINE_ONLY = {"extensive_search": False, "original_date": True}


def _html_to_text(html: str, name: str) -> tuple[str, dict[str, str | None]]:
    try:
        import trafilatura  # slow import: only when HTML is actually given

        doc = trafilatura.bare_extraction(
            html, include_comments=False, include_tables=False, with_metadata=True, favor_precision=True,
            # The dateline from the page's markup only (meta tags, <time>, structured data), never
            # guessed from its text: a footer's "Copyright 2016" made an event dated 2015-12-30.
            date_extraction_params=_DATELINE_ONLY,
        )  # fmt: skip
    except ImportError as exc:  # a missing optional part, at import or lazily inside trafilatura
        raise _missing_html_part(exc, name) from None
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


MIN_WORDS = 5  # fewer (and few characters) is no article: a model call would summarize a fragment
MIN_CHARS = 40  # non-space characters: Chinese or Japanese text has no spaces between words


def _check_words(text: str, name: str, *, html: bool = False) -> None:
    """Refuse a fragment: a broken page that extracts to one word cost three model calls."""
    if (n := len(text.split())) < MIN_WORDS and len("".join(text.split())) < MIN_CHARS:
        found = "HTML extraction found" if html else "the text has"
        raise InputError(
            f"{name}: {found} only {n} word{'s' * (n != 1)}; give the whole article "
            f"(at least {MIN_WORDS} words or {MIN_CHARS} characters)"
        )


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
    _check_words(body, name)
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


_ATX_OPEN = re.compile(r"^ {0,3}#{1,6}(?:[ \t]+|$)")
_ATX_CLOSE = re.compile(r"(?:^|[ \t]+)#+[ \t]*$")


def markdown_title(line: str | None) -> str | None:
    """A Markdown heading line without its ATX marks: ``## Floods hit ##`` -> ``Floods hit``.

    Only the title changes; the article text (which every span refers to) keeps its marks.
    """
    if line is None or not _ATX_OPEN.match(line):
        return line
    title = _ATX_CLOSE.sub("", _ATX_OPEN.sub("", line, count=1)).strip()
    return title or None


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
    _check_words(text, name, html=bool(meta))
    title = meta.get("title") or _first_line(text)
    if suffix in MARKDOWN_SUFFIXES:
        title = markdown_title(title)
    return Article(
        id=default_id,
        text=text,
        title=title,
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
