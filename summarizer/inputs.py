"""Batch inputs, streamed: directories (recursive), JSONL files and stdin, one item at a time.

Nothing here holds the archive in memory: directories are walked lazily in sorted order (so
runs and shards are deterministic) and JSONL is read line by line. A bad file or line becomes
an item whose ``load`` raises ``InputError``; the runner records it as failed and goes on.

Given the run's ``output``, the walk never reads the run's own files (``ledger.OwnFiles``: the
output, its dead letters, any sidecar) back as inputs, even when they sit in an input folder.
JSON Lines are UTF-8 (a leading byte-order mark is dropped); a UTF-16/32 JSONL file is one
failed input saying so.
"""

from __future__ import annotations

import codecs
import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from summarizer.articles import (
    SUPPORTED_SUFFIXES,
    Article,
    article_from_mapping,
    load_article,
    wide_encoding,
)
from summarizer.errors import InputError
from summarizer.ledger import OwnFiles, ledger_files

BATCH_SUFFIXES = frozenset(SUPPORTED_SUFFIXES - {""})
JSONL_SUFFIXES = frozenset({".jsonl", ".ndjson"})


@dataclass(frozen=True)
class InputItem:
    """One article to be: ``name`` says where it came from; ``load`` reads it (may raise)."""

    name: str
    load: Callable[[], Article]


def _failing(name: str, message: str) -> InputItem:
    """An input that cannot be read: loading it raises ``message``, so it is recorded as failed."""

    def load() -> Article:
        raise InputError(message)

    return InputItem(name, load)


def _from_line(line: str, name: str, max_bytes: int) -> Callable[[], Article]:
    def load() -> Article:
        if len(line.encode("utf-8", "replace")) > max_bytes:
            raise InputError(f"{name}: line over the {max_bytes:,}-byte limit; split it or raise --max-bytes")
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(
                f"{name}: malformed JSON at column {exc.colno}; fix or remove the line"
            ) from None
        except RecursionError:
            raise InputError(f"{name}: JSON nested too deeply; fix or remove the line") from None
        return article_from_mapping(obj, name=name, default_id=name)

    return load


def _wide_jsonl(label: str, encoding: str) -> str:
    return (
        f"{label}: this JSONL file is {encoding.upper()}, and JSON Lines must be UTF-8; "
        f"convert it, e.g. iconv -f {encoding} -t utf-8"
    )


def _jsonl(lines: Iterator[bytes], label: str, max_bytes: int) -> Iterator[InputItem]:
    for number, got in enumerate(lines, start=1):
        name = f"{label}:{number}"
        raw = got
        if number == 1:
            if (wide := wide_encoding(got)) is not None:
                # Its lines cannot even be split on b"\n": the whole file is one failed input.
                yield _failing(label, _wide_jsonl(label, wide))
                return
            raw = got.removeprefix(codecs.BOM_UTF8)
        if not raw.strip():
            continue
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield _failing(name, f"{name}: not valid UTF-8 (byte {exc.start}); re-save the file as UTF-8")
            continue
        yield InputItem(name, _from_line(line, name, max_bytes))


def _file(path: Path, max_bytes: int) -> InputItem:
    return InputItem(str(path), lambda: load_article(path, max_bytes=max_bytes))


def _walk(root: Path) -> Iterator[tuple[Path, str | None]]:
    """Files below ``root`` in sorted order, following symlinked folders once each.

    A folder that cannot be listed is yielded as a path of its own, so it fails as an input
    with its reason instead of vanishing from the run (and from the count).
    """
    seen: set[str] = set()
    unreadable: list[tuple[Path, str | None]] = []

    def onerror(err: OSError) -> None:
        unreadable.append((Path(err.filename), err.strerror or str(err)))

    for folder, dirs, files in os.walk(root, followlinks=True, onerror=onerror):
        real = os.path.realpath(folder)
        if real in seen:  # a symlink cycle, or a folder linked twice
            dirs[:] = []
            continue
        seen.add(real)
        dirs.sort()
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in sorted(files):
            if not name.startswith("."):
                yield Path(folder) / name, None
        while unreadable:
            yield unreadable.pop()


