"""Progress, one room for both kinds: a batch's articles and cost (``Progress``), and a long
copy or hash of a model file (``Reporter``). A rich bar on a terminal, plain lines elsewhere."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Protocol, TextIO

from summarizer.pricing import Pricing

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


# -- bytes: copying and hashing a model file ----------------------------------------------------


class Reporter:
    """How a long copy or hash is shown. This base class shows nothing; subclasses (and tests)
    override the hooks. ``end`` follows every ``begin``, on errors and Ctrl-C too."""

    def begin(self, task: str, total: int) -> None:
        """A task of ``total`` bytes starts."""

    def advance(self, n: int) -> None:
        """``n`` more bytes are done."""

    def end(self, message: str | None) -> None:
        """The task is over; ``message`` is a closing line to show, if any."""

    def note(self, message: str) -> None:
        """A line to show between tasks."""


class PlainReporter(Reporter):
    """One line when a task starts and one when it ends: for logs and pipes."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr

    def begin(self, task: str, total: int) -> None:
        self.stream.write(f"summarizer: {task} ({human_size(total)})...\n")
        self.stream.flush()

    def end(self, message: str | None) -> None:
        if message:
            self.note(message)

    def note(self, message: str) -> None:
        self.stream.write(f"summarizer: {message}\n")
        self.stream.flush()


class BarReporter(PlainReporter):
    """A rich progress bar on a terminal (stderr), then the closing line."""

    def begin(self, task: str, total: int) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        self._bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=Console(file=self.stream),
            transient=True,
        )
        self._bar.start()
        self._task = self._bar.add_task(task, total=total)

    def advance(self, n: int) -> None:
        self._bar.advance(self._task, n)

    def end(self, message: str | None) -> None:
        self._bar.stop()
        super().end(message)


def default_reporter(stream: TextIO | None = None) -> Reporter:
    stream = stream or sys.stderr
    return BarReporter(stream) if stream.isatty() else PlainReporter(stream)


def human_size(n: int) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 1e9 else f"{n / 1e6:.0f} MB"
