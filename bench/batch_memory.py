"""Batch memory: the on-disk key index beside the old in-memory key sets, in one run.

    .venv/bin/python bench/batch_memory.py   # full: 1k, 5k, 20k; stub: 1k, 20k, 200k (~30 min)
    .venv/bin/python bench/batch_memory.py --full 1000 --stub 1000,20000   # a smoke check

Each batch runs in a fresh process over a JSONL archive of generated articles (those of
``batch_throughput``), concurrency 64, and reports its peak RSS (VmHWM), wall and CPU time:

- ``full``: the whole pipeline against the fake OpenAI-compatible server (its own process, 10 ms
  latency). About 25 ms of client CPU per article on 2 cores (mostly the per-article answer
  model and instructor), so 200k articles would take 80 minutes per contender;
- ``stub``: the same runner and ledger with the pipeline and the model call replaced through
  the ``Executor`` seam by a stand-in that makes a record of the article's text plus 3 kB
  (about the size of a real one) without calling anything: what is left is what grows with the
  archive (inputs, keys, ids, the ledger), at a fraction of a millisecond per article.

Two contenders, same runner, same inputs:

- ``index``: this code (``ledger_index.KeyIndex``: SQLite in WAL mode beside the output);
- ``sets``: a minimal reproduction of the code before it, the same runner with the index
  replaced by in-memory sets (done and failed keys read from the JSONL at open, every key taken
  this run, every article id seen), as ``BatchRunner`` and ``Ledger`` held them.

Then a rerun over the largest finished batch (zero model calls: open, look-ups, hashing), and
the ledger's writer alone (lines/s with the index commit per group vs without). Ratios are
printed; nothing here asserts on time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.batch_throughput import cpu_seconds, fake_server, ours, peak_rss_mb, write_jsonl  # noqa: E402
from summarizer.ledger import read_keys  # noqa: E402
from summarizer.ledger_index import Entry, KeyState  # noqa: E402


class MemoryIndex:
    """The old approach, for comparison: every key and id of the archive in Python sets."""

    def __init__(self, out: Path, failed_out: Path) -> None:
        self.out, self.failed_out = out, failed_out
        self.path = out.with_name(f"{out.name}.memory")
        self.rebuilt: str | None = None
        self.unreadable_lines = 0
        self.done: set[str] = set()
        self.failed: set[str] = set()
        self.failed_now: set[str] = set()
        self.taken: set[str] = set()  # the old runner's ``_attempted``
        self.ids: set[str] = set()

    def open(self) -> None:
        self.done, bad1 = read_keys(self.out)
        failed, bad2 = read_keys(self.failed_out)
        self.failed = failed - self.done
        self.unreadable_lines = bad1 + bad2

    def state(self, key: str) -> KeyState | None:
        if key in self.done:
            return KeyState.SUCCEEDED
        if key in self.failed_now:
            return KeyState.FAILED_THIS_RUN
        return KeyState.FAILED if key in self.failed else None

    def seen_id(self, article_id: str) -> bool:
        seen = article_id in self.ids
        self.ids.add(article_id)
        return seen

    def record(self, entries: list[Entry]) -> None:
        for e in entries:
            if e.key is None:
                continue
            self.taken.add(e.key)
            if e.file == "out":
                self.done.add(e.key)
            else:
                self.failed.add(e.key)
                self.failed_now.add(e.key)

    def close(self) -> None:
        pass


def use_memory_index() -> None:
    import summarizer.ledger

    setattr(summarizer.ledger, "KeyIndex", MemoryIndex)  # noqa: B010 - a benchmark's stand-in


# --------------------------------------------------------------------------- one measured run


class StubRecord:
    def __init__(self, article: Any) -> None:
        self.article = article
        self.key: str | None = None
        self.provenance = SimpleNamespace(usage=SimpleNamespace(model_dump=dict))

    def model_dump_json(self) -> str:
        return orjson.dumps({"key": self.key, "id": self.article.id, "text": self.article.text,
                             "pad": "x" * 3000}).decode()  # fmt: skip


class StubEngine:
    """Stands in for the engine behind the runner's ``Executor`` seam: no model, no grounding."""

    async def summarize(self, article: Any, stats: Any, *, answered: Any = None) -> Any:
        stats.requests += 1
        return StubRecord(article)

    async def close(self) -> None:
        pass


