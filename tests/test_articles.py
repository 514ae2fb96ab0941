from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from summarizer.articles import load_article, normalize_text, parse_article
from summarizer.errors import ConfigurationError, InputError
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


@pytest.mark.parametrize(
    ("head", "dateline"),
    [("", None), ('<meta property="article:published_time" content="2022-04-02T10:00:00Z">', "2022-04-02")],
)
def test_a_pages_copyright_footer_never_becomes_the_dateline(
    tmp_path: Path, head: str, dateline: str | None
) -> None:
    body = (
        "<p>The council of Springfield voted on Tuesday to build two new bridges over the river, "
        "officials said after a long debate.</p><p>Opponents said the plan would raise local taxes "
        "for years to come, and vowed to appeal the decision.</p>"
    )
    page = (
        f"<html><head><title>Bridge vote</title>{head}</head><body><article><h1>Bridge vote</h1>{body}"
        "</article><footer><p>Copyright 2016 Example News. All rights reserved.</p></footer></body></html>"
    )
    path = tmp_path / "page.html"
    path.write_text(page, encoding="utf-8")
    assert load_article(path).published_at == dateline


def test_json_article_fields(tmp_path: Path) -> None:
    p = tmp_path / "a.json"
    p.write_text(
        json.dumps({"id": "x1", "title": "T", "text": "Body  text of the story\r\n", "url": "https://e.x/a"})
    )
    a = load_article(p)
    assert (a.id, a.title, a.text, a.url) == ("x1", "T", "Body  text of the story", "https://e.x/a")


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


# --------------------------------------------------------------------------- encodings, titles, extras


def test_utf8_bom_json_parses(tmp_path: Path) -> None:
    p = tmp_path / "bom.json"
    p.write_bytes(
        b"\xef\xbb\xbf" + json.dumps({"id": "b1", "title": "T", "text": "Body text of the story."}).encode()
    )
    a = load_article(p)
    assert (a.id, a.title, a.text) == ("b1", "T", "Body text of the story.")


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
@pytest.mark.parametrize("suffix", [".txt", ".json"])
def test_utf16_and_utf32_with_a_bom_are_decoded(tmp_path: Path, codec: str, suffix: str) -> None:
    body = "Привет, Zürich: 1,800 people evacuated."
    text = json.dumps({"title": "Ünïcode", "text": body}) if suffix == ".json" else f"Ünïcode\n\n{body}"
    p = tmp_path / f"wide{suffix}"
    p.write_bytes("\ufeff".encode(codec) + text.encode(codec))
    a = load_article(p)
    assert a.title == "Ünïcode" and a.text.endswith(body) and "\ufeff" not in a.text


def test_utf16_that_is_not_utf16_says_how_to_convert(tmp_path: Path) -> None:
    p = tmp_path / "odd.txt"
    p.write_bytes(b"\xff\xfe" + "News".encode("utf-16-le") + b"\x00\xdc")  # a lone low surrogate
    message = _load_error(p)
    assert "UTF-16" in message and "iconv -f utf-16 -t utf-8" in message


@pytest.mark.parametrize(
    ("first_line", "title"),
    [
        ("# Floods hit the Morava", "Floods hit the Morava"),
        ("### Floods hit the Morava ###", "Floods hit the Morava"),
        ("   ## Floods hit the Morava #  ", "Floods hit the Morava"),
        ("#Floods", "#Floods"),  # not a heading in Markdown: kept
        ("Floods hit # 2", "Floods hit # 2"),
    ],
)
def test_markdown_title_loses_its_heading_marks(tmp_path: Path, first_line: str, title: str) -> None:
    p = tmp_path / "a.md"
    p.write_text(f"{first_line}\n\nThe river rose overnight.", encoding="utf-8")
    a = load_article(p)
    assert a.title == title
    assert a.text.startswith(first_line.strip())  # the text (and every span) keeps the marks
    t = tmp_path / "a.txt"
    t.write_text("# Not Markdown\n\nBody of the story.", encoding="utf-8")
    assert load_article(t).title == "# Not Markdown"


def test_html_without_trafilatura_is_a_one_line_configuration_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "trafilatura", None)  # `import trafilatura` -> ImportError
    p = tmp_path / "a.html"
    p.write_text("<html><body><p>News.</p></body></html>", encoding="utf-8")
    with pytest.raises(ConfigurationError) as info:
        load_article(p)
    message = str(info.value)
    assert "\n" not in message and str(p) in message
    assert "pip install trafilatura 'lxml[html_clean]'" in message and info.value.exit_code == 2


def test_html_without_lxml_html_clean_names_the_fix_instead_of_a_traceback(tmp_path: Path) -> None:
    """As on a machine where pip resolved lxml without its html_clean extra."""
    p = tmp_path / "a.html"
    p.write_text("<html><body><article><p>News of the day.</p></article></body></html>", encoding="utf-8")
    script = (
        "import sys; sys.modules['lxml_html_clean'] = None; "
        "from summarizer.cli import main; sys.argv = ['summarizer', 'brief', sys.argv[1]]; main()"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "SUMMARIZER_"))}
    # A dead endpoint: should loading ever succeed, nothing starts a model.
    env.update({"OPENAI_BASE_URL": "http://127.0.0.1:9/v1", "SUMMARIZER_MODEL": "m"})
    proc = subprocess.run(
        [sys.executable, "-c", script, str(p)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("summarizer: error: "), proc.stderr
    assert "lxml_html_clean" in lines[0] and "pip install 'lxml[html_clean]'" in lines[0]


def test_a_stray_byte_order_mark_is_no_article(tmp_path: Path) -> None:
    """Found by running a batch over a folder with a broken file: six bytes starting with a
    UTF-16 byte-order mark decoded to two CJK characters, and the model was asked three times."""
    bad = tmp_path / "broken.txt"
    bad.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(InputError, match=r"broken\.txt: starts like UTF-16.* only 2 characters; re-save"):
        load_article(bad)


@pytest.mark.parametrize(
    ("name", "data", "found"),
    [
        ("page.html", b"<html><body><div><p>unclosed", "HTML extraction found only 1 word"),
        ("note.txt", b"Breaking news", "the text has only 2 words"),
        ("row.json", b'{"id": "a", "text": "Floods again"}', "the text has only 2 words"),
    ],
)
def test_a_fragment_is_not_an_article(tmp_path: Path, name: str, data: bytes, found: str) -> None:
    """A batch summarized a broken page that extracts to one word ("unclosed") with three model
    calls; a fragment is refused with the file's name and the fix."""
    p = tmp_path / name
    p.write_bytes(data)
    with pytest.raises(
        InputError, match=rf"{name}: {found}; give the whole article \(at least 5 words or 40 characters\)"
    ):
        load_article(p)


def test_text_without_spaces_is_not_a_fragment(tmp_path: Path) -> None:
    p = tmp_path / "zh.txt"
    p.write_text(
        "北京市政府周二宣布，由于暴雨，全市中小学停课一天，地铁部分线路暂停运营。市民被要求尽量留在家中，并关注气象部门的最新预警信息。",
        encoding="utf-8",
    )
    assert len(load_article(p).text.split()) == 1
