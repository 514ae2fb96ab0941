"""Token counts: the estimate never under-counts a real tokenizer, the tokenizers that are at hand
count exactly and offline, and every budget (context fit, rate gate, dry run) uses the counter of
its endpoint.

The real counts in ``tests/data/tokens/measured.json`` were taken by ``bench/token_ratios.py``
from llama.cpp's own tokenizer (the embedded server's ``/tokenize``) for SmolLM2-135M and
Qwen2.5-Coder-1.5B, and from cl100k_base / o200k_base; ``test_embedded.py`` re-measures SmolLM2
live.
"""

from __future__ import annotations

import asyncio
import json
import math
import socket
from pathlib import Path
from typing import Any

import httpx2
import pytest

from summarizer.articles import Article
from summarizer.tokens import (
    ESTIMATE,
    LlamaCppTokens,
    TiktokenTokens,
    counter_for,
    cut_to_fit,
    estimate_tokens,
    tiktoken_counter,
)

DATA = Path(__file__).resolve().parent / "data" / "tokens"
SAMPLES = {p.stem: p.read_text(encoding="utf-8") for p in sorted(DATA.glob("*.txt"))}
COUNTS: dict[str, dict[str, int]] = json.loads((DATA / "measured.json").read_text(encoding="utf-8"))["counts"]


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """tiktoken downloads an encoding it lacks: any attempt here fails the test, whatever flags
    pytest runs with."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"network use: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def old_rule(text: str) -> int:
    return int(len(text.encode("utf-8")) / 3.5) + 1


# -- the estimate ---------------------------------------------------------------------------------


@pytest.mark.parametrize("sample", ["ru", "el"])
def test_russian_and_greek_are_no_longer_under_counted(sample: str) -> None:
    text = SAMPLES[sample]
    real = {tokenizer: counts[sample] for tokenizer, counts in COUNTS.items()}
    assert old_rule(text) < 0.7 * real["smollm2-135m"]  # the bug: bytes / 3.5 overflowed the context
    assert all(estimate_tokens(text) >= n for n in real.values()), real
    assert estimate_tokens(text) <= 1.6 * max(real.values())  # high, not absurd


@pytest.mark.parametrize("sample", sorted(SAMPLES))
def test_the_estimate_over_counts_every_measured_tokenizer(sample: str) -> None:
    """English, Latin with diacritics, Cyrillic, Greek, Hebrew, Arabic, Devanagari, Thai,
    Georgian, CJK, Hangul, digit tables, ALL CAPS, URLs and a mix of scripts."""
    text = SAMPLES[sample]
    real = {tokenizer: counts[sample] for tokenizer, counts in COUNTS.items()}
    assert set(real) >= {"smollm2-135m", "qwen2.5-coder-1.5b", "cl100k_base", "o200k_base"}
    assert ESTIMATE.count(text) >= 1.05 * max(real.values()), real


def test_english_stays_close_to_the_real_count() -> None:
    text = SAMPLES["en"]
    assert ESTIMATE.count(text) <= 1.35 * COUNTS["smollm2-135m"]["en"]


def test_estimate_edge_cases() -> None:
    assert ESTIMATE.count("") == 1
    assert ESTIMATE.count("a") >= 1
    assert ESTIMATE.count("1234567890") >= 10  # most tokenizers split numbers into single digits
    assert ESTIMATE.count("\U0001f600" * 10) >= 40  # no script rate: a token per byte
    long = SAMPLES["ru"] * 50
    assert ESTIMATE.count(long) >= 50 * COUNTS["smollm2-135m"]["ru"]


# -- tiktoken, offline ------------------------------------------------------------------------------


def test_tiktoken_counts_cl100k_models_exactly_from_the_offline_file() -> None:
    counter = tiktoken_counter("gpt-4")
    assert isinstance(counter, TiktokenTokens) and counter.factor == 1.0
    assert counter.name == "tiktoken cl100k_base"
    for sample, text in SAMPLES.items():
        assert counter.count(text) == COUNTS["cl100k_base"][sample]


@pytest.mark.parametrize(
    "model", ["gpt-4o-mini", "gpt-4o-2024-08-06", "gpt-4.1", "gpt-5", "o3", "openai/gpt-4o"]
)
def test_o200k_models_are_counted_with_cl100k_plus_a_margin_never_below(model: str) -> None:
    counter = counter_for(model)
    assert isinstance(counter, TiktokenTokens)
    assert counter.name == "tiktoken cl100k_base + 5% for o200k_base"
    for sample, text in SAMPLES.items():
        assert counter.count(text) >= COUNTS["o200k_base"][sample]
        assert counter.count(text) == math.ceil(COUNTS["cl100k_base"][sample] * 1.05)


@pytest.mark.parametrize("model", ["m", "llama-3.1-8b-instruct", "qwen2.5-coder-1.5b-instruct", "davinci"])
def test_other_models_get_the_estimate(model: str) -> None:
    assert counter_for(model) is ESTIMATE
    assert counter_for(None) is ESTIMATE


def test_without_the_offline_file_tiktoken_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    from summarizer import tokens

    monkeypatch.setattr(tokens, "OFFLINE_ENCODINGS", {})
    tokens._offline_encoding.cache_clear()
    try:
        assert counter_for("gpt-4o") is ESTIMATE  # never tiktoken's download of o200k_base
    finally:
        tokens._offline_encoding.cache_clear()


# -- llama.cpp's /tokenize --------------------------------------------------------------------------


class FakeTokenize:
    """Stands in for httpx2.post against llama.cpp's /tokenize: one token per word."""

    def __init__(self, fail: bool = False) -> None:
        self.calls: list[dict[str, Any]] = []
        self.fail = fail

    def __call__(self, url: str, *, json: dict[str, Any], timeout: float) -> httpx2.Response:
        self.calls.append({"url": url, **json})
        if self.fail:
            raise httpx2.ConnectError("connection refused")
        request = httpx2.Request("POST", url)
        return httpx2.Response(
            200, json={"tokens": list(range(len(json["content"].split())))}, request=request
        )


