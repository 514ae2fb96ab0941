"""Client CPU per article on real text: this checkout beside a baseline checkout, in one run.

    .venv/bin/python bench/client_cpu.py ../shared/polnear-dev/articles
    .venv/bin/python bench/client_cpu.py FOLDER --baseline ../summarizer-old   # a git worktree

What a batch spends on one article besides the HTTP call, stage by stage: ``prepare`` (fit,
sentences, quotations, numbers, speakers, prompt, answer schema) and ``resolve`` (grounding the
answer). The answer is the fake server's (``tests.support.fake_openai.answer_for``: schema-valid
and grounded, a few picks), so no model is needed. Each checkout runs in a fresh process: the
folder's first half warms it (imports, dateparser's locales, first-name tables, per-word
caches), the second half is measured, so the words measured were not seen in the warm-up.
``batch_throughput.py`` measures the whole client (SDK, HTTP, ledger) on synthetic articles.
Medians and means of process CPU time; ratios this/baseline. Nothing asserts on time.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def child(project: Path, folder: Path) -> dict[str, Any]:
    """Runs in the checkout under test (its package and its fake first on the path)."""
    sys.path.insert(0, str(project))
    from summarizer.grounding import resolve
    from summarizer.inputs import iter_inputs
    from summarizer.pipeline import prepare, resolve_endpoint
    from summarizer.schema import PointerDraft
    from summarizer.settings import Settings
    from tests.support.fake_openai import answer_for

    articles = [item.load() for item in iter_inputs([str(folder)], max_bytes=10**7)]
    settings = Settings(
        base_url="http://127.0.0.1:9/v1", model="m", api_key="k", structured_output="json_schema"
    )
    endpoint = resolve_endpoint(settings, None)
    cold = time.process_time()
    stages: dict[str, list[float]] = {"prepare": [], "resolve": []}
    half = len(articles) // 2
    for k, article in enumerate(articles):
        if k == half:
            cold = time.process_time() - cold
            stages = {"prepare": [], "resolve": []}
        t0 = time.process_time()
        prep = prepare(article, settings, endpoint)
        t1 = time.process_time()
        answer = PointerDraft.model_validate(answer_for(prep.prompt.messages, prep.schema))
        t2 = time.process_time()
        resolve(answer, prep.units, published_at=article.published_at, title=article.title,
                publisher=article.publisher)  # fmt: skip
        t3 = time.process_time()
        stages["prepare"].append((t1 - t0) * 1000)
        stages["resolve"].append((t3 - t2) * 1000)
    return {"warm_up_s": cold, "warm_up_articles": half, "measured": len(articles) - half, "stages": stages}


def run(project: Path, folder: Path) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", str(project), str(folder)],
        capture_output=True, text=True, check=True, cwd=project,
    )  # fmt: skip
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("folder", type=Path, nargs="?", help="articles (.json .txt .html .jsonl)")
    parser.add_argument("--baseline", type=Path, help="another checkout of the project to compare with")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(Path(args.child[0]), Path(args.child[1]))))
        return
    if args.folder is None:
        parser.error("give a folder of articles")
    results = {"this": run(ROOT, args.folder.resolve())}
    if args.baseline:
        results["baseline"] = run(args.baseline.resolve(), args.folder.resolve())
    this = results["this"]
    print(f"{this['warm_up_articles']} articles warm up, {this['measured']} measured; CPU ms per article")
    print(f"{'':24}" + "".join(f"{name:>12}" for name in results) + ("       ratio" if args.baseline else ""))
    rows: list[tuple[str, list[float]]] = []
    for stage in ("prepare", "resolve"):
        for label, fn in (("median", statistics.median), ("mean", statistics.fmean)):
            rows.append((f"{stage} {label}", [fn(r["stages"][stage]) for r in results.values()]))
    rows.append(("warm-up half, s (one-time)", [r["warm_up_s"] for r in results.values()]))
    for label, values in rows:
        ratio = f"{values[0] / values[1]:>11.2f}x" if len(values) == 2 and values[1] else ""
        print(f"{label:<24}" + "".join(f"{v:>12.2f}" for v in values) + ratio)


if __name__ == "__main__":
    main()
