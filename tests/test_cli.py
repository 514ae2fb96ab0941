"""The command line as a user meets it: help, one-line errors, exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, SEED


def run(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "SUMMARIZER_"))}
    return subprocess.run(
        [sys.executable, "-m", "summarizer", *args],
        capture_output=True, text=True, env={**clean, **(env or {})}, timeout=timeout, check=False,
    )  # fmt: skip


def assert_one_line_error(proc: subprocess.CompletedProcess[str], code: int, *needles: str) -> None:
    assert proc.returncode == code, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("summarizer: error: ")
    assert "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in lines[0]


@pytest.mark.parametrize("command", [[], ["brief"], ["schema"]])
def test_help_is_there_for_every_command(command: list[str]) -> None:
    proc = run(*command, "--help")
    assert proc.returncode == 0
    assert "Usage:" in proc.stdout


def test_brief_help_documents_configuration_and_exit_codes() -> None:
    out = run("brief", "--help").stdout
    for needle in ("--base-url", "OPENAI_BASE_URL", "--model", "--format", "Exit codes"):
        assert needle in out


def test_unreachable_endpoint_fails_after_retries_with_one_line() -> None:
    # The retries are real (transport.RetryingTransport); their waits are capped short so the
    # test does not sleep through the default backoff.
    env = {
        "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
        "SUMMARIZER_MODEL": "m",
        "SUMMARIZER_MAX_RETRY_WAIT": "0.01",
    }
    proc = run("brief", str(SEED), env=env)
    assert_one_line_error(proc, 4, "cannot reach http://127.0.0.1:9/v1", "OPENAI_BASE_URL")


def test_unreachable_endpoint_without_model_name_says_so() -> None:
    proc = run("brief", str(SEED), env={"OPENAI_BASE_URL": "http://127.0.0.1:9/v1"})
    assert_one_line_error(proc, 2, "--model")


@pytest.mark.parametrize(
    ("content", "needle"),
    [(b"\x00\xff\x00\x01" * 64, "binary"), (b"\xc3\x28 bad \xff", "UTF-8")],
)
def test_bad_files_get_one_line(tmp_path: Path, content: bytes, needle: str) -> None:
    p = tmp_path / "bad.txt"
    p.write_bytes(content)
    assert_one_line_error(run("brief", str(p)), 3, needle, str(p))


def test_dev_null_and_huge_file(tmp_path: Path) -> None:
    assert_one_line_error(run("brief", "/dev/null"), 3, "empty")
    big = tmp_path / "big.txt"
    with big.open("wb") as fh:
        fh.truncate(50 * 1024 * 1024)
    assert_one_line_error(run("brief", str(big)), 3, "--max-bytes")


def test_bad_format_and_bad_setting() -> None:
    assert_one_line_error(run("brief", str(SEED), "--format", "pdf"), 2, "markdown, json or html")
    proc = run("brief", str(SEED), env={"SUMMARIZER_TIMEOUT": "soon"})
    assert_one_line_error(proc, 2, "timeout")


def test_schema_command_prints_the_exported_schema() -> None:
    proc = run("schema")
    exported = (SEED.parent.parent / "schemas" / "event_summary.schema.json").read_text()
    assert proc.returncode == 0 and proc.stdout == exported


def test_batch_dry_run_names_its_counter_and_its_price(tmp_path: Path) -> None:
    """Nothing is called: OpenAI model names are counted with tiktoken's offline file and priced
    from genai-prices' bundled data; the embedded model is estimated and free."""
    inputs = tmp_path / "in"
    inputs.mkdir()
    ru = ROOT / "tests" / "data" / "tokens" / "ru.txt"
    (inputs / "ru.txt").write_text(ru.read_text(encoding="utf-8"), encoding="utf-8")
    out = str(tmp_path / "out.jsonl")
    dry = ("batch", str(inputs), "-o", out, "--dry-run")
    openai = {"OPENAI_BASE_URL": "https://api.openai.com/v1", "OPENAI_API_KEY": "k"}
    openai["SUMMARIZER_MODEL"] = "gpt-4o-mini"
    proc = run(*dry, env=openai)
    assert proc.returncode == 0, proc.stderr
    assert "1 articles (0 unreadable)" in proc.stdout
    assert "prompt tokens (tiktoken cl100k_base + 5% for o200k_base)" in proc.stdout
    assert "list price of gpt-4o-mini at OpenAI, genai-prices" in proc.stdout
    assert "(given prices)" in run(*dry, "--price-in", "1", "--price-out", "2", env=openai).stdout
    local = run(*dry, env={"OPENAI_BASE_URL": "http://127.0.0.1:9/v1", "SUMMARIZER_MODEL": "m"}).stdout
    assert "prompt tokens (estimate)" in local
    # A folder's pictures and other files are skipped, and the run says so.
    (inputs / "photo.jpg").write_bytes(b"\xff\xd8\xff")
    proc = run(*dry, env=openai)
    assert "1 articles (0 unreadable)" in proc.stdout
    assert "note: 1 file in the folders skipped, not an article type (photo.jpg)" in proc.stderr
    # The run's own files beside an output inside the folder are not among them.
    (inputs / "out.jsonl.index").write_bytes(b"")
    inside = run("batch", str(inputs), "-o", str(inputs / "out.jsonl"), "--dry-run", env=openai)
    assert "note: 1 file in the folders skipped, not an article type (photo.jpg)" in inside.stderr
    assert "cost unknown price: pass --price-in/--price-out" in local
    embedded = run(*dry).stdout
    assert "prompt tokens (estimate)" in embedded and "$0.00 at most (local model)" in embedded
    assert not Path(out).exists()
