"""Batch runs over an archive: the per-article pipeline of ``brief`` under an async runner.

- Exactly once: each article has a ledger key (sha256 over normalised text, prompt version,
  schema version, model). Keys already in the output are skipped with zero model calls; a key
  seen twice in one run (identical text) is processed once; failures are retried only when
  asked (``retry_failed``).
- Nothing lost: an article counts as done only after its line is fsynced (``ledger.Ledger``);
  bad files become failure lines with the reason; ``inputs = succeeded + failed + pending``.
- Polite: ``concurrency`` articles in flight; client-side requests/min and tokens/min limits
  every HTTP request passes (re-asks and retries included); a 429 pauses the whole runner.

The seam for other executors (the OpenAI Batch API, say) is ``executor.Executor``: anything
that turns a prepared article into an ``Extraction`` can drive the same ledger and tally.

Modules, bottom up: ``keys`` (ledger keys, shards), ``limits`` (requests/min, tokens/min),
``books`` (tally, ledger lines, options), ``executor`` (the model, started on first use),
``intake`` (inputs to the queue), ``runner`` (``BatchRunner``), ``estimate`` (``--dry-run``).
"""

from __future__ import annotations

from summarizer.batch.books import BatchOptions
from summarizer.batch.estimate import estimate
from summarizer.batch.executor import Executor
from summarizer.batch.keys import in_shard, input_key, item_key, parse_shard
from summarizer.batch.limits import RateGate, request_tokens
from summarizer.batch.runner import BatchRunner

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
