"""Progress and cost reporting for batch runs: a rich bar on a terminal, plain lines elsewhere."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Protocol, TextIO

UNKNOWN_PRICE = "unknown price: pass --price-in/--price-out"


@dataclass(frozen=True)
class Pricing:
    """USD per 1M prompt and output tokens, and where they come from; None: unknown."""

    input_per_m: float | None
    output_per_m: float | None
    source: str

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
        return Pricing(price_in or 0.0, price_out or 0.0, "given prices")
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


DUPLICATE_IDS_KEPT = 100


@dataclass
class Tally:
    """Where every input stands. ``inputs == succeeded + failed + pending`` always."""

    inputs: int = 0
    succeeded: int = 0
    failed: int = 0
    already_done: int = 0
    duplicates: int = 0
    model_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    throttled: int = 0
    interrupted: bool = False
    duplicate_ids: list[str] = field(default_factory=list)  # the first DUPLICATE_IDS_KEPT of them
    duplicate_id_count: int = 0

    def note_duplicate_id(self, article_id: str) -> None:
        """Count an id met again with a different text; keep the first few (memory stays flat)."""
        self.duplicate_id_count += 1
        if len(self.duplicate_ids) < DUPLICATE_IDS_KEPT:
            self.duplicate_ids.append(article_id)

    @property
    def pending(self) -> int:
        return self.inputs - self.succeeded - self.failed

    def line(self, pricing: Pricing | None = None) -> str:
        extra = []
        if self.already_done:
            extra.append(f"{self.already_done} already done")
        if self.duplicates:
            extra.append(f"{self.duplicates} duplicate{'s' if self.duplicates != 1 else ''} not billed")
        detail = f" ({', '.join(extra)})" if extra else ""
        cost = pricing.cost(self.prompt_tokens, self.completion_tokens) if pricing else None
        money = f", cost ${cost:.4f} ({pricing.source})" if cost is not None and pricing else ""
        if pricing is not None and cost is None:
            money = f", cost unknown ({pricing.source})"
        return (
            f"{self.inputs} inputs = {self.succeeded} succeeded{detail} + {self.failed} failed + "
            f"{self.pending} pending; {self.model_calls} model calls, "
            f"{self.prompt_tokens + self.completion_tokens} tokens{money}"
        )


class Progress(Protocol):
    def start(self, total: int | None) -> None: ...
    def update(self, tally: Tally) -> None: ...
    def note(self, message: str) -> None: ...
    def finish(self, tally: Tally) -> None: ...


class NullProgress:
    def start(self, total: int | None) -> None:
        pass

    def update(self, tally: Tally) -> None:
        pass

    def note(self, message: str) -> None:
        pass

    def finish(self, tally: Tally) -> None:
        pass


class PlainProgress:
    """One log line every ``every`` seconds: for logs, pipes and CI."""

    def __init__(self, pricing: Pricing, stream: TextIO | None = None, every: float = 10.0) -> None:
        self.pricing = pricing
        self.stream = stream or sys.stderr
        self.every = every
        self.total: int | None = None
        self.started = self.last = time.monotonic()

    def start(self, total: int | None) -> None:
        self.total = total
        self.started = self.last = time.monotonic()

    def _eta(self, done: int) -> str:
        elapsed = time.monotonic() - self.started
        rate = done / elapsed if elapsed > 0 else 0.0
        if not self.total or rate <= 0:
            return f"{rate:.2f}/s"
        return f"{rate:.2f}/s, ETA {max(0.0, (self.total - done) / rate):.0f} s"

    def update(self, tally: Tally) -> None:
        now = time.monotonic()
        if now - self.last >= self.every:
            self.last = now
            done = tally.succeeded + tally.failed
            total = f"/{self.total}" if self.total else ""
            print(
                f"summarizer: {done}{total} done ({self._eta(done)}); {tally.line(self.pricing)}",
                file=self.stream,
            )

    def note(self, message: str) -> None:
        print(f"summarizer: {message}", file=self.stream)

    def finish(self, tally: Tally) -> None:
        print(f"summarizer: {tally.line(self.pricing)}", file=self.stream)


class RichProgress(PlainProgress):
    """A rich progress bar with rate, ETA, tokens and cost, for a terminal."""

    def __init__(self, pricing: Pricing, stream: TextIO | None = None) -> None:
        super().__init__(pricing, stream)
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._console = Console(file=self.stream)
        self._bar = Progress(
            TextColumn("[bold]summarizing"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[status]}"),
            console=self._console,
            transient=False,
        )
        self._task = self._bar.add_task("batch", total=None, rate="", status="")

    def start(self, total: int | None) -> None:
        super().start(total)
        self._bar.update(self._task, total=total)
        self._bar.start()

    def update(self, tally: Tally) -> None:
        done = tally.succeeded + tally.failed
        elapsed = time.monotonic() - self.started
        cost = self.pricing.cost(tally.prompt_tokens, tally.completion_tokens)
        status = f"{tally.failed} failed, {tally.prompt_tokens + tally.completion_tokens:,} tok"
        if cost is not None:
            status += f", ${cost:.4f}"
        self._bar.update(
            self._task, completed=done, rate=f"{done / elapsed:.2f}/s" if elapsed else "", status=status
        )

    def note(self, message: str) -> None:
        self._console.print(f"summarizer: {message}", markup=False, highlight=False)

    def finish(self, tally: Tally) -> None:
        self.update(tally)
        self._bar.stop()
        super().finish(tally)


class FinalLineOnly(PlainProgress):
    """``--quiet``: nothing while running, the final tally at the end."""

    def update(self, tally: Tally) -> None:
        pass

    def note(self, message: str) -> None:
        pass


def progress_for(pricing: Pricing, *, quiet: bool = False, stream: TextIO | None = None) -> Progress:
    stream = stream or sys.stderr
    if quiet:
        return FinalLineOnly(pricing, stream)
    return RichProgress(pricing, stream) if stream.isatty() else PlainProgress(pricing, stream)
