"""Configuration, resolved in one place: CLI flag -> environment variable -> default.

The CLI passes only the flags the user actually gave; pydantic-settings fills the rest from the
environment, then from the defaults below.
"""

from __future__ import annotations

import ipaddress
from typing import Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from summarizer.articles import DEFAULT_MAX_BYTES
from summarizer.errors import ConfigurationError
from summarizer.local.models import DEFAULT_MODEL, REGISTRY, served_name

StructuredOutput = Literal["auto", "tools", "json_schema", "json_object", "grammar"]

# The name the default embedded model answers to (and the brief's provenance shows).
EMBEDDED_MODEL_NAME = REGISTRY[DEFAULT_MODEL].served_name


class Settings(BaseSettings):
    """Everything that changes how a summary is produced. See the README's configuration table."""

    model_config = SettingsConfigDict(
        env_prefix="SUMMARIZER_", populate_by_name=True, extra="forbid", frozen=True
    )

    base_url: str | None = Field(default=None, validation_alias=AliasChoices("OPENAI_BASE_URL"))
    api_key: str | None = Field(default=None, validation_alias=AliasChoices("OPENAI_API_KEY"), repr=False)
    model: str | None = Field(default=None, description="Model name sent to the endpoint.")
    model_path: str | None = Field(default=None, description="GGUF file for the embedded server.")
    embedded_model: str = Field(
        default=DEFAULT_MODEL, description="Known model the embedded server runs (summarizer models)."
    )
    embedded_slots: int = Field(
        default=1,
        ge=1,
        le=16,
        description="Answers the embedded server decodes side by side (llama.cpp slots); measured "
        "on 2 CPU cores, 2 or 4 slots gave a batch no more articles per hour than 1.",
    )
    structured_output: StructuredOutput = "auto"
    # The openai SDK's own default: a long article on a 2-core CPU takes minutes per answer.
    timeout: float = Field(default=600.0, gt=0, description="Seconds per model request.")
    connect_timeout: float = Field(default=5.0, gt=0)
    max_retries: int = Field(default=4, ge=0, description="Transport retries per request.")
    max_reasks: int = Field(default=2, ge=0, description="Validation re-asks per article.")
    max_retry_wait: float = Field(default=60.0, gt=0, description="Cap on one backoff wait (s).")
    max_output_tokens: int = Field(default=1024, gt=0)
    context_window: int | None = Field(
        default=None,
        description="Tokens the model can see; embedded: the model's trained context, at most 8192; "
        "an endpoint: 128,000 unless set (a longer article is cut at a paragraph, and says so).",
    )
    max_bytes: int = Field(default=DEFAULT_MAX_BYTES, gt=0)
    temperature: float = 0.0
    seed: int | None = 7
    server_start_timeout: float = Field(default=180.0, gt=0)

    @field_validator("embedded_model")
    @classmethod
    def _known_model(cls, name: str) -> str:
        if name not in REGISTRY:
            raise ValueError(f"unknown model {name!r}; known: {', '.join(REGISTRY)}")
        return name

    @property
    def embedded(self) -> bool:
        """True when no endpoint is configured: the tool runs its own llama.cpp server."""
        return self.base_url is None

    def resolved_api_key(self) -> str:
        """The key to send. Loopback endpoints never need one; remote ones must have one."""
        if self.embedded:
            return "embedded-no-key"  # never forward a user's key to our own local server
        if self.api_key:
            return self.api_key
        if is_loopback(self.base_url or ""):
            return "no-key"
        raise ConfigurationError(f"no API key for {self.base_url}: pass --api-key or set OPENAI_API_KEY")

    def resolved_model(self) -> str:
        if self.model:
            return self.model
        if self.embedded:
            return served_name(self.model_path, self.embedded_model)
        raise ConfigurationError(
            "no model name for the endpoint: pass --model or set SUMMARIZER_MODEL "
            "(e.g. gpt-4o-mini, llama3.1:8b)"
        )

    def resolved_structured_output(self) -> StructuredOutput:
        """The structured-output form to try first: the user's, or a guess per endpoint kind.

        In ``auto`` mode this is only the first guess: ``llm.StructuredOutputState`` falls back
        (``grammar`` -> ``json_schema`` -> ``json_object`` -> ``tools``) when the server refuses it, e.g.
        llama-cpp-python's server, which answers ``json_schema`` with a 500 and constrains
        decoding to a schema given as ``{"type": "json_object", "schema": ...}``. OpenAI does best
        with tools; the embedded server (llama.cpp's own server) and other OpenAI-compatible
        servers (vLLM, Ollama) accept ``json_schema``. ``grammar`` (the schema as a compact-JSON
        llama.cpp grammar) is only used when asked for: measured on the seed with the default
        model, it saved tokens by the model leaving out every figure. Never returns ``auto``.
        """
        if self.structured_output != "auto":
            return self.structured_output
        if self.embedded:
            return "json_schema"
        host = urlsplit(self.base_url or "").hostname or ""
        if host.endswith("openai.com") or host.endswith("openai.azure.com"):
            return "tools"
        return "json_schema"

    @property
    def structured_output_auto(self) -> bool:
        """True when the form is ours to detect, False when the user chose it (then a refusal
        is a configuration error naming the fix)."""
        return self.structured_output == "auto"


def is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
