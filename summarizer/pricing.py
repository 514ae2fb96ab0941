"""What a run costs: USD per 1M tokens from the user, or list prices from the data bundled in
``genai-prices`` (never fetched at run time); unknown when neither says."""

from __future__ import annotations

from dataclasses import dataclass

UNKNOWN_PRICE = "unknown price: pass --price-in/--price-out"
GIVEN = "given prices"


@dataclass(frozen=True)
class Pricing:
    """USD per 1M prompt and output tokens, and where they come from; None: unknown."""

    input_per_m: float | None
    output_per_m: float | None
    source: str

    def at_batch_rates(self) -> Pricing:
        """The same tokens through a provider's Batch API: half the list price (OpenAI, Azure
        OpenAI, Groq and Together price batch requests at 50%). Prices the user gave stand."""
        if self.input_per_m is None or self.output_per_m is None or self.source == GIVEN:
            return self
        return Pricing(self.input_per_m / 2, self.output_per_m / 2, f"{self.source}, Batch API rate (half)")

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float | None:
        if self.input_per_m is None or self.output_per_m is None:
            return None
        return (prompt_tokens * self.input_per_m + completion_tokens * self.output_per_m) / 1e6


def pricing_for(
    model: str,
    *,
    embedded: bool,
    price_in: float | None,
    price_out: float | None,
    base_url: str | None = None,
) -> Pricing:
    """Prices given on the command line, else nothing for the embedded model (it costs only
    electricity), else the list price from ``genai-prices`` (``list_price``), else unknown."""
    if price_in is not None or price_out is not None:
        return Pricing(price_in or 0.0, price_out or 0.0, GIVEN)
    if embedded:
        return Pricing(0.0, 0.0, "local model")
    return list_price(model, base_url) or Pricing(None, None, UNKNOWN_PRICE)


def list_price(model: str, base_url: str | None = None) -> Pricing | None:
    """The provider's list price of ``model`` today, from the data bundled with ``genai-prices``
    (kept current by its maintainers; upgrade the package for new prices). Only that bundled
    data is read: the package fetches prices only when asked (``UpdatePrices``), which we never do.

    The provider is the one ``base_url`` belongs to (OpenAI, Azure, OpenRouter, ...), or, for an
    address genai-prices does not know (a proxy, a local server), the model name's own. Prices
    tiered by prompt length take the base tier: one article's request is far below any tier.
    """
    from datetime import UTC, datetime

    import genai_prices
    from genai_prices import data_snapshot

    snapshot = data_snapshot.get_snapshot()
    try:
        try:
            provider = snapshot.find_provider(None, None, base_url) if base_url else None
        except LookupError:  # an address genai-prices does not know: go by the model's name
            provider = None
        provider, info = snapshot.find_provider_model(model, provider, None, None)
    except LookupError:
        return None
    prices = info.get_prices(datetime.now(UTC))
    rates = [_base_rate(getattr(prices, key, None)) for key in ("input_mtok", "output_mtok")]
    if rates[0] is None or rates[1] is None:
        return None
    source = f"list price of {info.id} at {provider.name}, genai-prices {genai_prices.__version__}, estimate"
    return Pricing(rates[0], rates[1], source)


def _base_rate(price: object) -> float | None:
    """USD per 1M tokens: a plain rate, or the base rate of tiered prices."""
    price = getattr(price, "base", price)
    return None if price is None else float(price)  # type: ignore[arg-type]
