"""Shared fixtures: a clean environment, cassette configuration, article paths.

Cassettes are recorded from the real embedded llama.cpp server with ``make cassettes`` and
replayed offline (``--record-mode=none --block-network``). Requests match on method, path and
the parsed JSON body, so an edited prompt fails loudly until the cassettes are re-recorded.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "seeds" / "000_63ac3d2bfe42d99d.txt"
ARTICLES = Path(__file__).resolve().parent / "data" / "articles"

# Headers that must never reach a cassette, in requests or responses.
SECRET_HEADERS = (
    "authorization", "api-key", "x-api-key", "cookie", "set-cookie",
    "openai-organization", "openai-project", "openai-api-key",
)  # fmt: skip


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test ever sees the developer's keys, endpoints or settings."""
    import os

    for name in list(os.environ):
        if name.startswith(("OPENAI_", "SUMMARIZER_")):
            monkeypatch.delenv(name, raising=False)


def _json_body(body: Any) -> Any:
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if not body:
        return None
    try:
        return json.loads(body)
    except (TypeError, ValueError):
        return body


def _body_matcher(r1: Any, r2: Any) -> None:
    assert _json_body(r1.body) == _json_body(r2.body), "request bodies differ (prompt changed?)"


def _skip_health_checks(request: Any) -> Any:
    """The embedded server's readiness probe is not part of a brief: never record it."""
    return None if request.path.endswith("/models") else request


def _scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    headers = response.get("headers", {})
    for name in list(headers):
        if name.lower() in SECRET_HEADERS or name.lower() == "content-length":
            del headers[name]
    return response


class ReadableYaml:
    """Cassette serializer that stores JSON bodies as structured YAML, so diffs are readable."""

    @staticmethod
    def serialize(data: dict[str, Any]) -> str:
        data = copy.deepcopy(data)
        for it in data.get("interactions", []):
            for part, key in ((it["request"], "body"), (it["response"]["body"], "string")):
                parsed = _json_body(part.get(key))
                if isinstance(parsed, dict | list):
                    part[key] = {"json": parsed}
                elif isinstance(parsed, str):
                    part[key] = parsed
        return str(yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100))

    @staticmethod
    def deserialize(text: str) -> dict[str, Any]:
        data: dict[str, Any] = yaml.safe_load(text)
        for it in data.get("interactions", []):
            for part, key in ((it["request"], "body"), (it["response"]["body"], "string")):
                value = part.get(key)
                if isinstance(value, dict) and set(value) == {"json"}:
                    part[key] = json.dumps(value["json"], ensure_ascii=False).encode("utf-8")
        return data


def pytest_recording_configure(config: pytest.Config, vcr: Any) -> None:
    vcr.register_serializer("readable-yaml", ReadableYaml)
    vcr.register_matcher("json_body", _body_matcher)


@pytest.fixture(scope="module")
def vcr_config() -> dict[str, Any]:
    return {
        "serializer": "readable-yaml",
        "path_transformer": lambda path: path + ".yaml",
        # The embedded server listens on a random port: never match on host or port.
        "match_on": ["method", "path", "json_body"],
        "filter_headers": list(SECRET_HEADERS),
        "before_record_request": _skip_health_checks,
        "before_record_response": _scrub_response,
        "decode_compressed_response": True,
    }


@pytest.fixture
def seed_path() -> Path:
    return SEED


@pytest.fixture
def recording(request: pytest.FixtureRequest) -> bool:
    return str(request.config.getoption("--record-mode")) not in {"none", "None"}


@pytest.fixture
def model_settings(recording: bool) -> Iterator[Any]:
    """Settings for cassette tests: the real embedded server when recording, replay otherwise.

    Both shapes send identical request bodies (same model name, structured-output mode and
    context window), which is what the cassette matcher compares.
    """
    from summarizer.local.embedded import EmbeddedServer
    from summarizer.local.models import EMBEDDED_CONTEXT_WINDOW
    from summarizer.settings import EMBEDDED_MODEL_NAME, Settings

    common = {
        "model": EMBEDDED_MODEL_NAME,
        "structured_output": "json_schema",
        "context_window": EMBEDDED_CONTEXT_WINDOW,
    }
    if recording:
        with EmbeddedServer() as server:
            yield Settings(base_url=server.base_url, **common)
    else:
        yield Settings(base_url="http://127.0.0.1:9/v1", **common)