def iter_inputs(sources: list[str], *, max_bytes: int, output: Path | None = None) -> Iterator[InputItem]:
    """Every article in ``sources`` (directories, files, JSONL, ``-`` for JSONL on stdin).

    ``output``: the batch's output; its own files are skipped wherever they turn up.
    """
    own = OwnFiles(output) if output is not None else None
    for source in sources:
        if source == "-":
            yield from _jsonl(iter(sys.stdin.buffer.readline, b""), "stdin", max_bytes)
            continue
        path = Path(source)
        if path.is_dir():
            for p, problem in _walk(path):
                if problem is not None:
                    yield _failing(str(p), f"{p}: cannot list this folder ({problem}); check its permissions")
                elif own is not None and p in own:
                    continue
                elif p.suffix.lower() in JSONL_SUFFIXES:
                    yield from _jsonl_file(p, max_bytes)
                elif p.suffix.lower() in BATCH_SUFFIXES:
                    yield _file(p, max_bytes)
        elif own is not None and path in own:
            continue
        elif path.suffix.lower() in JSONL_SUFFIXES:
            yield from _jsonl_file(path, max_bytes)
        else:
            yield _file(path, max_bytes)  # a missing or odd file fails as its own item


def _jsonl_file(path: Path, max_bytes: int) -> Iterator[InputItem]:
    try:
        fh = path.open("rb")
    except OSError as exc:
        yield _failing(str(path), f"{path}: cannot read ({exc.strerror}); check the path and permissions")
        return
    with fh:
        yield from _jsonl(iter(fh.readline, b""), str(path), max_bytes)


def _count_jsonl(path: Path) -> int:
    """Items ``_jsonl_file`` yields for ``path``, without parsing a line."""
    try:
        with path.open("rb") as fh:
            first = fh.readline()
            if wide_encoding(first) is not None:
                return 1
            return bool(first.removeprefix(codecs.BOM_UTF8).strip()) + sum(1 for line in fh if line.strip())
    except OSError:
        return 1


def other_files(sources: list[str], *, output: Path | None = None) -> list[Path]:
    """Files in the source folders that are not articles by their type (``iter_inputs`` passes
    over them: an archive folder holds pictures too), so the run can say it skipped them. The
    run's own files (its index beside the output) are not listed."""
    own = OwnFiles(output) if output is not None else None
    out: list[Path] = []
    for source in sources:
        path = Path(source)
        if source != "-" and path.is_dir():
            for p, problem in _walk(path):
                suffix = p.suffix.lower()
                if problem is not None or suffix in JSONL_SUFFIXES or suffix in BATCH_SUFFIXES:
                    continue
                if own is None or p not in own:
                    out.append(p)
    return out


def count_inputs(sources: list[str], *, output: Path | None = None) -> int | None:
    """How many items ``iter_inputs`` will yield, cheaply (None for stdin)."""
    if "-" in sources:
        return None
    own = OwnFiles(output) if output is not None else None
    total = 0
    for source in sources:
        path = Path(source)
        paths = _walk(path) if path.is_dir() else iter([(path, None)])
        for p, problem in paths:
            suffix = p.suffix.lower()
            if problem is not None:
                total += 1
            elif own is not None and p in own:
                continue
            elif suffix in JSONL_SUFFIXES:
                total += _count_jsonl(p)
            elif suffix in BATCH_SUFFIXES or not path.is_dir():
                total += 1
    return total


def output_among_inputs(sources: list[str], output: Path) -> str | None:
    """One warning line when the batch's output sits inside an input folder (or is named as an
    input), else None. Its files are skipped either way (``iter_inputs(output=...)``)."""
    own = OwnFiles(output)
    names = ", ".join(p.name for p in ledger_files(output))
    for source in sources:
        if source == "-":
            continue
        path = Path(source)
        if path.is_dir():
            root = os.path.realpath(path)
            rel = os.path.relpath(own.folder, root)
            if rel != os.pardir and not rel.startswith(os.pardir + os.sep):
                if any(part.startswith(".") for part in Path(rel).parts if part != os.curdir):
                    continue  # hidden folders are never walked
                return (
                    f"warning: the output {output} is inside the input folder {source}; "
                    f"its own files ({names}) are skipped, not read as articles"
                )
        elif path in own:
            return f"warning: {source} is this run's own output; skipped, not read as articles"
    return None


class Loaded:
    """The articles of ``items`` that load, for counting runs (``--dry-run``); ``unreadable``
    counts the rest (a run proper records each with its reason instead)."""

    def __init__(self, items: Iterable[InputItem]) -> None:
        self.items = items
        self.unreadable = 0

    def __iter__(self) -> Iterator[Article]:
        for item in self.items:
            try:
                yield item.load()
            except InputError:
                self.unreadable += 1