def stub_run(source: Path, out: Path, concurrency: int) -> Any:
    from summarizer.batch import BatchOptions, BatchRunner
    from summarizer.inputs import iter_inputs
    from summarizer.settings import Settings

    settings = Settings(base_url="http://127.0.0.1:9/v1", model="fake-model", api_key="k")
    runner = BatchRunner(settings, out, BatchOptions(concurrency=concurrency))
    runner.models = StubEngine()
    return asyncio.run(runner.run(iter_inputs([str(source)], max_bytes=10**6)))


def child(mode: str, url: str, source: str, out: str) -> None:
    contender, kind = mode.split("-")
    if contender == "sets":
        use_memory_index()
    c0, t0 = cpu_seconds(), time.perf_counter()
    if kind == "stub":
        tally = stub_run(Path(source), Path(out), 64)
    else:
        tally = ours(url, Path(source), Path(out), 64)
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    index = Path(f"{out}.index")
    print(json.dumps({"mode": mode, "wall": wall, "cpu": cpu, "rss_mb": peak_rss_mb(),
                      "out_mb": Path(out).stat().st_size / 2**20,
                      "index_mb": index.stat().st_size / 2**20 if index.exists() else 0.0,
                      "inputs": tally.inputs, "succeeded": tally.succeeded,
                      "already_done": tally.already_done, "model_calls": tally.model_calls}))  # fmt: skip


def run_child(mode: str, url: str, source: Path, out: Path) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", mode, url, str(source), str(out)],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


# --------------------------------------------------------------------------- the writer alone


def writer_rate(folder: Path, n: int, index: bool, group: int) -> float:
    """Lines/s through ``Ledger`` when ``group`` lines are awaited at a time (~4 KB each)."""
    from summarizer.ledger import Ledger

    if not index:
        use_memory_index()
    else:
        import summarizer.ledger
        from summarizer.ledger_index import KeyIndex

        setattr(summarizer.ledger, "KeyIndex", KeyIndex)  # noqa: B010
    out = folder / f"w-{index}-{group}.jsonl"
    pad = "x" * 4000

    async def go() -> float:
        ledger = Ledger(out)
        ledger.open()
        t0 = time.perf_counter()
        try:
            for start in range(0, n, group):
                lines = [
                    f'{{"key":"{i:064x}","pad":"{pad}"}}'.encode()
                    for i in range(start, min(n, start + group))
                ]
                await asyncio.gather(*(ledger.submit(line) for line in lines))
        finally:
            ledger.close()
        return n / (time.perf_counter() - t0)

    return asyncio.run(go())


# --------------------------------------------------------------------------- the run