def test_llama_cpp_counter_asks_the_server_and_remembers_repeated_texts() -> None:
    post = FakeTokenize()
    counter = LlamaCppTokens("http://127.0.0.1:1/tokenize", post=post)
    assert counter.count("one two three") == 3
    assert counter.count("one two three") == 3  # the system prompt of every request: asked once
    assert counter.count("") == 0
    assert post.calls == [
        {"url": "http://127.0.0.1:1/tokenize", "content": "one two three", "parse_special": False}
    ]
    assert counter.name == "llama.cpp /tokenize"


def test_llama_cpp_counter_falls_back_to_the_estimate_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    post = FakeTokenize(fail=True)
    counter = LlamaCppTokens("http://127.0.0.1:1/tokenize", post=post)
    text = SAMPLES["el"]
    assert counter.count(text) == ESTIMATE.count(text)
    assert counter.count(SAMPLES["ru"]) == ESTIMATE.count(SAMPLES["ru"])
    assert len(post.calls) == 1  # one failure: the rest of the run estimates
    assert counter.name.startswith("estimate") and "failed" in caplog.text


def test_the_embedded_endpoint_counts_with_its_server(monkeypatch: pytest.MonkeyPatch) -> None:
    from summarizer.pipeline import resolve_endpoint
    from summarizer.settings import Settings

    class Server:
        base_url = "http://127.0.0.1:4242/v1"
        tokenize_url = "http://127.0.0.1:4242/tokenize"
        context_window = 8192

    endpoint = resolve_endpoint(Settings(), Server())  # type: ignore[arg-type]
    assert isinstance(endpoint.tokens, LlamaCppTokens) and endpoint.tokens.url == Server.tokenize_url
    remote = resolve_endpoint(
        Settings(base_url="https://api.openai.com/v1", api_key="k", model="gpt-4o-mini"), None
    )
    assert isinstance(remote.tokens, TiktokenTokens)
    local = resolve_endpoint(Settings(base_url="http://127.0.0.1:8000/v1", model="my-llama"), None)
    assert local.tokens is ESTIMATE


def test_the_embedded_server_names_its_tokenize_endpoint() -> None:
    from summarizer.local.embedded import EmbeddedServer

    server = EmbeddedServer.__new__(EmbeddedServer)
    server.port = 4242
    assert server.tokenize_url == "http://127.0.0.1:4242/tokenize"
    assert server.base_url == "http://127.0.0.1:4242/v1"


# -- cutting to a budget ----------------------------------------------------------------------------


class Words:
    """A counter of words, to make budgets easy to reason about."""

    name = "words"

    def __init__(self) -> None:
        self.calls = 0

    def count(self, text: str) -> int:
        self.calls += 1
        return len(text.split())


def test_cut_keeps_whole_paragraphs_within_the_room() -> None:
    paragraphs = [" ".join(f"w{i}" for _ in range(10)) for i in range(40)]
    text = "\n\n".join(paragraphs)
    counter = Words()
    cut = cut_to_fit(text, 105, counter)
    assert cut == "\n\n".join(paragraphs[:10])
    assert counter.calls <= 20  # galloping + bisection, not one count per paragraph
    assert cut_to_fit(text, 10_000, Words()) == text


def test_one_giant_paragraph_is_cut_after_a_sentence() -> None:
    text = "Word after word makes a sentence. " * 200
    cut = cut_to_fit(text.strip(), 50, Words())
    assert cut.endswith(".") and len(cut.split()) <= 50 and text.startswith(cut)


