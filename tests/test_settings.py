from __future__ import annotations

import pytest

from summarizer.errors import ConfigurationError
from summarizer.settings import EMBEDDED_MODEL_NAME, Settings, is_loopback


def test_flag_beats_env_beats_default(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().timeout == 600.0
    monkeypatch.setenv("SUMMARIZER_TIMEOUT", "30")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://localhost:8000/v1")
    monkeypatch.setenv("SUMMARIZER_MODEL", "from-env")
    s = Settings()
    assert (s.timeout, s.base_url, s.model) == (30.0, "http://localhost:8000/v1", "from-env")
    s = Settings(timeout=5, base_url="http://127.0.0.1:1/v1", model="from-flag")
    assert (s.timeout, s.base_url, s.model) == (5.0, "http://127.0.0.1:1/v1", "from-flag")


def test_embedded_default_never_forwards_a_users_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-user-secret")
    s = Settings()
    assert s.embedded
    assert s.resolved_api_key() != "sk-user-secret"
    assert s.resolved_model() == EMBEDDED_MODEL_NAME
    assert s.resolved_structured_output() == "json_schema"  # upstream llama.cpp server (xllamacpp)


def test_loopback_needs_no_key_remote_does() -> None:
    assert Settings(base_url="http://127.0.0.1:8080/v1", model="m").resolved_api_key() == "no-key"
    with pytest.raises(ConfigurationError, match="OPENAI_API_KEY"):
        Settings(base_url="https://api.example.com/v1", model="m").resolved_api_key()
    with pytest.raises(ConfigurationError, match="--model"):
        Settings(base_url="https://api.example.com/v1").resolved_model()


@pytest.mark.parametrize(
    ("url", "mode"),
    [
        ("https://api.openai.com/v1", "tools"),
        ("http://localhost:11434/v1", "json_schema"),  # Ollama
        ("http://vllm.internal:8000/v1", "json_schema"),
    ],
)
def test_structured_output_per_endpoint_kind(url: str, mode: str) -> None:
    assert Settings(base_url=url).resolved_structured_output() == mode
    assert (
        Settings(base_url=url, structured_output="json_object").resolved_structured_output() == "json_object"
    )


def test_is_loopback() -> None:
    assert is_loopback("http://localhost:1") and is_loopback("http://[::1]:8/v1")
    assert not is_loopback("http://10.0.0.1/v1") and not is_loopback("https://api.openai.com")
