"""Batch runs over an archive: the per-article pipeline of ``brief`` under an async runner.

- Exactly once: each article has a ledger key (sha256 over normalised text, prompt version,
  schema version, model). Keys already in the output are skipped with zero model calls; a key
  seen twice in one run (identical text) is processed once; failures are retried only when
  asked (``retry_failed``).
- Nothing lost: an article counts as done only after its line is fsynced (``ledger.Ledger``);
  bad files become failure lines with the reason; ``inputs = succeeded + failed + pending``.
- Polite: ``concurrency`` model requests in flight (``books.articles_in_flight``: a few more
  articles prepared and checked around them); client-side requests/min and tokens/min limits
  every HTTP request passes (re-asks and retries included); a 429 pauses the whole runner.

Every runner drives the same ledger and tally; the model is the engine (``summarizer.engine``,
behind the ``executor.Executor`` seam). How answers arrive differs: requests as they go
(``runner.BatchRunner``), a provider's Batch API (``provider.ProviderRunner``), files for
``vllm run-batch`` (``exchange``), in worker processes on this machine (``processes``), or a
Ray cluster (``ray_engine``, an optional extra).

Modules, bottom up: ``keys`` (ledger keys, shards), ``books`` (tally, ledger lines, options),
``request_lines`` (Batch API lines), ``executor`` (the seam), ``intake`` (inputs to the queue),
``provider_state`` (a Batch API run's parts on disk), ``estimate`` (``--dry-run``), ``runner``,
then ``provider``, ``exchange``, ``processes`` and ``ray_engine``.
"""

from __future__ import annotations

from summarizer.batch.books import BatchOptions
from summarizer.batch.estimate import estimate
from summarizer.batch.executor import Executor
from summarizer.batch.keys import in_shard, input_key, item_key, parse_shard
from summarizer.batch.runner import BatchRunner
from summarizer.limits import RateGate, request_tokens

EXIT_SOME_FAILED = 8  # documented in the README and `summarizer batch --help`

__all__ = [
    "EXIT_SOME_FAILED",
    "BatchOptions",
    "BatchRunner",
    "Executor",
    "RateGate",
    "estimate",
    "in_shard",
    "input_key",
    "item_key",
    "parse_shard",
    "request_tokens",
]
