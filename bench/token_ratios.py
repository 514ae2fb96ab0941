"""How many bytes a token is, per script and tokenizer, and how far the estimate stays above it.

    python bench/token_ratios.py [--models smollm2-135m,qwen2.5-coder-1.5b] [--write]

Counts every sample in ``tests/data/tokens/`` with the real tokenizers at hand: each embedded
model's own (its llama.cpp server's ``/tokenize``; the server is started and stopped here),
tiktoken's cl100k_base (the offline file ``summarizer.tokens`` uses) and, when the optional
``quicktok`` package is importable, o200k_base (a tiktoken-exact tokenizer that ships the file;
not a dependency of ours). Prints bytes per token for each, and the ratio of
``summarizer.tokens.Estimate`` and of the old bytes / 3.5 rule to the highest real count (below
1.00 = an under-count). ``--write`` stores the counts in ``tests/data/tokens/measured.json``,
which ``tests/test_tokens.py`` checks the estimate and the tiktoken counters against offline.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import httpx2

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from summarizer.tokens import ESTIMATE, tiktoken_counter  # noqa: E402

SAMPLES = ROOT / "tests" / "data" / "tokens"
MEASURED = SAMPLES / "measured.json"


def samples() -> dict[str, str]:
    return {p.stem: p.read_text(encoding="utf-8") for p in sorted(SAMPLES.glob("*.txt"))}


def llama_counts(model: str, texts: dict[str, str]) -> dict[str, int]:
    from summarizer.local.embedded import EmbeddedServer

    with EmbeddedServer(model=model) as server, httpx2.Client(timeout=60) as client:
        out = {}
        for name, text in texts.items():
            response = client.post(server.tokenize_url, json={"content": text, "parse_special": False})
            response.raise_for_status()
            out[name] = len(response.json()["tokens"])
        return out


def bpe_counts(texts: dict[str, str]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    cl100k = tiktoken_counter("gpt-4")
    if cl100k is not None:
        out["cl100k_base"] = {name: cl100k.count(text) for name, text in texts.items()}
    try:
        import quicktok  # type: ignore[import-not-found]
    except ImportError:
        print("quicktok not importable: no o200k_base counts", file=sys.stderr)
        return out
    o200k = quicktok.get_encoding("o200k_base")
    out["o200k_base"] = {name: int(o200k.count(text)) for name, text in texts.items()}
    return out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", default="smollm2-135m,qwen2.5-coder-1.5b")
    parser.add_argument("--write", action="store_true", help=f"store the counts in {MEASURED}")
    args = parser.parse_args()
    texts = samples()
    counts: dict[str, dict[str, int]] = {}
    for model in filter(None, args.models.split(",")):
        counts[model] = llama_counts(model, texts)
    counts.update(bpe_counts(texts))
    names = list(counts)
    print(f"{'sample':8} {'bytes':>6} | bytes per token: " + " ".join(f"{n[:12]:>12}" for n in names)
          + " | estimate/max  bytes÷3.5/max")  # fmt: skip
    worst = 9.0
    for sample, text in texts.items():
        size = len(text.encode("utf-8"))
        real = max(counts[n][sample] for n in names)
        ratio = ESTIMATE.count(text) / real
        worst = min(worst, ratio)
        old = (int(size / 3.5) + 1) / real
        print(f"{sample:8} {size:6} | {'':16} " + " ".join(f"{size / counts[n][sample]:12.2f}" for n in names)
              + f" | {ratio:12.2f}  {old:12.2f}")  # fmt: skip
    print(f"lowest estimate/max: {worst:.3f} (must stay above 1)")
    if args.write:
        data: dict[str, Any] = {
            "about": "token counts of tests/data/tokens/*.txt, written by bench/token_ratios.py --write: "
            "embedded models by their llama.cpp server's /tokenize, cl100k_base by tiktoken, "
            "o200k_base by quicktok (tiktoken-exact)",
            "counts": counts,
        }
        MEASURED.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"wrote {MEASURED}")
    return 0 if worst >= 1 else 1


if __name__ == "__main__":
    sys.exit(main())