def test_a_greek_article_is_cut_to_fit_the_real_tokenizer() -> None:
    """With the old rule a long Greek article passed as fitting and overflowed the context."""
    from summarizer.pipeline import REASK_MESSAGE_TOKENS, _prompt_overhead, fit_article
    from summarizer.settings import Settings

    article = Article(id="el", text="\n\n".join([SAMPLES["el"]] * 5))
    settings, window = Settings(), 8192
    overhead = _prompt_overhead(ESTIMATE) + settings.max_reasks * REASK_MESSAGE_TOKENS
    room = window - settings.max_output_tokens * (settings.max_reasks + 1) - overhead
    assert old_rule(article.text) < room < 5 * COUNTS["smollm2-135m"]["el"]  # no cut, then overflow
    fitted, truncated = fit_article(article, settings, window)
    assert truncated and article.text.startswith(fitted.text)
    assert article.text[len(fitted.text) : len(fitted.text) + 2] == "\n\n"
    assert ESTIMATE.count(fitted.text) <= room


def test_prepare_fits_with_the_endpoint_counter() -> None:
    from summarizer.llm import Endpoint
    from summarizer.pipeline import prepare
    from summarizer.settings import Settings

    counter = Words()
    endpoint = Endpoint(base_url="http://127.0.0.1:9/v1", api_key="k", model="m", structured_output="json_schema",
                        backend="127.0.0.1", context_window=8192, tokens=counter)  # fmt: skip
    article = Article(id="a", text="\n\n".join(f"Paragraph {i} says something new." for i in range(3000)))
    prep = prepare(article, Settings(), endpoint)
    assert prep.truncated and counter.calls > 0
    assert counter.count(prep.article.text) <= 8192 - 1024 * 3


def test_no_counter_counts_more_than_most_tokens() -> None:
    """The bound ``fit_article`` uses to skip counting a text that fits anyway: every sample
    (twelve scripts) by every real tokenizer measured and by the estimate, and the estimate's
    dearest characters alone, in runs and side by side."""
    from summarizer.tokens import most_tokens

    dear = ["é", "ø", "€", "…", "→", "한", "漢", "ж", "\u0301", "🙂", "$", "7", ".", "  ", "\t\n", "a"]
    pairs = [a + b for a in dear for b in dear]
    texts = [
        *SAMPLES.values(),
        *dear,
        *(c * 9 for c in dear),
        *pairs,
        *(p * 7 for p in pairs),
        " ".join(dear),
    ]
    for text in texts:
        assert ESTIMATE.count(text) <= most_tokens(text), repr(text[:20])
    for name, counts in COUNTS.items():
        for sample, n in counts.items():
            assert n <= most_tokens(SAMPLES[sample]), (name, sample)


def test_a_short_article_fits_without_counting_and_a_long_one_is_counted() -> None:
    from summarizer.llm import Endpoint
    from summarizer.pipeline import prepare
    from summarizer.settings import Settings

    counter = Words()
    endpoint = Endpoint(base_url="http://127.0.0.1:9/v1", api_key="k", model="m", structured_output="json_schema",
                        backend="127.0.0.1", context_window=16_000, tokens=counter)  # fmt: skip
    short = Article(id="a", text="A short story.\n\nIt fits in any window.")
    assert not prepare(short, Settings(), endpoint).truncated and counter.calls == 1  # the prompt only
    # 10,000 words in 66 kB: under the room in words, over it by the bound: counted, and whole
    long = Article(id="b", text="\n\n".join(f"Paragraph {i} says something new." for i in range(2000)))
    assert not prepare(long, Settings(), endpoint).truncated and counter.calls == 2


# -- batch: rate gate and dry run -------------------------------------------------------------------


def test_the_rate_gate_charges_what_the_endpoint_counter_says() -> None:
    from summarizer.batch import RateGate, request_tokens

    body = {"model": "m", "max_tokens": 100,
            "messages": [{"role": "system", "content": "a b c"}, {"role": "user", "content": "d e"}]}  # fmt: skip
    request = httpx2.Request("POST", "http://127.0.0.1/v1/chat/completions", json=body)
    counter = Words()
    assert request_tokens(request, counter.count) == 2 * 4 + 3 + 2 + 100
    gate = RateGate(None, tpm=1_000_000, count=counter.count)
    taken: list[float] = []

    class Recorder:
        max_rate = 8192.0

        async def acquire(self, amount: float = 1) -> None:
            taken.append(amount)

    gate._tpm = Recorder()  # type: ignore[assignment]
    asyncio.run(gate(request))
    assert taken == [113]


def test_dry_run_counts_openai_models_with_tiktoken_and_the_rest_with_the_estimate() -> None:
    from summarizer.batch import estimate
    from summarizer.inputs import InputItem
    from summarizer.settings import Settings

    items = [InputItem(name="ru", load=lambda: Article(id="ru", text=SAMPLES["ru"]))]
    openai = estimate(items, Settings(base_url="https://api.openai.com/v1", api_key="k", model="gpt-4"))
    assert openai["counted_by"] == "tiktoken cl100k_base"
    embedded = estimate(items, Settings())
    assert embedded["counted_by"] == "estimate"
    assert embedded["prompt_tokens"] > openai["prompt_tokens"] > COUNTS["cl100k_base"]["ru"]
    assert embedded["articles"] == 1 and embedded["completion_tokens_max"] == Settings().max_output_tokens
