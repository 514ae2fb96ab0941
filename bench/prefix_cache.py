"""Prompt-prefix reuse on the embedded llama.cpp server: tokens evaluated per article.

The instructions and field guide are one system message, identical for every article, placed
before the article; llama.cpp keeps the KV cache of the last prompt and evaluates only what
differs. This sends the real prompts of N articles one after another twice, in one run: with
llama.cpp's prompt cache (``cache_prompt: true``, the server default) and without it, and prints
tokens evaluated, prompt-eval time and their ratio. Only prompt evaluation is measured
(``max_tokens=1``): the cache does not change generation.

    python bench/prefix_cache.py ARTICLE [ARTICLE ...]      # e.g. five dev-set articles
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from statistics import median

import openai

from summarizer.articles import load_article
from summarizer.local.embedded import EmbeddedServer
from summarizer.prompts import render_prompt
from summarizer.settings import Settings


def run(
    client: openai.OpenAI, model: str, prompts: list[list[dict[str, str]]], cache: bool
) -> list[dict[str, float]]:
    out = []
    for messages in prompts:
        started = time.monotonic()
        raw = client.chat.completions.with_raw_response.create(
            model=model,
            messages=messages,
            max_tokens=1,
            temperature=0,  # type: ignore[arg-type]
            extra_body={"cache_prompt": cache},
        )
        body = raw.http_response.json()
        timings = body.get("timings", {})
        out.append(
            {
                "prompt_tokens": body["usage"]["prompt_tokens"],
                "evaluated": timings.get("prompt_n", 0),
                "cached": timings.get("cache_n", 0),
                "prompt_ms": timings.get("prompt_ms", 0.0),
                "wall_s": time.monotonic() - started,
            }
        )
    return out


def main(paths: list[str]) -> int:
    prompts = [render_prompt(load_article(Path(p))).messages for p in paths]
    settings = Settings()
    with EmbeddedServer.from_settings(settings) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="none", max_retries=0, timeout=600)
        model = settings.resolved_model()
        run(client, model, prompts[:1], cache=False)  # warm-up: load pages, fill the cache once
        without = run(client, model, prompts, cache=False)
        with_cache = run(client, model, prompts, cache=True)
    print(f"{'article':<28} {'prompt':>7} {'eval w/o':>9} {'eval with':>10} {'ms w/o':>9} {'ms with':>9}")
    for p, a, b in zip(paths, without, with_cache, strict=True):
        print(
            f"{Path(p).name[:28]:<28} {a['prompt_tokens']:>7} {a['evaluated']:>9} {b['evaluated']:>10} "
            f"{a['prompt_ms']:>9.0f} {b['prompt_ms']:>9.0f}"
        )
    ev_a, ev_b = sum(a["evaluated"] for a in without), sum(b["evaluated"] for b in with_cache)
    ms_a, ms_b = median(a["prompt_ms"] for a in without), median(b["prompt_ms"] for b in with_cache)
    print(
        f"tokens evaluated: {ev_a} without reuse, {ev_b} with = {ev_b / ev_a:.2f}x; "
        f"median prompt-eval ms {ms_a:.0f} vs {ms_b:.0f} = {ms_b / ms_a:.2f}x"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
