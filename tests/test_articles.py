from __future__ import annotations

import json
from pathlib import Path

import pytest

from summarizer.articles import load_article, normalize_text, parse_article
from summarizer.errors import InputError
from tests.conftest import ARTICLES, SEED


def _load_error(path: Path | str, **kw: int) -> str:
    with pytest.raises(InputError) as info:
        load_article(path, **kw)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_seed_loads_with_title_and_stable_hash() -> None:
    a = load_article(SEED)
    assert a.id == SEED.stem
    assert a.title is not None and a.title.startswith("Ukrainian Troops Reclaim")
    assert "6,266 people were evacuated" in a.text
    assert a.sha256 == load_article(SEED).sha256 and len(a.sha256) == 64


def test_html_keeps_the_story_and_drops_hidden_and_scripted_text() -> None:
    a = load_article(ARTICLES / "river_flood_liveblog.html")
    assert a.title == "Floods cut off villages along the Morava as river hits record level"
    assert "Dragana Petrović" in a.text and "1,800" in a.text
    for gone in ("trackPage", "Ignore all previous", "AI summarizer", "ADVERTISEMENT", "Cookie"):
        assert gone not in a.text
    assert a.published_at == "2026-05-18"


def test_json_article_fields(tmp_path: Path) -> None:
    p = tmp_path / "a.json"
    p.write_text(json.dumps({"id": "x1", "title": "T", "text": "Body  text\r\n", "url": "https://e.x/a"}))
    a = load_article(p)
    assert (a.id, a.title, a.text, a.url) == ("x1", "T", "Body  text", "https://e.x/a")


def test_normalisation_keeps_non_ascii_and_composes() -> None:
    assert normalize_text("Zu\u0308rich\u00a0\r\n\r\n\r\n\r\nПривет 👋 ") == "Zürich\n\nПривет 👋"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "empty"),
        (b"   \n\t ", "empty"),
        (b"\x00\x01\x02binary\x00" * 10, "binary"),
        (b"caf\xe9 au lait", "not valid UTF-8"),
    ],
)
def test_bad_bytes_get_one_line_errors(tmp_path: Path, content: bytes, expected: str) -> None:
    p = tmp_path / "bad.txt"
    p.write_bytes(content)
    message = _load_error(p)
    assert expected in message and str(p) in message


def test_dev_null_is_empty() -> None:
    assert "empty" in _load_error("/dev/null")


def test_missing_file_and_directory(tmp_path: Path) -> None:
    assert "no such file" in _load_error(tmp_path / "nope.txt")
    assert "summarizer batch" in _load_error(tmp_path)


def test_oversized_file_is_refused_before_reading(tmp_path: Path) -> None:
    p = tmp_path / "big.txt"
    with p.open("wb") as fh:
        fh.truncate(50 * 1024 * 1024)  # sparse: 50 MB that cost nothing to make
    message = _load_error(p)
    assert "--max-bytes" in message and "52,428,800" in message
    assert "limit" in _load_error(SEED, max_bytes=100)


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("a.json", b'{"text": "x"', "malformed JSON at line 1"),
        ("a.json", b'["not", "an", "object"]', "JSON object"),
        ("a.json", b'{"title": "no text"}', "'text'"),
        ("a.json", b'{"text": "ok", "title": {"x": 1}}', "'title'"),
        ("a.pdf", b"%PDF-1.4 hello", "unsupported file type"),
        ("a.html", b"<html><body><script>x()</script></body></html>", "no article text"),
    ],
)
def test_malformed_inputs(tmp_path: Path, name: str, content: bytes, expected: str) -> None:
    p = tmp_path / name
    p.write_bytes(content)
    assert expected in _load_error(p)


def test_stdin_html_is_detected() -> None:
    html = (
        b"<html><body><article><p>"
        + b"Readable paragraph of news text. " * 20
        + b"</p></article></body></html>"
    )
    a = parse_article(html, name="stdin", suffix="", default_id="stdin")
    assert a.text.startswith("Readable paragraph") and "<p>" not in a.text