def measure(kind: str, sizes: list[int], url: str, tmp: Path) -> list[tuple[str, str]]:
    """Both contenders at each size, then a rerun over the largest finished batch."""
    results: dict[tuple[str, int], dict[str, Any]] = {}
    warm = tmp / "warm.jsonl"
    write_jsonl(warm, 100, start=10**7)  # the fake server and the disk cache warm, not measured
    run_child(f"index-{kind}", url, warm, tmp / f"warm-{kind}.out.jsonl")
    for n, size in enumerate(sizes):
        src = tmp / f"in{size}.jsonl"
        if not src.exists():
            write_jsonl(src, size)
        for contender in ("index", "sets")[:: 1 if n % 2 == 0 else -1]:  # alternate who goes first
            r = run_child(f"{contender}-{kind}", url, src, tmp / f"{contender}-{kind}{size}.out.jsonl")
            assert r["succeeded"] == size, r
            results[contender, size] = r
            print(f"  {kind} {contender:>5} {size:>7}: {r['rss_mb']:.1f} MB, {r['wall']:.0f} s", flush=True)
    big, small = sizes[-1], sizes[0]
    reruns = {
        c: run_child(f"{c}-{kind}", url, tmp / f"in{big}.jsonl", tmp / f"{c}-{kind}{big}.out.jsonl")
        for c in ("index", "sets")
    }
    for path in tmp.glob(f"*-{kind}*.out.jsonl*"):
        path.unlink()
    r = results["index", big]
    rows = [
        (
            f"{kind}: files at {big} articles",
            f"out.jsonl {r['out_mb']:.0f} MB, out.jsonl.index {r['index_mb']:.1f} MB "
            f"({r['index_mb'] * 2**20 / big:.0f} bytes per article)",
        )
    ]
    for size in sizes:
        new, old = results["index", size], results["sets", size]
        rows.append(
            (
                f"{kind}: peak RSS, {size} articles",
                f"index {new['rss_mb']:.1f} MB, sets {old['rss_mb']:.1f} MB "
                f"= {new['rss_mb'] / old['rss_mb']:.2f}x",
            )
        )
    if len(sizes) > 1:
        for contender in ("index", "sets"):
            growth = results[contender, big]["rss_mb"] - results[contender, small]["rss_mb"]
            rows.append((f"{kind}: growth {small} -> {big}, {contender}", f"{growth:+.1f} MB"))
    for size in sizes:
        new, old = results["index", size], results["sets", size]
        rows.append(
            (
                f"{kind}: wall / client CPU, {size} articles",
                f"index {new['wall']:.1f} s / {new['cpu']:.1f} s, sets {old['wall']:.1f} s / "
                f"{old['cpu']:.1f} s = {new['wall'] / old['wall']:.2f}x / {new['cpu'] / old['cpu']:.2f}x",
            )
        )
    new, old = reruns["index"], reruns["sets"]
    assert new["model_calls"] == old["model_calls"] == 0, (new, old)
    rows.append(
        (
            f"{kind}: rerun of the finished {big} batch",
            f"index {new['wall']:.1f} s, {new['rss_mb']:.1f} MB; sets {old['wall']:.1f} s, "
            f"{old['rss_mb']:.1f} MB = {new['wall'] / old['wall']:.2f}x / "
            f"{new['rss_mb'] / old['rss_mb']:.2f}x; 0 model calls",
        )
    )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--full", default="1000,5000,20000", help="article counts, whole pipeline")
    parser.add_argument("--stub", default="1000,20000,200000", help="article counts, stub executor")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    parser.add_argument("--writer-child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    if args.writer_child:
        folder, n, index, group = args.writer_child
        print(writer_rate(Path(folder), int(n), index == "1", int(group)))
        return
    plan = {kind: [int(x) for x in getattr(args, kind).split(",") if x] for kind in ("full", "stub")}
    tmp = Path(tempfile.mkdtemp(prefix="summarizer-mem-"))
    print(f"machine: {os.cpu_count()} cores; concurrency 64; full: fake server in its own process, 10 ms")
    rows: list[tuple[str, str]] = []
    t_all = time.perf_counter()
    with fake_server(0.01) as url:
        for kind, sizes in plan.items():
            if sizes:
                rows += measure(kind, sizes, url, tmp)
    for group in (1, 64):
        n = 2000 if group == 1 else 20000
        rates = {}
        for index in ("1", "0"):
            proc = subprocess.run(
                [sys.executable, __file__, "--writer-child", str(tmp), str(n), index, str(group)],
                cwd=ROOT, capture_output=True, text=True, check=True,
            )  # fmt: skip
            rates[index] = float(proc.stdout.strip().splitlines()[-1])
        rows.append(
            (
                f"ledger writer, groups of {group}",
                f"index {rates['1']:.0f} lines/s, no index {rates['0']:.0f} lines/s "
                f"= {rates['1'] / rates['0']:.2f}x",
            )
        )
    rows.append(("whole benchmark", f"{time.perf_counter() - t_all:.0f} s"))
    shutil.rmtree(tmp, ignore_errors=True)
    width = max(len(k) for k, _ in rows)
    print()
    for k, v in rows:
        print(f"{k:<{width}}  {v}")


if __name__ == "__main__":
    main()
