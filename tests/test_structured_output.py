"""Structured-output forms: detected once per endpoint in ``auto`` mode, an error when forced.

Fault-injection tier: the refusals come from the fake server (tests/support/fake_openai.py),
whose ``reject_json_schema`` answer is a hand-written replay of the 500 llama-cpp-python's server
gives a ``json_schema`` request, not a recording. What is under test is our client: the form it
falls back to, that the refusal is neither retried nor re-asked, the exact request count, the
provenance, and the one notice.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx2
import openai
import pytest

from summarizer.articles import Article
from summarizer.errors import ConfigurationError
from summarizer.llm import AsyncModelClient, Endpoint, Extraction, StructuredOutputState
from summarizer.pipeline import Summarizer, prepare, resolve_endpoint
from summarizer.settings import Settings, StructuredOutput
from summarizer.transport import (
    AsyncRetryingTransport,
    CallStats,
    RetryingTransport,
    RetryPolicy,
    refuses_structured_output,
)
from tests.support.fake_openai import LLAMA_CPP_PYTHON_JSON_SCHEMA_MESSAGE, FakeServer

PARAGRAPH = (
    "The city council of {town} voted on Tuesday to build {n} new bridges, officials said. "
    '"We need them now," said councillor Maria Lopez. The plan costs {n}00 million euros.'
)
RUN_TIMEOUT = 60.0  # no run in this file may take longer


def _article(i: int = 0) -> Article:
    return Article(id=f"a{i}", title=f"Bridges for town {i}", text=PARAGRAPH.format(town=f"Town{i}", n=i + 2))


def _settings(fake: FakeServer, **kw: Any) -> Settings:
    base = {"base_url": fake.base_url, "model": "fake-model", "api_key": "k", "max_retries": 3,
            "max_retry_wait": 0.05}  # fmt: skip
    return Settings(**{**base, **kw})


def _notices(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("summarizer") and "refused" in r.getMessage()
    ]


# --------------------------------------------------------------------------- the fake's fault


def test_the_fake_refuses_json_schema_as_llama_cpp_python_does() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "hello bridges"}]}
    as_schema = {
        **body,
        "response_format": {"type": "json_schema", "json_schema": {"name": "X", "schema": {}}},
    }
    as_object = {**body, "response_format": {"type": "json_object", "schema": {}}}
    with FakeServer(reject_modes={"json_schema"}) as fake, httpx2.Client(timeout=5.0) as http:
        url = f"{fake.base_url}/chat/completions"
        refused = http.post(url, json=as_schema)
        assert http.post(url, json=as_object).status_code == 200
        fake.reset()
        fake.reject_modes = frozenset()
        fake.script("hello", ["reject_json_schema", "reject_json_schema"])  # the step form
        statuses = [http.post(url, json=as_schema).status_code, http.post(url, json=as_object).status_code]
    assert refused.status_code == 500
    error = refused.json()["error"]
    assert error == {"message": LLAMA_CPP_PYTHON_JSON_SCHEMA_MESSAGE, "type": "internal_server_error",
                     "param": None, "code": None}  # fmt: skip
    assert "response_format" in error["message"] and "'json_schema'" in error["message"]
    assert statuses == [500, 200]
    assert fake.fault_counts == {"reject_json_schema": 2}


@pytest.mark.parametrize(
    ("status", "body", "refusal"),
    [
        (500, json.dumps({"error": {"message": LLAMA_CPP_PYTHON_JSON_SCHEMA_MESSAGE}}), True),
        (400, '{"error": {"message": "Unsupported RESPONSE_FORMAT"}}', True),
        (422, '{"detail": [{"loc": ["body", "response_format", "type"]}]}', True),
        (500, '{"error": {"message": "CUDA out of memory"}}', False),  # a real fault: retried
        (503, '{"error": {"message": "response_format: overloaded"}}', False),
        (401, '{"error": {"message": "json_schema"}}', False),
    ],
)
def test_which_answers_are_refusals_of_the_form(status: int, body: str, refusal: bool) -> None:
    assert refuses_structured_output(status, body) is refusal


def _refusing_transport(body: str, status: int = 500) -> tuple[httpx2.MockTransport, list[int]]:
    sent: list[int] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        sent.append(1)
        return httpx2.Response(status, text=body, headers={"content-type": "application/json"})

    return httpx2.MockTransport(handler), sent


@pytest.mark.parametrize(
    ("message", "sends"), [(LLAMA_CPP_PYTHON_JSON_SCHEMA_MESSAGE, 1), ("CUDA out of memory", 4)]
)
def test_the_transport_never_retries_a_refusal_of_the_form(message: str, sends: int) -> None:
    body = json.dumps({"error": {"message": message, "type": "internal_server_error"}})
    policy = RetryPolicy(max_retries=3, initial_wait=0.001, max_wait=0.01)
    inner, sent = _refusing_transport(body)
    with httpx2.Client(transport=RetryingTransport(inner, policy)) as http:  # type: ignore[arg-type]
        assert http.post("http://t/v1/chat/completions", json={}).status_code == 500
    assert len(sent) == sends

    async def async_post() -> int:
        async_inner, async_sent = _refusing_transport(body)
        transport = AsyncRetryingTransport(async_inner, policy)  # type: ignore[arg-type]
        async with httpx2.AsyncClient(transport=transport) as http:
            assert (await http.post("http://t/v1/chat/completions", json={})).status_code == 500
        return len(async_sent)

    assert asyncio.run(async_post()) == sends


# --------------------------------------------------------------------------- the shared state


def _state(
    form: StructuredOutput = "json_schema", *, auto: bool = True
) -> tuple[StructuredOutputState, list[str]]:
    endpoint = Endpoint(base_url="http://llm.test/v1", api_key="k", model="m", structured_output=form,
                        backend="llm.test", context_window=None)  # fmt: skip
    notes: list[str] = []
    return StructuredOutputState(endpoint, auto=auto, notify=notes.append), notes


def _refused(status: int = 500) -> openai.APIStatusError:
    request = httpx2.Request("POST", "http://llm.test/v1/chat/completions")
    body = {"error": {"message": LLAMA_CPP_PYTHON_JSON_SCHEMA_MESSAGE, "type": "internal_server_error"}}
    response = httpx2.Response(status, json=body, request=request)
    return openai.InternalServerError("Error code: 500", response=response, body=body["error"])


def _outcome(state: StructuredOutputState, form: StructuredOutput, exc: Exception | None) -> None:
    with contextlib.suppress(Exception), state.observe(form):
        if exc is not None:
            raise exc


def test_the_state_moves_on_once_per_refused_form() -> None:
    state, notes = _state()
    _outcome(state, "json_schema", _refused())
    _outcome(state, "json_schema", _refused())  # a late refusal of the old form: no second move
    assert (state.form, state.settled, state.endpoint.structured_output) == (
        "json_object",
        False,
        "json_object",
    )
    _outcome(state, "json_object", _refused())
    _outcome(state, "tools", _refused())  # nothing after tools: the loop raises (see below)
    assert (state.form, state.refused_forms) == ("tools", ["json_schema", "json_object"])
    assert notes == ["json_schema refused by http://llm.test/v1; using json_object",
                     "json_object refused by http://llm.test/v1; using tools"]  # fmt: skip
    message = str(state.refusal_error("tools", _refused()))
    assert "refused every structured-output form it was offered (json_schema, json_object, tools;" in message
    assert message.endswith("use another server or model (--base-url/--model)")


def test_any_outcome_but_a_refusal_settles_the_form() -> None:
    """A server that is down says nothing against the form: requests stop queueing behind it."""
    for exc in (
        None,
        openai.APIConnectionError(request=httpx2.Request("POST", "http://llm.test")),
        ValueError(),
    ):
        state, notes = _state()
        assert not state.settled
        _outcome(state, "json_schema", exc)
        assert (state.settled, state.form, notes) == (True, "json_schema", [])


def test_a_forced_form_never_moves() -> None:
    state, notes = _state("json_schema", auto=False)
    assert state.settled  # never probed: no lock at all
    _outcome(state, "json_schema", _refused())
    assert (state.form, notes) == ("json_schema", [])
    assert "use --structured-output json_object or auto" in str(
        state.refusal_error("json_schema", _refused())
    )
    assert "use --structured-output json_schema or auto" in str(
        state.refusal_error("json_object", _refused())
    )


# --------------------------------------------------------------------------- brief (sync client)


def test_brief_in_auto_mode_falls_back_to_json_object_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="summarizer")
    with FakeServer(reject_modes={"json_schema"}) as fake:
        with Summarizer(_settings(fake)) as run:  # no structured_output: auto
            first = run.summarize(_article(0))
            second = run.summarize(_article(1))
        modes = [s.mode for s in fake.log]
        statuses = fake.status_counts
    # One refused request for the whole run (never retried by the transport, never re-asked),
    # then one request per article in the form that works.
    assert modes == ["json_schema", "json_object", "json_object"]
    assert statuses == {500: 1, 200: 2}
    assert first.provenance.structured_output == second.provenance.structured_output == "json_object"
    assert (first.provenance.attempts, second.provenance.attempts) == (2, 1)
    assert _notices(caplog) == [f"summarizer: json_schema refused by {fake.base_url}; using json_object"]


def test_auto_goes_on_to_tools_when_json_object_is_refused_too(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="summarizer")
    with FakeServer(reject_modes={"json_schema", "json_object"}) as fake:
        with Summarizer(_settings(fake)) as run:
            record = run.summarize(_article())
        modes = [s.mode for s in fake.log]
        statuses = fake.status_counts
    assert modes == ["json_schema", "json_object", "tools"]
    assert statuses == {500: 1, 400: 1, 200: 1}
    assert record.provenance.structured_output == "tools" and record.provenance.attempts == 3
    assert [n.split("; ")[1] for n in _notices(caplog)] == ["using json_object", "using tools"]


def test_auto_keeps_json_schema_where_it_is_accepted(caplog: pytest.LogCaptureFixture) -> None:
    with FakeServer() as fake:
        with Summarizer(_settings(fake)) as run:
            record = run.summarize(_article())
        assert [s.mode for s in fake.log] == ["json_schema"]
    assert record.provenance.structured_output == "json_schema" and not _notices(caplog)


def test_a_forced_form_the_server_refuses_is_a_configuration_error() -> None:
    with FakeServer(reject_modes={"json_schema"}) as fake:
        run = Summarizer(_settings(fake, structured_output="json_schema"))
        with run, pytest.raises(ConfigurationError) as caught:
            run.summarize(_article())
        assert fake.requests == 1  # no transport retry, no re-ask, no fallback
    err = caught.value
    message = str(err)
    assert err.exit_code == 2 and err.attempts == 1 and "\n" not in message
    assert message.startswith(f"{fake.base_url} refused --structured-output json_schema (HTTP 500: ")
    assert message.endswith("use --structured-output json_object or auto (SUMMARIZER_STRUCTURED_OUTPUT)")


# --------------------------------------------------------------------------- concurrent (async client)


def test_concurrent_requests_share_one_detection() -> None:
    """Six extractions at once on one client: one refused request in all, then side by side."""
    latency = 0.4
    notes: list[str] = []
    with FakeServer(reject_modes={"json_schema"}, latency=latency) as fake:
        settings = _settings(fake)
        endpoint = resolve_endpoint(settings, None)
        client = AsyncModelClient(endpoint, settings, notify=notes.append)

        async def one(i: int) -> Extraction:
            prep = prepare(_article(i), settings, endpoint)
            return await client.extract(**prep.request(settings), stats=CallStats())

        async def run_all() -> list[Extraction]:
            try:
                return await asyncio.gather(*(one(i) for i in range(6)))
            finally:
                await client.aclose()

        results = asyncio.run(asyncio.wait_for(run_all(), RUN_TIMEOUT))
        log = fake.log
    assert [s.mode for s in log] == ["json_schema"] + ["json_object"] * 6
    assert [r.structured_output for r in results] == ["json_object"] * 6
    assert sorted(r.attempts for r in results) == [1, 1, 1, 1, 1, 2]
    assert endpoint.structured_output == "json_object"
    assert notes == [f"json_schema refused by {fake.base_url}; using json_object"]
    # The first answer in json_object settles the form: the five others then run side by side,
    # all arriving before any of them could have been answered.
    rest = [s.at for s in log[2:]]
    assert max(rest) - min(rest) < latency


# --------------------------------------------------------------------------- the command line


def _cli(fake: FakeServer, *args: str, **env_extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "SUMMARIZER_"))}
    env.update({"OPENAI_BASE_URL": fake.base_url, "SUMMARIZER_MODEL": "fake-model", "OPENAI_API_KEY": "k",
                "SUMMARIZER_MAX_RETRY_WAIT": "0.05", **env_extra})  # fmt: skip
    return subprocess.run(
        [sys.executable, "-m", "summarizer", *args],
        env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False,
    )  # fmt: skip


def test_cli_brief_says_once_which_form_it_fell_back_to(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    article = _article()
    path.write_text(f"{article.title}\n\n{article.text}\n", encoding="utf-8")
    with FakeServer(reject_modes={"json_schema"}) as fake:
        proc = _cli(fake, "brief", str(path), "--format", "json")
        forced = _cli(fake, "brief", str(path), "--structured-output", "json_schema")
        assert proc.returncode == 0, proc.stderr  # first, so a failed run shows why
        assert fake.requests == 3, (proc.stderr, forced.stderr)
    assert proc.stderr.splitlines() == [
        f"summarizer: json_schema refused by {fake.base_url}; using json_object"
    ]
    assert json.loads(proc.stdout)["provenance"]["structured_output"] == "json_object"
    assert forced.returncode == 2 and forced.stdout == ""
    [line] = forced.stderr.splitlines()
    assert line.startswith(f"summarizer: error: {fake.base_url} refused --structured-output json_schema")
    assert "use --structured-output json_object or auto" in line
