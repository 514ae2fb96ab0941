"""Ledger keys and shards: the same normalised text, prompt, schema and model is the same work,
and a key decides which shard of ``--shard K/N`` an article belongs to."""

from __future__ import annotations

import hashlib

from summarizer.errors import ConfigurationError
from summarizer.prompts import prompt_version
from summarizer.schema import SCHEMA_VERSION


def item_key(text: str, model: str) -> str:
    """Ledger key: same normalised text, prompt, schema and model -> same work."""
    h = hashlib.sha256()
    for part in (text, prompt_version(), SCHEMA_VERSION, model):
        h.update(part.encode("utf-8"))
        h.update(b"\x00")
    return h.hexdigest()


def input_key(name: str) -> str:
    """Key of an input that could not be read (no text to hash): its name."""
    return "input-" + hashlib.sha256(name.encode("utf-8")).hexdigest()


def parse_shard(value: str | None) -> tuple[int, int] | None:
    """``"K/N"`` -> (K, N), 1 <= K <= N."""
    if value is None:
        return None
    try:
        k, n = (int(x) for x in value.split("/"))
    except ValueError:
        k = n = 0
    if not 1 <= k <= n:
        raise ConfigurationError(f"bad --shard {value!r}: use K/N with 1 <= K <= N, e.g. 2/8")
    return k, n


def in_shard(key: str, shard: tuple[int, int] | None) -> bool:
    return shard is None or int(key[:12], 16) % shard[1] == shard[0] - 1
