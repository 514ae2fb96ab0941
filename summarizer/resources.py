"""Where the shipped data files live: ``prompts/`` and ``schemas/``.

In a built wheel they are packaged under ``summarizer/_data/``; in a source checkout (editable
install, tests) they are the top-level folders of the repository.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """Directory of shipped data files called ``name`` (``"prompts"`` or ``"schemas"``)."""
    for candidate in (_PACKAGE / "_data" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"summarizer data folder '{name}' not found; reinstall the package")
