"""Cost estimates: list prices from genai-prices' bundled data (never fetched), the embedded model
free, prices given on the command line first, an unknown model said so."""

from __future__ import annotations

import socket
from datetime import UTC, datetime

import pytest

from summarizer.pricing import UNKNOWN_PRICE, Pricing, list_price, pricing_for
from summarizer.progress import Tally


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"network use: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def price(model: str, base_url: str | None = None) -> Pricing:
    return pricing_for(model, embedded=False, price_in=None, price_out=None, base_url=base_url)


def test_known_models_cost_what_genai_prices_says() -> None:
    from genai_prices import Usage, calc_price

    for model in ("gpt-4o-mini", "gpt-4.1", "gpt-5", "o3", "claude-sonnet-4-0", "gemini-2.5-flash"):
        pricing = price(model)
        expected = calc_price(Usage(input_tokens=1_000_000, output_tokens=2_000_000), model)
        assert pricing.cost(1_000_000, 2_000_000) == pytest.approx(float(expected.total_price)), model
        assert "list price of" in pricing.source and "genai-prices" in pricing.source


def test_a_dated_model_name_is_priced_as_its_model_at_its_provider() -> None:
    # No figures written here: they are genai-prices' data, and a release may change them.
    pricing = price("gpt-4o-mini-2024-07-18", "https://api.openai.com/v1")
    undated = price("gpt-4o-mini", "https://api.openai.com/v1")
    assert (pricing.input_per_m, pricing.output_per_m) == (undated.input_per_m, undated.output_per_m)
    assert pricing.input_per_m is not None and pricing.source.startswith(
        "list price of gpt-4o-mini at OpenAI"
    )


def test_the_provider_comes_from_the_base_url_when_genai_prices_knows_it() -> None:
    assert "Azure" in price("gpt-4o-mini", "https://res.openai.azure.com/openai/v1").source
    openrouter = price("meta-llama/llama-3.1-8b-instruct", "https://openrouter.ai/api/v1")
    assert openrouter.input_per_m is not None and "OpenRouter" in openrouter.source
    # A known provider without that model: unknown, not another provider's price.
    assert price("claude-sonnet-4-0", "https://api.openai.com/v1").source == UNKNOWN_PRICE
    # An address genai-prices does not know (a proxy, a local server): the model name decides.
    assert "OpenAI" in price("gpt-4o-mini", "http://127.0.0.1:8000/v1").source


def test_tiered_prices_take_the_base_tier() -> None:
    pricing = list_price("gemini-2.5-pro")
    assert pricing is not None
    from genai_prices.data_snapshot import get_snapshot

    _, info = get_snapshot().find_provider_model("gemini-2.5-pro", None, None, None)
    tiered = info.get_prices(datetime.now(UTC)).input_mtok
    assert pricing.input_per_m == float(getattr(tiered, "base", tiered))


@pytest.mark.parametrize("model", ["m", "local-model", "my-finetune-v3"])
def test_an_unknown_model_says_how_to_price_it(model: str) -> None:
    pricing = price(model, "http://127.0.0.1:9/v1")
    assert pricing.source == "unknown price: pass --price-in/--price-out"
    assert pricing.cost(1000, 1000) is None
    line = Tally(prompt_tokens=10).line(pricing)
    assert line.endswith("cost unknown (unknown price: pass --price-in/--price-out)")


def test_given_prices_win_and_the_embedded_model_is_free() -> None:
    given = pricing_for("gpt-4o", embedded=False, price_in=1.0, price_out=None)
    assert (given.input_per_m, given.output_per_m, given.source) == (1.0, 0.0, "given prices")
    assert pricing_for("gpt-4o", embedded=True, price_in=2.0, price_out=4.0).source == "given prices"
    local = pricing_for("qwen2.5-coder-1.5b-instruct-q4_k_m", embedded=True, price_in=None, price_out=None)
    assert local.cost(10**6, 10**6) == 0.0 and local.source == "local model"


def test_prices_are_never_fetched() -> None:
    """genai-prices fetches newer data only through UpdatePrices, which we never start: the
    prices in use are the bundled snapshot (and the socket guard above would fail any fetch)."""
    from genai_prices import data_snapshot

    price("gpt-4o-mini")
    assert data_snapshot._custom_snapshot is None
    assert data_snapshot.get_snapshot().from_auto_update is False
