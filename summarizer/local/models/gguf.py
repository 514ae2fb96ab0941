"""GGUF header metadata (scalars and strings; arrays skipped): the trained context of a model
file, read without loading it."""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO

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
